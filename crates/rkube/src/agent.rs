//! `rkube agent`: the node agent — kubelet (with its own containerd),
//! service proxy and cluster DNS — joining the cluster its kubeconfig names,
//! or the one `--server` names with a bootstrap token `--token` (crate::join);
//! or, with `--simulate N`, N simulated nodes without containers (see
//! docs/simnode.md). Runs until Ctrl-C or SIGTERM.

use std::path::PathBuf;

use anyhow::{bail, Context};
use tracing::info;

use crate::cli::AgentArgs;
use crate::components::{client_from_kubeconfig, Components};
use crate::node::{self, NodeComponents};

/// Runs the agent until a shutdown signal.
pub async fn run(args: AgentArgs) -> anyhow::Result<()> {
    let kubeconfig = kubeconfig(&args).await?;
    let client = client_from_kubeconfig(&kubeconfig).await?;
    let Some(count) = args.simulate else {
        return run_node(client, &args, &kubeconfig).await;
    };
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

/// The credentials to run with: `--kubeconfig`; else those of an earlier
/// join; else a new join with `--token`; else the local admin kubeconfig
/// (an agent beside `rkube server` on one machine).
async fn kubeconfig(args: &AgentArgs) -> anyhow::Result<PathBuf> {
    if let Some(path) = &args.kubeconfig {
        return Ok(path.clone());
    }
    let joined = crate::join::kubelet_kubeconfig(&args.data_dir);
    if joined.exists() {
        return Ok(joined);
    }
    match (&args.server, &args.token) {
        (Some(server), Some(token)) => {
            let node = args.node_name.clone().unwrap_or_else(node::name);
            crate::join::join(server, token, &node, &args.data_dir).await
        }
        (None, Some(_)) => bail!("--token needs --server https://HOST:6443"),
        _ => Ok(args.data_dir.join("admin.kubeconfig")),
    }
}

/// This machine as a node: kubelet, proxy (as root) and DNS (as root).
async fn run_node(
    client: kube::Client,
    args: &AgentArgs,
    kubeconfig: &std::path::Path,
) -> anyhow::Result<()> {
    let root = node::is_root();
    let node_name = args.node_name.clone().unwrap_or_else(node::name);
    let mut components = Components::new();
    NodeComponents {
        kubelet: Some(crate::kubelet::agent_options(
            &args.data_dir,
            Some(node_name.clone()),
            kubeconfig,
        )),
        node_name: node_name.clone(),
        proxy: root,
        dns: root.then(node::default_dns_listen),
    }
    .spawn(&mut components, &client);
    info!(node = %node_name, "agent started");
    let outcome = components.run_until(crate::server::shutdown_signal()).await;
    components.stop().await;
    outcome
}
