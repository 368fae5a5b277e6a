//! The node side of the binary: who this node is, and the components every
//! node runs (kubelet with its containerd, service proxy, cluster DNS), shared
//! by `rkube server` (a single-node cluster) and `rkube agent`.

use std::net::SocketAddr;

use rkube_kubelet::KubeletOptions;

use crate::components::Components;

/// This machine's node name: its hostname, lowercased as node names must be.
pub fn name() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let name = name.trim().to_lowercase();
    if name.is_empty() {
        "localhost".to_owned()
    } else {
        name
    }
}

/// Whether this process runs as root (the proxy and DNS on port 53 need it).
pub fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// Which node components to run here.
pub struct NodeComponents {
    /// The Node these components serve (`--node-name`, else [`name`]).
    pub node_name: String,
    /// The kubelet, when this machine is a node.
    pub kubelet: Option<KubeletOptions>,
    /// Whether to program Services into nftables.
    pub proxy: bool,
    /// Where cluster DNS answers, if it runs here.
    pub dns: Option<SocketAddr>,
}

impl NodeComponents {
    /// Spawns the chosen components.
    pub fn spawn(self, components: &mut Components, client: &kube::Client) {
        if let Some(options) = self.kubelet {
            let client = client.clone();
            components.spawn("kubelet", |stop| async move {
                Ok(rkube_kubelet::run(client, options, stop).await?)
            });
        }
        if self.proxy {
            let client = client.clone();
            let options = rkube_proxy::ProxyOptions::default()
                .cluster_cidr(rkube_proxy::options::DEFAULT_CLUSTER_CIDR)
                .node_name(self.node_name.clone());
            components.spawn("proxy", |stop| async move {
                Ok(rkube_proxy::run(client, options, stop).await?)
            });
        }
        if let Some(listen) = self.dns {
            crate::dns::spawn(components, client.clone(), &self.node_name, listen);
        }
    }
}

/// Port 53 on this node's address: where DNS answers when the node runs it,
/// so that the kube-dns Service's endpoint is this machine.
pub fn default_dns_listen() -> SocketAddr {
    SocketAddr::new(rkube_kubelet::machine::node_ip(), 53)
}
