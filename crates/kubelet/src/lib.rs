//! rkube's kubelet: the node agent that registers the Node, keeps its
//! Lease and status fresh, and runs the pods bound to it as real containers
//! through CRI v1 (containerd + runc + CNI), reporting their status back to
//! the apiserver (DESIGN.md §1, §4.5).
//!
//! - [`runtime`]: the CRI client and the agent's own containerd.
//! - [`images`]: tarball import and `imagePullPolicy`.
//! - [`node`]: registration, status, lease.
//! - [`pods`]: one worker per pod, reconciling the spec with the runtime.
//! - [`network`]: routes to other nodes' pods and masquerade off the cluster.
//! - [`server`]: the HTTPS API for logs, exec, attach and port-forward;
//!   [`logs`] reads the CRI log files.

pub mod images;
pub mod logs;
pub mod machine;
pub mod network;
pub mod node;
pub mod pods;
pub mod runtime;
pub mod server;

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ipnet::Ipv4Net;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::node::NodeIdentity;
use crate::pods::{parse_resolv_conf, ClusterDns, PodContext};
use crate::runtime::containerd::{Containerd, ContainerdError, ContainerdOptions};
use crate::runtime::containerd_config::{CniSettings, ContainerdLayout};
use crate::runtime::cri::{Cri, CriError};
use crate::server::{KubeletServer, ServerSettings};

/// The pause image the agent's containerd uses for sandboxes (import it;
/// `scripts/build-test-images.sh` builds one offline).
pub const DEFAULT_SANDBOX_IMAGE: &str = "registry.k8s.io/pause:3.10";
/// k3s's defaults (DESIGN.md §2).
pub const DEFAULT_POD_CIDR: &str = "10.42.0.0/24";
/// The cluster DNS Service IP.
pub const DEFAULT_CLUSTER_DNS: &str = "10.43.0.10";
/// The cluster domain.
pub const DEFAULT_CLUSTER_DOMAIN: &str = "cluster.local";
/// The CNI bridge of the agent's containerd.
pub const DEFAULT_BRIDGE: &str = "rkube0";

/// Which CRI runtime the kubelet drives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuntimeEndpoint {
    /// Start containerd with a config under `<data-dir>/containerd`, and
    /// stop it (pods first) at shutdown.
    Managed,
    /// Use the CRI runtime already listening on this unix socket; its pods
    /// keep running when the kubelet stops.
    External(PathBuf),
}

/// How to run the kubelet.
#[derive(Debug, Clone)]
pub struct KubeletOptions {
    /// The Node's name.
    pub node_name: String,
    /// The agent's own directory: containerd/, images/, pods/.
    pub data_dir: PathBuf,
    /// The runtime.
    pub runtime: RuntimeEndpoint,
    /// The node's IP (default: the source address of the default route).
    pub node_ip: Option<IpAddr>,
    /// The pod CIDR when no `spec.podCIDR` is assigned within `pod_cidr_wait`.
    pub pod_cidr: String,
    /// How long to wait for the node IPAM controller.
    pub pod_cidr_wait: Duration,
    /// The CNI bridge name (own per node on one machine).
    pub bridge: String,
    /// Every node's pods' addresses: traffic from pods to anywhere else is
    /// masqueraded (see [`network`]).
    pub cluster_cidr: Ipv4Net,
    /// The sandbox (pause) image.
    pub sandbox_image: String,
    /// Cluster DNS Service IPs.
    pub cluster_dns: Vec<String>,
    /// The cluster domain.
    pub cluster_domain: String,
    /// The kubelet API port (10250; 0 picks a free one, as does a taken
    /// port so that several kubelets share a machine).
    pub port: u16,
    /// The cluster CA (PEM) that signs the apiserver's client certificate;
    /// without it every kubelet API caller is anonymous.
    pub client_ca_pem: Option<String>,
}

impl KubeletOptions {
    /// Defaults for a node called `node_name` keeping its state in `data_dir`.
    pub fn new(node_name: impl Into<String>, data_dir: impl Into<PathBuf>) -> Self {
        KubeletOptions {
            node_name: node_name.into(),
            data_dir: data_dir.into(),
            runtime: RuntimeEndpoint::Managed,
            node_ip: None,
            pod_cidr: DEFAULT_POD_CIDR.to_string(),
            pod_cidr_wait: Duration::from_secs(10),
            bridge: DEFAULT_BRIDGE.to_string(),
            cluster_cidr: rkube_proxy::options::DEFAULT_CLUSTER_CIDR,
            sandbox_image: DEFAULT_SANDBOX_IMAGE.to_string(),
            cluster_dns: vec![DEFAULT_CLUSTER_DNS.to_string()],
            cluster_domain: DEFAULT_CLUSTER_DOMAIN.to_string(),
            port: server::DEFAULT_PORT,
            client_ca_pem: None,
        }
    }

    /// The socket of the agent's own containerd.
    pub fn containerd_layout(&self) -> ContainerdLayout {
        ContainerdLayout::new(self.data_dir.join("containerd"))
    }

    /// Tarballs imported at start.
    pub fn images_dir(&self) -> PathBuf {
        self.data_dir.join("images")
    }
}

/// Why the kubelet stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The data dir could not be created.
    #[error("creating the data dir {dir}: {source}")]
    DataDir {
        /// The directory.
        dir: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Registering the node failed.
    #[error("registering node {node}: {source}")]
    Register {
        /// The node.
        node: String,
        /// The cause.
        #[source]
        source: kube::Error,
    },
    /// The agent's containerd failed.
    #[error(transparent)]
    Containerd(#[from] ContainerdError),
    /// The CRI runtime failed.
    #[error(transparent)]
    Cri(#[from] CriError),
    /// Importing the images dir failed.
    #[error(transparent)]
    Import(#[from] images::ImportError),
    /// The kubelet API could not start.
    #[error(transparent)]
    Server(#[from] server::ServerError),
}

/// Runs the kubelet until `shutdown` completes: registers the node, starts
/// (or connects to) the runtime, runs the pods bound here. With a managed
/// containerd, its pods are removed and it is stopped on the way out; with
/// an external runtime, pods keep running.
pub async fn run(
    client: kube::Client,
    options: KubeletOptions,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), Error> {
    std::fs::create_dir_all(&options.data_dir).map_err(|source| Error::DataDir {
        dir: options.data_dir.clone(),
        source,
    })?;
    let ip = options.node_ip.unwrap_or_else(machine::node_ip);
    let api_server = KubeletServer::bind(&ServerSettings {
        bind: SocketAddr::new(IpAddr::from([0, 0, 0, 0]), options.port),
        node_name: options.node_name.clone(),
        node_ip: ip.to_string(),
        client_ca_pem: options.client_ca_pem.clone(),
    })
    .await?;
    let identity = NodeIdentity {
        name: options.node_name.clone(),
        ip: ip.to_string(),
        data_dir: options.data_dir.clone(),
        kubelet_port: api_server.port(),
    };
    node::register(&client, &identity)
        .await
        .map_err(|source| Error::Register {
            node: identity.name.clone(),
            source,
        })?;

    let stop = CancellationToken::new();
    let mut network = None;
    let (cri, containerd) = match &options.runtime {
        RuntimeEndpoint::External(socket) => (Cri::connect(socket)?, None),
        RuntimeEndpoint::Managed => {
            let pod_cidr = node::pod_cidr(
                &client,
                &identity.name,
                &options.pod_cidr,
                options.pod_cidr_wait,
            )
            .await;
            network = pod_network(&options, &identity, &pod_cidr, ip).map(|settings| {
                tokio::spawn(network::run(
                    client.clone(),
                    settings,
                    stop.clone().cancelled_owned(),
                ))
            });
            let cni = CniSettings {
                pod_cidr,
                bridge: options.bridge.clone(),
            };
            let layout = options.containerd_layout();
            let containerd = Containerd::start(ContainerdOptions::new(
                layout.clone(),
                &options.sandbox_image,
                cni,
            ))
            .await?;
            let imported = images::import_dir(&layout.socket(), &options.images_dir()).await?;
            if imported > 0 {
                info!(count = imported, dir = %options.images_dir().display(), "imported images");
            }
            (containerd.cri().clone(), Some(containerd))
        }
    };
    let version = cri.version().await?;
    info!(node = %identity.name, runtime = %format!("{} {}", version.runtime_name, version.runtime_version), "kubelet running");

    let api = tokio::spawn(api_server.run(cri.clone(), stop.clone().cancelled_owned()));
    let heartbeat = tokio::spawn(node::heartbeat(
        client.clone(),
        cri.clone(),
        identity.clone(),
        stop.clone().cancelled_owned(),
    ));
    let ctx = Arc::new(PodContext {
        cri: cri.clone(),
        client: client.clone(),
        host_ip: identity.ip.clone(),
        pods_dir: options.data_dir.join("pods"),
        cluster_dns: ClusterDns {
            servers: options.cluster_dns.clone(),
            domain: options.cluster_domain.clone(),
        },
        host_dns: parse_resolv_conf(
            &std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default(),
        ),
        oom_score_adj_floor: machine::read_trimmed("/proc/self/oom_score_adj")
            .parse()
            .unwrap_or(0),
    });
    pods::run(ctx, &identity.name, shutdown).await;
    stop.cancel();
    let _ = heartbeat.await;
    let _ = api.await;
    if let Some(containerd) = containerd {
        containerd.stop().await?;
        info!("containerd stopped");
    }
    if let Some(network) = network {
        let _ = network.await;
    }
    Ok(())
}

/// The pod network settings of a node whose CNI config is ours; `None`
/// (logged) for an IPv6 pod CIDR or node address, which the pod network
/// does not route yet.
fn pod_network(
    options: &KubeletOptions,
    identity: &NodeIdentity,
    pod_cidr: &str,
    node_ip: IpAddr,
) -> Option<network::PodNetwork> {
    let (Ok(pod_cidr), IpAddr::V4(node_ip)) = (pod_cidr.parse::<Ipv4Net>(), node_ip) else {
        warn!(%pod_cidr, %node_ip, "the pod network is IPv4 only: no routes to other nodes, no masquerade");
        return None;
    };
    Some(network::PodNetwork {
        node_name: identity.name.clone(),
        node_ip,
        pod_cidr,
        cluster_cidr: options.cluster_cidr,
        bridge: options.bridge.clone(),
    })
}
