//! Field-level validation errors, which the apiserver turns into a 422
//! `Invalid` Status with one cause per error (upstream's `field.ErrorList`).

use std::fmt;

/// What is wrong with a field; the names are upstream's `field.ErrorType`s,
/// which also become the cause's `reason` (`FieldValueRequired`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorType {
    /// `Required value`
    Required,
    /// `Invalid value`
    Invalid,
    /// `Duplicate value`
    Duplicate,
    /// `Unsupported value`
    NotSupported,
    /// `Forbidden`
    Forbidden,
    /// `Too long`
    TooLong,
    /// `Not found`
    NotFound,
}

impl ErrorType {
    /// The Status cause reason, e.g. `FieldValueRequired`.
    pub fn reason(self) -> &'static str {
        match self {
            ErrorType::Required => "FieldValueRequired",
            ErrorType::Invalid => "FieldValueInvalid",
            ErrorType::Duplicate => "FieldValueDuplicate",
            ErrorType::NotSupported => "FieldValueNotSupported",
            ErrorType::Forbidden => "FieldValueForbidden",
            ErrorType::TooLong => "FieldValueTooLong",
            ErrorType::NotFound => "FieldValueNotFound",
        }
    }

    /// The phrase upstream prints before the detail, e.g. `Required value`.
    pub fn phrase(self) -> &'static str {
        match self {
            ErrorType::Required => "Required value",
            ErrorType::Invalid => "Invalid value",
            ErrorType::Duplicate => "Duplicate value",
            ErrorType::NotSupported => "Unsupported value",
            ErrorType::Forbidden => "Forbidden",
            ErrorType::TooLong => "Too long",
            ErrorType::NotFound => "Not found",
        }
    }
}

/// One invalid field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// What kind of problem.
    pub kind: ErrorType,
    /// The field path, e.g. `spec.containers[0].name`.
    pub field: String,
    /// The offending value rendered as upstream does (quoted strings), if any.
    pub value: Option<String>,
    /// Why, in words.
    pub detail: String,
}

impl fmt::Display for FieldError {
    /// Upstream's `field.Error.Error()`: `spec.x: Invalid value: "v": detail`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.kind.phrase())?;
        if let Some(v) = &self.value {
            write!(f, ": {v}")?;
        }
        if !self.detail.is_empty() {
            write!(f, ": {}", self.detail)?;
        }
        Ok(())
    }
}

/// All the problems found in one object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors(pub Vec<FieldError>);

impl FieldErrors {
    /// True when the object is valid.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Adds one error.
    pub fn push(
        &mut self,
        kind: ErrorType,
        field: impl Into<String>,
        value: Option<String>,
        detail: impl Into<String>,
    ) {
        self.0.push(FieldError {
            kind,
            field: field.into(),
            value,
            detail: detail.into(),
        });
    }

    /// Adds every error of `other`.
    pub fn extend(&mut self, other: FieldErrors) {
        self.0.extend(other.0);
    }
}
