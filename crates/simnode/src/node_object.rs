//! The objects a simulated node registers, built without I/O: the Node with
//! its labels and status, and its Lease (kubelet `nodestatus/setters.go`,
//! `nodelease/controller.go`).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::{
    DaemonEndpoint, Node, NodeAddress, NodeCondition, NodeDaemonEndpoints, NodeStatus,
    NodeSystemInfo,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, OwnerReference, Time};
use k8s_openapi::jiff::Timestamp;

use crate::ip_pool::nth_slash24;
use crate::options::{NodeResources, SimOptions};

/// The namespace of node Leases (`corev1.NamespaceNodeLease`).
pub const LEASE_NAMESPACE: &str = "kube-node-lease";

/// Label on every simulated node, so tests and tools can select them.
pub const SIMULATED_LABEL: &str = "sim.rkube.io/simulated";

/// The Kubernetes version simulated kubelets report.
const KUBELET_VERSION: &str = "v1.34.0";

/// Node InternalIPs come from 172.16.0.0/12, one per node.
const NODE_IP_BASE: Ipv4Addr = Ipv4Addr::new(172, 16, 0, 0);

/// Pods of nodes without `spec.podCIDR` get addresses from a /24 of
/// 100.64.0.0/10 (shared address space, never routed here).
const FALLBACK_POD_RANGE: Ipv4Addr = Ipv4Addr::new(100, 64, 0, 0);

/// What one simulated node is, fixed at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodePlan {
    /// Its name.
    pub name: String,
    /// Its zone label.
    pub zone: String,
    /// Its InternalIP.
    pub internal_ip: Ipv4Addr,
    /// Pod addresses when the node has no `spec.podCIDR`.
    pub fallback_pod_cidr: Ipv4Net,
}

/// The nodes `options` describe (validated beforehand).
pub fn plan(options: &SimOptions) -> Vec<NodePlan> {
    let pod_range = Ipv4Net::new_assert(FALLBACK_POD_RANGE, 10);
    (0..options.count)
        .filter_map(|index| {
            let offset = u32::try_from(index).ok()?.checked_add(1)?;
            Some(NodePlan {
                name: options.node_name(index),
                zone: format!("zone-{}", index % options.zones.max(1)),
                internal_ip: Ipv4Addr::from(u32::from(NODE_IP_BASE).checked_add(offset)?),
                fallback_pod_cidr: nth_slash24(pod_range, index)?,
            })
        })
        .collect()
}

/// The Node as the kubelet registers it.
pub fn node(options: &SimOptions, plan: &NodePlan, now: Timestamp) -> Node {
    let labels = [
        ("kubernetes.io/hostname", plan.name.as_str()),
        ("kubernetes.io/os", "linux"),
        ("kubernetes.io/arch", options.arch.as_str()),
        ("topology.kubernetes.io/zone", plan.zone.as_str()),
        (
            "node.kubernetes.io/instance-type",
            options.instance_type.as_str(),
        ),
        (SIMULATED_LABEL, "true"),
    ];
    let annotations = [
        // Set by the kubelet at registration (kubelet_node_status.go).
        (
            "volumes.kubernetes.io/controller-managed-attach-detach",
            "true",
        ),
        ("node.alpha.kubernetes.io/ttl", "0"),
    ];
    Node {
        metadata: ObjectMeta {
            name: Some(plan.name.clone()),
            labels: Some(string_map(&labels)),
            annotations: Some(string_map(&annotations)),
            ..ObjectMeta::default()
        },
        spec: None,
        status: Some(node_status(options, plan, now, now)),
    }
}

/// The node's status at `now`, Ready since `ready_since`.
pub fn node_status(
    options: &SimOptions,
    plan: &NodePlan,
    now: Timestamp,
    ready_since: Timestamp,
) -> NodeStatus {
    let capacity = resources(&options.capacity);
    let allocatable = options
        .allocatable
        .as_ref()
        .map_or_else(|| capacity.clone(), resources);
    NodeStatus {
        capacity: Some(capacity),
        allocatable: Some(allocatable),
        conditions: Some(conditions(now, ready_since)),
        addresses: Some(vec![
            NodeAddress {
                type_: "InternalIP".into(),
                address: plan.internal_ip.to_string(),
            },
            NodeAddress {
                type_: "Hostname".into(),
                address: plan.name.clone(),
            },
        ]),
        daemon_endpoints: Some(NodeDaemonEndpoints {
            kubelet_endpoint: Some(DaemonEndpoint { port: 10250 }),
        }),
        node_info: Some(NodeSystemInfo {
            architecture: options.arch.clone(),
            boot_id: format!("sim-boot-{}", plan.name),
            container_runtime_version: "sim://0.1.0".into(),
            kernel_version: "simulated".into(),
            kube_proxy_version: String::new(),
            kubelet_version: KUBELET_VERSION.into(),
            machine_id: format!("sim-machine-{}", plan.name),
            operating_system: "linux".into(),
            os_image: "rkube simulated node".into(),
            system_uuid: format!("sim-{}", plan.name),
            ..NodeSystemInfo::default()
        }),
        ..NodeStatus::default()
    }
}

/// The pressure conditions are False and Ready is True, with the kubelet's
/// reasons and messages (`nodestatus/setters.go`), in its order.
fn conditions(now: Timestamp, ready_since: Timestamp) -> Vec<NodeCondition> {
    let condition = |type_: &str, status: &str, reason: &str, message: &str| NodeCondition {
        type_: type_.into(),
        status: status.into(),
        reason: Some(reason.into()),
        message: Some(message.into()),
        last_heartbeat_time: Some(Time(now)),
        last_transition_time: Some(Time(ready_since)),
    };
    vec![
        condition(
            "MemoryPressure",
            "False",
            "KubeletHasSufficientMemory",
            "kubelet has sufficient memory available",
        ),
        condition(
            "DiskPressure",
            "False",
            "KubeletHasNoDiskPressure",
            "kubelet has no disk pressure",
        ),
        condition(
            "PIDPressure",
            "False",
            "KubeletHasSufficientPID",
            "kubelet has sufficient PID available",
        ),
        condition(
            "Ready",
            "True",
            "KubeletReady",
            "kubelet is posting ready status",
        ),
    ]
}

fn resources(r: &NodeResources) -> BTreeMap<String, Quantity> {
    [
        ("cpu", r.cpu.clone()),
        ("memory", r.memory.clone()),
        ("pods", r.pods.to_string()),
        ("ephemeral-storage", r.ephemeral_storage.clone()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), Quantity(v)))
    .collect()
}

fn string_map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The node's Lease, owned by the Node (so it goes when the Node goes).
pub fn lease(options: &SimOptions, node_name: &str, node_uid: &str, now: Timestamp) -> Lease {
    Lease {
        metadata: ObjectMeta {
            name: Some(node_name.to_string()),
            namespace: Some(LEASE_NAMESPACE.into()),
            owner_references: Some(vec![OwnerReference {
                api_version: "v1".into(),
                kind: "Node".into(),
                name: node_name.to_string(),
                uid: node_uid.to_string(),
                ..OwnerReference::default()
            }]),
            ..ObjectMeta::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some(node_name.to_string()),
            lease_duration_seconds: Some(options.lease_duration_seconds),
            renew_time: Some(MicroTime(now)),
            ..LeaseSpec::default()
        }),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn plans_spread_zones_and_give_each_node_its_own_addresses() {
        let options = SimOptions::new(4).with_zones(3);
        let plans = plan(&options);
        let got: Vec<(String, String, String, String)> = plans
            .iter()
            .map(|p| {
                (
                    p.name.clone(),
                    p.zone.clone(),
                    p.internal_ip.to_string(),
                    p.fallback_pod_cidr.to_string(),
                )
            })
            .collect();
        let want = [
            ("sim-0001", "zone-0", "172.16.0.1", "100.64.0.0/24"),
            ("sim-0002", "zone-1", "172.16.0.2", "100.64.1.0/24"),
            ("sim-0003", "zone-2", "172.16.0.3", "100.64.2.0/24"),
            ("sim-0004", "zone-0", "172.16.0.4", "100.64.3.0/24"),
        ];
        let want: Vec<(String, String, String, String)> = want
            .iter()
            .map(|(a, b, c, d)| (a.to_string(), b.to_string(), c.to_string(), d.to_string()))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn a_node_carries_topology_labels_capacity_and_a_ready_condition() {
        let options = SimOptions::new(1).with_allocatable(NodeResources {
            cpu: "3500m".into(),
            ..NodeResources::default()
        });
        let plans = plan(&options);
        let now = Timestamp::UNIX_EPOCH;
        let node = node(&options, &plans[0], now);
        let labels = node.metadata.labels.unwrap();
        assert_eq!(labels["kubernetes.io/hostname"], "sim-0001");
        assert_eq!(labels["topology.kubernetes.io/zone"], "zone-0");
        assert_eq!(labels["kubernetes.io/os"], "linux");
        let status = node.status.unwrap();
        assert_eq!(status.capacity.unwrap()["cpu"], Quantity("4".into()));
        let allocatable = status.allocatable.unwrap();
        assert_eq!(allocatable["cpu"], Quantity("3500m".into()));
        assert_eq!(allocatable["pods"], Quantity("110".into()));
        let conditions: Vec<(String, String)> = status
            .conditions
            .unwrap()
            .into_iter()
            .map(|c| (c.type_, c.status))
            .collect();
        let want = [
            ("MemoryPressure", "False"),
            ("DiskPressure", "False"),
            ("PIDPressure", "False"),
            ("Ready", "True"),
        ];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        assert_eq!(conditions, want);
        assert_eq!(status.addresses.unwrap()[0].address, "172.16.0.1");
    }

    #[test]
    fn the_lease_is_held_by_and_owned_by_its_node() {
        let lease = lease(
            &SimOptions::new(1),
            "sim-0001",
            "uid-1",
            Timestamp::UNIX_EPOCH,
        );
        assert_eq!(lease.metadata.namespace.as_deref(), Some(LEASE_NAMESPACE));
        assert_eq!(lease.metadata.owner_references.unwrap()[0].uid, "uid-1");
        let spec = lease.spec.unwrap();
        assert_eq!(spec.holder_identity.as_deref(), Some("sim-0001"));
        assert_eq!(spec.lease_duration_seconds, Some(40));
    }
}
