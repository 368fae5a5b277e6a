//! StatefulSets (pkg/registry/apps/statefulset/strategy.go): ordered pod
//! management and rolling updates by default; only a few spec fields may
//! change after creation.

use serde_json::{json, Value};

use super::meta_strategy::validate_namespaced_create;
use super::workload::{
    default_spec_template, default_update_strategy, non_negative, spec_of,
    validate_apps_selector_and_template, validate_update, validate_update_strategy_type,
    SelectorUpdate,
};
use crate::field_error::FieldErrors;
use crate::json_path::{default, existing_mut, get, items_mut, object_mut, str_at};
use crate::strategy::Strategy;

/// The strategy of `statefulsets`.
#[derive(Debug, Clone, Copy, Default)]
pub struct StatefulSetStrategy;

const POD_MANAGEMENT: [&str; 2] = ["OrderedReady", "Parallel"];
/// The spec fields an update may change (`ValidateStatefulSetUpdate`).
const MUTABLE_FIELDS: [&str; 7] = [
    "replicas",
    "ordinals",
    "template",
    "updateStrategy",
    "revisionHistoryLimit",
    "persistentVolumeClaimRetentionPolicy",
    "minReadySeconds",
];

fn validate_spec(obj: &Value) -> FieldErrors {
    let mut errs = FieldErrors::default();
    let spec = spec_of(obj);
    non_negative(spec, "spec", &["replicas", "minReadySeconds"], &mut errs);
    let pmp = str_at(spec, &["podManagementPolicy"]);
    if !POD_MANAGEMENT.contains(&pmp) {
        errs.not_supported("spec.podManagementPolicy", pmp, &POD_MANAGEMENT);
    }
    validate_update_strategy_type(spec, &mut errs);
    errs.extend(validate_apps_selector_and_template(spec, "statefulset"));
    errs
}

fn without_mutable_fields(obj: &Value) -> Value {
    let mut spec = get(obj, &["spec"]).cloned().unwrap_or(Value::Null);
    if let Some(map) = spec.as_object_mut() {
        for f in MUTABLE_FIELDS {
            map.remove(f);
        }
    }
    spec
}

impl Strategy for StatefulSetStrategy {
    fn default(&self, obj: &mut Value) {
        let Some(spec) = existing_mut(obj, &["spec"]) else {
            return;
        };
        default(spec, "replicas", json!(1));
        default(spec, "revisionHistoryLimit", json!(10));
        default(spec, "podManagementPolicy", json!("OrderedReady"));
        default_spec_template(spec);
        for claim in items_mut(spec, "volumeClaimTemplates") {
            if let Some(claim_spec) = claim.get_mut("spec").and_then(Value::as_object_mut) {
                default(claim_spec, "volumeMode", json!("Filesystem"));
            }
            default(claim, "status", json!({"phase": "Pending"}));
        }
        if let Some(policy) = object_mut(obj, &["spec", "persistentVolumeClaimRetentionPolicy"]) {
            default(policy, "whenDeleted", json!("Retain"));
            default(policy, "whenScaled", json!("Retain"));
        }
        default_update_strategy(obj, "updateStrategy", &[("partition", json!(0))]);
    }

    fn validate_create(&self, obj: &Value) -> FieldErrors {
        validate_namespaced_create(obj, validate_spec)
    }

    fn validate_update(&self, new: &Value, old: &Value) -> FieldErrors {
        let mut errs = validate_update(new, old, validate_spec, SelectorUpdate::ByKindRules);
        if without_mutable_fields(new) != without_mutable_fields(old) {
            errs.forbidden("spec", "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden");
        }
        errs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sts() -> Value {
        let mut obj = json!({"metadata": {"name": "db", "namespace": "default"}, "spec": {
            "serviceName": "db",
            "selector": {"matchLabels": {"app": "db"}},
            "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [{"name": "db", "image": "pg:16"}]}},
            "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"]}}]
        }});
        StatefulSetStrategy.default(&mut obj);
        obj
    }

    #[test]
    fn defaults_are_upstreams() {
        let obj = sts();
        assert_eq!(obj["spec"]["podManagementPolicy"], json!("OrderedReady"));
        assert_eq!(
            obj["spec"]["updateStrategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
        );
        assert_eq!(
            obj["spec"]["persistentVolumeClaimRetentionPolicy"],
            json!({"whenDeleted": "Retain", "whenScaled": "Retain"})
        );
        assert_eq!(
            obj["spec"]["volumeClaimTemplates"][0]["spec"]["volumeMode"],
            json!("Filesystem")
        );
        assert!(StatefulSetStrategy.validate_create(&obj).is_empty());
    }

    #[test]
    fn only_some_fields_may_change() {
        let old = sts();
        let mut scaled = old.clone();
        scaled["spec"]["replicas"] = json!(3);
        assert!(StatefulSetStrategy
            .validate_update(&scaled, &old)
            .is_empty());
        let mut renamed = old.clone();
        renamed["spec"]["serviceName"] = json!("other");
        let fields: Vec<String> = StatefulSetStrategy
            .validate_update(&renamed, &old)
            .0
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["spec"]);
    }
}
