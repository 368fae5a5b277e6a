//! Syntax checks for names, label keys and values, and object metadata,
//! with upstream's messages.

pub mod names;
pub mod object_meta;

pub use object_meta::{validate_object_meta, validate_object_meta_update, NameRule};
