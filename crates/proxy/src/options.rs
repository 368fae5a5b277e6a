//! How the proxy is configured (kube-proxy's `KubeProxyConfiguration`, the
//! parts that apply to the nftables mode).

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;
use std::time::Duration;

/// The default table name.
pub const DEFAULT_TABLE: &str = "rkube-proxy";

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
    pub cluster_cidr: Option<Ipv4Cidr>,
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

    /// Sets the pod network.
    pub fn cluster_cidr(mut self, cidr: Ipv4Cidr) -> Self {
        self.cluster_cidr = Some(cidr);
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

/// An IPv4 network such as `10.42.0.0/16`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Cidr {
    /// The network address (host bits cleared).
    pub network: Ipv4Addr,
    /// The prefix length, 0–32.
    pub prefix: u8,
}

/// Why a CIDR did not parse.
#[derive(Debug, thiserror::Error)]
#[error("invalid IPv4 CIDR {0:?}: want a.b.c.d/n with n ≤ 32")]
pub struct InvalidCidr(String);

impl Ipv4Cidr {
    /// rkube's default pod network, 10.42.0.0/16 (k3s's).
    pub const CLUSTER_DEFAULT: Ipv4Cidr = Ipv4Cidr {
        network: Ipv4Addr::new(10, 42, 0, 0),
        prefix: 16,
    };
}

impl FromStr for Ipv4Cidr {
    type Err = InvalidCidr;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || InvalidCidr(s.to_string());
        let (addr, prefix) = s.split_once('/').ok_or_else(invalid)?;
        let addr: Ipv4Addr = addr.parse().map_err(|_| invalid())?;
        let prefix: u8 = prefix.parse().map_err(|_| invalid())?;
        if prefix > 32 {
            return Err(invalid());
        }
        let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
        Ok(Ipv4Cidr {
            network: Ipv4Addr::from(u32::from(addr) & mask),
            prefix,
        })
    }
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_parse_with_host_bits_cleared_and_bad_ones_are_refused() {
        let cases = [
            ("10.42.0.0/16", Some("10.42.0.0/16")),
            ("10.42.7.9/16", Some("10.42.0.0/16")),
            ("0.0.0.0/0", Some("0.0.0.0/0")),
            ("10.1.2.3/32", Some("10.1.2.3/32")),
            ("10.42.0.0/33", None),
            ("10.42.0.0", None),
            ("fd00::/8", None),
        ];
        for (input, want) in cases {
            let got = input.parse::<Ipv4Cidr>().ok().map(|c| c.to_string());
            assert_eq!(got.as_deref(), want, "{input}");
        }
    }
}
