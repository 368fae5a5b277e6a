//! DaemonSets (pkg/registry/apps/daemonset/strategy.go): RollingUpdate with
//! one unavailable pod at a time by default.

use serde_json::{json, Value};

use super::pod_spec::default_template;
use super::workload::{
    non_negative, selector_immutable, validate_meta, validate_meta_update,
    validate_selector_and_template, EmptySelector, RestartRule,
};
use crate::field_error::FieldErrors;
use crate::json_path::{default, existing_mut, get, object_mut, str_at};
use crate::strategy::Strategy;

/// The strategy of `daemonsets`.
#[derive(Debug, Clone, Copy, Default)]
pub struct DaemonSetStrategy;

const UPDATE_STRATEGIES: [&str; 2] = ["OnDelete", "RollingUpdate"];

fn validate_spec(obj: &Value) -> FieldErrors {
    let mut errs = FieldErrors::default();
    let spec = get(obj, &["spec"]).unwrap_or(&Value::Null);
    non_negative(spec, "spec", "minReadySeconds", &mut errs);
    non_negative(spec, "spec", "revisionHistoryLimit", &mut errs);
    errs.extend(validate_selector_and_template(
        spec,
        "spec",
        EmptySelector::Invalid("daemonset"),
        RestartRule::Always("ReplicaSet"),
    ));
    let kind = str_at(spec, &["updateStrategy", "type"]);
    if !UPDATE_STRATEGIES.contains(&kind) {
        errs.not_supported("spec.updateStrategy.type", kind, &UPDATE_STRATEGIES);
    }
    errs
}

impl Strategy for DaemonSetStrategy {
    fn default(&self, obj: &mut Value) {
        let Some(spec) = existing_mut(obj, &["spec"]) else {
            return;
        };
        default(spec, "revisionHistoryLimit", json!(10));
        default_template(spec.get_mut("template").and_then(Value::as_object_mut));
        if let Some(strategy) = object_mut(obj, &["spec", "updateStrategy"]) {
            default(strategy, "type", json!("RollingUpdate"));
            if strategy.get("type") == Some(&json!("RollingUpdate")) {
                if let Some(ru) = object_mut(obj, &["spec", "updateStrategy", "rollingUpdate"]) {
                    default(ru, "maxUnavailable", json!(1));
                    default(ru, "maxSurge", json!(0));
                }
            }
        }
    }

    fn validate_create(&self, obj: &Value) -> FieldErrors {
        let mut errs = validate_meta(obj);
        errs.extend(validate_spec(obj));
        errs
    }

    fn validate_update(&self, new: &Value, old: &Value) -> FieldErrors {
        let mut errs = validate_meta_update(new, old);
        errs.extend(validate_spec(new));
        errs.extend(selector_immutable(new, old));
        errs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_validation() {
        let mut obj = json!({"metadata": {"name": "agent", "namespace": "kube-system"}, "spec": {
            "selector": {"matchLabels": {"app": "agent"}},
            "template": {"metadata": {"labels": {"app": "agent"}}, "spec": {"containers": [{"name": "a", "image": "agent:1"}]}}
        }});
        DaemonSetStrategy.default(&mut obj);
        assert_eq!(
            obj["spec"]["updateStrategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}})
        );
        assert_eq!(obj["spec"]["revisionHistoryLimit"], json!(10));
        assert!(DaemonSetStrategy.validate_create(&obj).is_empty());
        obj["spec"]["selector"] = json!({});
        let got: Vec<String> = DaemonSetStrategy
            .validate_create(&obj)
            .0
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(got, ["spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for daemonset"]);
    }
}
