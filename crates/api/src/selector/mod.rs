//! Label and field selectors, as list and watch requests carry them
//! (`?labelSelector=…&fieldSelector=…`) and as objects embed them
//! (`spec.selector`).

mod error;
mod field;
mod json;
mod label;
mod labels;
mod lexer;

pub use error::{Result, SelectorError};
pub use field::{object_fields, FieldOp, FieldSelector, FieldTerm};
pub use json::validate_label_selector;
pub use label::{LabelSelector, Operator, Requirement};
pub use labels::{Labels, ObjectLabels};
