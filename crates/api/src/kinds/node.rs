//! Nodes (pkg/registry/core/node/strategy.go): cluster-scoped, taints with
//! known effects, and pod CIDRs and provider IDs that can be set once.

use serde_json::Value;

use crate::catalog::Scope;
use crate::field_error::FieldErrors;
use crate::json_path::{array_at, bool_at, get, str_at};
use crate::strategy::Strategy;
use crate::validation::names;
use crate::validation::{validate_object_meta, validate_object_meta_update, NameRule};

/// The strategy of `nodes`.
#[derive(Debug, Clone, Copy, Default)]
pub struct NodeStrategy;

const TAINT_EFFECTS: [&str; 3] = ["NoSchedule", "PreferNoSchedule", "NoExecute"];

fn validate_taints(obj: &Value) -> FieldErrors {
    let mut errs = FieldErrors::default();
    for (i, taint) in array_at(obj, &["spec", "taints"]).iter().enumerate() {
        let at = format!("spec.taints[{i}]");
        let key = str_at(taint, &["key"]);
        for m in names::qualified_name(key) {
            errs.invalid(format!("{at}.key"), key, m);
        }
        let value = str_at(taint, &["value"]);
        for m in names::label_value(value) {
            errs.invalid(format!("{at}.value"), value, m);
        }
        let effect = str_at(taint, &["effect"]);
        if effect.is_empty() {
            errs.required(format!("{at}.effect"), "");
        } else if !TAINT_EFFECTS.contains(&effect) {
            errs.not_supported(format!("{at}.effect"), effect, &TAINT_EFFECTS);
        }
    }
    errs
}

impl Strategy for NodeStrategy {
    fn validate_create(&self, obj: &Value) -> FieldErrors {
        let mut errs = validate_object_meta(obj, Scope::Cluster, NameRule::Subdomain);
        errs.extend(validate_taints(obj));
        errs
    }

    fn validate_update(&self, new: &Value, old: &Value) -> FieldErrors {
        let mut errs = validate_object_meta_update(new, old, Scope::Cluster, NameRule::Subdomain);
        errs.extend(validate_taints(new));
        let set_once = [
            (
                "podCIDRs",
                "node updates may not change podCIDR except from \"\" to valid",
            ),
            (
                "providerID",
                "node updates may not change providerID except from \"\" to valid",
            ),
        ];
        for (field, msg) in set_once {
            let old_value = get(old, &["spec", field]).filter(|v| !v.is_null());
            if old_value.is_some() && old_value != get(new, &["spec", field]) {
                errs.forbidden(format!("spec.{field}"), msg);
            }
        }
        errs
    }

    fn field_labels(&self, obj: &Value) -> Vec<(&'static str, String)> {
        vec![(
            "spec.unschedulable",
            bool_at(obj, &["spec", "unschedulable"]).to_string(),
        )]
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn taints_and_set_once_fields() {
        let node = json!({"metadata": {"name": "n1"}, "spec": {"podCIDRs": ["10.42.0.0/24"], "taints": [{"key": "dedicated", "effect": "NoSchedule"}]}});
        assert!(NodeStrategy.validate_create(&node).is_empty());
        assert_eq!(
            NodeStrategy.field_labels(&node),
            [("spec.unschedulable", "false".to_owned())]
        );
        let bad = json!({"metadata": {"name": "n1"}, "spec": {"taints": [{"key": "k", "effect": "Sometimes"}]}});
        assert_eq!(NodeStrategy.validate_create(&bad).0.len(), 1);
        let moved = json!({"metadata": {"name": "n1"}, "spec": {"podCIDRs": ["10.42.1.0/24"]}});
        let fields: Vec<String> = NodeStrategy
            .validate_update(&moved, &node)
            .0
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["spec.podCIDRs"]);
        let fresh = json!({"metadata": {"name": "n1"}, "spec": {}});
        assert!(NodeStrategy.validate_update(&node, &fresh).is_empty());
    }
}
