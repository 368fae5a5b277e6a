//! Resource amounts as the scheduler counts them, and the effective request of
//! a pod.
//!
//! The request follows upstream's `resource.PodRequests`
//! (staging/src/k8s.io/component-helpers/resource/helpers.go, used by
//! `computePodResourceRequest` in plugins/noderesources/fit.go): the sum of the
//! app containers and restartable ("sidecar") init containers, or the largest
//! regular init container plus the sidecars started before it if that is
//! bigger; pod-level `spec.resources.requests` replace the container sum for
//! the resources they name; `spec.overhead` is added on top.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, Node, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::quantity;

/// Resource name for CPU.
pub const CPU: &str = "cpu";
/// Resource name for memory.
pub const MEMORY: &str = "memory";
/// Resource name for local ephemeral storage.
pub const EPHEMERAL_STORAGE: &str = "ephemeral-storage";
/// Resource name for the number of pods a node accepts.
pub const PODS: &str = "pods";

/// CPU assumed for a container without a CPU request when spreading by
/// score (upstream `DefaultMilliCPURequest`, pkg/scheduler/util/pod_resources.go).
pub const DEFAULT_MILLI_CPU_REQUEST: i64 = 100;
/// Memory assumed for a container without a memory request when scoring
/// (upstream `DefaultMemoryRequest`, 200 MiB).
pub const DEFAULT_MEMORY_REQUEST: i64 = 200 * 1024 * 1024;

/// An amount of each resource kind the scheduler tracks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resources {
    /// CPU in millicores.
    pub milli_cpu: i64,
    /// Memory in bytes.
    pub memory: i64,
    /// Ephemeral storage in bytes.
    pub ephemeral_storage: i64,
    /// Number of pods (only meaningful for a node's allocatable).
    pub allowed_pod_number: i64,
    /// Extended and other scalar resources (e.g. `nvidia.com/gpu`, `hugepages-2Mi`), in units.
    pub scalar: BTreeMap<String, i64>,
}

/// Which request to count for a container that names none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingRequests {
    /// Count zero, as the Fit filter and BalancedAllocation do.
    AsZero,
    /// Count upstream's non-zero defaults for CPU and memory, as the
    /// LeastAllocated / MostAllocated scorers do so empty pods still spread.
    AsDefaults,
}

impl Resources {
    /// Builds amounts from a resource list, ignoring entries that do not parse
    /// (the apiserver rejects those; a bad value must not crash the scheduler).
    pub fn from_list(list: &BTreeMap<String, Quantity>) -> Self {
        let mut out = Resources::default();
        for (name, q) in list {
            out.set(name, q);
        }
        out
    }

    fn set(&mut self, name: &str, q: &Quantity) {
        let parsed = if name == CPU {
            quantity::milli_value(q)
        } else {
            quantity::value(q)
        };
        let Ok(v) = parsed else {
            tracing::debug!(resource = name, quantity = %q.0, "ignoring unparsable quantity");
            return;
        };
        match name {
            CPU => self.milli_cpu = v,
            MEMORY => self.memory = v,
            EPHEMERAL_STORAGE => self.ephemeral_storage = v,
            PODS => self.allowed_pod_number = v,
            _ => {
                self.scalar.insert(name.to_string(), v);
            }
        }
    }

    /// The amount of the named resource.
    pub fn get(&self, name: &str) -> i64 {
        match name {
            CPU => self.milli_cpu,
            MEMORY => self.memory,
            EPHEMERAL_STORAGE => self.ephemeral_storage,
            PODS => self.allowed_pod_number,
            _ => self.scalar.get(name).copied().unwrap_or(0),
        }
    }

    /// Adds `other` to `self`, saturating.
    pub fn add(&mut self, other: &Resources) {
        self.combine(other, i64::saturating_add);
    }

    /// Subtracts `other` from `self`, saturating.
    pub fn sub(&mut self, other: &Resources) {
        self.combine(other, i64::saturating_sub);
    }

    /// Raises each amount to at least the one in `other`.
    pub fn max_with(&mut self, other: &Resources) {
        self.combine(other, i64::max);
    }

    fn combine(&mut self, other: &Resources, op: fn(i64, i64) -> i64) {
        self.milli_cpu = op(self.milli_cpu, other.milli_cpu);
        self.memory = op(self.memory, other.memory);
        self.ephemeral_storage = op(self.ephemeral_storage, other.ephemeral_storage);
        self.allowed_pod_number = op(self.allowed_pod_number, other.allowed_pod_number);
        for (name, v) in &other.scalar {
            let entry = self.scalar.entry(name.clone()).or_insert(0);
            *entry = op(*entry, *v);
        }
    }

    /// True when no resource is requested at all.
    pub fn is_zero(&self) -> bool {
        self.milli_cpu == 0
            && self.memory == 0
            && self.ephemeral_storage == 0
            && self.scalar.values().all(|v| *v == 0)
    }
}

fn container_request(container: &Container, missing: MissingRequests) -> Resources {
    let requests = container
        .resources
        .as_ref()
        .and_then(|r| r.requests.as_ref());
    let mut out = requests.map(Resources::from_list).unwrap_or_default();
    if missing == MissingRequests::AsDefaults {
        if !requests.is_some_and(|r| r.contains_key(CPU)) {
            out.milli_cpu = DEFAULT_MILLI_CPU_REQUEST;
        }
        if !requests.is_some_and(|r| r.contains_key(MEMORY)) {
            out.memory = DEFAULT_MEMORY_REQUEST;
        }
    }
    out
}

fn is_sidecar(container: &Container) -> bool {
    container.restart_policy.as_deref() == Some("Always")
}

/// The resources a pod needs on a node (see the module docs for the rules).
pub fn pod_request(pod: &Pod, missing: MissingRequests) -> Resources {
    let Some(spec) = pod.spec.as_ref() else {
        return Resources::default();
    };
    let mut total = Resources::default();
    for c in &spec.containers {
        total.add(&container_request(c, missing));
    }
    // Sidecars run for the pod's whole life, so they add to the app
    // containers; a regular init container runs alone with the sidecars
    // started before it, so only its peak matters.
    let mut sidecars = Resources::default();
    let mut init_peak = Resources::default();
    for c in spec.init_containers.iter().flatten() {
        let request = container_request(c, missing);
        if is_sidecar(c) {
            sidecars.add(&request);
            init_peak.max_with(&sidecars);
        } else {
            let mut running = request;
            running.add(&sidecars);
            init_peak.max_with(&running);
        }
    }
    total.add(&sidecars);
    total.max_with(&init_peak);

    // Pod-level requests (PodLevelResources, beta and on in 1.34) override
    // the container-derived CPU and memory.
    if let Some(pod_level) = spec.resources.as_ref().and_then(|r| r.requests.as_ref()) {
        let pod_level_amounts = Resources::from_list(pod_level);
        if pod_level.contains_key(CPU) {
            total.milli_cpu = pod_level_amounts.milli_cpu;
        }
        if pod_level.contains_key(MEMORY) {
            total.memory = pod_level_amounts.memory;
        }
    }
    if let Some(overhead) = spec.overhead.as_ref() {
        total.add(&Resources::from_list(overhead));
    }
    total
}

/// What a node offers to pods: `status.allocatable`, falling back to
/// `status.capacity` when allocatable is not reported.
pub fn node_allocatable(node: &Node) -> Resources {
    let status = node.status.as_ref();
    status
        .and_then(|s| s.allocatable.as_ref().or(s.capacity.as_ref()))
        .map(Resources::from_list)
        .unwrap_or_default()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodSpec, ResourceRequirements};

    pub(crate) fn list(pairs: &[(&str, &str)]) -> BTreeMap<String, Quantity> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Quantity(v.to_string())))
            .collect()
    }

    fn container(requests: &[(&str, &str)], sidecar: bool) -> Container {
        Container {
            name: "c".into(),
            restart_policy: sidecar.then(|| "Always".to_string()),
            resources: (!requests.is_empty()).then(|| ResourceRequirements {
                requests: Some(list(requests)),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn pod(containers: Vec<Container>, init: Vec<Container>, overhead: &[(&str, &str)]) -> Pod {
        Pod {
            spec: Some(PodSpec {
                containers,
                init_containers: Some(init),
                overhead: (!overhead.is_empty()).then(|| list(overhead)),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn pod_requests_follow_upstream_rules() {
        let cases = [
            (
                "app containers are summed",
                pod(
                    vec![
                        container(&[("cpu", "1")], false),
                        container(&[("cpu", "500m")], false),
                    ],
                    vec![],
                    &[],
                ),
                1500,
            ),
            (
                "a big init container dominates",
                pod(
                    vec![container(&[("cpu", "1")], false)],
                    vec![container(&[("cpu", "3")], false)],
                    &[],
                ),
                3000,
            ),
            (
                "sidecars add to app containers",
                pod(
                    vec![container(&[("cpu", "1")], false)],
                    vec![container(&[("cpu", "1")], true)],
                    &[],
                ),
                2000,
            ),
            (
                "an init container after a sidecar runs beside it",
                pod(
                    vec![container(&[("cpu", "1")], false)],
                    vec![
                        container(&[("cpu", "1")], true),
                        container(&[("cpu", "2500m")], false),
                    ],
                    &[],
                ),
                3500,
            ),
            (
                "overhead is added",
                pod(
                    vec![container(&[("cpu", "1")], false)],
                    vec![],
                    &[("cpu", "250m")],
                ),
                1250,
            ),
        ];
        for (name, pod, milli_cpu) in cases {
            assert_eq!(
                pod_request(&pod, MissingRequests::AsZero).milli_cpu,
                milli_cpu,
                "{name}"
            );
        }
    }

    #[test]
    fn missing_requests_count_as_defaults_only_when_asked() {
        let p = pod(
            vec![
                container(&[], false),
                container(&[("memory", "1Gi")], false),
            ],
            vec![],
            &[],
        );
        let zero = pod_request(&p, MissingRequests::AsZero);
        assert_eq!((zero.milli_cpu, zero.memory), (0, 1 << 30));
        let defaults = pod_request(&p, MissingRequests::AsDefaults);
        assert_eq!(
            (defaults.milli_cpu, defaults.memory),
            (200, DEFAULT_MEMORY_REQUEST + (1 << 30))
        );
    }

    #[test]
    fn pod_level_requests_override_container_sum() {
        let mut p = pod(
            vec![container(&[("cpu", "1"), ("memory", "1Gi")], false)],
            vec![],
            &[],
        );
        if let Some(spec) = p.spec.as_mut() {
            spec.resources = Some(ResourceRequirements {
                requests: Some(list(&[("cpu", "4")])),
                ..Default::default()
            });
        }
        let r = pod_request(&p, MissingRequests::AsZero);
        assert_eq!((r.milli_cpu, r.memory), (4000, 1 << 30));
    }

    #[test]
    fn extended_resources_are_tracked_by_name() {
        let p = pod(
            vec![container(&[("example.com/gpu", "2")], false)],
            vec![],
            &[],
        );
        let r = pod_request(&p, MissingRequests::AsZero);
        assert_eq!(r.get("example.com/gpu"), 2);
        assert!(!r.is_zero());
    }
}
