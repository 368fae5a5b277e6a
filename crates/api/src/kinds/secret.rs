//! Secrets (pkg/registry/core/secret/strategy.go): type `Opaque` by
//! default, `stringData` folded into base64 `data` (upstream does it when
//! converting from v1, so `stringData` is never stored), the keys each
//! type requires, and an immutable type.

use serde_json::{json, Value};

use super::config_data::{validate_keys, MAX_DATA_SIZE};
use super::meta_strategy::{validate_namespaced_create, validate_namespaced_update};
use crate::field_error::FieldErrors;
use crate::json_path::{default, str_at};
use crate::strategy::Strategy;

/// The strategy of `secrets`.
#[derive(Debug, Clone, Copy, Default)]
pub struct SecretStrategy;

/// The data keys each well-known type requires (one of them for basic
/// auth).
fn required_keys(kind: &str) -> &'static [&'static str] {
    match kind {
        "kubernetes.io/dockercfg" => &[".dockercfg"],
        "kubernetes.io/dockerconfigjson" => &[".dockerconfigjson"],
        "kubernetes.io/ssh-auth" => &["ssh-privatekey"],
        "kubernetes.io/tls" => &["tls.crt", "tls.key"],
        _ => &[],
    }
}

/// The base64 text of `s`, as `data` holds it.
fn base64(s: &str) -> Value {
    serde_json::to_value(k8s_openapi::ByteString(s.as_bytes().to_vec())).unwrap_or(Value::Null)
}

fn validate_data(obj: &Value) -> FieldErrors {
    let mut errs = FieldErrors::default();
    let mut total = 0;
    validate_keys(obj, "data", &mut total, &mut errs);
    if total > MAX_DATA_SIZE {
        errs.too_long("data", MAX_DATA_SIZE);
    }
    let kind = str_at(obj, &["type"]);
    let has = |k: &str| obj.get("data").and_then(|d| d.get(k)).is_some();
    for key in required_keys(kind) {
        if !has(key) {
            errs.required(format!("data[{key}]"), "");
        }
    }
    match kind {
        "kubernetes.io/basic-auth" if !has("username") && !has("password") => {
            errs.required("data[username]", "");
            errs.required("data[password]", "");
        }
        "kubernetes.io/service-account-token"
            if str_at(
                obj,
                &[
                    "metadata",
                    "annotations",
                    "kubernetes.io/service-account.name",
                ],
            )
            .is_empty() =>
        {
            errs.required(
                "metadata.annotations[kubernetes.io/service-account.name]",
                "",
            );
        }
        _ => {}
    }
    errs
}

impl Strategy for SecretStrategy {
    fn default(&self, obj: &mut Value) {
        let Some(map) = obj.as_object_mut() else {
            return;
        };
        default(map, "type", json!("Opaque"));
        let Some(Value::Object(string_data)) = map.remove("stringData") else {
            return;
        };
        let data = map.entry("data").or_insert_with(|| json!({}));
        if let Some(data) = data.as_object_mut() {
            for (k, v) in string_data {
                data.insert(k, base64(v.as_str().unwrap_or_default()));
            }
        }
    }

    fn validate_create(&self, obj: &Value) -> FieldErrors {
        validate_namespaced_create(obj, validate_data)
    }

    fn validate_update(&self, new: &Value, old: &Value) -> FieldErrors {
        let mut errs = validate_namespaced_update(new, old, validate_data);
        let (n, o) = (str_at(new, &["type"]), str_at(old, &["type"]));
        if n != o {
            errs.invalid("type", n, "field is immutable");
        }
        if old.get("immutable").and_then(Value::as_bool) == Some(true) {
            if new.get("immutable") != old.get("immutable") {
                errs.forbidden("immutable", "field is immutable when `immutable` is set");
            }
            if new.get("data") != old.get("data") {
                errs.forbidden("data", "field is immutable when `immutable` is set");
            }
        }
        errs
    }

    fn field_labels(&self, obj: &Value) -> Vec<(&'static str, String)> {
        vec![("type", str_at(obj, &["type"]).to_owned())]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_data_folds_into_data() {
        let mut obj = json!({"metadata": {"name": "s", "namespace": "default"}, "data": {"a": "eA==", "b": "eA=="}, "stringData": {"b": "hello"}});
        SecretStrategy.default(&mut obj);
        assert_eq!(
            obj,
            json!({"metadata": {"name": "s", "namespace": "default"}, "type": "Opaque", "data": {"a": "eA==", "b": "aGVsbG8="}})
        );
        assert!(SecretStrategy.validate_create(&obj).is_empty());
        assert_eq!(
            SecretStrategy.field_labels(&obj),
            [("type", "Opaque".to_owned())]
        );
    }

    #[test]
    fn typed_secrets_need_their_keys() {
        let cases = [
            (
                "kubernetes.io/tls",
                json!({"tls.crt": "eA=="}),
                vec!["data[tls.key]: Required value"],
            ),
            (
                "kubernetes.io/dockerconfigjson",
                json!({}),
                vec!["data[.dockerconfigjson]: Required value"],
            ),
            (
                "kubernetes.io/basic-auth",
                json!({"password": "eA=="}),
                vec![],
            ),
            (
                "kubernetes.io/basic-auth",
                json!({}),
                vec![
                    "data[username]: Required value",
                    "data[password]: Required value",
                ],
            ),
        ];
        for (kind, data, want) in cases {
            let obj = json!({"metadata": {"name": "s", "namespace": "default"}, "type": kind, "data": data});
            let got = SecretStrategy.validate_create(&obj).messages();
            assert_eq!(got, want, "{kind}");
        }
    }

    #[test]
    fn the_type_is_immutable() {
        let old = json!({"metadata": {"name": "s", "namespace": "default"}, "type": "Opaque"});
        let new = json!({"metadata": {"name": "s", "namespace": "default"}, "type": "kubernetes.io/basic-auth", "data": {"username": "eA=="}});
        let got = SecretStrategy.validate_update(&new, &old).messages();
        assert_eq!(
            got,
            ["type: Invalid value: \"kubernetes.io/basic-auth\": field is immutable"]
        );
    }
}
