//! Keys and size of ConfigMap and Secret data (`IsConfigMapKey`,
//! `ValidateConfigMap`'s size check), shared by both kinds.

use serde_json::Value;

use crate::field_error::FieldErrors;
use crate::validation::names::max_len_error;

/// Upper bound of a ConfigMap's or Secret's data.
pub(crate) const MAX_DATA_SIZE: usize = 1024 * 1024;

/// The problems with a data key: `[-._a-zA-Z0-9]+`, at most 253, not `.`
/// or `..` and not starting with `..`.
pub(crate) fn key_errors(key: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if key.len() > 253 {
        errs.push(max_len_error(253));
    }
    if key.is_empty()
        || !key
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_'))
    {
        errs.push("a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')".to_owned());
    }
    if key == "." {
        errs.push("must not be '.'".to_owned());
    } else if key == ".." {
        errs.push("must not be '..'".to_owned());
    } else if key.starts_with("..") {
        errs.push("must not start with '..'".to_owned());
    }
    errs
}

/// Validates the keys of the map `field` (`data`, `binaryData`) and adds
/// the bytes of its values to `total`.
pub(crate) fn validate_keys(obj: &Value, field: &str, total: &mut usize, errs: &mut FieldErrors) {
    let Some(map) = obj.get(field).and_then(Value::as_object) else {
        return;
    };
    for (k, v) in map {
        for m in key_errors(k) {
            errs.invalid(format!("{field}[{k}]"), k, m);
        }
        *total += v.as_str().map_or(0, str::len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_cases() {
        assert!(key_errors("app.properties").is_empty());
        assert!(key_errors("KEY_NAME-1").is_empty());
        assert_eq!(key_errors("a/b").len(), 1);
        assert_eq!(key_errors(".."), ["must not be '..'"]);
        assert_eq!(key_errors("..x"), ["must not start with '..'"]);
    }
}
