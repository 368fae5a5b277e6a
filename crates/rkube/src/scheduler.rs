//! `rkube scheduler`: the scheduler alone, against any apiserver a
//! kubeconfig points at (kube-scheduler's `--kubeconfig` and `--config`).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use rkube_scheduler::plugins::Registry;
use rkube_scheduler::{Configuration, Metrics};
use tracing::info;

use crate::cli::SchedulerArgs;
use crate::components::client_from_kubeconfig;

/// Loads `--config` (a KubeSchedulerConfiguration), or upstream's defaults.
pub fn load_config(path: Option<&Path>) -> anyhow::Result<Configuration> {
    let registry = Registry::default();
    match path {
        None => Ok(Configuration::defaults(&registry)?),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            Configuration::from_yaml(&text, &registry)
                .with_context(|| format!("loading scheduler configuration {}", path.display()))
        }
    }
}

/// Runs the scheduler and its `/metrics` endpoint until Ctrl-C or SIGTERM.
pub async fn run(args: SchedulerArgs) -> anyhow::Result<()> {
    let config = load_config(args.config.as_deref())?;
    let client = client_from_kubeconfig(&args.kubeconfig).await?;
    let metrics = Arc::new(Metrics::new());
    let address = SocketAddr::new(args.bind_address, args.secure_port);
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("listening for /metrics on {address}"))?;
    info!(address = %listener.local_addr()?, "serving /metrics");
    let stop = tokio_util::sync::CancellationToken::new();
    let endpoint = tokio::spawn(rkube_scheduler::metrics::serve(
        listener,
        metrics.clone(),
        stop.clone().cancelled_owned(),
    ));
    let outcome = rkube_scheduler::run_with_metrics(
        client,
        config,
        metrics,
        crate::server::shutdown_signal(),
    )
    .await;
    stop.cancel();
    endpoint.await.context("the /metrics endpoint panicked")??;
    Ok(outcome?)
}
