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
    /// Run cluster DNS alone against a cluster (agents embed it).
    Dns(crate::dns::DnsArgs),
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
    /// Use an external etcd instead of the embedded store, e.g.
    /// `etcd://127.0.0.1:2379` (several endpoints separated by commas).
    #[arg(long, env = "RKUBE_DATASTORE_ENDPOINT")]
    pub datastore_endpoint: Option<String>,
    /// Start from a backup written by `rkube backup` (embedded store only; the
    /// data dir must not hold a store yet).
    #[arg(long)]
    pub restore: Option<PathBuf>,
    /// Run cluster DNS in the server, answering on this address (UDP and
    /// TCP); off by default because port 53 needs root.
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
