//! ReplicationControllers (pkg/registry/core/replicationcontroller): the
//! selector is a plain label map that defaults to the template's labels,
//! as do the controller's own labels (`SetDefaults_ReplicationController`).

use serde_json::{json, Value};

use super::meta_strategy::validate_namespaced_create;
use super::workload::{
    default_spec_template, labels_from_template, non_negative, replicas_field_label,
    selector_matches_template, spec_of, template_labels, validate_template, validate_update,
    RestartRule, SelectorUpdate,
};
use crate::field_error::FieldErrors;
use crate::json_path::{default, existing_mut, get};
use crate::selector::LabelSelector;
use crate::strategy::Strategy;

/// The strategy of `replicationcontrollers`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReplicationControllerStrategy;

fn non_empty_map(v: Option<&Value>) -> Option<&Value> {
    v.filter(|m| m.as_object().is_some_and(|m| !m.is_empty()))
}

fn validate_spec(obj: &Value) -> FieldErrors {
    let mut errs = FieldErrors::default();
    let spec = spec_of(obj);
    non_negative(spec, "spec", &["minReadySeconds"], &mut errs);
    let selector = non_empty_map(get(spec, &["selector"]));
    if selector.is_none() {
        errs.required("spec.selector", "");
    }
    non_negative(spec, "spec", &["replicas"], &mut errs);
    let Some(template) = get(spec, &["template"]).filter(|t| t.is_object()) else {
        errs.required("spec.template", "");
        return errs;
    };
    let parsed = selector.and_then(|m| LabelSelector::from_json(&json!({"matchLabels": m})).ok());
    if let Some(sel) = parsed {
        selector_matches_template(&sel, template, "spec", &mut errs);
    }
    errs.extend(validate_template(
        template,
        "spec.template",
        RestartRule::Always("ReplicationController"),
    ));
    errs
}

impl Strategy for ReplicationControllerStrategy {
    fn default(&self, obj: &mut Value) {
        let template_labels = template_labels(obj).cloned();
        labels_from_template(obj);
        let Some(spec) = existing_mut(obj, &["spec"]) else {
            return;
        };
        if let Some(labels) = template_labels {
            if non_empty_map(spec.get("selector")).is_none() {
                spec.insert("selector".into(), labels);
            }
        }
        default(spec, "replicas", json!(1));
        default_spec_template(spec);
    }

    fn validate_create(&self, obj: &Value) -> FieldErrors {
        validate_namespaced_create(obj, validate_spec)
    }

    fn validate_update(&self, new: &Value, old: &Value) -> FieldErrors {
        // The map selector may change (`ValidateReplicationControllerUpdate`
        // only revalidates the spec).
        validate_update(new, old, validate_spec, SelectorUpdate::ByKindRules)
    }

    fn field_labels(&self, obj: &Value) -> Vec<(&'static str, String)> {
        replicas_field_label(obj)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rc(spec: Value) -> Value {
        let mut obj = json!({"metadata": {"name": "web", "namespace": "default"}, "spec": spec});
        ReplicationControllerStrategy.default(&mut obj);
        obj
    }

    #[test]
    fn selector_and_labels_default_to_the_templates() {
        let obj = rc(
            json!({"template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}),
        );
        assert_eq!(obj["spec"]["selector"], json!({"app": "web"}));
        assert_eq!(obj["metadata"]["labels"], json!({"app": "web"}));
        assert_eq!(obj["spec"]["replicas"], json!(1));
        assert!(ReplicationControllerStrategy
            .validate_create(&obj)
            .is_empty());
    }

    #[test]
    fn validation_cases() {
        let cases = [
            (
                "no selector and no template labels",
                rc(json!({"template": {"spec": {"containers": [{"name": "c", "image": "nginx"}]}}})),
                vec!["spec.selector: Required value"],
            ),
            (
                "a selector that misses the template",
                rc(json!({"selector": {"app": "db"}, "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}})),
                vec!["spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"web\"}: `selector` does not match template `labels`"],
            ),
            (
                "a deadline on the pods",
                rc(json!({"template": {"metadata": {"labels": {"app": "web"}}, "spec": {"activeDeadlineSeconds": 5, "containers": [{"name": "c", "image": "nginx"}]}}})),
                vec!["spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in ReplicationController is not Supported"],
            ),
        ];
        for (name, obj, want) in cases {
            let got = ReplicationControllerStrategy
                .validate_create(&obj)
                .messages();
            assert_eq!(got, want, "{name}");
        }
    }
}
