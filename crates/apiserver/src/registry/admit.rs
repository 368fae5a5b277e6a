//! The fixed order of the create and update hooks (upstream's
//! `rest.BeforeCreate` / `rest.BeforeUpdate`): type checks, defaulting,
//! system metadata, the strategy's prepare step, then validation. Every kind
//! goes through exactly these steps; only the strategy differs.

use rkube_api::{ErrorType, FieldErrors, ResourceDef, Scope, WriteScope};
use serde_json::Value;

use super::meta;
use crate::status::{ApiError, ApiResult};

/// Checks (and fills when absent) `apiVersion` and `kind` against the URL,
/// with upstream's 400 messages.
pub fn check_type(def: &ResourceDef, obj: &mut Value) -> ApiResult<()> {
    let Value::Object(map) = obj else {
        return Err(ApiError::bad_request(format!(
            "the body of the request is not a JSON object: {}",
            type_name(obj)
        )));
    };
    let expected_version = def.api_version();
    match map.get("apiVersion").and_then(Value::as_str) {
        None | Some("") => {
            map.insert("apiVersion".into(), Value::String(expected_version));
        }
        Some(v) if v == expected_version => {}
        Some(v) => {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({v}) does not match the expected API version ({expected_version})"
            )))
        }
    }
    match map.get("kind").and_then(Value::as_str) {
        None | Some("") => {
            map.insert("kind".into(), Value::String(def.kind.clone()));
        }
        Some(k) if k == def.kind => {}
        Some(k) => {
            return Err(ApiError::bad_request(format!(
                "the kind in the data ({k}) does not match the expected kind ({})",
                def.kind
            )))
        }
    }
    if !map.get("metadata").is_none_or(Value::is_object) {
        return Err(ApiError::bad_request("metadata: expected an object"));
    }
    Ok(())
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Sets the object's namespace from the URL; a different one in the body is
/// a 400 (upstream `rest.EnsureObjectNamespaceMatchesRequestNamespace`).
pub fn check_namespace(
    def: &ResourceDef,
    obj: &mut Value,
    namespace: Option<&str>,
) -> ApiResult<()> {
    match (def.scope, namespace) {
        (Scope::Namespaced, Some(ns)) => {
            let in_body = meta::namespace(obj);
            if !in_body.is_empty() && in_body != ns {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            meta::set_meta_str(obj, "namespace", ns);
        }
        (Scope::Namespaced, None) => {
            return Err(ApiError::bad_request(
                "the server could not find the requested resource: a namespace is required",
            ))
        }
        (Scope::Cluster, _) => {
            meta::meta_mut(obj).remove("namespace");
        }
    }
    Ok(())
}

/// The create hooks, in order. `obj` has passed [`check_type`] and
/// [`check_namespace`]; on return it is ready to store.
pub fn before_create(def: &ResourceDef, obj: &mut Value) -> ApiResult<()> {
    def.strategy.default(obj);
    {
        let m = meta::meta_mut(obj);
        m.remove("deletionTimestamp");
        m.remove("deletionGracePeriodSeconds");
        m.remove("resourceVersion");
        m.remove("selfLink");
    }
    // System fields first, as upstream's FillObjectMetaSystemFields runs
    // before BeforeCreate: strategies read them (a Job's generated selector
    // carries its uid).
    meta::set_meta_str(obj, "uid", &meta::new_uid());
    meta::set_meta_str(obj, "creationTimestamp", &meta::now());
    def.strategy.prepare_for_create(obj);
    if meta::name(obj).is_empty() {
        let prefix = meta::meta_str(obj, "generateName").to_string();
        if !prefix.is_empty() {
            meta::set_meta_str(obj, "name", &meta::generate_name(&prefix));
        }
    }
    let mut errors = validate_name(obj);
    errors.extend(def.strategy.validate_create(obj));
    if !errors.is_empty() {
        return Err(ApiError::invalid(def, meta::name(obj), &errors));
    }
    Ok(())
}

/// The update hooks, in order: system metadata carried over from `old`,
/// defaulting, the strategy's prepare step (spec/status split, generation),
/// validation.
pub fn before_update(
    def: &ResourceDef,
    scope: WriteScope,
    new: &mut Value,
    old: &Value,
) -> ApiResult<()> {
    for field in [
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
    ] {
        let old_value = old.get("metadata").and_then(|m| m.get(field)).cloned();
        let m = meta::meta_mut(new);
        match old_value {
            Some(v) => {
                m.insert(field.to_string(), v);
            }
            None => {
                m.remove(field);
            }
        }
    }
    meta::meta_mut(new).remove("selfLink");
    def.strategy.default(new);
    def.strategy.prepare_for_update(scope, new, old);
    let errors = def.strategy.validate_update(new, old);
    if !errors.is_empty() {
        return Err(ApiError::invalid(def, meta::name(new), &errors));
    }
    Ok(())
}

/// What every name must satisfy to be a path segment (upstream
/// `path.ValidatePathSegmentName`); kinds add their DNS rules in
/// `validate_create`.
fn validate_name(obj: &Value) -> FieldErrors {
    let mut errors = FieldErrors::default();
    let name = meta::name(obj);
    if name.is_empty() {
        errors.push(
            ErrorType::Required,
            "metadata.name",
            None,
            "name or generateName is required",
        );
        return errors;
    }
    let quoted = Some(format!("{name:?}"));
    if name == "." || name == ".." {
        errors.push(
            ErrorType::Invalid,
            "metadata.name",
            quoted,
            format!("may not be '{name}'"),
        );
    } else {
        for bad in ["/", "%"] {
            if name.contains(bad) {
                errors.push(
                    ErrorType::Invalid,
                    "metadata.name",
                    quoted.clone(),
                    format!("may not contain '{bad}'"),
                );
            }
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn type_checks_fill_missing_and_refuse_mismatches() {
        let def = crate::testing::def("", "v1", "Pod", "pods", Scope::Namespaced);
        let mut empty = json!({});
        check_type(&def, &mut empty).expect("should succeed");
        assert_eq!(empty["kind"], "Pod");
        assert_eq!(empty["apiVersion"], "v1");
        let mut wrong = json!({"apiVersion": "apps/v1", "kind": "Pod"});
        assert_eq!(
            check_type(&def, &mut wrong)
                .expect_err("should fail")
                .message,
            "the API version in the data (apps/v1) does not match the expected API version (v1)"
        );
        assert!(check_type(&def, &mut json!([1])).is_err());
    }

    #[test]
    fn a_create_fills_system_fields_and_generates_names() {
        let def = crate::testing::def("", "v1", "ConfigMap", "configmaps", Scope::Namespaced);
        let mut obj = json!({"metadata": {"generateName": "cm-", "resourceVersion": "5"}});
        before_create(&def, &mut obj).expect("should succeed");
        assert!(meta::name(&obj).starts_with("cm-"));
        assert_eq!(meta::meta_str(&obj, "uid").len(), 36);
        assert!(obj["metadata"].get("resourceVersion").is_none());
    }

    #[test]
    fn a_jobs_generated_selector_carries_the_uid_it_is_created_with() {
        let catalog = rkube_api::Catalog::builtin();
        let def = catalog
            .get("batch", "v1", "jobs")
            .expect("jobs are built in");
        let mut job = json!({
            "apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "pi", "namespace": "default"},
            "spec": {"template": {"spec": {
                "restartPolicy": "Never",
                "containers": [{"name": "pi", "image": "busybox"}]
            }}}
        });
        before_create(def, &mut job).expect("should succeed");
        let uid = meta::meta_str(&job, "uid").to_string();
        assert_eq!(uid.len(), 36);
        assert_eq!(
            job["spec"]["selector"]["matchLabels"]["batch.kubernetes.io/controller-uid"],
            uid
        );
    }

    #[test]
    fn a_create_without_a_name_is_invalid_like_upstream() {
        let def = crate::testing::def("", "v1", "ConfigMap", "configmaps", Scope::Namespaced);
        let err = before_create(&def, &mut json!({"metadata": {}})).expect_err("should fail");
        assert_eq!(
            err.message,
            "ConfigMap \"\" is invalid: metadata.name: Required value: name or generateName is required"
        );
        let err = before_create(&def, &mut json!({"metadata": {"name": "a/b"}}))
            .expect_err("should fail");
        assert_eq!(err.details.causes[0].field, "metadata.name");
    }

    #[test]
    fn an_update_keeps_the_system_fields_of_the_old_object() {
        let def = crate::testing::def("", "v1", "ConfigMap", "configmaps", Scope::Namespaced);
        let old = json!({"metadata": {"name": "a", "uid": "u1", "creationTimestamp": "t"}});
        let mut new = json!({"metadata": {"name": "a", "uid": "changed"}});
        before_update(&def, WriteScope::Main, &mut new, &old).expect("should succeed");
        assert_eq!(new["metadata"]["uid"], "u1");
        assert_eq!(new["metadata"]["creationTimestamp"], "t");
    }
}
