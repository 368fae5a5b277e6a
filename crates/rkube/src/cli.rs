//! Command-line flags. Names and defaults follow k3s where it has the same
//! flag, so k3s users feel at home (DESIGN.md §2).

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Kubernetes in one binary.
#[derive(Debug, Parser)]
#[command(name = "rkube", version, about)]
pub struct Cli {
    /// More logs: -v debug, -vv trace (RUST_LOG overrides).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbosity: u8,
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the control plane (apiserver, embedded store) on this machine.
    Server(ServerArgs),
    /// Run kubectl against this machine's cluster (the admin kubeconfig).
    Kubectl(KubectlArgs),
    /// Write a consistent copy of the embedded store, also while the server runs.
    /// (With etcd, use `etcdctl snapshot save`.)
    Backup(BackupArgs),
    /// Run the scheduler alone against an apiserver (kube-scheduler).
    Scheduler(SchedulerArgs),
    /// Run the node agent; `--simulate N` runs N simulated nodes instead.
    Agent(AgentArgs),
    /// Run the controller manager alone against a cluster.
    ControllerManager(crate::controller_manager::ControllerManagerArgs),
    /// Run the service proxy (Services → nftables) on this machine.
    Proxy(crate::proxy::ProxyArgs),
    /// Run the node agent (kubelet) against an apiserver.
    Kubelet(crate::kubelet::KubeletArgs),
    /// Manage the node's images (`rkube image import FILE.tar`).
    Image(crate::image::ImageArgs),
    /// Run cluster DNS alone against a cluster (agents embed it).
    Dns(crate::dns::DnsArgs),
    /// Manage bootstrap tokens that let nodes join (`rkube token create`).
    Token(crate::token::TokenArgs),
}

/// `rkube server` flags.
#[derive(Debug, Args)]
pub struct ServerArgs {
    /// Where the cluster keeps its state: store, certificates, kubeconfig.
    #[arg(long, env = "RKUBE_DATA_DIR", default_value = "/var/lib/rkube")]
    pub data_dir: PathBuf,
    /// Address the apiserver listens on.
    #[arg(long, default_value = "0.0.0.0")]
    pub bind_address: IpAddr,
    /// HTTPS port of the apiserver.
    #[arg(long, default_value_t = 6443)]
    pub https_listen_port: u16,
    /// Another name or address the serving certificate names (repeatable;
    /// k3s's flag). Applies when the certificate is first made.
    #[arg(long = "tls-san", value_name = "NAME")]
    pub tls_san: Vec<String>,
    /// Use an external etcd instead of the embedded store, e.g.
    /// `etcd://127.0.0.1:2379` (several endpoints separated by commas).
    #[arg(long, env = "RKUBE_DATASTORE_ENDPOINT")]
    pub datastore_endpoint: Option<String>,
    /// Start from a backup written by `rkube backup` (embedded store only; the
    /// data dir must not hold a store yet).
    #[arg(long)]
    pub restore: Option<PathBuf>,
    /// Do not run the embedded scheduler (another one will place pods).
    #[arg(long)]
    pub disable_scheduler: bool,
    /// KubeSchedulerConfiguration for the embedded scheduler.
    #[arg(long)]
    pub scheduler_config: Option<PathBuf>,
    /// Do not run the service proxy (it runs only as root anyway).
    #[arg(long)]
    pub disable_proxy: bool,
    /// Do not run the node agent (kubelet + containerd) in this process.
    #[arg(long)]
    pub disable_agent: bool,
    /// Where cluster DNS answers (UDP and TCP). Default: port 53 on this
    /// node's address when the agent runs here as root; otherwise off.
    #[arg(long)]
    pub cluster_dns_listen: Option<std::net::SocketAddr>,
}

/// `rkube backup` arguments.
#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The data dir of the cluster to back up.
    #[arg(long, env = "RKUBE_DATA_DIR", default_value = "/var/lib/rkube")]
    pub data_dir: PathBuf,
    /// Where to write the backup; it must not exist.
    pub file: PathBuf,
}

/// `rkube kubectl` arguments: everything after `kubectl` goes to kubectl.
#[derive(Debug, Args)]
pub struct KubectlArgs {
    /// The data dir whose admin kubeconfig to use.
    #[arg(long, env = "RKUBE_DATA_DIR", default_value = "/var/lib/rkube")]
    pub data_dir: PathBuf,
    /// Arguments for kubectl.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

/// `rkube scheduler` flags (kube-scheduler's names).
#[derive(Debug, Args)]
pub struct SchedulerArgs {
    /// The kubeconfig of the apiserver to schedule for.
    #[arg(long)]
    pub kubeconfig: PathBuf,
    /// A KubeSchedulerConfiguration (kubescheduler.config.k8s.io/v1) file;
    /// upstream's default profile when absent.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Address of the plain-HTTP `/metrics` and `/healthz` endpoint.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind_address: IpAddr,
    /// Port of that endpoint (kube-scheduler serves on 10259; 0 picks one).
    #[arg(long, default_value_t = 10259)]
    pub secure_port: u16,
}

/// `rkube agent` flags.
#[derive(Debug, Args)]
pub struct AgentArgs {
    /// The cluster to join (default: `<data-dir>/kubelet.kubeconfig` once
    /// joined with a token, else `<data-dir>/admin.kubeconfig`).
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// The apiserver to join, e.g. `https://10.0.0.1:6443` (with `--token`).
    #[arg(long, env = "RKUBE_URL")]
    pub server: Option<String>,
    /// A bootstrap token `<id>.<secret>` from the server's `<data-dir>/token`
    /// or `rkube token create`; needed only for the first start.
    #[arg(long, env = "RKUBE_TOKEN")]
    pub token: Option<String>,
    /// This node's name (default: the hostname).
    #[arg(long)]
    pub node_name: Option<String>,
    /// Where the agent keeps its state.
    #[arg(long, env = "RKUBE_DATA_DIR", default_value = "/var/lib/rkube")]
    pub data_dir: PathBuf,
    /// Run this many simulated nodes (no containers) instead of a real one.
    #[arg(long, value_name = "N")]
    pub simulate: Option<usize>,
    /// Simulated node names: the prefix and a number (`sim-0001`).
    #[arg(long, default_value = "sim-")]
    pub node_name_prefix: String,
    /// CPU capacity of each simulated node.
    #[arg(long, default_value = "4")]
    pub node_cpu: String,
    /// Memory capacity of each simulated node.
    #[arg(long, default_value = "16Gi")]
    pub node_memory: String,
    /// Pod capacity of each simulated node.
    #[arg(long, default_value_t = 110)]
    pub node_pods: u32,
    /// Spread simulated nodes over this many zones.
    #[arg(long, default_value_t = 3)]
    pub zones: usize,
}
