//! `kubectl get hpa`: NAME REFERENCE TARGETS MINPODS MAXPODS REPLICAS AGE
//! (`printHorizontalPodAutoscaler`, `formatHPAMetrics`). Serves both
//! autoscaling/v2 objects and v1 ones (`targetCPUUtilizationPercentage`,
//! which upstream converts to a CPU utilization metric before printing).

use std::time::SystemTime;

use serde_json::Value;

use super::count;
use crate::json_path::{array_at, get, i64_at, str_at};
use crate::table::{age_cell, name_cell, Column, Printer};

/// Prints horizontal pod autoscalers.
#[derive(Debug, Clone, Copy, Default)]
pub struct HorizontalPodAutoscalerPrinter;

/// Metrics shown before the rest is summarised.
const SHOWN: usize = 2;

const UNKNOWN: &str = "<unknown>";

fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn percent(v: Option<i64>) -> Option<String> {
    v.map(|p| format!("{p}%"))
}

/// One metric as `current/target`, per upstream's cases.
fn metric(spec: &Value, status: Option<&Value>) -> String {
    let kind = str_at(spec, &["type"]);
    let source = match kind {
        "External" => "external",
        "Pods" => "pods",
        "Object" => "object",
        "Resource" => "resource",
        "ContainerResource" => "containerResource",
        _ => return "<unknown type>".to_owned(),
    };
    let target = |f: &str| get(spec, &[source, "target", f]);
    let current = |f: &str| status.and_then(|s| get(s, &[source, "current", f]));
    let or_unknown = |v: Option<String>| v.unwrap_or_else(|| UNKNOWN.to_owned());
    match source {
        "pods" => format!(
            "{}/{}",
            or_unknown(text(current("averageValue"))),
            or_unknown(text(target("averageValue")))
        ),
        "external" | "object" => match text(target("averageValue")) {
            Some(avg) => format!("{}/{avg} (avg)", or_unknown(text(current("averageValue")))),
            None => format!(
                "{}/{}",
                or_unknown(text(current("value"))),
                or_unknown(text(target("value")))
            ),
        },
        _ => {
            let name = str_at(spec, &[source, "name"]);
            match text(target("averageValue")) {
                Some(avg) => format!(
                    "{name}: {}/{avg}",
                    or_unknown(text(current("averageValue")))
                ),
                None => format!(
                    "{name}: {}/{}",
                    or_unknown(percent(
                        current("averageUtilization").and_then(Value::as_i64)
                    )),
                    percent(target("averageUtilization").and_then(Value::as_i64))
                        .unwrap_or_else(|| "<auto>".to_owned())
                ),
            }
        }
    }
}

/// The TARGETS cell.
fn targets(obj: &Value) -> String {
    // autoscaling/v1: one CPU utilization target.
    if let Some(target) = i64_at(obj, &["spec", "targetCPUUtilizationPercentage"]) {
        let current = percent(i64_at(obj, &["status", "currentCPUUtilizationPercentage"]));
        return format!(
            "cpu: {}/{target}%",
            current.unwrap_or_else(|| UNKNOWN.to_owned())
        );
    }
    let specs = array_at(obj, &["spec", "metrics"]);
    if specs.is_empty() {
        return "<none>".to_owned();
    }
    let statuses = array_at(obj, &["status", "currentMetrics"]);
    let list: Vec<String> = specs
        .iter()
        .enumerate()
        .map(|(i, s)| metric(s, statuses.get(i)))
        .collect();
    let shown = list
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if list.len() > SHOWN {
        format!("{shown} + {} more...", list.len() - SHOWN)
    } else {
        shown
    }
}

impl Printer for HorizontalPodAutoscalerPrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            Column::name(),
            Column::string("Reference", "scaleTargetRef points to the target resource to scale."),
            Column::string("Targets", "metrics contains the specifications for which to use to calculate the desired replica count."),
            Column::string("MinPods", "minReplicas is the lower limit for the number of replicas to which the autoscaler can scale down."),
            Column::string("MaxPods", "maxReplicas is the upper limit for the number of replicas to which the autoscaler can scale up."),
            Column::string("Replicas", "currentReplicas is current number of replicas of pods managed by this autoscaler."),
            Column::age(),
        ]
    }

    fn cells(&self, obj: &Value, now: SystemTime) -> Vec<Value> {
        let reference = format!(
            "{}/{}",
            str_at(obj, &["spec", "scaleTargetRef", "kind"]),
            str_at(obj, &["spec", "scaleTargetRef", "name"])
        );
        let min = i64_at(obj, &["spec", "minReplicas"])
            .map_or_else(|| "<unset>".to_owned(), |m| m.to_string());
        vec![
            name_cell(obj),
            Value::from(reference),
            Value::from(targets(obj)),
            Value::from(min),
            count(obj, &["spec", "maxReplicas"]),
            count(obj, &["status", "currentReplicas"]),
            age_cell(obj, now),
        ]
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn target_cases() {
        let cpu = json!({"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}});
        let mem = json!({"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "500Mi"}}});
        let pods = json!({"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {"type": "AverageValue", "averageValue": "10"}}});
        let cases = [
            (
                json!({"spec": {"metrics": [cpu.clone()]}}),
                "cpu: <unknown>/80%",
            ),
            (
                json!({"spec": {"metrics": [cpu.clone()]}, "status": {"currentMetrics": [{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 42}}}]}}),
                "cpu: 42%/80%",
            ),
            (
                json!({"spec": {"metrics": [cpu, mem, pods]}}),
                "cpu: <unknown>/80%, memory: <unknown>/500Mi + 1 more...",
            ),
            (json!({"spec": {}}), "<none>"),
            (
                json!({"spec": {"targetCPUUtilizationPercentage": 50}, "status": {"currentCPUUtilizationPercentage": 12}}),
                "cpu: 12%/50%",
            ),
        ];
        for (hpa, want) in cases {
            assert_eq!(targets(&hpa), want, "{hpa}");
        }
        let hpa = json!({"metadata": {"name": "web"}, "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "maxReplicas": 5}, "status": {"currentReplicas": 2}});
        let cells = HorizontalPodAutoscalerPrinter.cells(&hpa, SystemTime::UNIX_EPOCH);
        assert_eq!(
            cells[..6],
            [
                json!("web"),
                json!("Deployment/web"),
                json!("<none>"),
                json!("<unset>"),
                json!(5),
                json!(2)
            ]
        );
    }
}
