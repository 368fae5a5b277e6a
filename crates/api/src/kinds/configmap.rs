//! ConfigMaps (pkg/registry/core/configmap/strategy.go): valid keys, no
//! key in both `data` and `binaryData`, at most 1 MiB, and nothing changes
//! once `immutable` is set.

use serde_json::Value;

use super::config_data::{validate_keys, MAX_DATA_SIZE};
use super::meta_strategy::{validate_namespaced_create, validate_namespaced_update};
use crate::field_error::FieldErrors;
use crate::strategy::Strategy;

/// The strategy of `configmaps`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ConfigMapStrategy;

fn validate_data(obj: &Value) -> FieldErrors {
    let mut errs = FieldErrors::default();
    let mut total = 0;
    validate_keys(obj, "data", &mut total, &mut errs);
    validate_keys(obj, "binaryData", &mut total, &mut errs);
    if let (Some(data), Some(binary)) = (
        obj.get("data").and_then(Value::as_object),
        obj.get("binaryData").and_then(Value::as_object),
    ) {
        for k in data.keys().filter(|k| binary.contains_key(*k)) {
            errs.invalid(
                format!("data[{k}]"),
                k,
                "duplicate of key present in binaryData",
            );
        }
    }
    if total > MAX_DATA_SIZE {
        errs.too_long("", MAX_DATA_SIZE);
    }
    errs
}

impl Strategy for ConfigMapStrategy {
    fn validate_create(&self, obj: &Value) -> FieldErrors {
        validate_namespaced_create(obj, validate_data)
    }

    fn validate_update(&self, new: &Value, old: &Value) -> FieldErrors {
        let mut errs = validate_namespaced_update(new, old, validate_data);
        if old.get("immutable").and_then(Value::as_bool) == Some(true) {
            if new.get("immutable") != old.get("immutable") {
                errs.forbidden("immutable", "field is immutable when `immutable` is set");
            }
            if new.get("data") != old.get("data") {
                errs.forbidden("data", "field is immutable when `immutable` is set");
            }
            if new.get("binaryData") != old.get("binaryData") {
                errs.forbidden("binaryData", "field is immutable when `immutable` is set");
            }
        }
        errs
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn validation_cases() {
        let ok = json!({"metadata": {"name": "cfg", "namespace": "default"}, "data": {"a.properties": "x"}});
        assert!(ConfigMapStrategy.validate_create(&ok).is_empty());
        let dup = json!({"metadata": {"name": "cfg", "namespace": "default"}, "data": {"a": "x"}, "binaryData": {"a": "eA=="}});
        let got = ConfigMapStrategy.validate_create(&dup).messages();
        assert_eq!(
            got,
            ["data[a]: Invalid value: \"a\": duplicate of key present in binaryData"]
        );
        let bad_key =
            json!({"metadata": {"name": "cfg", "namespace": "default"}, "data": {"a b": "x"}});
        assert_eq!(ConfigMapStrategy.validate_create(&bad_key).0.len(), 1);
    }

    #[test]
    fn immutable_config_maps_stay_put() {
        let old = json!({"metadata": {"name": "cfg", "namespace": "default"}, "immutable": true, "data": {"a": "1"}});
        let new = json!({"metadata": {"name": "cfg", "namespace": "default"}, "data": {"a": "2"}});
        let fields: Vec<String> = ConfigMapStrategy
            .validate_update(&new, &old)
            .0
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["immutable", "data"]);
    }
}
