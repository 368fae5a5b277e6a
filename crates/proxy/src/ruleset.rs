//! The nftables ruleset of the proxy: a pure function from the proxied
//! ports to the text of one `ip` table, shaped like upstream kube-proxy's
//! nftables mode (`pkg/proxy/nftables/proxier.go`):
//!
//! - `services` (jumped to from the nat prerouting and output hooks) looks
//!   `daddr . l4proto . dport` up in the `service-ips` verdict map and, for
//!   local destinations, `l4proto . dport` in `service-nodeports`;
//! - per Service port a `svc-` chain (ClusterIP traffic) and an `ext-` chain
//!   (NodePort and external IP traffic) pick the endpoint set allowed by the
//!   traffic policies, a `cluster-` or `local-` chain spreads connections
//!   with `numgen random` (after ClientIP affinity sets had their say), and
//!   an `ep-` chain per endpoint DNATs;
//! - traffic is marked for masquerade when it comes from off the cluster
//!   network, from outside the node, or is a pod reaching itself (hairpin);
//!   `nat-postrouting` masquerades marked packets;
//! - filter chains before the nat ones reject new connections to Service
//!   ports that have no endpoints (TCP reset, ICMP port unreachable), so
//!   clients fail fast instead of hanging.
//!
//! nft 1.0.6 wants every statement on its own line, and every set, map and
//! chain defined before it is referenced, so the text lists them in that
//! order.

use std::fmt::Write as _;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use crate::options::LocalhostNodePorts;
use crate::service_ports::{Endpoint, ProxiedPort, TrafficPolicy};

/// The packet mark meaning "masquerade me" (upstream's 0x4000 bit).
pub const MASQUERADE_MARK: u32 = 0x4000;

/// What the rendering needs besides the ports.
#[derive(Debug, Clone)]
pub struct RenderConfig {
    /// The table name.
    pub table: String,
    /// The pod network, for masquerading off-cluster ClusterIP traffic.
    pub cluster_cidr: Option<Ipv4Net>,
    /// Whether NodePorts answer on 127.0.0.1.
    pub localhost_node_ports: LocalhostNodePorts,
}

/// A rendered table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ruleset {
    /// The `table ip NAME { … }` text.
    pub text: String,
    /// How many rules and map elements it holds (the metric).
    pub rules: usize,
    /// The table's sets, maps and chains in definition order: what an
    /// incremental sync compares (crate::incremental).
    pub objects: Vec<Object>,
}

/// What kind of thing an [`Object`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ObjectKind {
    /// A set (ClientIP affinity).
    Set,
    /// A verdict map.
    Map,
    /// A chain.
    Chain,
}

impl ObjectKind {
    /// The nft keyword.
    pub fn keyword(self) -> &'static str {
        match self {
            ObjectKind::Set => "set",
            ObjectKind::Map => "map",
            ObjectKind::Chain => "chain",
        }
    }
}

/// One set, map or chain of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    /// Set, map or chain.
    pub kind: ObjectKind,
    /// Its name.
    pub name: String,
    /// The declaration lines before the content: a base chain's hook, a
    /// map's or set's type and flags.
    pub declaration: Vec<String>,
    /// A chain's rules or a map's elements (`key : verdict`).
    pub items: Vec<String>,
}

/// What a lookup that has no proxying to do does with new connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    /// No endpoints at all: tell the client at once.
    Reject,
    /// Endpoints exist, but none this policy may use here (upstream drops).
    Drop,
}

impl Refusal {
    fn verdict(self) -> &'static str {
        match self {
            Refusal::Reject => "goto reject-chain",
            Refusal::Drop => "drop",
        }
    }
}

/// Where a Service entry point sends its traffic.
enum Target {
    /// To this chain.
    Chain(String),
    /// Nowhere: the filter chains refuse it.
    Refused(Refusal),
}

/// Collects the table's objects in definition order (nft 1.0.6 wants every
/// set, map and chain defined before it is referenced).
#[derive(Default)]
struct Writer {
    objects: Vec<Object>,
}

impl Writer {
    fn chain(&mut self, name: &str, hook: Option<&str>, rules: &[String]) {
        self.objects.push(Object {
            kind: ObjectKind::Chain,
            name: name.to_string(),
            declaration: hook
                .map(|h| format!("{h}; policy accept;"))
                .into_iter()
                .collect(),
            items: rules.to_vec(),
        });
    }

    fn map(&mut self, name: &str, key_type: &str, elements: &[String]) {
        self.objects.push(Object {
            kind: ObjectKind::Map,
            name: name.to_string(),
            declaration: vec![format!("type {key_type} : verdict")],
            items: elements.to_vec(),
        });
    }

    fn set(&mut self, name: &str, declaration: &[&str]) {
        self.objects.push(Object {
            kind: ObjectKind::Set,
            name: name.to_string(),
            declaration: declaration.iter().map(|d| d.to_string()).collect(),
            items: Vec::new(),
        });
    }

    fn finish(self, table: &str) -> Ruleset {
        let mut text = format!("table ip {table} {{\n");
        let mut rules = 0;
        for object in &self.objects {
            let _ = writeln!(text, "\t{} {} {{", object.kind.keyword(), object.name);
            for line in &object.declaration {
                let _ = writeln!(text, "\t\t{line}");
            }
            match object.kind {
                ObjectKind::Chain => {
                    for rule in &object.items {
                        let _ = writeln!(text, "\t\t{rule}");
                    }
                }
                ObjectKind::Map | ObjectKind::Set if !object.items.is_empty() => {
                    text.push_str("\t\telements = {\n");
                    let last = object.items.len() - 1;
                    for (i, element) in object.items.iter().enumerate() {
                        let comma = if i == last { "" } else { "," };
                        let _ = writeln!(text, "\t\t\t{element}{comma}");
                    }
                    text.push_str("\t\t}\n");
                }
                ObjectKind::Map | ObjectKind::Set => {}
            }
            text.push_str("\t}\n");
            rules += object.items.len();
        }
        text.push_str("}\n");
        Ruleset {
            text,
            rules,
            objects: self.objects,
        }
    }
}

/// The chain-name stem of a Service port: `namespace/name/protocol/port`,
/// unique and readable in `nft list` (names and namespaces are DNS labels).
fn port_id(port: &ProxiedPort) -> String {
    format!(
        "{}/{}/{}/{}",
        port.namespace,
        port.name,
        port.protocol.nft_name(),
        port.port
    )
}

fn endpoint_id(port: &ProxiedPort, endpoint: &Endpoint) -> String {
    format!("{}/{}/{}", port_id(port), endpoint.ip, endpoint.port)
}

/// Renders the table for `ports`.
pub fn render(ports: &[ProxiedPort], config: &RenderConfig) -> Ruleset {
    let mut w = Writer::default();
    w.chain(
        "mark-for-masquerade",
        None,
        &[format!("meta mark set meta mark | {MASQUERADE_MARK:#x}")],
    );
    w.chain(
        "masquerading",
        None,
        &[
            format!("meta mark & {MASQUERADE_MARK:#x} == 0 return"),
            // Clear the bit so that a packet re-entering the stack (for
            // example over a bridge) is not masqueraded twice.
            format!("meta mark set meta mark ^ {MASQUERADE_MARK:#x}"),
            "masquerade fully-random".to_string(),
        ],
    );
    w.chain(
        "reject-chain",
        None,
        &[
            "meta l4proto tcp reject with tcp reset".to_string(),
            "reject".to_string(),
        ],
    );

    let mut service_ips = Vec::new();
    let mut node_ports = Vec::new();
    let mut refused_ips = Vec::new();
    let mut refused_node_ports = Vec::new();
    for port in ports {
        let proto = port.protocol.nft_name();
        let internal = render_service_port(&mut w, port, config);
        let service_key = |ip: Ipv4Addr| format!("{ip} . {proto} . {}", port.port);
        match &internal.cluster_ip {
            Target::Chain(chain) => {
                service_ips.push(format!("{} : goto {chain}", service_key(port.cluster_ip)))
            }
            Target::Refused(r) => refused_ips.push(format!(
                "{} : {}",
                service_key(port.cluster_ip),
                r.verdict()
            )),
        }
        if let Some(external) = &internal.external {
            for ip in &port.external_ips {
                match external {
                    Target::Chain(chain) => {
                        service_ips.push(format!("{} : goto {chain}", service_key(*ip)))
                    }
                    Target::Refused(r) => {
                        refused_ips.push(format!("{} : {}", service_key(*ip), r.verdict()))
                    }
                }
            }
            if let Some(node_port) = port.node_port {
                let key = format!("{proto} . {node_port}");
                match external {
                    Target::Chain(chain) => node_ports.push(format!("{key} : goto {chain}")),
                    Target::Refused(r) => {
                        refused_node_ports.push(format!("{key} : {}", r.verdict()))
                    }
                }
            }
        }
    }
    w.map(
        "service-ips",
        "ipv4_addr . inet_proto . inet_service",
        &service_ips,
    );
    w.map(
        "service-nodeports",
        "inet_proto . inet_service",
        &node_ports,
    );
    w.map(
        "no-endpoint-services",
        "ipv4_addr . inet_proto . inet_service",
        &refused_ips,
    );
    w.map(
        "no-endpoint-nodeports",
        "inet_proto . inet_service",
        &refused_node_ports,
    );

    // NodePorts answer on every local address (upstream's default
    // `--nodeport-addresses`), loopback only when route_localnet is on.
    let local_destination = match config.localhost_node_ports {
        LocalhostNodePorts::Enabled => "fib daddr type local",
        LocalhostNodePorts::Disabled => "fib daddr type local ip daddr != 127.0.0.0/8",
    };
    w.chain(
        "services",
        None,
        &[
            "ip daddr . meta l4proto . th dport vmap @service-ips".to_string(),
            format!("{local_destination} meta l4proto . th dport vmap @service-nodeports"),
        ],
    );
    w.chain(
        "service-endpoints-check",
        None,
        &["ip daddr . meta l4proto . th dport vmap @no-endpoint-services".to_string()],
    );
    w.chain(
        "nodeport-endpoints-check",
        None,
        &[format!(
            "{local_destination} meta l4proto . th dport vmap @no-endpoint-nodeports"
        )],
    );
    // Filter hooks run before DNAT (priority -110 < dstnat -100), while the
    // destination is still the Service's.
    let check_services = "ct state new jump service-endpoints-check".to_string();
    w.chain(
        "filter-input",
        Some("type filter hook input priority -110"),
        &[
            "ct state new jump nodeport-endpoints-check".to_string(),
            check_services.clone(),
        ],
    );
    w.chain(
        "filter-forward",
        Some("type filter hook forward priority -110"),
        std::slice::from_ref(&check_services),
    );
    w.chain(
        "filter-output",
        Some("type filter hook output priority -110"),
        std::slice::from_ref(&check_services),
    );
    let jump_services = ["jump services".to_string()];
    w.chain(
        "nat-prerouting",
        Some("type nat hook prerouting priority dstnat"),
        &jump_services,
    );
    // nft 1.0.6 refuses the `dstnat` keyword on output; -100 is its value.
    w.chain(
        "nat-output",
        Some("type nat hook output priority -100"),
        &jump_services,
    );
    w.chain(
        "nat-postrouting",
        Some("type nat hook postrouting priority srcnat"),
        &["jump masquerading".to_string()],
    );
    w.finish(&config.table)
}

/// Where a Service port's entry points go.
struct EntryPoints {
    cluster_ip: Target,
    /// For NodePorts and external IPs, when the port has any.
    external: Option<Target>,
}

/// Writes the affinity sets and chains of one Service port and says where
/// its ClusterIP and external entries lead.
fn render_service_port(w: &mut Writer, port: &ProxiedPort, config: &RenderConfig) -> EntryPoints {
    let id = port_id(port);
    let uses_local = port.internal_policy == TrafficPolicy::Local
        || (port.is_external() && port.external_policy == TrafficPolicy::Local);
    let local_endpoints: &[Endpoint] = if uses_local {
        &port.local_endpoints
    } else {
        &[]
    };
    let mut endpoints: Vec<Endpoint> = port.cluster_endpoints.clone();
    endpoints.extend(local_endpoints.iter().copied());
    endpoints.sort();
    endpoints.dedup();
    for endpoint in &endpoints {
        render_endpoint(w, port, endpoint);
    }
    let cluster = dispatch_chain(w, port, "cluster", &port.cluster_endpoints);
    let local = dispatch_chain(w, port, "local", local_endpoints);

    let refusal = if port.cluster_endpoints.is_empty() {
        Refusal::Reject
    } else {
        Refusal::Drop
    };
    let masquerade_off_cluster = config
        .cluster_cidr
        .map(|cidr| format!("ip saddr != {cidr} jump mark-for-masquerade"));
    let internal_dispatch = match port.internal_policy {
        TrafficPolicy::Cluster => cluster.as_ref(),
        TrafficPolicy::Local => local.as_ref(),
    };
    let cluster_ip = match internal_dispatch {
        Some(dispatch) => {
            let chain = format!("svc-{id}");
            let mut rules: Vec<String> = masquerade_off_cluster.into_iter().collect();
            rules.push(format!("goto {dispatch}"));
            w.chain(&chain, None, &rules);
            Target::Chain(chain)
        }
        None => Target::Refused(refusal),
    };

    let external = port.is_external().then(|| {
        let chain = format!("ext-{id}");
        let rules: Vec<String> = match (port.external_policy, &cluster, &local) {
            (_, None, _) => return Target::Refused(Refusal::Reject),
            // Off-node clients may not see the node's address as source
            // any more after DNAT to another node: masquerade them all.
            (TrafficPolicy::Cluster, Some(cluster), _) => vec![
                "jump mark-for-masquerade".to_string(),
                format!("goto {cluster}"),
            ],
            // Local keeps the client's address, which is its point. Traffic
            // from the node itself may still use any endpoint (upstream
            // short-circuits it the same way).
            (TrafficPolicy::Local, Some(cluster), local) => {
                let mut rules = vec![
                    "fib saddr type local jump mark-for-masquerade".to_string(),
                    format!("fib saddr type local goto {cluster}"),
                ];
                rules.push(match local {
                    Some(local) => format!("goto {local}"),
                    None => "drop".to_string(),
                });
                rules
            }
        };
        w.chain(&chain, None, &rules);
        Target::Chain(chain)
    });
    EntryPoints {
        cluster_ip,
        external,
    }
}

/// The chain that DNATs to one endpoint.
fn render_endpoint(w: &mut Writer, port: &ProxiedPort, endpoint: &Endpoint) {
    let id = endpoint_id(port, endpoint);
    if let Some(timeout) = port.affinity_timeout {
        w.set(
            &format!("affinity-{id}"),
            &[
                "type ipv4_addr",
                "flags dynamic,timeout",
                &format!("timeout {timeout}s"),
            ],
        );
    }
    // A pod reaching itself through its Service must be masqueraded, or
    // its reply would skip the DNAT's reverse translation (hairpin).
    let mut rules = vec![format!("ip saddr {} jump mark-for-masquerade", endpoint.ip)];
    if port.affinity_timeout.is_some() {
        rules.push(format!("update @affinity-{id} {{ ip saddr }}"));
    }
    rules.push(format!(
        "meta l4proto {} dnat to {}:{}",
        port.protocol.nft_name(),
        endpoint.ip,
        endpoint.port
    ));
    w.chain(&format!("ep-{id}"), None, &rules);
}

/// The chain that spreads connections over `endpoints`, if there are any.
fn dispatch_chain(
    w: &mut Writer,
    port: &ProxiedPort,
    kind: &str,
    endpoints: &[Endpoint],
) -> Option<String> {
    if endpoints.is_empty() {
        return None;
    }
    let chain = format!("{kind}-{}", port_id(port));
    let mut rules = Vec::new();
    if port.affinity_timeout.is_some() {
        for endpoint in endpoints {
            let id = endpoint_id(port, endpoint);
            rules.push(format!("ip saddr @affinity-{id} goto ep-{id}"));
        }
    }
    match endpoints {
        [only] => rules.push(format!("goto ep-{}", endpoint_id(port, only))),
        _ => {
            let targets: Vec<String> = endpoints
                .iter()
                .enumerate()
                .map(|(i, e)| format!("{i} : goto ep-{}", endpoint_id(port, e)))
                .collect();
            rules.push(format!(
                "numgen random mod {} vmap {{ {} }}",
                endpoints.len(),
                targets.join(", ")
            ));
        }
    }
    w.chain(&chain, None, &rules);
    Some(chain)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service_ports::Protocol;

    fn ep(last: u8) -> Endpoint {
        Endpoint {
            ip: Ipv4Addr::new(10, 42, 0, last),
            port: 8080,
        }
    }

    /// `default/web` TCP 80 on 10.43.0.20 with two ready endpoints.
    fn web() -> ProxiedPort {
        ProxiedPort {
            namespace: "default".into(),
            name: "web".into(),
            protocol: Protocol::Tcp,
            cluster_ip: Ipv4Addr::new(10, 43, 0, 20),
            port: 80,
            node_port: None,
            external_ips: vec![],
            affinity_timeout: None,
            internal_policy: TrafficPolicy::Cluster,
            external_policy: TrafficPolicy::Cluster,
            cluster_endpoints: vec![ep(1), ep(2)],
            local_endpoints: vec![ep(2)],
        }
    }

    fn config() -> RenderConfig {
        RenderConfig {
            table: "rkube-proxy".into(),
            cluster_cidr: "10.42.0.0/16".parse().ok(),
            localhost_node_ports: LocalhostNodePorts::Enabled,
        }
    }

    fn lines(ruleset: &Ruleset) -> Vec<&str> {
        ruleset.text.lines().map(str::trim).collect()
    }

    #[test]
    fn each_feature_renders_its_rules() {
        type Change = fn(&mut ProxiedPort);
        let cases: Vec<(&str, Change, Vec<&str>, Vec<&str>)> = vec![
            (
                "a ClusterIP dispatches at random over its endpoints",
                |_| {},
                vec![
                    "10.43.0.20 . tcp . 80 : goto svc-default/web/tcp/80",
                    "ip saddr != 10.42.0.0/16 jump mark-for-masquerade",
                    "goto cluster-default/web/tcp/80",
                    "numgen random mod 2 vmap { 0 : goto ep-default/web/tcp/80/10.42.0.1/8080, 1 : goto ep-default/web/tcp/80/10.42.0.2/8080 }",
                    "meta l4proto tcp dnat to 10.42.0.1:8080",
                    "ip saddr 10.42.0.1 jump mark-for-masquerade",
                ],
                vec!["chain local-default/web/tcp/80 {", "chain ext-default/web/tcp/80 {"],
            ),
            (
                "UDP ports are UDP everywhere",
                |p| p.protocol = Protocol::Udp,
                vec![
                    "10.43.0.20 . udp . 80 : goto svc-default/web/udp/80",
                    "meta l4proto udp dnat to 10.42.0.2:8080",
                ],
                vec!["meta l4proto tcp dnat to 10.42.0.2:8080"],
            ),
            (
                "SCTP ports are SCTP",
                |p| p.protocol = Protocol::Sctp,
                vec!["10.43.0.20 . sctp . 80 : goto svc-default/web/sctp/80"],
                vec![],
            ),
            (
                "one endpoint needs no numgen",
                |p| p.cluster_endpoints = vec![ep(1)],
                vec!["goto ep-default/web/tcp/80/10.42.0.1/8080"],
                vec!["numgen random mod 1 vmap { 0 : goto ep-default/web/tcp/80/10.42.0.1/8080 }"],
            ),
            (
                "no endpoints reject instead of hanging",
                |p| {
                    p.cluster_endpoints.clear();
                    p.local_endpoints.clear();
                    p.node_port = Some(30080);
                },
                vec![
                    "10.43.0.20 . tcp . 80 : goto reject-chain",
                    "tcp . 30080 : goto reject-chain",
                    "meta l4proto tcp reject with tcp reset",
                ],
                vec!["chain svc-default/web/tcp/80 {", "chain ext-default/web/tcp/80 {"],
            ),
            (
                "a NodePort masquerades and goes to the cluster endpoints",
                |p| p.node_port = Some(30080),
                vec![
                    "tcp . 30080 : goto ext-default/web/tcp/80",
                    "jump mark-for-masquerade",
                    "fib daddr type local meta l4proto . th dport vmap @service-nodeports",
                ],
                vec![],
            ),
            (
                "external IPs enter like NodePorts",
                |p| p.external_ips = vec![Ipv4Addr::new(192, 0, 2, 50)],
                vec!["192.0.2.50 . tcp . 80 : goto ext-default/web/tcp/80"],
                vec![],
            ),
            (
                "ClientIP affinity remembers clients per endpoint with a timeout",
                |p| p.affinity_timeout = Some(60),
                vec![
                    "set affinity-default/web/tcp/80/10.42.0.1/8080 {",
                    "flags dynamic,timeout",
                    "timeout 60s",
                    "ip saddr @affinity-default/web/tcp/80/10.42.0.1/8080 goto ep-default/web/tcp/80/10.42.0.1/8080",
                    "update @affinity-default/web/tcp/80/10.42.0.1/8080 { ip saddr }",
                ],
                vec![],
            ),
            (
                "internal Local uses only local endpoints",
                |p| p.internal_policy = TrafficPolicy::Local,
                vec!["goto local-default/web/tcp/80"],
                vec!["goto cluster-default/web/tcp/80"],
            ),
            (
                "internal Local without local endpoints drops",
                |p| {
                    p.internal_policy = TrafficPolicy::Local;
                    p.local_endpoints.clear();
                },
                vec!["10.43.0.20 . tcp . 80 : drop"],
                vec!["chain svc-default/web/tcp/80 {"],
            ),
            (
                "external Local keeps the client address but lets the node use any endpoint",
                |p| {
                    p.node_port = Some(30080);
                    p.external_policy = TrafficPolicy::Local;
                },
                vec![
                    "fib saddr type local jump mark-for-masquerade",
                    "fib saddr type local goto cluster-default/web/tcp/80",
                    "goto local-default/web/tcp/80",
                ],
                vec![],
            ),
            (
                "external Local without local endpoints drops off-node traffic",
                |p| {
                    p.node_port = Some(30080);
                    p.external_policy = TrafficPolicy::Local;
                    p.local_endpoints.clear();
                },
                vec!["fib saddr type local goto cluster-default/web/tcp/80", "drop"],
                vec!["chain local-default/web/tcp/80 {"],
            ),
        ];
        for (what, change, present, absent) in cases {
            let mut port = web();
            change(&mut port);
            let ruleset = render(&[port], &config());
            let got = lines(&ruleset);
            for line in present {
                assert!(
                    got.contains(&line),
                    "{what}: missing {line:?} in\n{}",
                    ruleset.text
                );
            }
            for line in absent {
                assert!(
                    !got.contains(&line),
                    "{what}: unexpected {line:?} in\n{}",
                    ruleset.text
                );
            }
        }
    }

    #[test]
    fn options_change_masquerading_and_loopback_node_ports() {
        let mut without_cidr = config();
        without_cidr.cluster_cidr = None;
        let text = render(&[web()], &without_cidr).text;
        assert!(
            !text.contains("ip saddr != "),
            "no cluster CIDR, no off-cluster masquerade"
        );

        let mut no_loopback = config();
        no_loopback.localhost_node_ports = LocalhostNodePorts::Disabled;
        let text = render(&[web()], &no_loopback).text;
        assert!(text.contains(
            "fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @service-nodeports"
        ));
    }

    #[test]
    fn rendering_is_deterministic_and_counts_rules_and_elements() {
        let empty = render(&[], &config());
        let one = render(&[web()], &config());
        assert_eq!(one, render(&[web()], &config()));
        // svc (2 rules) + cluster (1) + two endpoint chains (2 each) + one
        // map element.
        assert_eq!(one.rules - empty.rules, 2 + 1 + 4 + 1);
        assert!(one.text.starts_with("table ip rkube-proxy {\n"));
    }
}
