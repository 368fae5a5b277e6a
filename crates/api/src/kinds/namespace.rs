//! Namespaces (pkg/registry/core/namespace/strategy.go): created `Active`
//! with the `kubernetes` finalizer and the `kubernetes.io/metadata.name`
//! label; DNS-1123 label names; ordinary updates keep the finalizers
//! (only `/finalize` changes them).

use serde_json::{json, Value};

use crate::catalog::Scope;
use crate::field_error::FieldErrors;
use crate::json_path::{object_mut, str_at};
use crate::meta;
use crate::strategy::{Strategy, WriteScope};
use crate::validation::{validate_object_meta, validate_object_meta_update, NameRule};

/// The strategy of `namespaces`.
#[derive(Debug, Clone, Copy, Default)]
pub struct NamespaceStrategy;

/// The finalizer the namespace controller removes once it emptied the
/// namespace.
pub const KUBERNETES_FINALIZER: &str = "kubernetes";

/// The label every namespace carries with its own name.
pub const NAME_LABEL: &str = "kubernetes.io/metadata.name";

impl Strategy for NamespaceStrategy {
    fn prepare_for_create(&self, obj: &mut Value) {
        if let Some(map) = obj.as_object_mut() {
            map.insert("status".into(), json!({"phase": "Active"}));
        }
        if let Some(spec) = object_mut(obj, &["spec"]) {
            let finalizers = spec.entry("finalizers").or_insert_with(|| json!([]));
            if let Some(list) = finalizers.as_array_mut() {
                if !list.iter().any(|f| f == KUBERNETES_FINALIZER) {
                    list.push(json!(KUBERNETES_FINALIZER));
                }
            }
        }
    }

    fn prepare_for_update(&self, scope: WriteScope, new: &mut Value, old: &Value) {
        if scope == WriteScope::Main {
            let finalizers = old.pointer("/spec/finalizers").cloned();
            if let Some(spec) = object_mut(new, &["spec"]) {
                match finalizers {
                    Some(f) => {
                        spec.insert("finalizers".into(), f);
                    }
                    None => {
                        spec.remove("finalizers");
                    }
                }
            }
        }
    }

    fn default(&self, obj: &mut Value) {
        let name = meta::name(obj).unwrap_or_default().to_owned();
        if name.is_empty() {
            return;
        }
        if let Some(labels) = meta::labels_mut(obj) {
            labels.insert(NAME_LABEL.into(), json!(name));
        }
    }

    fn validate_create(&self, obj: &Value) -> FieldErrors {
        validate_object_meta(obj, Scope::Cluster, NameRule::Label)
    }

    fn validate_update(&self, new: &Value, old: &Value) -> FieldErrors {
        validate_object_meta_update(new, old, Scope::Cluster, NameRule::Label)
    }

    fn field_labels(&self, obj: &Value) -> Vec<(&'static str, String)> {
        vec![("status.phase", str_at(obj, &["status", "phase"]).to_owned())]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_namespaces_are_active_and_finalized() {
        let mut obj = json!({"metadata": {"name": "team-a"}});
        NamespaceStrategy.prepare_for_create(&mut obj);
        NamespaceStrategy.default(&mut obj);
        assert_eq!(
            obj,
            json!({"metadata": {"name": "team-a", "labels": {"kubernetes.io/metadata.name": "team-a"}}, "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}})
        );
        assert!(NamespaceStrategy.validate_create(&obj).is_empty());
        assert_eq!(
            NamespaceStrategy.field_labels(&obj),
            [("status.phase", "Active".to_owned())]
        );
    }

    #[test]
    fn updates_keep_finalizers_and_names_are_labels() {
        let old = json!({"metadata": {"name": "a"}, "spec": {"finalizers": ["kubernetes"]}});
        let mut new = json!({"metadata": {"name": "a"}, "spec": {}});
        NamespaceStrategy.prepare_for_update(WriteScope::Main, &mut new, &old);
        assert_eq!(new["spec"]["finalizers"], json!(["kubernetes"]));
        let dotted = json!({"metadata": {"name": "a.b"}});
        assert_eq!(NamespaceStrategy.validate_create(&dotted).0.len(), 1);
    }
}
