//! CronJobs (pkg/registry/batch/cronjob/strategy.go): `Allow` concurrency,
//! history limits 3 and 1, a valid cron schedule, and a job template whose
//! selector is generated later.

use serde_json::{json, Value};

use super::cron_schedule;
use super::job::validate_job_template_spec;
use super::pod_spec::default_template;
use super::workload::{non_negative, spec_of, validate_meta, validate_update, SelectorUpdate};
use crate::field_error::FieldErrors;
use crate::json_path::{default, existing_mut, get, str_at};
use crate::meta;
use crate::strategy::Strategy;

/// The strategy of `cronjobs`.
#[derive(Debug, Clone, Copy, Default)]
pub struct CronJobStrategy;

const CONCURRENCY_POLICIES: [&str; 3] = ["Allow", "Forbid", "Replace"];

/// Job names get an 11-character suffix, so CronJob names stay within a
/// DNS-1035 label minus that.
const MAX_NAME: usize = 52;

fn validate_spec(obj: &Value) -> FieldErrors {
    let mut errs = FieldErrors::default();
    let spec = spec_of(obj);
    let schedule = str_at(spec, &["schedule"]);
    if schedule.is_empty() {
        errs.required("spec.schedule", "");
    } else {
        if let Err(msg) = cron_schedule::check(schedule) {
            errs.invalid("spec.schedule", schedule, msg);
        }
        if schedule.contains("TZ") {
            errs.invalid(
                "spec.schedule",
                schedule,
                "cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
            );
        }
    }
    let policy = str_at(spec, &["concurrencyPolicy"]);
    if !CONCURRENCY_POLICIES.contains(&policy) {
        errs.not_supported("spec.concurrencyPolicy", policy, &CONCURRENCY_POLICIES);
    }
    non_negative(
        spec,
        "spec",
        &[
            "startingDeadlineSeconds",
            "successfulJobsHistoryLimit",
            "failedJobsHistoryLimit",
        ],
        &mut errs,
    );
    match get(spec, &["jobTemplate", "spec"]) {
        Some(job_spec) => errs.extend(validate_job_template_spec(
            job_spec,
            "spec.jobTemplate.spec",
        )),
        None => errs.required("spec.jobTemplate.spec", ""),
    }
    errs
}

impl Strategy for CronJobStrategy {
    fn default(&self, obj: &mut Value) {
        let Some(spec) = existing_mut(obj, &["spec"]) else {
            return;
        };
        default(spec, "concurrencyPolicy", json!("Allow"));
        default(spec, "suspend", json!(false));
        default(spec, "successfulJobsHistoryLimit", json!(3));
        default(spec, "failedJobsHistoryLimit", json!(1));
        let template = spec
            .get_mut("jobTemplate")
            .and_then(|t| t.get_mut("spec"))
            .and_then(|s| s.get_mut("template"))
            .and_then(Value::as_object_mut);
        default_template(template);
    }

    fn validate_create(&self, obj: &Value) -> FieldErrors {
        let mut errs = validate_meta(obj);
        let name = meta::name(obj).unwrap_or_default();
        if name.len() > MAX_NAME {
            errs.invalid("metadata.name", name, "must be no more than 52 characters");
        }
        errs.extend(validate_spec(obj));
        errs
    }

    fn validate_update(&self, new: &Value, old: &Value) -> FieldErrors {
        // No selector of its own: the job template's is generated later.
        validate_update(new, old, validate_spec, SelectorUpdate::ByKindRules)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cronjob(schedule: &str, restart: &str) -> Value {
        let mut obj = json!({"metadata": {"name": "hello", "namespace": "default"}, "spec": {
            "schedule": schedule,
            "jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": restart, "containers": [{"name": "c", "image": "busybox"}]}}}}
        }});
        CronJobStrategy.default(&mut obj);
        obj
    }

    #[test]
    fn defaults_and_validation() {
        let obj = cronjob("*/1 * * * *", "OnFailure");
        assert_eq!(obj["spec"]["concurrencyPolicy"], json!("Allow"));
        assert_eq!(obj["spec"]["successfulJobsHistoryLimit"], json!(3));
        assert_eq!(obj["spec"]["failedJobsHistoryLimit"], json!(1));
        assert_eq!(obj["spec"]["suspend"], json!(false));
        assert!(CronJobStrategy.validate_create(&obj).is_empty());

        let cases = [
            (cronjob("61 * * * *", "OnFailure"), vec!["spec.schedule: Invalid value: \"61 * * * *\": end of range (61) above maximum (59): 61"]),
            (cronjob("TZ=UTC 0 * * * *", "OnFailure"), vec!["spec.schedule: Invalid value: \"TZ=UTC 0 * * * *\": cannot use TZ or CRON_TZ in schedule, use timeZone field instead"]),
            (cronjob("@daily", "Always"), vec!["spec.jobTemplate.spec.template.spec.restartPolicy: Unsupported value: \"Always\": supported values: \"OnFailure\", \"Never\""]),
        ];
        for (obj, want) in cases {
            let got = CronJobStrategy.validate_create(&obj).messages();
            assert_eq!(got, want);
        }
        let mut long = cronjob("@daily", "Never");
        long["metadata"]["name"] = json!("a".repeat(53));
        let fields: Vec<String> = CronJobStrategy
            .validate_create(&long)
            .0
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["metadata.name"]);
    }
}
