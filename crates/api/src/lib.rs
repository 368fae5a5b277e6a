//! The Kubernetes API as data: which resources exist, how objects of each
//! kind are defaulted and validated, and how label and field selectors match.
//!
//! Pure: no I/O, no async. The apiserver builds its generic registry on this
//! crate; other components use it for selectors.

pub mod catalog;
pub mod field_error;
pub mod patch;
pub mod strategy;
pub mod table;

pub use catalog::{Catalog, ResourceDef, Scope, Subresource};
pub use field_error::{ErrorType, FieldError, FieldErrors};
pub use strategy::{DefaultStrategy, Strategy, WriteScope};
pub use table::{Column, Printer};
