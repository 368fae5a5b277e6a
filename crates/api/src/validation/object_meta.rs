//! `metadata` validation with upstream's paths and messages
//! (k8s.io/apimachinery/pkg/api/validation/objectmeta.go and
//! pkg/apis/meta/v1/validation): names, namespace, labels, annotations,
//! finalizers, owner references, and what an update may not change.

use serde_json::Value;

use super::names;
use crate::catalog::Scope;
use crate::field_error::FieldErrors;

/// Which syntax a kind's names follow (upstream's `ValidateNameFunc`
/// choice per kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRule {
    /// `NameIsDNSSubdomain`: most kinds.
    Subdomain,
    /// `NameIsDNSLabel`: namespaces.
    Label,
    /// `NameIsDNS1035Label`: services.
    Dns1035Label,
    /// `ValidatePathSegmentName`: RBAC kinds (`system:admin` is fine).
    PathSegment,
}

impl NameRule {
    /// The problems with `name`; a `generateName` prefix may end in `-`
    /// (upstream's `maskTrailingDash`).
    pub fn check(self, name: &str, prefix: bool) -> Vec<String> {
        let masked;
        let name = if prefix && name.len() > 1 && name.ends_with('-') {
            masked = format!("{}a", &name[..name.len() - 1]);
            masked.as_str()
        } else {
            name
        };
        match self {
            NameRule::Subdomain => names::dns1123_subdomain(name),
            NameRule::Label => names::dns1123_label(name),
            NameRule::Dns1035Label => names::dns1035_label(name),
            NameRule::PathSegment => names::path_segment(name),
        }
    }
}

/// Upper bound of all annotation keys and values together.
pub const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * 1024;

/// Finalizers Kubernetes itself defines, allowed without a `/` prefix.
const STANDARD_FINALIZERS: [&str; 3] = ["kubernetes", "orphan", "foregroundDeletion"];

fn str_at<'a>(meta: &'a Value, key: &str) -> &'a str {
    meta.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// `ValidateLabels`: keys are qualified names, values label values; both
/// reported at `path` itself, as upstream does.
pub fn validate_labels(labels: &Value, path: &str) -> FieldErrors {
    let mut errs = FieldErrors::default();
    let Some(map) = labels.as_object() else {
        return errs;
    };
    for (k, v) in map {
        for msg in names::qualified_name(k) {
            errs.invalid(path, k, msg);
        }
        let v = v.as_str().unwrap_or_default();
        for msg in names::label_value(v) {
            errs.invalid(path, v, msg);
        }
    }
    errs
}

/// `ValidateAnnotations`: keys are qualified names (case-insensitive),
/// and all of them together stay under 256 KiB.
pub fn validate_annotations(annotations: &Value, path: &str) -> FieldErrors {
    let mut errs = FieldErrors::default();
    let Some(map) = annotations.as_object() else {
        return errs;
    };
    let mut total = 0;
    for (k, v) in map {
        for msg in names::qualified_name(&k.to_ascii_lowercase()) {
            errs.invalid(path, k, msg);
        }
        total += k.len() + v.as_str().map_or(0, str::len);
    }
    if total > TOTAL_ANNOTATION_SIZE_LIMIT {
        errs.too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT);
    }
    errs
}

fn validate_finalizers(finalizers: &Value, path: &str) -> FieldErrors {
    let mut errs = FieldErrors::default();
    for (i, f) in finalizers.as_array().into_iter().flatten().enumerate() {
        let f = f.as_str().unwrap_or_default();
        let at = format!("{path}[{i}]");
        for msg in names::qualified_name(f) {
            errs.invalid(&at, f, msg);
        }
        if !f.contains('/') && !STANDARD_FINALIZERS.contains(&f) {
            errs.invalid(
                &at,
                f,
                "name is neither a standard finalizer name nor is it fully qualified",
            );
        }
    }
    errs
}

fn validate_owner_references(refs: &Value, path: &str) -> FieldErrors {
    let mut errs = FieldErrors::default();
    let mut controllers = Vec::new();
    for (i, r) in refs.as_array().into_iter().flatten().enumerate() {
        let checks = [
            ("apiVersion", "version must not be empty"),
            ("kind", "kind must not be empty"),
            ("name", "name must not be empty"),
            ("uid", "uid must not be empty"),
        ];
        for (key, msg) in checks {
            let v = str_at(r, key);
            if v.is_empty() {
                errs.invalid(format!("{path}[{i}].{key}"), v, msg);
            }
        }
        if r.get("controller").and_then(Value::as_bool) == Some(true) {
            controllers.push(format!("{}/{}", str_at(r, "kind"), str_at(r, "name")));
        }
    }
    if controllers.len() > 1 {
        errs.invalid(
            path,
            &refs.to_string(),
            format!(
                "Only one reference can have Controller set to true. Found \"true\" in references for {}",
                controllers.join(" and ")
            ),
        );
    }
    errs
}

/// Validates an object's `metadata` for a kind of `scope` whose names
/// follow `rule` (`ValidateObjectMeta`).
pub fn validate_object_meta(obj: &Value, scope: Scope, rule: NameRule) -> FieldErrors {
    let mut errs = FieldErrors::default();
    let null = Value::Null;
    let meta = obj.get("metadata").unwrap_or(&null);
    let generate_name = str_at(meta, "generateName");
    if !generate_name.is_empty() {
        for msg in rule.check(generate_name, true) {
            errs.invalid("metadata.generateName", generate_name, msg);
        }
    }
    let name = str_at(meta, "name");
    if name.is_empty() {
        errs.required("metadata.name", "name or generateName is required");
    } else {
        for msg in rule.check(name, false) {
            errs.invalid("metadata.name", name, msg);
        }
    }
    let namespace = str_at(meta, "namespace");
    match scope {
        Scope::Namespaced if namespace.is_empty() => errs.required("metadata.namespace", ""),
        Scope::Namespaced => {
            for msg in names::dns1123_label(namespace) {
                errs.invalid("metadata.namespace", namespace, msg);
            }
        }
        Scope::Cluster if !namespace.is_empty() => {
            errs.forbidden("metadata.namespace", "not allowed on this type")
        }
        Scope::Cluster => {}
    }
    if let Some(g) = meta.get("generation").and_then(Value::as_i64) {
        if g < 0 {
            errs.invalid_number(
                "metadata.generation",
                g,
                "must be greater than or equal to 0",
            );
        }
    }
    let field = |k: &str| meta.get(k).unwrap_or(&null);
    errs.extend(validate_labels(field("labels"), "metadata.labels"));
    errs.extend(validate_annotations(
        field("annotations"),
        "metadata.annotations",
    ));
    errs.extend(validate_owner_references(
        field("ownerReferences"),
        "metadata.ownerReferences",
    ));
    errs.extend(validate_finalizers(
        field("finalizers"),
        "metadata.finalizers",
    ));
    errs
}

/// Validates an update's `metadata`: the new one's own rules, and the
/// identity fields that never change (`ValidateObjectMetaUpdate`).
pub fn validate_object_meta_update(
    new: &Value,
    old: &Value,
    scope: Scope,
    rule: NameRule,
) -> FieldErrors {
    let mut errs = validate_object_meta(new, scope, rule);
    let null = Value::Null;
    let new_meta = new.get("metadata").unwrap_or(&null);
    let old_meta = old.get("metadata").unwrap_or(&null);
    for key in ["name", "namespace", "uid", "creationTimestamp"] {
        let (n, o) = (str_at(new_meta, key), str_at(old_meta, key));
        if n != o {
            errs.invalid(format!("metadata.{key}"), n, "field is immutable");
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn object_meta_cases() {
        let cases = [
            (
                "a valid namespaced object passes",
                json!({"metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}, "finalizers": ["example.com/x", "kubernetes"]}}),
                Scope::Namespaced,
                NameRule::Subdomain,
                vec![],
            ),
            (
                "a missing name is required",
                json!({"metadata": {"namespace": "default"}}),
                Scope::Namespaced,
                NameRule::Subdomain,
                vec!["metadata.name: Required value: name or generateName is required"],
            ),
            (
                "a missing namespace is required",
                json!({"metadata": {"name": "web"}}),
                Scope::Namespaced,
                NameRule::Subdomain,
                vec!["metadata.namespace: Required value"],
            ),
            (
                "a namespace on a cluster-scoped kind is forbidden",
                json!({"metadata": {"name": "n1", "namespace": "default"}}),
                Scope::Cluster,
                NameRule::Subdomain,
                vec!["metadata.namespace: Forbidden: not allowed on this type"],
            ),
            (
                "an upper-case name is invalid",
                json!({"metadata": {"name": "Web", "namespace": "default"}}),
                Scope::Namespaced,
                NameRule::Subdomain,
                vec!["metadata.name: Invalid value: \"Web\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"],
            ),
            (
                "a dotted namespace name is not a label",
                json!({"metadata": {"name": "a.b"}}),
                Scope::Cluster,
                NameRule::Label,
                vec!["metadata.name: Invalid value: \"a.b\": must not contain dots"],
            ),
            (
                "a generateName prefix may end with a dash",
                json!({"metadata": {"generateName": "web-", "name": "web-x1z2q", "namespace": "default"}}),
                Scope::Namespaced,
                NameRule::Subdomain,
                vec![],
            ),
            (
                "a bad label value is reported at metadata.labels",
                json!({"metadata": {"name": "web", "namespace": "d", "labels": {"app": "a b"}}}),
                Scope::Namespaced,
                NameRule::Subdomain,
                vec!["metadata.labels: Invalid value: \"a b\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"],
            ),
            (
                "an unqualified custom finalizer is invalid",
                json!({"metadata": {"name": "web", "finalizers": ["mine"]}}),
                Scope::Cluster,
                NameRule::Subdomain,
                vec!["metadata.finalizers[0]: Invalid value: \"mine\": name is neither a standard finalizer name nor is it fully qualified"],
            ),
            (
                "an owner reference needs a uid",
                json!({"metadata": {"name": "web", "ownerReferences": [{"apiVersion": "v1", "kind": "Pod", "name": "p"}]}}),
                Scope::Cluster,
                NameRule::Subdomain,
                vec!["metadata.ownerReferences[0].uid: Invalid value: \"\": uid must not be empty"],
            ),
            (
                "rbac names only need to be path segments",
                json!({"metadata": {"name": "system:admin"}}),
                Scope::Cluster,
                NameRule::PathSegment,
                vec![],
            ),
        ];
        for (name, obj, scope, rule, want) in cases {
            assert_eq!(
                validate_object_meta(&obj, scope, rule).messages(),
                want,
                "{name}"
            );
        }
    }

    #[test]
    fn oversized_annotations_are_too_long() {
        let big = "x".repeat(TOTAL_ANNOTATION_SIZE_LIMIT);
        let obj = json!({"metadata": {"name": "a", "annotations": {"k": big}}});
        assert_eq!(
            validate_object_meta(&obj, Scope::Cluster, NameRule::Subdomain).messages(),
            ["metadata.annotations: Too long: must have at most 262144 bytes"]
        );
    }

    #[test]
    fn identity_fields_are_immutable() {
        let old = json!({"metadata": {"name": "a", "namespace": "x", "uid": "1"}});
        let new = json!({"metadata": {"name": "a", "namespace": "x", "uid": "2"}});
        assert_eq!(
            validate_object_meta_update(&new, &old, Scope::Namespaced, NameRule::Subdomain)
                .messages(),
            ["metadata.uid: Invalid value: \"2\": field is immutable"]
        );
    }
}
