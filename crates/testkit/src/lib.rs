//! Helpers for tests and benchmarks that need real processes.
//!
//! Each helper starts its process on free `127.0.0.1` ports with its own
//! temporary directory, waits until the process says it is ready (under a
//! deadline, never a fixed sleep), and kills the process when dropped, so a
//! failing test leaves nothing behind.
//!
//! This crate is for `[dev-dependencies]` only.

mod apiserver;
mod bench_size;
mod etcd;
mod latencies;
mod netns_lab;
mod ports;
mod ready;
mod rkube_server;
mod stop_on_drop;

pub use apiserver::{wait_for_line, KillOnDrop, TestApiserver, KUBECTL_DEADLINE};
pub use bench_size::bench_size;
pub use etcd::{EtcdProcess, ETCD_BINARY};
pub use latencies::Latencies;
pub use netns_lab::{LabHost, NetnsLab};
pub use rkube_server::{RkubeServer, KUBECTL};
pub use stop_on_drop::{terminate, StopOnDrop, STOP_GRACE};

/// Why a helper process could not be started.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Creating the temp dir, a log file or spawning the process failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The process exited before it was ready.
    #[error("{program} exited before it was ready ({status}); its log is {log}")]
    Exited {
        /// The program.
        program: String,
        /// How it exited.
        status: std::process::ExitStatus,
        /// Its log, whole.
        log: String,
    },
    /// The process did not become ready in time.
    #[error("{program} was not ready after {waited:?}; its log is {log}")]
    NotReady {
        /// The program.
        program: String,
        /// How long we waited.
        waited: std::time::Duration,
        /// Its log, whole.
        log: String,
    },
}

/// A testkit result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A kube-rs client for the cluster a kubeconfig file points at (its
/// current context), as components and tests connect to an apiserver.
pub async fn kube_client(
    kubeconfig: &std::path::Path,
) -> std::result::Result<kube::Client, Box<dyn std::error::Error + Send + Sync>> {
    let kubeconfig = kube::config::Kubeconfig::read_from(kubeconfig)?;
    let config = kube::Config::from_custom_kubeconfig(
        kubeconfig,
        &kube::config::KubeConfigOptions::default(),
    )
    .await?;
    Ok(kube::Client::try_from(config)?)
}
