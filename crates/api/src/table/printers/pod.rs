//! `kubectl get pods`: NAME READY STATUS RESTARTS AGE, wide IP NODE
//! NOMINATED NODE READINESS GATES, with STATUS worked out like upstream's
//! `printPod` (init progress, waiting and terminated reasons, `Completed`,
//! `Terminating`).

use std::time::SystemTime;

use serde_json::Value;

use crate::json_path::{array_at, bool_at, count_at, get, str_at};
use crate::table::{age_cell, name_cell, parse_timestamp, Column, Printer};

/// Prints pods.
#[derive(Debug, Clone, Copy, Default)]
pub struct PodPrinter;

/// Whether an init container keeps running beside the app (a sidecar).
fn is_sidecar(spec: &Value, name: &str) -> bool {
    array_at(spec, &["initContainers"])
        .iter()
        .find(|c| str_at(c, &["name"]) == name)
        .is_some_and(|c| str_at(c, &["restartPolicy"]) == "Always")
}

/// Whether the first condition of `kind` is true.
fn condition_true(status: &Value, kind: &str) -> bool {
    array_at(status, &["conditions"])
        .iter()
        .find(|c| str_at(c, &["type"]) == kind)
        .is_some_and(|c| str_at(c, &["status"]) == "True")
}

/// Restart count and latest restart of containers, counting `statuses`.
#[derive(Default)]
struct Restarts {
    count: i64,
    last: Option<SystemTime>,
}

impl Restarts {
    fn add(&mut self, status: &Value) {
        self.count += count_at(status, &["restartCount"]);
        let finished = str_at(status, &["lastState", "terminated", "finishedAt"]);
        if let Some(t) = parse_timestamp(finished) {
            self.last = Some(self.last.map_or(t, |l| l.max(t)));
        }
    }
}

/// A terminated container's reason, or `Signal:N` / `ExitCode:N`.
fn terminated_reason(t: &Value, prefix: &str) -> String {
    let reason = str_at(t, &["reason"]);
    if !reason.is_empty() {
        return format!("{prefix}{reason}");
    }
    let signal = count_at(t, &["signal"]);
    if signal != 0 {
        format!("{prefix}Signal:{signal}")
    } else {
        format!("{prefix}ExitCode:{}", count_at(t, &["exitCode"]))
    }
}

/// READY, STATUS and RESTARTS of a pod.
fn pod_state(pod: &Value, now: SystemTime) -> (String, String, String) {
    let null = Value::Null;
    let spec = get(pod, &["spec"]).unwrap_or(&null);
    let status = get(pod, &["status"]).unwrap_or(&null);
    let init_specs = array_at(spec, &["initContainers"]);
    let mut total = array_at(spec, &["containers"]).len();
    total += init_specs
        .iter()
        .filter(|c| str_at(c, &["restartPolicy"]) == "Always")
        .count();
    let mut ready = 0;
    let mut reason = str_at(status, &["phase"]).to_owned();
    if !str_at(status, &["reason"]).is_empty() {
        reason = str_at(status, &["reason"]).to_owned();
    }
    let gated = array_at(status, &["conditions"]).iter().any(|c| {
        str_at(c, &["type"]) == "PodScheduled" && str_at(c, &["reason"]) == "SchedulingGated"
    });
    if gated {
        reason = "SchedulingGated".to_owned();
    }

    let mut all = Restarts::default();
    let mut sidecars = Restarts::default();
    let mut initializing = false;
    for (i, c) in array_at(status, &["initContainerStatuses"])
        .iter()
        .enumerate()
    {
        all.add(c);
        let name = str_at(c, &["name"]);
        let sidecar = is_sidecar(spec, name);
        if sidecar {
            sidecars.add(c);
        }
        let terminated = get(c, &["state", "terminated"]).filter(|t| t.is_object());
        let waiting_reason = str_at(c, &["state", "waiting", "reason"]);
        if terminated.is_some_and(|t| count_at(t, &["exitCode"]) == 0) {
            continue;
        }
        if sidecar && bool_at(c, &["started"]) {
            if bool_at(c, &["ready"]) {
                ready += 1;
            }
            continue;
        }
        reason = match terminated {
            Some(t) => terminated_reason(t, "Init:"),
            None if !waiting_reason.is_empty() && waiting_reason != "PodInitializing" => {
                format!("Init:{waiting_reason}")
            }
            None => format!("Init:{i}/{}", init_specs.len()),
        };
        initializing = true;
        break;
    }

    let mut restarts = all;
    if !initializing || condition_true(status, "Initialized") {
        restarts = sidecars;
        let mut running = false;
        for c in array_at(status, &["containerStatuses"]).iter().rev() {
            restarts.add(c);
            let waiting = str_at(c, &["state", "waiting", "reason"]);
            let terminated = get(c, &["state", "terminated"]).filter(|t| t.is_object());
            if !waiting.is_empty() {
                reason = waiting.to_owned();
            } else if let Some(t) = terminated {
                reason = terminated_reason(t, "");
            } else if bool_at(c, &["ready"]) && get(c, &["state", "running"]).is_some() {
                running = true;
                ready += 1;
            }
        }
        if reason == "Completed" && running {
            reason = if condition_true(status, "Ready") {
                "Running".to_owned()
            } else {
                "NotReady".to_owned()
            };
        }
    }

    let deleting = !str_at(pod, &["metadata", "deletionTimestamp"]).is_empty();
    let phase = str_at(status, &["phase"]);
    if deleting && str_at(status, &["reason"]) == "NodeLost" {
        reason = "Unknown".to_owned();
    } else if deleting && phase != "Succeeded" && phase != "Failed" {
        reason = "Terminating".to_owned();
    }

    let restarts_cell = match restarts.last {
        Some(t) if restarts.count != 0 => {
            format!(
                "{} ({} ago)",
                restarts.count,
                crate::table::human_since(t, now)
            )
        }
        _ => restarts.count.to_string(),
    };
    (format!("{ready}/{total}"), reason, restarts_cell)
}

fn or_none(s: &str) -> Value {
    Value::from(if s.is_empty() { "<none>" } else { s })
}

impl Printer for PodPrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            Column::name(),
            Column::string("Ready", "The aggregate readiness state of this pod for accepting traffic."),
            Column::string("Status", "The aggregate status of the containers in this pod."),
            Column::string("Restarts", "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."),
            Column::age(),
            Column::string("IP", "IP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.").wide(),
            Column::string("Node", "NodeName is a request to schedule this pod onto a specific node.").wide(),
            Column::string("Nominated Node", "nominatedNodeName is set when this pod preempts other pods on the node, but it cannot be scheduled right away as preemption victims receive their graceful termination periods.").wide(),
            Column::string("Readiness Gates", "If specified, all readiness gates will be evaluated for pod readiness.").wide(),
        ]
    }

    /// Finished pods carry upstream's `Completed` row condition.
    fn conditions(&self, obj: &Value) -> Vec<Value> {
        let (reason, message) = match str_at(obj, &["status", "phase"]) {
            "Succeeded" => ("Succeeded", "The pod has completed successfully."),
            "Failed" => ("Failed", "The pod failed."),
            _ => return Vec::new(),
        };
        vec![
            serde_json::json!({"type": "Completed", "status": "True", "reason": reason, "message": message}),
        ]
    }

    fn cells(&self, obj: &Value, now: SystemTime) -> Vec<Value> {
        let (ready, status, restarts) = pod_state(obj, now);
        let ip = array_at(obj, &["status", "podIPs"])
            .first()
            .map(|p| str_at(p, &["ip"]))
            .unwrap_or_default();
        let gates = array_at(obj, &["spec", "readinessGates"]);
        let gates_cell = if gates.is_empty() {
            "<none>".to_owned()
        } else {
            let status = get(obj, &["status"]).unwrap_or(&Value::Null);
            let met = gates
                .iter()
                .filter(|g| condition_true(status, str_at(g, &["conditionType"])))
                .count();
            format!("{met}/{}", gates.len())
        };
        vec![
            name_cell(obj),
            Value::from(ready),
            Value::from(status),
            Value::from(restarts),
            age_cell(obj, now),
            or_none(ip),
            or_none(str_at(obj, &["spec", "nodeName"])),
            or_none(str_at(obj, &["status", "nominatedNodeName"])),
            Value::from(gates_cell),
        ]
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn now() -> SystemTime {
        parse_timestamp("2024-01-01T01:00:00Z").unwrap_or(SystemTime::UNIX_EPOCH)
    }

    fn pod(spec: Value, status: Value) -> Value {
        json!({"metadata": {"name": "web", "creationTimestamp": "2024-01-01T00:00:00Z"}, "spec": spec, "status": status})
    }

    fn one_container() -> Value {
        json!({"containers": [{"name": "app", "image": "x"}]})
    }

    #[test]
    fn status_cases() {
        let cases = [
            (
                "a pending pod",
                pod(one_container(), json!({"phase": "Pending"})),
                ("0/1", "Pending", "0"),
            ),
            (
                "a running ready pod",
                pod(
                    one_container(),
                    json!({"phase": "Running", "containerStatuses": [{"name": "app", "ready": true, "restartCount": 0, "state": {"running": {}}}]}),
                ),
                ("1/1", "Running", "0"),
            ),
            (
                "a crash-looping pod",
                pod(
                    one_container(),
                    json!({"phase": "Running", "containerStatuses": [{"name": "app", "ready": false, "restartCount": 4,
                    "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                    "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2024-01-01T00:55:00Z"}}}]}),
                ),
                ("0/1", "CrashLoopBackOff", "4 (5m ago)"),
            ),
            (
                "a completed pod",
                pod(
                    one_container(),
                    json!({"phase": "Succeeded", "containerStatuses": [{"name": "app", "ready": false, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}),
                ),
                ("0/1", "Completed", "0"),
            ),
            (
                "a container killed by a signal",
                pod(
                    one_container(),
                    json!({"phase": "Failed", "containerStatuses": [{"name": "app", "state": {"terminated": {"exitCode": 137, "signal": 9}}}]}),
                ),
                ("0/1", "Signal:9", "0"),
            ),
            (
                "an init container still running",
                pod(
                    json!({"initContainers": [{"name": "init"}, {"name": "init2"}], "containers": [{"name": "app"}]}),
                    json!({"phase": "Pending", "initContainerStatuses": [{"name": "init", "state": {"terminated": {"exitCode": 0}}}, {"name": "init2", "state": {"running": {}}}]}),
                ),
                ("0/1", "Init:1/2", "0"),
            ),
            (
                "an init container that failed",
                pod(
                    json!({"initContainers": [{"name": "init"}], "containers": [{"name": "app"}]}),
                    json!({"phase": "Pending", "initContainerStatuses": [{"name": "init", "state": {"terminated": {"exitCode": 2}}}]}),
                ),
                ("0/1", "Init:ExitCode:2", "0"),
            ),
            (
                "a running sidecar counts as a container",
                pod(
                    json!({"initContainers": [{"name": "proxy", "restartPolicy": "Always"}], "containers": [{"name": "app"}]}),
                    json!({"phase": "Running", "conditions": [{"type": "Initialized", "status": "True"}],
                           "initContainerStatuses": [{"name": "proxy", "started": true, "ready": true, "state": {"running": {}}}],
                           "containerStatuses": [{"name": "app", "ready": true, "state": {"running": {}}}]}),
                ),
                ("2/2", "Running", "0"),
            ),
        ];
        for (name, obj, (ready, status, restarts)) in cases {
            assert_eq!(
                pod_state(&obj, now()),
                (ready.to_owned(), status.to_owned(), restarts.to_owned()),
                "{name}"
            );
        }
    }

    #[test]
    fn finished_pods_have_the_completed_row_condition() {
        let done = pod(one_container(), json!({"phase": "Succeeded"}));
        let running = pod(one_container(), json!({"phase": "Running"}));
        assert_eq!(
            PodPrinter.conditions(&done)[0]["reason"],
            json!("Succeeded")
        );
        assert!(PodPrinter.conditions(&running).is_empty());
    }

    #[test]
    fn a_deleted_running_pod_is_terminating() {
        let mut obj = pod(one_container(), json!({"phase": "Running"}));
        obj["metadata"]["deletionTimestamp"] = json!("2024-01-01T00:59:00Z");
        assert_eq!(pod_state(&obj, now()).1, "Terminating");
    }

    #[test]
    fn cells_include_the_wide_columns() {
        let obj = pod(
            json!({"nodeName": "n1", "readinessGates": [{"conditionType": "example.com/ok"}], "containers": [{"name": "app"}]}),
            json!({"phase": "Running", "podIPs": [{"ip": "10.42.0.7"}], "conditions": [{"type": "example.com/ok", "status": "True"}]}),
        );
        let cells = PodPrinter.cells(&obj, now());
        assert_eq!(cells.len(), PodPrinter.columns().len());
        assert_eq!(
            cells,
            vec![
                json!("web"),
                json!("0/1"),
                json!("Running"),
                json!("0"),
                json!("60m"),
                json!("10.42.0.7"),
                json!("n1"),
                json!("<none>"),
                json!("1/1")
            ]
        );
    }
}
