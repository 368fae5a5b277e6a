//! The components `rkube server` runs beside the apiserver (scheduler,
//! controller-manager, agent), each a task that talks to the apiserver only
//! through its HTTPS API (DESIGN.md §1), and their shared shutdown.
//!
//! A component is an async function of a kube-rs client and a shutdown
//! future; it returns when the future completes (after cleaning up) or when
//! it fails. If one fails, the server stops the others and exits with its
//! error, as k3s does, rather than run a cluster with a hole in it.

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

/// How long components get to finish after shutdown starts (the agent stops
/// its pods in this time).
const STOP_DEADLINE: Duration = Duration::from_secs(60);

/// A kube-rs client for the cluster a kubeconfig points at (its current
/// context): how every embedded component connects to the apiserver.
pub async fn client_from_kubeconfig(path: &Path) -> anyhow::Result<kube::Client> {
    let kubeconfig = kube::config::Kubeconfig::read_from(path)
        .with_context(|| format!("reading kubeconfig {}", path.display()))?;
    let config = kube::Config::from_custom_kubeconfig(
        kubeconfig,
        &kube::config::KubeConfigOptions::default(),
    )
    .await
    .with_context(|| format!("loading kubeconfig {}", path.display()))?;
    kube::Client::try_from(config).context("building the API client")
}

/// The running components.
pub struct Components {
    tasks: JoinSet<(&'static str, anyhow::Result<()>)>,
    stop: CancellationToken,
}

impl Components {
    /// No components yet.
    pub fn new() -> Self {
        Components {
            tasks: JoinSet::new(),
            stop: CancellationToken::new(),
        }
    }

    // Used as the components land (scheduler, controller-manager, agent).
    #[allow(dead_code)]
    /// Starts a component; `run` gets the future that completes when the
    /// component should stop.
    pub fn spawn<F, Fut>(&mut self, name: &'static str, run: F)
    where
        F: FnOnce(tokio_util::sync::WaitForCancellationFutureOwned) -> Fut,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let fut = run(self.stop.clone().cancelled_owned());
        self.tasks.spawn(async move { (name, fut.await) });
        info!(component = name, "started");
    }

    /// Waits until `shutdown` completes or a component exits on its own
    /// (which is a failure: components run until told to stop).
    pub async fn run_until(&mut self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        if self.tasks.is_empty() {
            shutdown.await;
            return Ok(());
        }
        tokio::select! {
            _ = shutdown => Ok(()),
            Some(joined) = self.tasks.join_next() => {
                let (name, result) = joined.context("a component panicked")?;
                match result {
                    Ok(()) => anyhow::bail!("{name} stopped on its own"),
                    Err(e) => Err(e.context(format!("{name} failed"))),
                }
            }
        }
    }

    /// Tells every component to stop and waits for them (up to a deadline).
    pub async fn stop(mut self) {
        self.stop.cancel();
        let wait_all = async {
            while let Some(joined) = self.tasks.join_next().await {
                match joined {
                    Ok((name, Ok(()))) => info!(component = name, "stopped"),
                    Ok((name, Err(e))) => {
                        error!(component = name, error = %format!("{e:#}"), "stopped with an error")
                    }
                    Err(e) => error!(error = %e, "a component panicked"),
                }
            }
        };
        if tokio::time::timeout(STOP_DEADLINE, wait_all).await.is_err() {
            warn!(deadline = ?STOP_DEADLINE, "components did not stop in time; abandoning them");
        }
    }
}
