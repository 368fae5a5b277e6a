//! How the proxy is configured (kube-proxy's `KubeProxyConfiguration`, the
//! parts that apply to the nftables mode).

use std::net::Ipv4Addr;
use std::time::Duration;

use ipnet::Ipv4Net;

/// The default table name.
pub const DEFAULT_TABLE: &str = "rkube-proxy";

/// rkube's default pod network, 10.42.0.0/16 (k3s's).
pub const DEFAULT_CLUSTER_CIDR: Ipv4Net = Ipv4Net::new_assert(Ipv4Addr::new(10, 42, 0, 0), 16);

/// Whether NodePorts also answer on 127.0.0.1. Upstream's iptables mode does
/// (it sets `net.ipv4.conf.all.route_localnet`); its nftables mode does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalhostNodePorts {
    /// NodePorts answer on loopback too; route_localnet is turned on.
    Enabled,
    /// NodePorts answer only on non-loopback node addresses.
    Disabled,
}

/// Proxy settings.
#[derive(Debug, Clone)]
pub struct ProxyOptions {
    /// The nftables table (family ip) the proxy owns.
    pub table: String,
    /// The pod network; traffic to a ClusterIP from outside it is
    /// masqueraded (upstream `--cluster-cidr`). Without it nothing
    /// ClusterIP-bound is masqueraded except hairpin traffic.
    pub cluster_cidr: Option<Ipv4Net>,
    /// This node's name, to tell local endpoints apart for the `Local`
    /// traffic policies (upstream `--hostname-override`).
    pub node_name: Option<String>,
    /// Changes closer together than this are applied in one sync
    /// (upstream `--iptables-min-sync-period`, default 1s).
    pub min_sync_period: Duration,
    /// How often the table is checked and restored if someone removed it
    /// (upstream `--iptables-sync-period`, default 30s).
    pub sync_period: Duration,
    /// Whether NodePorts answer on 127.0.0.1.
    pub localhost_node_ports: LocalhostNodePorts,
}

impl Default for ProxyOptions {
    fn default() -> Self {
        ProxyOptions {
            table: DEFAULT_TABLE.to_string(),
            cluster_cidr: None,
            node_name: None,
            min_sync_period: Duration::from_millis(100),
            sync_period: Duration::from_secs(30),
            localhost_node_ports: LocalhostNodePorts::Enabled,
        }
    }
}

impl ProxyOptions {
    /// Uses table `name`.
    pub fn table(mut self, name: impl Into<String>) -> Self {
        self.table = name.into();
        self
    }

    /// Sets the pod network (host bits cleared: `10.42.7.9/16` is `10.42.0.0/16`).
    pub fn cluster_cidr(mut self, cidr: Ipv4Net) -> Self {
        self.cluster_cidr = Some(cidr.trunc());
        self
    }

    /// Sets this node's name.
    pub fn node_name(mut self, name: impl Into<String>) -> Self {
        self.node_name = Some(name.into());
        self
    }

    /// Sets the shortest time between two syncs.
    pub fn min_sync_period(mut self, period: Duration) -> Self {
        self.min_sync_period = period;
        self
    }
}
