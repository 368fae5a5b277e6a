//! `rkube dns`: cluster DNS on its own (the agent embeds the same thing),
//! and the `rkube server --cluster-dns-listen` component.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use clap::Args;
use rkube_dns::{DnsOptions, Upstream};

use crate::components::{client_from_kubeconfig, Components};

/// The cluster DNS Service's IP (DESIGN.md §2, k3s's default).
const DEFAULT_CLUSTER_DNS: &str = "10.43.0.10";

/// `rkube dns` flags.
#[derive(Debug, Args)]
pub struct DnsArgs {
    /// Kubeconfig of the cluster whose names to serve.
    #[arg(long)]
    pub kubeconfig: PathBuf,
    /// Publish this node's endpoint for the kube-dns Service under this
    /// node name (with --advertise-address), creating the Service first.
    #[arg(long, requires = "advertise_address")]
    pub node_name: Option<String>,
    /// The address other nodes reach this DNS server at.
    #[arg(long, requires = "node_name")]
    pub advertise_address: Option<IpAddr>,
    /// How DNS answers.
    #[command(flatten)]
    pub dns: DnsFlags,
}

/// Flags shared by `rkube dns` and the embedded component.
#[derive(Debug, Clone, Args)]
pub struct DnsFlags {
    /// Where to answer, UDP and TCP (repeatable).
    #[arg(long = "listen", default_value = "0.0.0.0:53")]
    pub listen: Vec<SocketAddr>,
    /// The cluster domain.
    #[arg(long, default_value = "cluster.local")]
    pub cluster_domain: String,
    /// Upstream resolvers for other names (repeatable); default: the
    /// nameservers of --resolv-conf.
    #[arg(long = "upstream")]
    pub upstream: Vec<SocketAddr>,
    /// Where the host's resolvers are listed.
    #[arg(long, default_value = "/etc/resolv.conf")]
    pub resolv_conf: PathBuf,
    /// TTL of cluster answers, in seconds.
    #[arg(long, default_value_t = 5)]
    pub dns_ttl: u32,
    /// The kube-dns Service's cluster IP.
    #[arg(long, default_value = DEFAULT_CLUSTER_DNS)]
    pub cluster_dns: IpAddr,
}

impl DnsFlags {
    fn options(&self) -> DnsOptions {
        let upstream = if self.upstream.is_empty() {
            Upstream::ResolvConf(self.resolv_conf.clone())
        } else {
            Upstream::Servers(self.upstream.clone())
        };
        let mut options = DnsOptions::new(self.listen.clone())
            .with_cluster_domain(&self.cluster_domain)
            .with_upstream(upstream);
        options.ttl = self.dns_ttl;
        options
    }
}

/// Runs `rkube dns` until SIGINT/SIGTERM.
pub async fn run(args: DnsArgs) -> anyhow::Result<()> {
    let client = client_from_kubeconfig(&args.kubeconfig).await?;
    if let (Some(node), Some(address)) = (&args.node_name, args.advertise_address) {
        publish(client.clone(), &args.dns, node, address).await?;
    }
    rkube_dns::run(client, args.dns.options(), crate::server::shutdown_signal()).await?;
    Ok(())
}

/// Runs cluster DNS inside `rkube server` on `listen`, publishing it as
/// this node's kube-dns endpoint when the address is a specific one.
pub fn spawn(components: &mut Components, client: kube::Client, node: &str, listen: SocketAddr) {
    let node = node.to_owned();
    components.spawn("dns", move |stop| async move {
        let flags = DnsFlags {
            listen: vec![listen],
            cluster_domain: "cluster.local".to_owned(),
            upstream: Vec::new(),
            resolv_conf: PathBuf::from("/etc/resolv.conf"),
            dns_ttl: 5,
            cluster_dns: DEFAULT_CLUSTER_DNS.parse()?,
        };
        if !listen.ip().is_unspecified() {
            publish(client.clone(), &flags, &node, listen.ip()).await?;
        }
        rkube_dns::run(client, flags.options(), stop).await?;
        Ok(())
    });
}

async fn publish(
    client: kube::Client,
    flags: &DnsFlags,
    node: &str,
    address: IpAddr,
) -> anyhow::Result<()> {
    rkube_dns::ensure_kube_dns_service(client.clone(), flags.cluster_dns).await?;
    let port = flags.listen.first().map_or(53, SocketAddr::port);
    rkube_dns::publish_endpoint(client, node, address, port).await?;
    Ok(())
}
