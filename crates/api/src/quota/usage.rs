//! What one object charges against a quota (upstream `pkg/quota/v1/evaluator/core`: the pod,
//! service and PVC evaluators, and the generic object-count evaluator for the rest).

use std::collections::BTreeMap;

use k8s_openapi::jiff::{SignedDuration, Timestamp};
use serde_json::Value;

use super::quantity::Amount;
use crate::json_path::get;

/// Resource name → amount, as in `status.used`.
pub type Usage = BTreeMap<String, Amount>;

/// The compute resources tracked as both `requests.<name>` and plain `<name>`, and as
/// `limits.<name>`.
const COMPUTE: [&str; 3] = ["cpu", "memory", "ephemeral-storage"];

/// The resources with their own short quota names (`pods`, not `count/pods`) besides the
/// `count/<resource>` form (upstream's `legacyObjectCountNames`).
const LEGACY_COUNTS: [&str; 7] = [
    "pods",
    "services",
    "configmaps",
    "secrets",
    "persistentvolumeclaims",
    "replicationcontrollers",
    "resourcequotas",
];

/// The object-count resource name of a resource: `count/pods`, `count/deployments.apps`.
pub fn count_name(group: &str, plural: &str) -> String {
    if group.is_empty() {
        format!("count/{plural}")
    } else {
        format!("count/{plural}.{group}")
    }
}

/// Whether `(group, plural)` is the core pods resource.
pub fn is_pods(group: &str, plural: &str) -> bool {
    group.is_empty() && plural == "pods"
}

fn phase(pod: &Value) -> &str {
    get(pod, &["status", "phase"])
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// A pod stops counting once it has finished, or once its deletion grace period is over
/// (upstream `QuotaV1Pod`).
pub fn pod_counts(pod: &Value, now: Timestamp) -> bool {
    if matches!(phase(pod), "Succeeded" | "Failed") {
        return false;
    }
    let deleted_at = get(pod, &["metadata", "deletionTimestamp"])
        .and_then(Value::as_str)
        .and_then(|t| t.parse::<Timestamp>().ok());
    let grace = get(pod, &["metadata", "deletionGracePeriodSeconds"]).and_then(Value::as_i64);
    match (deleted_at, grace) {
        (Some(at), Some(grace)) => at
            .checked_add(SignedDuration::from_secs(grace))
            .is_ok_and(|end| now <= end),
        _ => true,
    }
}

fn amounts(list: Option<&Value>) -> BTreeMap<String, Amount> {
    list.and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(name, v)| {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => return None,
            };
            Some((name.clone(), text.parse().ok()?))
        })
        .collect()
}

fn resource_list(container: &Value, which: &str) -> BTreeMap<String, Amount> {
    amounts(get(container, &["resources", which]))
}

/// One container's requests (defaulted from its limits, as pod defaulting does) and limits.
fn container_resources(container: &Value) -> (BTreeMap<String, Amount>, BTreeMap<String, Amount>) {
    let limits = resource_list(container, "limits");
    let mut requests = resource_list(container, "requests");
    for (name, amount) in &limits {
        requests.entry(name.clone()).or_insert(*amount);
    }
    (requests, limits)
}

/// The quota names a container's (or pod's) requests and limits charge
/// (upstream `podComputeUsageHelper`, without the pod counts).
pub fn compute_usage(
    requests: &BTreeMap<String, Amount>,
    limits: &BTreeMap<String, Amount>,
) -> Usage {
    let mut usage = Usage::new();
    for (name, amount) in requests {
        usage.insert(format!("requests.{name}"), *amount);
        if COMPUTE.contains(&name.as_str()) {
            usage.insert(name.clone(), *amount);
        }
    }
    for (name, amount) in limits {
        if COMPUTE.contains(&name.as_str()) {
            usage.insert(format!("limits.{name}"), *amount);
        }
    }
    usage
}

fn containers<'a>(pod: &'a Value, field: &str) -> impl Iterator<Item = &'a Value> {
    get(pod, &["spec", field])
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

/// A container's quota usage, for the "must specify" check.
pub fn container_usage(container: &Value) -> Usage {
    let (requests, limits) = container_resources(container);
    compute_usage(&requests, &limits)
}

/// The pod's effective requests and limits: the sum over its containers, at least the
/// largest init container's, plus the pod overhead (upstream `PodRequests`/`PodLimits`).
fn pod_resources(pod: &Value) -> (BTreeMap<String, Amount>, BTreeMap<String, Amount>) {
    let mut requests: BTreeMap<String, Amount> = BTreeMap::new();
    let mut limits: BTreeMap<String, Amount> = BTreeMap::new();
    for container in containers(pod, "containers") {
        let (r, l) = container_resources(container);
        for (name, amount) in r {
            let sum = requests.entry(name).or_default();
            *sum = sum.plus(amount);
        }
        for (name, amount) in l {
            let sum = limits.entry(name).or_default();
            *sum = sum.plus(amount);
        }
    }
    for container in containers(pod, "initContainers") {
        let (r, l) = container_resources(container);
        for (name, amount) in r {
            let max = requests.entry(name).or_default();
            *max = max.max(amount);
        }
        for (name, amount) in l {
            let max = limits.entry(name).or_default();
            *max = max.max(amount);
        }
    }
    for (name, amount) in amounts(get(pod, &["spec", "overhead"])) {
        for list in [&mut requests, &mut limits] {
            if let Some(sum) = list.get_mut(&name) {
                *sum = sum.plus(amount);
            }
        }
    }
    (requests, limits)
}

/// What one object of `(group, plural)` charges, at `now` (finished pods charge nothing).
pub fn usage(group: &str, plural: &str, obj: &Value, now: Timestamp) -> Usage {
    let mut usage = Usage::new();
    if is_pods(group, plural) && !pod_counts(obj, now) {
        return usage;
    }
    usage.insert(count_name(group, plural), Amount::count(1));
    if group.is_empty() && LEGACY_COUNTS.contains(&plural) {
        usage.insert(plural.to_owned(), Amount::count(1));
    }
    match (group, plural) {
        ("", "pods") => {
            let (requests, limits) = pod_resources(obj);
            usage.extend(compute_usage(&requests, &limits));
        }
        ("", "services") => usage.extend(service_usage(obj)),
        ("", "persistentvolumeclaims") => usage.extend(claim_usage(obj)),
        _ => {}
    }
    usage
}

/// `services.nodeports` and `services.loadbalancers` (upstream's service evaluator).
fn service_usage(service: &Value) -> Usage {
    let kind = get(service, &["spec", "type"])
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP");
    let ports = get(service, &["spec", "ports"])
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    let allocates_node_ports = get(service, &["spec", "allocateLoadBalancerNodePorts"])
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let node_ports = match kind {
        "NodePort" => ports,
        "LoadBalancer" if allocates_node_ports => ports,
        _ => 0,
    };
    let mut usage = Usage::new();
    usage.insert(
        "services.nodeports".into(),
        Amount::count(i128::try_from(node_ports).unwrap_or(0)),
    );
    usage.insert(
        "services.loadbalancers".into(),
        Amount::count(i128::from(kind == "LoadBalancer")),
    );
    usage
}

/// `requests.storage`, also per storage class (upstream's PVC evaluator).
fn claim_usage(claim: &Value) -> Usage {
    let mut usage = Usage::new();
    let class = get(claim, &["spec", "storageClassName"])
        .and_then(Value::as_str)
        .filter(|c| !c.is_empty());
    if let Some(class) = class {
        usage.insert(
            format!("{class}.storageclass.storage.k8s.io/persistentvolumeclaims"),
            Amount::count(1),
        );
    }
    let storage = get(claim, &["spec", "resources", "requests", "storage"])
        .and_then(Value::as_str)
        .and_then(|s| s.parse::<Amount>().ok());
    if let Some(storage) = storage {
        usage.insert("requests.storage".into(), storage);
        if let Some(class) = class {
            usage.insert(
                format!("{class}.storageclass.storage.k8s.io/requests.storage"),
                storage,
            );
        }
    }
    usage
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;
    use serde_json::json;

    fn printed(usage: &Usage) -> Vec<String> {
        usage.iter().map(|(k, v)| format!("{k}={v}")).collect()
    }

    fn now() -> Timestamp {
        "2024-01-01T00:00:00Z".parse().unwrap()
    }

    #[test]
    fn objects_charge_counts_and_compute_like_upstream_evaluators() {
        let cases = [
            (
                "a pod sums its containers and defaults requests from limits",
                "",
                "pods",
                json!({"spec": {"containers": [
                    {"name": "a", "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "200m"}}},
                    {"name": "b", "resources": {"limits": {"cpu": "1", "memory": "64Mi"}}}
                ]}}),
                vec![
                    "count/pods=1",
                    "cpu=1100m",
                    "limits.cpu=1200m",
                    "limits.memory=64Mi",
                    "memory=128Mi",
                    "pods=1",
                    "requests.cpu=1100m",
                    "requests.memory=128Mi",
                ],
            ),
            (
                "an init container larger than the sum sets the request",
                "",
                "pods",
                json!({"spec": {
                    "initContainers": [{"name": "i", "resources": {"requests": {"cpu": "2"}}}],
                    "containers": [{"name": "a", "resources": {"requests": {"cpu": "500m"}}}]
                }}),
                vec!["count/pods=1", "cpu=2", "pods=1", "requests.cpu=2"],
            ),
            (
                "a finished pod charges nothing",
                "",
                "pods",
                json!({"spec": {"containers": [{"name": "a"}]}, "status": {"phase": "Succeeded"}}),
                vec![],
            ),
            (
                "a pod past its deletion grace period charges nothing",
                "",
                "pods",
                json!({"metadata": {"deletionTimestamp": "2023-12-31T23:59:00Z", "deletionGracePeriodSeconds": 30}}),
                vec![],
            ),
            (
                "a pod still in its deletion grace period counts",
                "",
                "pods",
                json!({"metadata": {"deletionTimestamp": "2023-12-31T23:59:50Z", "deletionGracePeriodSeconds": 30}}),
                vec!["count/pods=1", "pods=1"],
            ),
            (
                "a node port service charges its ports",
                "",
                "services",
                json!({"spec": {"type": "NodePort", "ports": [{"port": 80}, {"port": 443}]}}),
                vec![
                    "count/services=1",
                    "services=1",
                    "services.loadbalancers=0",
                    "services.nodeports=2",
                ],
            ),
            (
                "a load balancer service counts as one",
                "",
                "services",
                json!({"spec": {"type": "LoadBalancer", "allocateLoadBalancerNodePorts": false, "ports": [{"port": 80}]}}),
                vec![
                    "count/services=1",
                    "services=1",
                    "services.loadbalancers=1",
                    "services.nodeports=0",
                ],
            ),
            (
                "a claim charges storage, per class too",
                "",
                "persistentvolumeclaims",
                json!({"spec": {"storageClassName": "fast", "resources": {"requests": {"storage": "10Gi"}}}}),
                vec![
                    "count/persistentvolumeclaims=1",
                    "fast.storageclass.storage.k8s.io/persistentvolumeclaims=1",
                    "fast.storageclass.storage.k8s.io/requests.storage=10Gi",
                    "persistentvolumeclaims=1",
                    "requests.storage=10Gi",
                ],
            ),
            (
                "a config map is a count",
                "",
                "configmaps",
                json!({}),
                vec!["configmaps=1", "count/configmaps=1"],
            ),
            (
                "other kinds count by group",
                "apps",
                "deployments",
                json!({}),
                vec!["count/deployments.apps=1"],
            ),
        ];
        for (name, group, plural, obj, want) in cases {
            assert_eq!(printed(&usage(group, plural, &obj, now())), want, "{name}");
        }
    }
}
