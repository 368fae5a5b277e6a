//! ResourceQuota accounting shared by the quota controller (which recomputes `status.used`)
//! and the apiserver's quota admission (which charges each create against it), as upstream
//! shares `pkg/quota/v1` between `pkg/controller/resourcequota` and
//! `plugin/pkg/admission/resourcequota`.
//!
//! - [`quantity`]: exact amounts and their canonical printing.
//! - [`usage`]: what one object charges (the evaluators).
//! - [`scopes`]: which pods a scoped quota tracks.
//! - [`used`] recomputes a quota's usage; [`charge`] admits one new object.

pub mod quantity;
pub mod scopes;
pub mod usage;

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::jiff::Timestamp;
use serde_json::Value;

pub use quantity::{Amount, QuantityError};
pub use usage::Usage;

use crate::json_path::get;

/// The compute resources every container must state when a quota limits them (upstream
/// keeps this backward-compatibility rule for cpu and memory only).
const MUST_SPECIFY: [&str; 6] = [
    "cpu",
    "memory",
    "requests.cpu",
    "requests.memory",
    "limits.cpu",
    "limits.memory",
];

/// A resource list (`spec.hard`, `status.used`) as amounts; unparseable entries are left
/// out (validation rejects them on write).
pub fn amounts(list: Option<&Value>) -> Usage {
    list.and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(name, v)| {
            let amount = match v {
                Value::String(s) => s.parse().ok()?,
                Value::Number(n) => n.to_string().parse().ok()?,
                _ => return None,
            };
            Some((name.clone(), amount))
        })
        .collect()
}

/// `status.used` for `quota` over `objects` (`(group, plural, object)` in its namespace):
/// every resource in `spec.hard`, zero when nothing uses it (upstream
/// `CalculateUsage`).
pub fn used<'a>(
    quota: &Value,
    objects: impl IntoIterator<Item = (&'a str, &'a str, &'a Value)>,
    now: Timestamp,
) -> Usage {
    let hard = amounts(get(quota, &["spec", "hard"]));
    let requirements = scopes::requirements(quota);
    let mut used: Usage = hard
        .iter()
        .map(|(name, amount)| {
            let zero = Amount {
                milli: 0,
                format: amount.format,
            };
            (name.clone(), zero)
        })
        .collect();
    for (group, plural, obj) in objects {
        if !scopes::matches(&requirements, group, plural, obj) {
            continue;
        }
        for (name, amount) in usage::usage(group, plural, obj, now) {
            if let Some(sum) = used.get_mut(&name) {
                *sum = sum.plus(amount);
            }
        }
    }
    used
}

/// Why a create is refused (the texts are upstream's; the apiserver prefixes
/// `<resource> "<name>" is forbidden: `).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Containers lack a request or limit the quota constrains.
    #[error("failed quota: {quota}: must specify {missing}")]
    MustSpecify {
        /// The quota.
        quota: String,
        /// `limits.cpu for: a,b; requests.memory for: a`.
        missing: String,
    },
    /// The quota controller has not computed the quota's usage yet.
    #[error("status unknown for quota: {quota}, resources: {resources}")]
    StatusUnknown {
        /// The quota.
        quota: String,
        /// The resources without usage, comma separated.
        resources: String,
    },
    /// The create would take usage over the hard limit.
    #[error("exceeded quota: {quota}, requested: {requested}, used: {used}, limited: {limited}")]
    Exceeded {
        /// The quota.
        quota: String,
        /// `pods=1`: what the object asks for, of the exceeded resources.
        requested: String,
        /// What is used already.
        used: String,
        /// The limits.
        limited: String,
    },
}

fn pretty(usage: &Usage, names: &BTreeSet<String>) -> String {
    usage
        .iter()
        .filter(|(name, _)| names.contains(*name))
        .map(|(name, amount)| format!("{name}={amount}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Containers missing a constrained request or limit: `resource for: names; …`.
fn missing_compute(required: &BTreeSet<&str>, pod: &Value) -> String {
    let mut missing: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for field in ["containers", "initContainers"] {
        let containers = get(pod, &["spec", field]).and_then(Value::as_array);
        for container in containers.into_iter().flatten() {
            let stated = usage::container_usage(container);
            let name = container
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            for resource in required {
                if !stated.contains_key(*resource) {
                    missing.entry(resource).or_default().insert(name);
                }
            }
        }
    }
    missing
        .iter()
        .map(|(resource, names)| {
            let names: Vec<&str> = names.iter().copied().collect();
            format!("{resource} for: {}", names.join(","))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Checks one new object against one quota (upstream `CheckRequest` for a create). Returns
/// the quota's new `status.used` entries to write, `None` when the quota does not track the
/// object, or why the create is refused.
pub fn charge(
    quota: &Value,
    group: &str,
    plural: &str,
    obj: &Value,
    now: Timestamp,
) -> Result<Option<Usage>, Refusal> {
    let name = get(quota, &["metadata", "name"])
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let requirements = scopes::requirements(quota);
    if !scopes::matches(&requirements, group, plural, obj) {
        return Ok(None);
    }
    let spec_hard = amounts(get(quota, &["spec", "hard"]));
    if usage::is_pods(group, plural) {
        let required: BTreeSet<&str> = MUST_SPECIFY
            .iter()
            .copied()
            .filter(|r| spec_hard.contains_key(*r))
            .collect();
        let missing = missing_compute(&required, obj);
        if !missing.is_empty() {
            return Err(Refusal::MustSpecify {
                quota: name,
                missing,
            });
        }
    }
    let delta: Usage = usage::usage(group, plural, obj, now)
        .into_iter()
        .filter(|(resource, _)| spec_hard.contains_key(resource))
        .collect();
    if delta.is_empty() {
        return Ok(None);
    }
    let hard = amounts(get(quota, &["status", "hard"]));
    let used = amounts(get(quota, &["status", "used"]));
    let unknown: Vec<&str> = delta
        .keys()
        .filter(|r| !hard.contains_key(*r) || !used.contains_key(*r))
        .map(String::as_str)
        .collect();
    if !unknown.is_empty() {
        return Err(Refusal::StatusUnknown {
            quota: name,
            resources: unknown.join(","),
        });
    }
    let mut next = Usage::new();
    let mut exceeded = BTreeSet::new();
    for (resource, amount) in &delta {
        let now_used = used.get(resource).copied().unwrap_or_default();
        let total = now_used.plus(*amount);
        if hard
            .get(resource)
            .is_some_and(|limit| total.milli > limit.milli)
        {
            exceeded.insert(resource.clone());
        }
        next.insert(resource.clone(), total);
    }
    if !exceeded.is_empty() {
        return Err(Refusal::Exceeded {
            quota: name,
            requested: pretty(&delta, &exceeded),
            used: pretty(&used, &exceeded),
            limited: pretty(&hard, &exceeded),
        });
    }
    Ok(Some(next))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> Timestamp {
        "2024-01-01T00:00:00Z".parse().unwrap()
    }

    fn quota(hard: Value, used: Value) -> Value {
        json!({"metadata": {"name": "q"}, "spec": {"hard": hard}, "status": {"hard": hard, "used": used}})
    }

    fn pod(cpu_limit: Option<&str>) -> Value {
        let resources = match cpu_limit {
            Some(cpu) => json!({"limits": {"cpu": cpu}}),
            None => json!({}),
        };
        json!({"spec": {"containers": [{"name": "app", "resources": resources}, {"name": "side", "resources": resources}]}})
    }

    #[test]
    fn creates_are_charged_or_refused_with_upstream_messages() {
        let cases = [
            (
                "a pod under the count is charged",
                quota(json!({"pods": "2"}), json!({"pods": "1"})),
                pod(None),
                Ok(Some(vec!["pods=2"])),
            ),
            (
                "a pod over the count is refused",
                quota(json!({"pods": "2"}), json!({"pods": "2"})),
                pod(None),
                Err("exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2"),
            ),
            (
                "a quota on cpu needs every container to state it",
                quota(json!({"limits.cpu": "2"}), json!({"limits.cpu": "0"})),
                pod(None),
                Err("failed quota: q: must specify limits.cpu for: app,side"),
            ),
            (
                "compute over the limit is refused in canonical units",
                quota(json!({"limits.cpu": "2", "pods": "10"}), json!({"limits.cpu": "1500m", "pods": "0"})),
                pod(Some("300m")),
                Err("exceeded quota: q, requested: limits.cpu=600m, used: limits.cpu=1500m, limited: limits.cpu=2"),
            ),
            (
                "a quota without computed usage refuses",
                json!({"metadata": {"name": "q"}, "spec": {"hard": {"pods": "2"}}}),
                pod(None),
                Err("status unknown for quota: q, resources: pods"),
            ),
            (
                "a quota on other resources ignores the pod",
                quota(json!({"services": "1"}), json!({"services": "1"})),
                pod(None),
                Ok(None),
            ),
        ];
        for (name, quota, obj, want) in cases {
            let got = charge(&quota, "", "pods", &obj, now())
                .map(|next| {
                    next.map(|u| {
                        u.iter()
                            .map(|(k, v)| format!("{k}={v}"))
                            .collect::<Vec<_>>()
                    })
                })
                .map_err(|e| e.to_string());
            let want = want
                .map(|next| next.map(|v| v.into_iter().map(String::from).collect::<Vec<_>>()))
                .map_err(String::from);
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn used_sums_the_tracked_objects_for_every_hard_resource() {
        let quota =
            json!({"spec": {"hard": {"pods": "10", "requests.memory": "1Gi", "services": "5"}}});
        let a = json!({"spec": {"containers": [{"name": "a", "resources": {"requests": {"memory": "256Mi"}}}]}});
        let done = json!({"spec": {"containers": [{"name": "a", "resources": {"requests": {"memory": "256Mi"}}}]}, "status": {"phase": "Failed"}});
        let cm = json!({});
        let objects = [
            ("", "pods", &a),
            ("", "pods", &a),
            ("", "pods", &done),
            ("", "configmaps", &cm),
        ];
        let got: Vec<String> = used(&quota, objects, now())
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        assert_eq!(got, vec!["pods=2", "requests.memory=512Mi", "services=0"]);
    }
}
