//! ReplicaSets (pkg/registry/apps/replicaset/strategy.go): one replica by
//! default, a selector matching the template, immutable selector.

use serde_json::{json, Value};

use super::meta_strategy::validate_namespaced_create;
use super::workload::{
    default_spec_template, non_negative, replicas_field_label, spec_of,
    validate_apps_selector_and_template, validate_update, SelectorUpdate,
};
use crate::field_error::FieldErrors;
use crate::json_path::{default, existing_mut};
use crate::strategy::Strategy;

/// The strategy of `replicasets`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReplicaSetStrategy;

fn validate_spec(obj: &Value) -> FieldErrors {
    let mut errs = FieldErrors::default();
    let spec = spec_of(obj);
    non_negative(spec, "spec", &["replicas", "minReadySeconds"], &mut errs);
    // Upstream's ReplicaSet validation names deployments here too.
    errs.extend(validate_apps_selector_and_template(spec, "deployment"));
    errs
}

impl Strategy for ReplicaSetStrategy {
    fn default(&self, obj: &mut Value) {
        if let Some(spec) = existing_mut(obj, &["spec"]) {
            default(spec, "replicas", json!(1));
            default_spec_template(spec);
        }
    }

    fn validate_create(&self, obj: &Value) -> FieldErrors {
        validate_namespaced_create(obj, validate_spec)
    }

    fn validate_update(&self, new: &Value, old: &Value) -> FieldErrors {
        validate_update(new, old, validate_spec, SelectorUpdate::Immutable)
    }

    fn field_labels(&self, obj: &Value) -> Vec<(&'static str, String)> {
        replicas_field_label(obj)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validation_and_fields() {
        let mut obj = json!({"metadata": {"name": "web-1", "namespace": "default"}, "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "nginx:1"}]}}
        }});
        ReplicaSetStrategy.default(&mut obj);
        assert_eq!(obj["spec"]["replicas"], json!(1));
        assert!(ReplicaSetStrategy.validate_create(&obj).is_empty());
        assert_eq!(
            ReplicaSetStrategy.field_labels(&obj),
            [("status.replicas", "0".to_owned())]
        );
        obj["status"] = json!({"replicas": 3});
        assert_eq!(
            ReplicaSetStrategy.field_labels(&obj),
            [("status.replicas", "3".to_owned())]
        );
        let mut bad = obj.clone();
        bad["spec"]["template"]["metadata"]["labels"] = json!({"app": "other"});
        assert_eq!(ReplicaSetStrategy.validate_create(&bad).0.len(), 1);
    }
}
