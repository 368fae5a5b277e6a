//! `kubectl get jobs`: NAME STATUS COMPLETIONS DURATION AGE, wide
//! CONTAINERS IMAGES SELECTOR (`printJob`).

use std::time::SystemTime;

use serde_json::Value;

use super::workload::{WideSelector, WorkloadPrinter};
use crate::json_path::{array_at, count_at, i64_at, str_at};
use crate::table::{human_since, parse_timestamp, Column};

/// Prints jobs.
#[derive(Debug, Clone, Copy, Default)]
pub struct JobPrinter;

/// Whether the job's first condition of `kind` is true (`hasJobCondition`).
fn has_condition(job: &Value, kind: &str) -> bool {
    array_at(job, &["status", "conditions"])
        .iter()
        .find(|c| str_at(c, &["type"]) == kind)
        .is_some_and(|c| str_at(c, &["status"]) == "True")
}

fn status(job: &Value) -> &'static str {
    if has_condition(job, "Complete") {
        "Complete"
    } else if has_condition(job, "Failed") {
        "Failed"
    } else if !str_at(job, &["metadata", "deletionTimestamp"]).is_empty() {
        "Terminating"
    } else if has_condition(job, "Suspended") {
        "Suspended"
    } else if has_condition(job, "FailureTarget") {
        "FailureTarget"
    } else {
        "Running"
    }
}

fn completions(job: &Value) -> String {
    let succeeded = count_at(job, &["status", "succeeded"]);
    match (
        i64_at(job, &["spec", "completions"]),
        i64_at(job, &["spec", "parallelism"]),
    ) {
        (Some(c), _) => format!("{succeeded}/{c}"),
        (None, Some(p)) if p > 1 => format!("{succeeded}/1 of {p}"),
        _ => format!("{succeeded}/1"),
    }
}

fn duration(job: &Value, now: SystemTime) -> String {
    let start = parse_timestamp(str_at(job, &["status", "startTime"]));
    let end = parse_timestamp(str_at(job, &["status", "completionTime"]));
    match (start, end) {
        (None, _) => String::new(),
        (Some(s), None) => human_since(s, now),
        (Some(s), Some(e)) => human_since(s, e),
    }
}

impl WorkloadPrinter for JobPrinter {
    const SELECTOR: WideSelector = WideSelector::LabelSelector;

    fn status_columns(&self) -> Vec<Column> {
        vec![
            Column::string("Status", "Status of the job."),
            Column::string(
                "Completions",
                "The desired number of successfully finished pods the job should be run with.",
            ),
            Column::string("Duration", "Time required to complete the job."),
        ]
    }

    fn status_cells(&self, obj: &Value, now: SystemTime) -> Vec<Value> {
        vec![
            Value::from(status(obj)),
            Value::from(completions(obj)),
            Value::from(duration(obj, now)),
        ]
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::table::Printer;

    #[test]
    fn status_completions_and_duration() {
        let now = parse_timestamp("2024-01-01T00:10:00Z").unwrap_or(SystemTime::UNIX_EPOCH);
        let cases = [
            (
                json!({"spec": {"completions": 1, "parallelism": 1}, "status": {"startTime": "2024-01-01T00:00:00Z"}}),
                ("Running", "0/1", "10m"),
            ),
            (
                json!({"spec": {"completions": 3}, "status": {"succeeded": 3, "startTime": "2024-01-01T00:00:00Z", "completionTime": "2024-01-01T00:00:42Z",
                    "conditions": [{"type": "Complete", "status": "True"}]}}),
                ("Complete", "3/3", "42s"),
            ),
            (
                json!({"spec": {"parallelism": 4}, "status": {"conditions": [{"type": "Failed", "status": "True"}]}}),
                ("Failed", "0/1 of 4", ""),
            ),
            (
                json!({"spec": {"suspend": true}, "status": {"conditions": [{"type": "Suspended", "status": "True"}]}}),
                ("Suspended", "0/1", ""),
            ),
            (
                json!({"metadata": {"deletionTimestamp": "2024-01-01T00:00:00Z"}, "spec": {}}),
                ("Terminating", "0/1", ""),
            ),
        ];
        for (job, (st, comp, dur)) in cases {
            assert_eq!(
                (
                    status(&job),
                    completions(&job).as_str(),
                    duration(&job, now).as_str()
                ),
                (st, comp, dur),
                "{job}"
            );
        }
        let cells = JobPrinter.cells(&json!({"metadata": {"name": "pi"}}), now);
        assert_eq!(cells.len(), JobPrinter.columns().len());
    }
}
