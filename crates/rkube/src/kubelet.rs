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
    /// The kubelet API port (0: a free one).
    #[arg(long, default_value_t = rkube_kubelet::server::DEFAULT_PORT)]
    pub port: u16,
}

/// Runs the kubelet until Ctrl-C or SIGTERM.
pub async fn run(args: KubeletArgs) -> anyhow::Result<()> {
    let client = client_from_kubeconfig(&args.kubeconfig).await?;
    let mut options = agent_options(&args.data_dir, args.node_name, &args.kubeconfig);
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
    options.port = args.port;
    rkube_kubelet::run(client, options, crate::server::shutdown_signal()).await?;
    Ok(())
}

/// The agent's options under rkube's data dir, named `node_name` or after
/// the hostname, for a kubelet that talks to the cluster `kubeconfig` names:
/// the kubelet API trusts that cluster's CA, which signs the apiserver's
/// kubelet-client certificate (on the server machine and on joined nodes
/// alike).
pub fn agent_options(
    data_dir: &Path,
    node_name: Option<String>,
    kubeconfig: &Path,
) -> KubeletOptions {
    let name = node_name.unwrap_or_else(crate::node::name);
    let mut options = KubeletOptions::new(name, agent_dir(data_dir));
    options.client_ca_pem = cluster_ca_of(kubeconfig);
    options
}

/// The cluster CA (PEM) a kubeconfig trusts for its current cluster: the
/// kubelet trusts the same CA for its own callers.
fn cluster_ca_of(kubeconfig: &Path) -> Option<String> {
    use base64::Engine as _;
    let config = kube::config::Kubeconfig::read_from(kubeconfig).ok()?;
    let context_name = config.current_context.as_deref()?;
    let context = config
        .contexts
        .iter()
        .find(|c| c.name == context_name)?
        .context
        .as_ref()?;
    let cluster = config
        .clusters
        .iter()
        .find(|c| c.name == context.cluster)?
        .cluster
        .as_ref()?;
    if let Some(data) = &cluster.certificate_authority_data {
        let pem = base64::engine::general_purpose::STANDARD
            .decode(data)
            .ok()?;
        return String::from_utf8(pem).ok();
    }
    std::fs::read_to_string(cluster.certificate_authority.as_deref()?).ok()
}

/// `<data-dir>/agent`.
pub fn agent_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("agent")
}
