//! `rkube controller-manager`: the controller manager alone (upstream
//! kube-controller-manager), for HA control planes and debugging; `rkube server` embeds the
//! same thing.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use rkube_controllers::framework::Selection;
use rkube_controllers::{registry, Options};

use crate::components::client_from_kubeconfig;

/// `rkube controller-manager` flags (upstream's names).
#[derive(Debug, Args)]
pub struct ControllerManagerArgs {
    /// The kubeconfig to reach the apiserver with.
    #[arg(long)]
    pub kubeconfig: PathBuf,
    /// Which controllers run: `*` (the default set), `foo` (also foo), `-foo` (not foo).
    #[arg(long, default_value = "*")]
    pub controllers: String,
    /// Run controllers only while holding the kube-system/kube-controller-manager Lease, so
    /// several managers can run and one leads.
    #[arg(long)]
    pub leader_elect: bool,
    /// Keys each controller syncs concurrently.
    #[arg(long, default_value_t = 5)]
    pub concurrent_syncs: u16,
}

/// Runs the controller manager until Ctrl-C or SIGTERM.
pub async fn run(args: ControllerManagerArgs) -> anyhow::Result<()> {
    let client = client_from_kubeconfig(&args.kubeconfig).await?;
    let selection =
        Selection::parse(&args.controllers, registry::names()).context("--controllers")?;
    let mut options = Options::new(identity())
        .controllers(selection)
        .workers(args.concurrent_syncs);
    if args.leader_elect {
        options = options.leader_elect();
    }
    rkube_controllers::run(client, options, crate::server::shutdown_signal())
        .await
        .context("controller manager")
}

/// The controller manager embedded in `rkube server`: every default controller, no
/// leader election (one server, one manager).
pub async fn embedded(
    client: kube::Client,
    settings: rkube_controllers::Settings,
    stop: impl std::future::Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    rkube_controllers::run(client, Options::new(identity()).settings(settings), stop)
        .await
        .context("controller manager")
}

fn identity() -> String {
    format!("{}_{}", crate::node::name(), std::process::id())
}
