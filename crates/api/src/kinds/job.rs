//! Jobs (pkg/registry/batch/job/strategy.go, pkg/apis/batch/v1/defaults.go):
//! one completion at parallelism one, six retries, and — unless the user
//! asks for a manual selector — a selector generated from the job's uid
//! with the `batch.kubernetes.io/controller-uid` label.

use serde_json::{json, Map, Value};

use super::meta_strategy::validate_namespaced_create;
use super::workload::{
    default_spec_template, labels_from_template, non_negative, spec_of,
    validate_selector_and_template, validate_template, validate_update, EmptySelector, RestartRule,
    SelectorUpdate,
};
use crate::field_error::FieldErrors;
use crate::json_path::{bool_at, count_at, default, existing_mut, get, i64_at, object_mut, str_at};
use crate::meta;
use crate::strategy::Strategy;

/// The strategy of `jobs`.
#[derive(Debug, Clone, Copy, Default)]
pub struct JobStrategy;

/// Labels pointing pods at their job (`batch.LegacyJobNameLabel`,
/// `batch.JobNameLabel`).
const JOB_NAME_LABELS: [&str; 2] = ["job-name", "batch.kubernetes.io/job-name"];
/// Labels pointing pods at their job's uid (`batch.LegacyControllerUidLabel`,
/// `batch.ControllerUidLabel`).
const CONTROLLER_UID_LABELS: [&str; 2] = ["controller-uid", "batch.kubernetes.io/controller-uid"];
/// The label the generated selector selects.
pub const CONTROLLER_UID_LABEL: &str = "batch.kubernetes.io/controller-uid";

const COMPLETION_MODES: [&str; 2] = ["NonIndexed", "Indexed"];

/// Labels the template with the job's name and uid and selects the uid
/// (`generateSelector`); labels the user set are kept, and a clash then
/// fails validation.
fn generate_selector(obj: &mut Value) {
    let name = meta::name(obj).unwrap_or_default().to_owned();
    let uid = meta::uid(obj).unwrap_or_default().to_owned();
    if let Some(labels) = object_mut(obj, &["spec", "template", "metadata", "labels"]) {
        for key in JOB_NAME_LABELS {
            labels.entry(key).or_insert_with(|| json!(name));
        }
        for key in CONTROLLER_UID_LABELS {
            labels.entry(key).or_insert_with(|| json!(uid));
        }
    }
    if let Some(match_labels) = object_mut(obj, &["spec", "selector", "matchLabels"]) {
        match_labels
            .entry(CONTROLLER_UID_LABEL)
            .or_insert_with(|| json!(uid));
    }
}

/// `SetDefaults_Job` on a job's spec.
pub(crate) fn default_job_spec(spec: &mut Map<String, Value>) {
    if !spec.contains_key("completions") && !spec.contains_key("parallelism") {
        spec.insert("completions".into(), json!(1));
    }
    default(spec, "parallelism", json!(1));
    let backoff = if spec
        .get("backoffLimitPerIndex")
        .is_some_and(|v| !v.is_null())
    {
        json!(i32::MAX)
    } else {
        json!(6)
    };
    default(spec, "backoffLimit", backoff);
    default(spec, "completionMode", json!("NonIndexed"));
    default(spec, "suspend", json!(false));
    let replacement = if spec.get("podFailurePolicy").is_some_and(|v| !v.is_null()) {
        "Failed"
    } else {
        "TerminatingOrFailed"
    };
    default(spec, "podReplacementPolicy", json!(replacement));
    default_spec_template(spec);
}

/// Counts, completion mode: what `validateJobSpec` checks besides the
/// selector and template.
fn validate_counts(spec: &Value, at: &str, errs: &mut FieldErrors) {
    non_negative(
        spec,
        at,
        &[
            "parallelism",
            "completions",
            "activeDeadlineSeconds",
            "backoffLimit",
        ],
        errs,
    );
    let mode = str_at(spec, &["completionMode"]);
    if !mode.is_empty() && !COMPLETION_MODES.contains(&mode) {
        errs.not_supported(format!("{at}.completionMode"), mode, &COMPLETION_MODES);
    }
    if mode == "Indexed" && i64_at(spec, &["completions"]).is_none() {
        errs.required(
            format!("{at}.completions"),
            "when completion mode is Indexed",
        );
    }
}

/// Validates the job spec inside a CronJob's `jobTemplate`, where the
/// selector is always generated later (`ValidateJobTemplateSpec`).
pub(crate) fn validate_job_template_spec(spec: &Value, at: &str) -> FieldErrors {
    let mut errs = FieldErrors::default();
    validate_counts(spec, at, &mut errs);
    if let Some(sel) = get(spec, &["selector"]).filter(|v| !v.is_null()) {
        errs.invalid(
            format!("{at}.selector"),
            &sel.to_string(),
            "`selector` will be auto-generated",
        );
    }
    if bool_at(spec, &["manualSelector"]) {
        errs.push(
            crate::field_error::ErrorType::NotSupported,
            format!("{at}.manualSelector"),
            Some("true".to_owned()),
            "supported values: \"nil\", \"false\"",
        );
    }
    match get(spec, &["template"]) {
        Some(t) => errs.extend(validate_template(
            t,
            &format!("{at}.template"),
            RestartRule::OnFailureOrNever,
        )),
        None => errs.required(format!("{at}.template"), ""),
    }
    errs
}

fn validate_spec(obj: &Value) -> FieldErrors {
    let mut errs = FieldErrors::default();
    let spec = spec_of(obj);
    validate_counts(spec, "spec", &mut errs);
    errs.extend(validate_selector_and_template(
        spec,
        "spec",
        EmptySelector::Allowed,
        RestartRule::OnFailureOrNever,
    ));
    errs
}

impl Strategy for JobStrategy {
    /// Needs `metadata.uid` set, as upstream fills system metadata before
    /// `PrepareForCreate`.
    fn prepare_for_create(&self, obj: &mut Value) {
        if !bool_at(obj, &["spec", "manualSelector"])
            && obj.get("spec").is_some_and(Value::is_object)
        {
            generate_selector(obj);
        }
        labels_from_template(obj);
    }

    fn default(&self, obj: &mut Value) {
        if let Some(spec) = existing_mut(obj, &["spec"]) {
            default_job_spec(spec);
        }
        // Upstream also applies this when reading a stored job back, which
        // is how generated selector labels end up on the job.
        labels_from_template(obj);
    }

    fn validate_create(&self, obj: &Value) -> FieldErrors {
        validate_namespaced_create(obj, validate_spec)
    }

    fn validate_update(&self, new: &Value, old: &Value) -> FieldErrors {
        let mut errs = validate_update(new, old, validate_spec, SelectorUpdate::Immutable);
        for field in ["template", "completionMode"] {
            let (n, o) = (get(new, &["spec", field]), get(old, &["spec", field]));
            if n != o {
                let value = n.map(ToString::to_string).unwrap_or_else(|| "null".into());
                errs.invalid(format!("spec.{field}"), &value, "field is immutable");
            }
        }
        let (n, o) = (
            i64_at(new, &["spec", "completions"]),
            i64_at(old, &["spec", "completions"]),
        );
        if n != o && str_at(new, &["spec", "completionMode"]) != "Indexed" {
            errs.invalid(
                "spec.completions",
                &n.map(|c| c.to_string()).unwrap_or_else(|| "null".into()),
                "field is immutable",
            );
        }
        errs
    }

    fn field_labels(&self, obj: &Value) -> Vec<(&'static str, String)> {
        vec![(
            "status.successful",
            count_at(obj, &["status", "succeeded"]).to_string(),
        )]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn created(spec: Value) -> Value {
        let mut obj =
            json!({"metadata": {"name": "pi", "namespace": "default", "uid": "u-1"}, "spec": spec});
        JobStrategy.prepare_for_create(&mut obj);
        JobStrategy.default(&mut obj);
        obj
    }

    fn pod_template(restart: &str) -> Value {
        json!({"spec": {"restartPolicy": restart, "containers": [{"name": "pi", "image": "perl:5"}]}})
    }

    #[test]
    fn the_hook_order_does_not_matter() {
        let spec = json!({"template": pod_template("Never")});
        let mut defaults_first = json!({"metadata": {"name": "pi", "namespace": "default", "uid": "u-1"}, "spec": spec.clone()});
        JobStrategy.default(&mut defaults_first);
        JobStrategy.prepare_for_create(&mut defaults_first);
        assert_eq!(defaults_first, created(spec));
    }

    #[test]
    fn the_selector_is_generated_from_the_uid() {
        let obj = created(json!({"template": pod_template("Never")}));
        assert_eq!(
            obj["spec"]["selector"],
            json!({"matchLabels": {"batch.kubernetes.io/controller-uid": "u-1"}})
        );
        assert_eq!(
            obj["spec"]["template"]["metadata"]["labels"],
            json!({"job-name": "pi", "batch.kubernetes.io/job-name": "pi", "controller-uid": "u-1", "batch.kubernetes.io/controller-uid": "u-1"})
        );
        assert_eq!(
            obj["metadata"]["labels"],
            obj["spec"]["template"]["metadata"]["labels"]
        );
        assert_eq!(obj["spec"]["completions"], json!(1));
        assert_eq!(obj["spec"]["parallelism"], json!(1));
        assert_eq!(obj["spec"]["backoffLimit"], json!(6));
        assert_eq!(obj["spec"]["completionMode"], json!("NonIndexed"));
        assert!(
            JobStrategy.validate_create(&obj).is_empty(),
            "{:?}",
            JobStrategy.validate_create(&obj)
        );
    }

    #[test]
    fn a_manual_selector_is_left_alone() {
        let obj = created(json!({"manualSelector": true, "template": pod_template("Never")}));
        let fields: Vec<String> = JobStrategy
            .validate_create(&obj)
            .0
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["spec.selector"]);
    }

    #[test]
    fn parallelism_alone_leaves_completions_unset() {
        let obj = created(json!({"parallelism": 3, "template": pod_template("OnFailure")}));
        assert!(obj["spec"].get("completions").is_none());
    }

    #[test]
    fn validation_cases() {
        let always = created(json!({"template": pod_template("Always")}));
        let got = JobStrategy.validate_create(&always).messages();
        assert_eq!(got, ["spec.template.spec.restartPolicy: Unsupported value: \"Always\": supported values: \"OnFailure\", \"Never\""]);
        let indexed = created(
            json!({"completionMode": "Indexed", "parallelism": 2, "template": pod_template("Never")}),
        );
        let got = JobStrategy.validate_create(&indexed).messages();
        assert_eq!(
            got,
            ["spec.completions: Required value: when completion mode is Indexed"]
        );
    }

    #[test]
    fn the_template_is_immutable_and_successes_are_selectable() {
        let old = created(json!({"template": pod_template("Never")}));
        let mut new = old.clone();
        new["spec"]["template"]["spec"]["containers"][0]["image"] = json!("perl:6");
        let fields: Vec<String> = JobStrategy
            .validate_update(&new, &old)
            .0
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["spec.template"]);
        new["status"] = json!({"succeeded": 1});
        assert_eq!(
            JobStrategy.field_labels(&new),
            [("status.successful", "1".to_owned())]
        );
    }
}
