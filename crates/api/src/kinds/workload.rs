//! What every pod controller (Deployment, ReplicaSet, StatefulSet,
//! DaemonSet, Job) validates the same way: a selector that matches the pod
//! template's labels, the template as a pod spec with the restart policies
//! the controller supports, non-negative counts, and an immutable selector
//! (upstream's `ValidatePodTemplateSpecForReplicaSet` and friends in
//! pkg/apis/apps/validation and pkg/apis/batch/validation), and what they
//! default the same way: the pod template, a `RollingUpdate` update
//! strategy whose parameters differ per kind, and labels copied from the
//! template (pkg/apis/apps/v1/defaults.go, pkg/apis/batch/v1/defaults.go).
//! Each kind's strategy file keeps only its own table of fields and rules.

use serde_json::{json, Map, Value};

use super::meta_strategy::validate_namespaced_update;
use super::pod_spec::{default_template, validate_pod_spec};
use crate::catalog::Scope;
use crate::field_error::FieldErrors;
use crate::json_path::{
    count_at, default, get, go_label_selector, go_string_map, i64_at, object_mut, str_at,
};
use crate::meta;
use crate::selector::{validate_label_selector, LabelSelector, ObjectLabels};
use crate::validation::object_meta::{validate_annotations, validate_labels};
use crate::validation::{validate_object_meta, NameRule};

/// The restart policies a controller's pods may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RestartRule {
    /// Long-running controllers: only `Always`, and no
    /// `activeDeadlineSeconds` (the message names `ReplicaSet` for every
    /// apps/v1 kind, `ReplicationController` for those).
    Always(&'static str),
    /// Jobs: `OnFailure` or `Never`.
    OnFailureOrNever,
}

/// Whether an empty selector (`{}`) is rejected, and with which noun
/// (`empty selector is invalid for deployment`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EmptySelector {
    /// Rejected, naming the kind as upstream does.
    Invalid(&'static str),
    /// Allowed (Jobs).
    Allowed,
}

/// Whether an update may change `spec.selector`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SelectorUpdate {
    /// Never (`ValidateImmutableField` on the selector).
    Immutable,
    /// As the kind's own spec rules allow (a ReplicationController's map
    /// selector; a StatefulSet's list of mutable fields).
    ByKindRules,
}

/// Each of `at.fields` is a non-negative integer when set.
pub(crate) fn non_negative(spec: &Value, at: &str, fields: &[&str], errs: &mut FieldErrors) {
    for field in fields {
        if let Some(n) = i64_at(spec, &[field]) {
            if n < 0 {
                errs.invalid_number(
                    format!("{at}.{field}"),
                    n,
                    "must be greater than or equal to 0",
                );
            }
        }
    }
}

/// The object's `spec`, or null when it has none (validation then
/// reports each required field).
pub(crate) fn spec_of(obj: &Value) -> &Value {
    get(obj, &["spec"]).unwrap_or(&Value::Null)
}

/// `metadata` of a namespaced workload.
pub(crate) fn validate_meta(obj: &Value) -> FieldErrors {
    validate_object_meta(obj, Scope::Namespaced, NameRule::Subdomain)
}

/// A workload's update validation: its metadata update, the kind's
/// `validate_spec` on the new object, and the selector rule
/// (`Validate<Kind>Update`).
pub(crate) fn validate_update(
    new: &Value,
    old: &Value,
    validate_spec: fn(&Value) -> FieldErrors,
    selector: SelectorUpdate,
) -> FieldErrors {
    let mut errs = validate_namespaced_update(new, old, validate_spec);
    if selector == SelectorUpdate::Immutable {
        errs.extend(selector_immutable(new, old));
    }
    errs
}

/// Defaults `spec.<field>.type` to `RollingUpdate` and, for that type, the
/// `rollingUpdate` parameters to `rolling` (the `SetDefaults_Deployment`,
/// `SetDefaults_DaemonSet` and `SetDefaults_StatefulSet` update-strategy
/// blocks differ only in these values).
pub(crate) fn default_update_strategy(obj: &mut Value, field: &str, rolling: &[(&str, Value)]) {
    let Some(strategy) = object_mut(obj, &["spec", field]) else {
        return;
    };
    default(strategy, "type", json!("RollingUpdate"));
    if strategy.get("type") != Some(&json!("RollingUpdate")) {
        return;
    }
    if let Some(ru) = object_mut(obj, &["spec", field, "rollingUpdate"]) {
        for (key, value) in rolling {
            default(ru, key, value.clone());
        }
    }
}

/// The `updateStrategy` types of DaemonSets and StatefulSets.
const UPDATE_STRATEGIES: [&str; 2] = ["OnDelete", "RollingUpdate"];

/// `spec.updateStrategy.type` of a DaemonSet or StatefulSet is one they
/// support (`ValidateDaemonSetUpdateStrategy`,
/// `ValidateStatefulSetUpdateStrategy`).
pub(crate) fn validate_update_strategy_type(spec: &Value, errs: &mut FieldErrors) {
    let kind = str_at(spec, &["updateStrategy", "type"]);
    if !UPDATE_STRATEGIES.contains(&kind) {
        errs.not_supported("spec.updateStrategy.type", kind, &UPDATE_STRATEGIES);
    }
}

/// Defaults the pod template of the controller spec `spec`.
pub(crate) fn default_spec_template(spec: &mut Map<String, Value>) {
    default_template(spec.get_mut("template").and_then(Value::as_object_mut));
}

/// A controller without labels takes its template's
/// (`SetDefaults_ReplicationController`, `SetDefaults_Job`).
pub(crate) fn labels_from_template(obj: &mut Value) {
    let template_labels = template_labels(obj).cloned();
    let has_labels = meta::labels(obj).is_some_and(|l| !l.is_empty());
    if let (Some(labels), false) = (template_labels, has_labels) {
        if let Some(m) = meta::metadata_mut(obj) {
            m.insert("labels".into(), labels);
        }
    }
}

/// The template's labels when it has any.
pub(crate) fn template_labels(obj: &Value) -> Option<&Value> {
    get(obj, &["spec", "template", "metadata", "labels"])
        .filter(|l| l.as_object().is_some_and(|m| !m.is_empty()))
}

/// The `status.replicas` field selector of ReplicaSets and
/// ReplicationControllers (`ReplicaSetToSelectableFields`).
pub(crate) fn replicas_field_label(obj: &Value) -> Vec<(&'static str, String)> {
    vec![(
        "status.replicas",
        count_at(obj, &["status", "replicas"]).to_string(),
    )]
}

/// Validates `selector` and `template` of the controller spec `spec` found
/// at `at` (`spec`, `spec.jobTemplate.spec`).
pub(crate) fn validate_selector_and_template(
    spec: &Value,
    at: &str,
    empty: EmptySelector,
    restart: RestartRule,
) -> FieldErrors {
    let mut errs = FieldErrors::default();
    let selector = get(spec, &["selector"]).filter(|s| !s.is_null());
    let parsed = match selector {
        None => {
            errs.required(format!("{at}.selector"), "");
            None
        }
        Some(sel) => {
            errs.extend(validate_label_selector(sel, &format!("{at}.selector")));
            let is_empty = LabelSelector::from_json(sel).is_ok_and(|s| s.is_everything());
            if let (EmptySelector::Invalid(noun), true) = (empty, is_empty) {
                errs.push(
                    crate::field_error::ErrorType::Invalid,
                    format!("{at}.selector"),
                    Some(go_label_selector(Some(sel))),
                    format!("empty selector is invalid for {noun}"),
                );
            }
            LabelSelector::from_json(sel).ok()
        }
    };
    let Some(template) = get(spec, &["template"]).filter(|t| t.is_object()) else {
        errs.required(format!("{at}.template"), "");
        return errs;
    };
    if let Some(sel) = parsed.filter(|s| !s.is_everything()) {
        selector_matches_template(&sel, template, at, &mut errs);
    }
    errs.extend(validate_template(
        template,
        &format!("{at}.template"),
        restart,
    ));
    errs
}

/// The selector and template of an apps/v1 controller (Deployment,
/// ReplicaSet, DaemonSet, StatefulSet): an empty selector is invalid for
/// `noun`, and the pods always restart (upstream's message names
/// `ReplicaSet` for all of them).
pub(crate) fn validate_apps_selector_and_template(spec: &Value, noun: &'static str) -> FieldErrors {
    validate_selector_and_template(
        spec,
        "spec",
        EmptySelector::Invalid(noun),
        RestartRule::Always("ReplicaSet"),
    )
}

/// The template found at `at.template` carries the labels `selector`
/// selects, or the controller could never find its own pods.
pub(crate) fn selector_matches_template(
    selector: &LabelSelector,
    template: &Value,
    at: &str,
    errs: &mut FieldErrors,
) {
    if !selector.matches(&ObjectLabels(template)) {
        errs.push(
            crate::field_error::ErrorType::Invalid,
            format!("{at}.template.metadata.labels"),
            Some(go_string_map(get(template, &["metadata", "labels"]))),
            "`selector` does not match template `labels`",
        );
    }
}

/// Validates a pod template found at `at` (labels, annotations, the pod
/// spec, and the restart policies of the controller).
pub(crate) fn validate_template(template: &Value, at: &str, restart: RestartRule) -> FieldErrors {
    let mut errs = FieldErrors::default();
    if let Some(labels) = get(template, &["metadata", "labels"]) {
        errs.extend(validate_labels(labels, &format!("{at}.metadata.labels")));
    }
    if let Some(annotations) = get(template, &["metadata", "annotations"]) {
        errs.extend(validate_annotations(
            annotations,
            &format!("{at}.metadata.annotations"),
        ));
    }
    let pod_spec = get(template, &["spec"]).unwrap_or(&Value::Null);
    let spec_at = format!("{at}.spec");
    errs.extend(validate_pod_spec(pod_spec, &spec_at));
    let policy = str_at(pod_spec, &["restartPolicy"]);
    match restart {
        RestartRule::Always(kind) => {
            if policy != "Always" {
                errs.not_supported(format!("{spec_at}.restartPolicy"), policy, &["Always"]);
            }
            if get(pod_spec, &["activeDeadlineSeconds"]).is_some_and(|v| !v.is_null()) {
                errs.forbidden(
                    format!("{spec_at}.activeDeadlineSeconds"),
                    format!("activeDeadlineSeconds in {kind} is not Supported"),
                );
            }
        }
        RestartRule::OnFailureOrNever => {
            if policy != "OnFailure" && policy != "Never" {
                errs.not_supported(
                    format!("{spec_at}.restartPolicy"),
                    policy,
                    &["OnFailure", "Never"],
                );
            }
        }
    }
    errs
}

/// `spec.selector` may not change (`ValidateImmutableField`).
pub(crate) fn selector_immutable(new: &Value, old: &Value) -> FieldErrors {
    let mut errs = FieldErrors::default();
    let (n, o) = (
        get(new, &["spec", "selector"]),
        get(old, &["spec", "selector"]),
    );
    if n != o {
        errs.push(
            crate::field_error::ErrorType::Invalid,
            "spec.selector",
            Some(go_label_selector(n)),
            "field is immutable",
        );
    }
    errs
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn spec(selector: Value, labels: Value, restart: &str) -> Value {
        let mut spec = json!({
            "selector": selector,
            "template": {
                "metadata": {"labels": labels},
                "spec": {"restartPolicy": restart, "containers": [{"name": "c", "image": "x"}]}
            }
        });
        if let Some(s) = spec
            .pointer_mut("/template/spec")
            .and_then(Value::as_object_mut)
        {
            super::super::pod_spec::default_pod_spec(s);
        }
        spec
    }

    #[test]
    fn selector_and_template_cases() {
        let cases = [
            (
                "a matching selector is valid",
                spec(json!({"matchLabels": {"app": "web"}}), json!({"app": "web", "x": "y"}), "Always"),
                RestartRule::Always("ReplicaSet"),
                vec![],
            ),
            (
                "a selector that misses the template labels",
                spec(json!({"matchLabels": {"app": "web"}}), json!({"app": "db"}), "Always"),
                RestartRule::Always("ReplicaSet"),
                vec!["spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"db\"}: `selector` does not match template `labels`"],
            ),
            (
                "a missing selector",
                spec(Value::Null, json!({"app": "web"}), "Always"),
                RestartRule::Always("ReplicaSet"),
                vec!["spec.selector: Required value"],
            ),
            (
                "an empty selector",
                spec(json!({}), json!({"app": "web"}), "Always"),
                RestartRule::Always("ReplicaSet"),
                vec!["spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment"],
            ),
            (
                "a long-running controller with restartPolicy Never",
                spec(json!({"matchLabels": {"app": "web"}}), json!({"app": "web"}), "Never"),
                RestartRule::Always("ReplicaSet"),
                vec!["spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: \"Always\""],
            ),
            (
                "a job with restartPolicy Always",
                spec(json!({"matchLabels": {"app": "web"}}), json!({"app": "web"}), "Always"),
                RestartRule::OnFailureOrNever,
                vec!["spec.template.spec.restartPolicy: Unsupported value: \"Always\": supported values: \"OnFailure\", \"Never\""],
            ),
        ];
        for (name, spec, restart, want) in cases {
            let errs = validate_selector_and_template(
                &spec,
                "spec",
                EmptySelector::Invalid("deployment"),
                restart,
            );
            let got = errs.messages();
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn update_strategy_defaults() {
        let rolling = [("maxUnavailable", json!(1)), ("maxSurge", json!(0))];
        let cases = [
            (
                "an absent strategy becomes RollingUpdate with the kind's parameters",
                json!({"spec": {}}),
                json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}),
            ),
            (
                "set parameters are kept",
                json!({"spec": {"updateStrategy": {"rollingUpdate": {"maxSurge": 2}}}}),
                json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 2}}),
            ),
            (
                "another type gets no rolling parameters",
                json!({"spec": {"updateStrategy": {"type": "OnDelete"}}}),
                json!({"type": "OnDelete"}),
            ),
        ];
        for (name, mut obj, want) in cases {
            default_update_strategy(&mut obj, "updateStrategy", &rolling);
            assert_eq!(obj["spec"]["updateStrategy"], want, "{name}");
        }
    }

    #[test]
    fn labels_default_to_the_templates_only_when_unset() {
        let template = json!({"metadata": {"labels": {"app": "web"}}});
        let cases = [
            (
                "no labels take the template's",
                json!({"metadata": {}, "spec": {"template": template}}),
                json!({"app": "web"}),
            ),
            (
                "set labels are kept",
                json!({"metadata": {"labels": {"own": "x"}}, "spec": {"template": template}}),
                json!({"own": "x"}),
            ),
            (
                "an empty template label map is not copied",
                json!({"metadata": {}, "spec": {"template": {"metadata": {"labels": {}}}}}),
                Value::Null,
            ),
        ];
        for (name, mut obj, want) in cases {
            labels_from_template(&mut obj);
            assert_eq!(obj["metadata"]["labels"], want, "{name}");
        }
    }

    #[test]
    fn selectors_are_immutable() {
        let old = json!({"spec": {"selector": {"matchLabels": {"app": "a"}}}});
        let new = json!({"spec": {"selector": {"matchLabels": {"app": "b"}}}});
        assert!(selector_immutable(&old, &old).is_empty());
        assert_eq!(selector_immutable(&new, &old).0.len(), 1);
    }
}
