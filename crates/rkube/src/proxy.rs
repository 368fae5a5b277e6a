//! `rkube proxy`: the service proxy alone, against any cluster a kubeconfig
//! points at (also an upstream one).

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use ipnet::Ipv4Net;
use rkube_proxy::options::DEFAULT_TABLE;
use rkube_proxy::ProxyOptions;

use crate::components::client_from_kubeconfig;

/// `rkube proxy` flags (named as kube-proxy's).
#[derive(Debug, Args)]
pub struct ProxyArgs {
    /// The kubeconfig to reach the apiserver with.
    #[arg(long)]
    pub kubeconfig: PathBuf,
    /// The nftables table (family ip) the proxy owns.
    #[arg(long, default_value = DEFAULT_TABLE)]
    pub table: String,
    /// The pod network; ClusterIP traffic from outside it is masqueraded.
    #[arg(long, default_value = "10.42.0.0/16")]
    pub cluster_cidr: Ipv4Net,
    /// This node's name, for the Local traffic policies (default: the
    /// host name).
    #[arg(long)]
    pub node_name: Option<String>,
}

impl ProxyArgs {
    /// The library options these flags ask for.
    pub fn options(&self) -> ProxyOptions {
        let options = ProxyOptions::default()
            .table(self.table.clone())
            .cluster_cidr(self.cluster_cidr);
        options.node_name(self.node_name.clone().unwrap_or_else(crate::node::name))
    }
}

/// Runs the proxy until Ctrl-C or SIGTERM, then removes its table.
pub async fn run(args: ProxyArgs) -> anyhow::Result<()> {
    let client = client_from_kubeconfig(&args.kubeconfig).await?;
    rkube_proxy::run(client, args.options(), crate::server::shutdown_signal())
        .await
        .context("running the service proxy")
}
