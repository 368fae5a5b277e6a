//! The generated rulesets are valid for the real nft and kernel: checked
//! with `nft -c` (parse and validate, no state change).

use std::net::Ipv4Addr;

use rkube_proxy::nftables::{replace_transaction, NftCommand};
use rkube_proxy::ruleset::{render, RenderConfig};
use rkube_proxy::service_ports::{Endpoint, Protocol, ProxiedPort, TrafficPolicy};
use rkube_proxy::LocalhostNodePorts;

fn port(name: &str, protocol: Protocol, endpoints: usize) -> ProxiedPort {
    let eps: Vec<Endpoint> = (0..endpoints)
        .map(|i| Endpoint {
            ip: Ipv4Addr::new(10, 42, 1, i as u8 + 2),
            port: 8080,
        })
        .collect();
    ProxiedPort {
        namespace: "default".into(),
        name: name.into(),
        protocol,
        cluster_ip: Ipv4Addr::new(10, 43, 1, 10 + endpoints as u8),
        port: 80,
        node_port: None,
        external_ips: vec![],
        affinity_timeout: None,
        internal_policy: TrafficPolicy::Cluster,
        external_policy: TrafficPolicy::Cluster,
        local_endpoints: eps.iter().take(1).copied().collect(),
        cluster_endpoints: eps,
    }
}

#[tokio::test]
async fn rulesets_with_every_feature_pass_nft_check() {
    let mut all = port("all", Protocol::Tcp, 3);
    all.node_port = Some(30080);
    all.external_ips = vec![Ipv4Addr::new(192, 0, 2, 50)];
    all.affinity_timeout = Some(10800);
    let mut local = port("local", Protocol::Udp, 2);
    local.node_port = Some(30053);
    local.internal_policy = TrafficPolicy::Local;
    local.external_policy = TrafficPolicy::Local;
    let mut local_none = port("local-none", Protocol::Tcp, 1);
    local_none.local_endpoints.clear();
    local_none.node_port = Some(30081);
    local_none.internal_policy = TrafficPolicy::Local;
    local_none.external_policy = TrafficPolicy::Local;
    let mut empty = port("empty", Protocol::Tcp, 0);
    empty.node_port = Some(30082);
    let sctp = port("sctp", Protocol::Sctp, 1);
    let rulesets = [
        (
            "every feature",
            vec![all, local, local_none, empty, sctp],
            LocalhostNodePorts::Enabled,
        ),
        ("no services", vec![], LocalhostNodePorts::Disabled),
    ];
    for (what, ports, localhost) in rulesets {
        let config = RenderConfig {
            table: "rkube-proxy-syntax-check".into(),
            cluster_cidr: "10.42.0.0/16".parse().ok(),
            localhost_node_ports: localhost,
        };
        let ruleset = render(&ports, &config);
        let transaction = replace_transaction(&config.table, &ruleset.text);
        if let Err(e) = NftCommand::default().check(&transaction).await {
            panic!("{what}: {e}\n{}", ruleset.text);
        }
    }
}
