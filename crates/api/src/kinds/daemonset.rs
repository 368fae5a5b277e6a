//! DaemonSets (pkg/registry/apps/daemonset/strategy.go): RollingUpdate with
//! one unavailable pod at a time by default.

use serde_json::{json, Value};

use super::meta_strategy::validate_namespaced_create;
use super::workload::{
    default_spec_template, default_update_strategy, non_negative, spec_of,
    validate_apps_selector_and_template, validate_update, validate_update_strategy_type,
    SelectorUpdate,
};
use crate::field_error::FieldErrors;
use crate::json_path::{default, existing_mut};
use crate::strategy::Strategy;

/// The strategy of `daemonsets`.
#[derive(Debug, Clone, Copy, Default)]
pub struct DaemonSetStrategy;

fn validate_spec(obj: &Value) -> FieldErrors {
    let mut errs = FieldErrors::default();
    let spec = spec_of(obj);
    non_negative(
        spec,
        "spec",
        &["minReadySeconds", "revisionHistoryLimit"],
        &mut errs,
    );
    errs.extend(validate_apps_selector_and_template(spec, "daemonset"));
    validate_update_strategy_type(spec, &mut errs);
    errs
}

impl Strategy for DaemonSetStrategy {
    fn default(&self, obj: &mut Value) {
        let Some(spec) = existing_mut(obj, &["spec"]) else {
            return;
        };
        default(spec, "revisionHistoryLimit", json!(10));
        default_spec_template(spec);
        default_update_strategy(
            obj,
            "updateStrategy",
            &[("maxUnavailable", json!(1)), ("maxSurge", json!(0))],
        );
    }

    fn validate_create(&self, obj: &Value) -> FieldErrors {
        validate_namespaced_create(obj, validate_spec)
    }

    fn validate_update(&self, new: &Value, old: &Value) -> FieldErrors {
        validate_update(new, old, validate_spec, SelectorUpdate::Immutable)
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
        let got = DaemonSetStrategy.validate_create(&obj).messages();
        assert_eq!(got, ["spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for daemonset"]);
    }
}
