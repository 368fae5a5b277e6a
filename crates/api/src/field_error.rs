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

    /// Each error as upstream prints it, for tests comparing whole lists.
    #[cfg(test)]
    pub(crate) fn messages(&self) -> Vec<String> {
        self.0.iter().map(ToString::to_string).collect()
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

    /// `field: Required value[: detail]`.
    pub fn required(&mut self, field: impl Into<String>, detail: impl Into<String>) {
        self.push(ErrorType::Required, field, None, detail);
    }

    /// `field: Invalid value: "value": detail`.
    pub fn invalid(&mut self, field: impl Into<String>, value: &str, detail: impl Into<String>) {
        self.push(ErrorType::Invalid, field, Some(quote(value)), detail);
    }

    /// `field: Invalid value: 70000: detail` (a number, unquoted).
    pub fn invalid_number(
        &mut self,
        field: impl Into<String>,
        value: i64,
        detail: impl Into<String>,
    ) {
        self.push(ErrorType::Invalid, field, Some(value.to_string()), detail);
    }

    /// `field: Duplicate value: "value"`.
    pub fn duplicate(&mut self, field: impl Into<String>, value: &str) {
        self.push(ErrorType::Duplicate, field, Some(quote(value)), "");
    }

    /// `field: Unsupported value: "value": supported values: "A", "B"`.
    pub fn not_supported(&mut self, field: impl Into<String>, value: &str, supported: &[&str]) {
        let list: Vec<String> = supported.iter().map(|s| quote(s)).collect();
        self.push(
            ErrorType::NotSupported,
            field,
            Some(quote(value)),
            format!("supported values: {}", list.join(", ")),
        );
    }

    /// `field: Forbidden: detail`.
    pub fn forbidden(&mut self, field: impl Into<String>, detail: impl Into<String>) {
        self.push(ErrorType::Forbidden, field, None, detail);
    }

    /// `field: Too long: must have at most N bytes`.
    pub fn too_long(&mut self, field: impl Into<String>, max_bytes: usize) {
        self.push(
            ErrorType::TooLong,
            field,
            None,
            format!("must have at most {max_bytes} bytes"),
        );
    }

    /// Upstream's aggregate rendering: repeated messages once, one error
    /// alone, several as `[a, b]` (`ErrorList.ToAggregate().Error()`).
    pub fn aggregate(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        for e in &self.0 {
            let msg = e.to_string();
            if !parts.contains(&msg) {
                parts.push(msg);
            }
        }
        match parts.as_slice() {
            [one] => one.clone(),
            many => format!("[{}]", many.join(", ")),
        }
    }
}

/// A string quoted like Go's `%q`, as upstream renders bad values.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_render_like_upstream_field_errors() {
        let mut errs = FieldErrors::default();
        errs.required("spec.containers", "");
        errs.invalid("metadata.name", "Foo", "bad");
        errs.invalid_number(
            "spec.ports[0].port",
            70000,
            "must be between 1 and 65535, inclusive",
        );
        errs.not_supported(
            "spec.restartPolicy",
            "Sometimes",
            &["Always", "OnFailure", "Never"],
        );
        errs.duplicate("spec.containers[1].name", "app");
        errs.too_long("metadata.annotations", 262144);
        let got = errs.messages();
        assert_eq!(
            got,
            [
                "spec.containers: Required value",
                "metadata.name: Invalid value: \"Foo\": bad",
                "spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive",
                "spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"",
                "spec.containers[1].name: Duplicate value: \"app\"",
                "metadata.annotations: Too long: must have at most 262144 bytes",
            ]
        );
    }

    #[test]
    fn quoting_escapes_like_go() {
        assert_eq!(quote("a\"b\\c\n\u{1}"), "\"a\\\"b\\\\c\\n\\x01\"");
    }

    #[test]
    fn aggregates_bracket_several_errors() {
        let mut errs = FieldErrors::default();
        errs.required("a", "");
        assert_eq!(errs.aggregate(), "a: Required value");
        errs.required("a", "");
        assert_eq!(errs.aggregate(), "a: Required value");
        errs.required("b", "");
        assert_eq!(errs.aggregate(), "[a: Required value, b: Required value]");
    }
}
