//! Quota scopes: which pods a scoped quota tracks (upstream
//! `pkg/quota/v1/evaluator/core/pods.go` `podMatchesScopeFunc`). `spec.scopes` and
//! `spec.scopeSelector` must all match; objects other than pods match no scope.

use serde_json::Value;

use super::usage::{container_usage, is_pods};
use crate::json_path::get;

/// One scope requirement of a quota.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeRequirement {
    /// `Terminating`, `NotTerminating`, `BestEffort`, `NotBestEffort`, `PriorityClass`, …
    pub scope: String,
    /// `In`, `NotIn`, `Exists`, `DoesNotExist` (plain `spec.scopes` are `Exists`).
    pub operator: String,
    /// The values `In`/`NotIn` compare with.
    pub values: Vec<String>,
}

/// The quota's scope requirements, `spec.scopes` first.
pub fn requirements(quota: &Value) -> Vec<ScopeRequirement> {
    let plain = get(quota, &["spec", "scopes"])
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|scope| ScopeRequirement {
            scope: scope.to_owned(),
            operator: "Exists".into(),
            values: Vec::new(),
        });
    let selected = get(quota, &["spec", "scopeSelector", "matchExpressions"])
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|expr| ScopeRequirement {
            scope: text(expr, "scopeName").to_owned(),
            operator: text(expr, "operator").to_owned(),
            values: expr
                .get("values")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
        });
    plain.chain(selected).collect()
}

fn text<'a>(obj: &'a Value, field: &str) -> &'a str {
    obj.get(field).and_then(Value::as_str).unwrap_or_default()
}

/// A pod with an `activeDeadlineSeconds` (upstream `isTerminating`).
fn is_terminating(pod: &Value) -> bool {
    get(pod, &["spec", "activeDeadlineSeconds"])
        .and_then(Value::as_i64)
        .is_some_and(|s| s >= 0)
}

/// No container asks for or limits cpu or memory (QoS class BestEffort).
fn is_best_effort(pod: &Value) -> bool {
    ["containers", "initContainers"]
        .iter()
        .flat_map(|field| get(pod, &["spec", field]).and_then(Value::as_array))
        .flatten()
        .all(|container| {
            let usage = container_usage(container);
            ![
                "requests.cpu",
                "requests.memory",
                "limits.cpu",
                "limits.memory",
            ]
            .iter()
            .any(|name| usage.contains_key(*name))
        })
}

fn matches_one(requirement: &ScopeRequirement, pod: &Value) -> bool {
    let class = get(pod, &["spec", "priorityClassName"])
        .and_then(Value::as_str)
        .unwrap_or_default();
    match requirement.scope.as_str() {
        "Terminating" => is_terminating(pod),
        "NotTerminating" => !is_terminating(pod),
        "BestEffort" => is_best_effort(pod),
        "NotBestEffort" => !is_best_effort(pod),
        "PriorityClass" => match requirement.operator.as_str() {
            "In" => requirement.values.iter().any(|v| v == class),
            "NotIn" => !requirement.values.iter().any(|v| v == class),
            "Exists" => !class.is_empty(),
            "DoesNotExist" => class.is_empty(),
            _ => false,
        },
        // CrossNamespacePodAffinity and scopes of other kinds: not tracked here.
        _ => false,
    }
}

/// Whether a quota with `requirements` tracks this object of `(group, plural)`.
pub fn matches(requirements: &[ScopeRequirement], group: &str, plural: &str, obj: &Value) -> bool {
    if requirements.is_empty() {
        return true;
    }
    is_pods(group, plural) && requirements.iter().all(|r| matches_one(r, obj))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scopes_select_pods_like_upstream() {
        let best_effort = json!({"spec": {"containers": [{"name": "a"}]}});
        let burstable = json!({"spec": {"containers": [{"name": "a", "resources": {"requests": {"cpu": "1"}}}]}});
        let deadline =
            json!({"spec": {"activeDeadlineSeconds": 30, "containers": [{"name": "a"}]}});
        let high = json!({"spec": {"priorityClassName": "high", "containers": [{"name": "a"}]}});
        let quota = |scopes: Value, selector: Value| json!({"spec": {"scopes": scopes, "scopeSelector": {"matchExpressions": selector}}});
        let cases = [
            (
                "no scope tracks everything",
                quota(json!([]), json!([])),
                "services",
                &best_effort,
                true,
            ),
            (
                "a scope tracks no service",
                quota(json!(["BestEffort"]), json!([])),
                "services",
                &best_effort,
                false,
            ),
            (
                "best effort matches a pod without resources",
                quota(json!(["BestEffort"]), json!([])),
                "pods",
                &best_effort,
                true,
            ),
            (
                "best effort skips a pod with requests",
                quota(json!(["BestEffort"]), json!([])),
                "pods",
                &burstable,
                false,
            ),
            (
                "not best effort takes it",
                quota(json!(["NotBestEffort"]), json!([])),
                "pods",
                &burstable,
                true,
            ),
            (
                "terminating needs a deadline",
                quota(json!(["Terminating"]), json!([])),
                "pods",
                &deadline,
                true,
            ),
            (
                "not terminating skips it",
                quota(json!(["NotTerminating"]), json!([])),
                "pods",
                &deadline,
                false,
            ),
            (
                "both scopes must hold",
                quota(json!(["Terminating", "BestEffort"]), json!([])),
                "pods",
                &deadline,
                true,
            ),
            (
                "priority class in",
                quota(
                    json!([]),
                    json!([{"scopeName": "PriorityClass", "operator": "In", "values": ["high"]}]),
                ),
                "pods",
                &high,
                true,
            ),
            (
                "priority class not in",
                quota(
                    json!([]),
                    json!([{"scopeName": "PriorityClass", "operator": "NotIn", "values": ["high"]}]),
                ),
                "pods",
                &high,
                false,
            ),
            (
                "priority class does not exist",
                quota(
                    json!([]),
                    json!([{"scopeName": "PriorityClass", "operator": "DoesNotExist"}]),
                ),
                "pods",
                &best_effort,
                true,
            ),
        ];
        for (name, quota, plural, obj, want) in cases {
            assert_eq!(
                matches(&requirements(&quota), "", plural, obj),
                want,
                "{name}"
            );
        }
    }
}
