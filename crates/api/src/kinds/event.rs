//! Core/v1 Events (pkg/registry/core/event/strategy.go): selectable by the
//! involved object, reason, source and type; an event about a namespaced
//! object lives in that object's namespace.

use serde_json::Value;

use crate::catalog::Scope;
use crate::field_error::FieldErrors;
use crate::json_path::str_at;
use crate::strategy::Strategy;
use crate::validation::{validate_object_meta, validate_object_meta_update, NameRule};

/// The strategy of core/v1 `events`.
#[derive(Debug, Clone, Copy, Default)]
pub struct EventStrategy;

fn validate_involved_namespace(obj: &Value) -> FieldErrors {
    let mut errs = FieldErrors::default();
    let involved = str_at(obj, &["involvedObject", "namespace"]);
    let own = str_at(obj, &["metadata", "namespace"]);
    if !involved.is_empty() && involved != own {
        errs.invalid(
            "involvedObject.namespace",
            involved,
            "does not match event.namespace",
        );
    }
    errs
}

impl Strategy for EventStrategy {
    fn validate_create(&self, obj: &Value) -> FieldErrors {
        let mut errs = validate_object_meta(obj, Scope::Namespaced, NameRule::Subdomain);
        errs.extend(validate_involved_namespace(obj));
        errs
    }

    fn validate_update(&self, new: &Value, old: &Value) -> FieldErrors {
        let mut errs =
            validate_object_meta_update(new, old, Scope::Namespaced, NameRule::Subdomain);
        errs.extend(validate_involved_namespace(new));
        errs
    }

    /// Upstream's `ToSelectableFields` for events.
    fn field_labels(&self, obj: &Value) -> Vec<(&'static str, String)> {
        let s = |path: &[&str]| str_at(obj, path).to_owned();
        vec![
            ("involvedObject.kind", s(&["involvedObject", "kind"])),
            (
                "involvedObject.namespace",
                s(&["involvedObject", "namespace"]),
            ),
            ("involvedObject.name", s(&["involvedObject", "name"])),
            ("involvedObject.uid", s(&["involvedObject", "uid"])),
            (
                "involvedObject.apiVersion",
                s(&["involvedObject", "apiVersion"]),
            ),
            (
                "involvedObject.resourceVersion",
                s(&["involvedObject", "resourceVersion"]),
            ),
            (
                "involvedObject.fieldPath",
                s(&["involvedObject", "fieldPath"]),
            ),
            ("reason", s(&["reason"])),
            ("reportingComponent", s(&["reportingComponent"])),
            ("source", s(&["source", "component"])),
            ("type", s(&["type"])),
        ]
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::selector::FieldSelector;

    use super::*;

    #[test]
    fn events_select_by_involved_object_and_type() {
        let ev = json!({"metadata": {"name": "web.1", "namespace": "default"}, "involvedObject": {"kind": "Pod", "name": "web", "namespace": "default"}, "reason": "Scheduled", "type": "Normal", "source": {"component": "default-scheduler"}});
        assert!(EventStrategy.validate_create(&ev).is_empty());
        let cases = [
            ("involvedObject.kind=Pod,involvedObject.name=web", true),
            ("type=Warning", false),
            ("source=default-scheduler,reason=Scheduled", true),
        ];
        for (sel, want) in cases {
            let parsed = FieldSelector::parse_for(sel, &EventStrategy);
            assert_eq!(
                parsed.map(|s| s.matches_object(&EventStrategy, &ev)),
                Ok(want),
                "{sel}"
            );
        }
        let elsewhere = json!({"metadata": {"name": "e", "namespace": "a"}, "involvedObject": {"namespace": "b"}});
        assert_eq!(EventStrategy.validate_create(&elsewhere).0.len(), 1);
    }
}
