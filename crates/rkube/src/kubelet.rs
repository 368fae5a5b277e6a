//! `rkube kubelet`: the node agent alone, against any apiserver; and the
//! options `rkube server` uses to embed it.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use clap::Args;
use rkube_kubelet::{KubeletOptions, RuntimeEndpoint};

use crate::components::client_from_kubeconfig;

/// `rkube kubelet` flags.
#[derive(Debug, Args)]
pub struct KubeletArgs {
    /// The kubeconfig to reach the apiserver with.
    #[arg(long)]
    pub kubeconfig: PathBuf,
    /// Where rkube keeps state; the agent uses `<data-dir>/agent`.
    #[arg(long, env = "RKUBE_DATA_DIR", default_value = "/var/lib/rkube")]
    pub data_dir: PathBuf,
    /// The Node's name (default: the hostname).
    #[arg(long)]
    pub node_name: Option<String>,
    /// A running CRI runtime's unix socket; without it the agent starts
    /// its own containerd.
    #[arg(long)]
    pub container_runtime_endpoint: Option<PathBuf>,
    /// The node's IP (default: the source address of the default route).
    #[arg(long)]
    pub node_ip: Option<IpAddr>,
    /// The pod CIDR used when the node gets no spec.podCIDR in time.
    #[arg(long, default_value = rkube_kubelet::DEFAULT_POD_CIDR)]
    pub pod_cidr: String,
    /// The CNI bridge name (own per node when several run on one machine).
    #[arg(long, default_value = rkube_kubelet::DEFAULT_BRIDGE)]
    pub bridge: String,
}

/// Runs the kubelet until Ctrl-C or SIGTERM.
pub async fn run(args: KubeletArgs) -> anyhow::Result<()> {
    let client = client_from_kubeconfig(&args.kubeconfig).await?;
    let mut options = agent_options(&args.data_dir, args.node_name);
    if let Some(socket) = args.container_runtime_endpoint {
        let socket = socket
            .strip_prefix("unix://")
            .map(Path::to_path_buf)
            .unwrap_or(socket);
        options.runtime = RuntimeEndpoint::External(socket);
    }
    options.node_ip = args.node_ip;
    options.pod_cidr = args.pod_cidr;
    options.bridge = args.bridge;
    rkube_kubelet::run(client, options, crate::server::shutdown_signal()).await?;
    Ok(())
}

/// The agent's options under rkube's data dir, named `node_name` or after
/// the hostname.
pub fn agent_options(data_dir: &Path, node_name: Option<String>) -> KubeletOptions {
    let name = node_name.unwrap_or_else(crate::node::name);
    KubeletOptions::new(name, agent_dir(data_dir))
}

/// `<data-dir>/agent`.
pub fn agent_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("agent")
}
