//! The Node object: registration with the machine's facts, the status
//! heartbeat (conditions, capacity, nodeInfo) and the Lease in
//! `kube-node-lease` (pkg/kubelet/kubelet_node_status.go,
//! pkg/kubelet/nodelease).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::{
    DaemonEndpoint, Namespace, Node, NodeAddress, NodeCondition, NodeDaemonEndpoints, NodeStatus,
    NodeSystemInfo,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, OwnerReference, Time};
use kube::api::{Api, ObjectMeta, Patch, PatchParams, PostParams};
use tracing::{debug, info, warn};

use crate::machine;
use crate::runtime::cri::Cri;

/// The namespace of node leases.
pub const LEASE_NAMESPACE: &str = "kube-node-lease";
/// How long a lease is valid (upstream's default).
const LEASE_DURATION_SECONDS: i32 = 40;
/// How often the lease is renewed and the status posted (upstream: 10 s).
pub const HEARTBEAT: Duration = Duration::from_secs(10);
/// Memory below which MemoryPressure is True (upstream's hard eviction
/// threshold memory.available<100Mi).
const MEMORY_PRESSURE_BYTES: u64 = 100 * 1024 * 1024;
/// Free disk fraction below which DiskPressure is True (nodefs.available<10%).
const DISK_PRESSURE_FRACTION: f64 = 0.10;

/// The kubelet version reported in nodeInfo: the API version served.
pub const KUBELET_VERSION: &str = "v1.34.0";

/// This node's identity and facts.
#[derive(Debug, Clone)]
pub struct NodeIdentity {
    /// The Node's name.
    pub name: String,
    /// Its IP.
    pub ip: String,
    /// The data dir (its filesystem is the node's ephemeral storage).
    pub data_dir: PathBuf,
    /// The port the kubelet API listens on (`status.daemonEndpoints`).
    pub kubelet_port: u16,
}

/// Creates the Node if it does not exist; returns it.
pub async fn register(client: &kube::Client, node: &NodeIdentity) -> Result<Node, kube::Error> {
    let api: Api<Node> = Api::all(client.clone());
    if let Some(existing) = api.get_opt(&node.name).await? {
        return Ok(existing);
    }
    let labels = BTreeMap::from([
        ("kubernetes.io/hostname".to_string(), node.name.clone()),
        ("kubernetes.io/os".to_string(), "linux".to_string()),
        (
            "kubernetes.io/arch".to_string(),
            machine::arch().to_string(),
        ),
        ("beta.kubernetes.io/os".to_string(), "linux".to_string()),
        (
            "beta.kubernetes.io/arch".to_string(),
            machine::arch().to_string(),
        ),
    ]);
    let object = Node {
        metadata: ObjectMeta {
            name: Some(node.name.clone()),
            labels: Some(labels),
            ..Default::default()
        },
        ..Default::default()
    };
    match api.create(&PostParams::default(), &object).await {
        Ok(created) => {
            info!(node = %node.name, "registered the node");
            Ok(created)
        }
        Err(kube::Error::Api(e)) if e.code == 409 => api.get(&node.name).await,
        Err(e) => Err(e),
    }
}

/// The node's pod CIDR: `spec.podCIDR` once the node IPAM controller set it,
/// else `fallback` after `wait`.
pub async fn pod_cidr(client: &kube::Client, name: &str, fallback: &str, wait: Duration) -> String {
    let api: Api<Node> = Api::all(client.clone());
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match api.get_opt(name).await {
            Ok(Some(node)) => {
                if let Some(cidr) = node.spec.and_then(|s| s.pod_cidr).filter(|c| !c.is_empty()) {
                    return cidr;
                }
            }
            Ok(None) => {}
            Err(e) => debug!(error = %e, "reading the node for its podCIDR"),
        }
        if tokio::time::Instant::now() >= deadline {
            info!(
                pod_cidr = fallback,
                "no spec.podCIDR assigned; using --pod-cidr"
            );
            return fallback.to_string();
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Posts the node status and renews the lease every [`HEARTBEAT`] until
/// `shutdown`.
pub async fn heartbeat(
    client: kube::Client,
    cri: Cri,
    node: NodeIdentity,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let mut ticker = tokio::time::interval(HEARTBEAT);
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            _ = ticker.tick() => {
                if let Err(e) = post_status(&client, &cri, &node).await {
                    warn!(error = %e, "posting the node status");
                }
                if let Err(e) = renew_lease(&client, &node.name).await {
                    warn!(error = %e, "renewing the node lease");
                }
            }
        }
    }
}

/// Writes the node's status: capacity, conditions, addresses, nodeInfo.
pub async fn post_status(
    client: &kube::Client,
    cri: &Cri,
    node: &NodeIdentity,
) -> Result<(), kube::Error> {
    let runtime = cri.version().await.ok();
    let runtime_conditions = cri.conditions().await.unwrap_or_default();
    let not_ready: Vec<String> = ["RuntimeReady", "NetworkReady"]
        .iter()
        .filter(|t| {
            !runtime_conditions
                .iter()
                .any(|c| &c.r#type == *t && c.status)
        })
        .map(|t| {
            let why = runtime_conditions
                .iter()
                .find(|c| &c.r#type == t)
                .map(|c| c.message.clone())
                .unwrap_or_default();
            format!("container runtime {t} is false: {why}")
        })
        .collect();
    let capacity = machine::capacity(&node.data_dir).to_quantities();
    let available = machine::available(&node.data_dir);
    let now = Time(k8s_openapi::jiff::Timestamp::now());
    let api: Api<Node> = Api::all(client.clone());
    let current = api.get_opt(&node.name).await?;
    let previous = current
        .as_ref()
        .and_then(|n| n.status.as_ref())
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    let condition = |type_: &str, status: bool, reason: &str, message: String| {
        let status = if status { "True" } else { "False" };
        let since = previous
            .iter()
            .find(|c| c.type_ == type_ && c.status == status)
            .and_then(|c| c.last_transition_time.clone())
            .unwrap_or_else(|| now.clone());
        NodeCondition {
            type_: type_.to_string(),
            status: status.to_string(),
            reason: Some(reason.to_string()),
            message: Some(message),
            last_heartbeat_time: Some(now.clone()),
            last_transition_time: Some(since),
        }
    };
    let memory_pressure = available.memory_bytes < MEMORY_PRESSURE_BYTES;
    let disk_pressure = available.storage_total > 0
        && (available.storage_bytes as f64)
            < DISK_PRESSURE_FRACTION * available.storage_total as f64;
    let pid_pressure = available.pids.1 > 0 && available.pids.0 * 10 > available.pids.1 * 9;
    let ready = not_ready.is_empty();
    let conditions = vec![
        condition(
            "MemoryPressure",
            memory_pressure,
            if memory_pressure {
                "KubeletHasInsufficientMemory"
            } else {
                "KubeletHasSufficientMemory"
            },
            format!(
                "kubelet has {} memory available",
                if memory_pressure {
                    "insufficient"
                } else {
                    "sufficient"
                }
            ),
        ),
        condition(
            "DiskPressure",
            disk_pressure,
            if disk_pressure {
                "KubeletHasDiskPressure"
            } else {
                "KubeletHasNoDiskPressure"
            },
            format!(
                "kubelet has {}disk pressure",
                if disk_pressure { "" } else { "no " }
            ),
        ),
        condition(
            "PIDPressure",
            pid_pressure,
            if pid_pressure {
                "KubeletHasInsufficientPID"
            } else {
                "KubeletHasSufficientPID"
            },
            format!(
                "kubelet has {} PID available",
                if pid_pressure {
                    "insufficient"
                } else {
                    "sufficient"
                }
            ),
        ),
        condition(
            "Ready",
            ready,
            if ready {
                "KubeletReady"
            } else {
                "KubeletNotReady"
            },
            if ready {
                "kubelet is posting ready status".to_string()
            } else {
                not_ready.join("; ")
            },
        ),
    ];
    let info = NodeSystemInfo {
        architecture: machine::arch().to_string(),
        operating_system: "linux".to_string(),
        os_image: machine::os_image(
            &std::fs::read_to_string("/etc/os-release").unwrap_or_default(),
        ),
        kernel_version: machine::read_trimmed("/proc/sys/kernel/osrelease"),
        machine_id: machine::read_trimmed("/etc/machine-id"),
        boot_id: machine::read_trimmed("/proc/sys/kernel/random/boot_id"),
        system_uuid: machine::read_trimmed("/sys/class/dmi/id/product_uuid"),
        container_runtime_version: runtime
            .map(|v| format!("{}://{}", v.runtime_name, v.runtime_version))
            .unwrap_or_default(),
        kubelet_version: KUBELET_VERSION.to_string(),
        kube_proxy_version: String::new(),
        ..Default::default()
    };
    let status = NodeStatus {
        capacity: Some(capacity.clone()),
        allocatable: Some(capacity),
        conditions: Some(conditions),
        addresses: Some(vec![
            NodeAddress {
                type_: "InternalIP".into(),
                address: node.ip.clone(),
            },
            NodeAddress {
                type_: "Hostname".into(),
                address: node.name.clone(),
            },
        ]),
        node_info: Some(info),
        daemon_endpoints: Some(NodeDaemonEndpoints {
            kubelet_endpoint: Some(DaemonEndpoint {
                port: i32::from(node.kubelet_port),
            }),
        }),
        ..Default::default()
    };
    let patch = serde_json::json!({ "status": status });
    api.patch_status(&node.name, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    Ok(())
}

/// Renews (or creates) the node's Lease.
pub async fn renew_lease(client: &kube::Client, name: &str) -> Result<(), kube::Error> {
    let api: Api<Lease> = Api::namespaced(client.clone(), LEASE_NAMESPACE);
    let now = MicroTime(k8s_openapi::jiff::Timestamp::now());
    let patch = serde_json::json!({ "spec": { "holderIdentity": name, "renewTime": now, "leaseDurationSeconds": LEASE_DURATION_SECONDS } });
    match api
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Ok(_) => return Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => {}
        Err(e) => return Err(e),
    }
    ensure_lease_namespace(client).await?;
    let node: Api<Node> = Api::all(client.clone());
    let owner = node
        .get_opt(name)
        .await?
        .and_then(|n| n.metadata.uid)
        .map(|uid| OwnerReference {
            api_version: "v1".into(),
            kind: "Node".into(),
            name: name.to_string(),
            uid,
            ..Default::default()
        });
    let lease = Lease {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(LEASE_NAMESPACE.to_string()),
            owner_references: owner.map(|o| vec![o]),
            ..Default::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some(name.to_string()),
            lease_duration_seconds: Some(LEASE_DURATION_SECONDS),
            renew_time: Some(now),
            ..Default::default()
        }),
    };
    match api.create(&PostParams::default(), &lease).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(()),
        Err(e) => Err(e),
    }
}

async fn ensure_lease_namespace(client: &kube::Client) -> Result<(), kube::Error> {
    let api: Api<Namespace> = Api::all(client.clone());
    let namespace = Namespace {
        metadata: ObjectMeta {
            name: Some(LEASE_NAMESPACE.to_string()),
            ..Default::default()
        },
        ..Default::default()
    };
    match api.create(&PostParams::default(), &namespace).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(()),
        Err(e) => Err(e),
    }
}
