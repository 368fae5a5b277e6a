//! `rkube agent`: the node agent. For now only its simulated mode,
//! `rkube agent --simulate N`, which registers N simulated nodes (no
//! containers; see docs/simnode.md) and runs them until Ctrl-C or SIGTERM.

use anyhow::{bail, Context};
use tracing::info;

use crate::cli::AgentArgs;
use crate::components::client_from_kubeconfig;

/// Runs the agent until a shutdown signal.
pub async fn run(args: AgentArgs) -> anyhow::Result<()> {
    let Some(count) = args.simulate else {
        bail!("the containerd agent is not built yet; use --simulate N for simulated nodes");
    };
    let kubeconfig = args
        .kubeconfig
        .clone()
        .unwrap_or_else(|| args.data_dir.join("admin.kubeconfig"));
    let client = client_from_kubeconfig(&kubeconfig).await?;
    let options = rkube_simnode::SimOptions::new(count)
        .with_name_prefix(args.node_name_prefix)
        .with_capacity(rkube_simnode::NodeResources {
            cpu: args.node_cpu,
            memory: args.node_memory,
            pods: args.node_pods,
            ..rkube_simnode::NodeResources::default()
        })
        .with_zones(args.zones);
    info!(nodes = count, kubeconfig = %kubeconfig.display(), "starting simulated nodes");
    rkube_simnode::run(client, options, crate::server::shutdown_signal())
        .await
        .context("running simulated nodes")
}
