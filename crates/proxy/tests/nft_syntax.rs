//! The generated rulesets are valid for the real nft and kernel: checked
//! with `nft -c` (parse and validate, no state change), and incremental
//! transactions leave the kernel with the same table as a full replace.

#![allow(clippy::unwrap_used, clippy::panic)] // a failed unwrap is a failed test

use std::net::Ipv4Addr;

use std::collections::BTreeMap;
use std::process::Command;

use rkube_proxy::incremental::transaction;
use rkube_proxy::nftables::{replace_transaction, NftCommand, Nftables};
use rkube_proxy::ruleset::{render, RenderConfig, Ruleset};
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

/// Ports using every feature the ruleset has.
fn every_feature() -> Vec<ProxiedPort> {
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
    vec![all, local, local_none, empty, sctp]
}

#[tokio::test]
async fn rulesets_with_every_feature_pass_nft_check() {
    let rulesets = [
        (
            "every feature",
            every_feature(),
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

/// A table of this test process, deleted when dropped (even on failure).
struct Table(String);

impl Drop for Table {
    fn drop(&mut self) {
        let _ = Command::new("nft")
            .args(["delete", "table", "ip", &self.0])
            .output();
    }
}

fn config(table: &str) -> RenderConfig {
    RenderConfig {
        table: table.into(),
        cluster_cidr: "10.42.0.0/16".parse().ok(),
        localhost_node_ports: LocalhostNodePorts::Enabled,
    }
}

/// The table as the kernel holds it (`nft -j list table`), without what
/// differs between equal tables: handles, the table's name, the order of
/// objects and of map elements. Rules stay in order, per chain.
fn kernel_view(table: &str) -> BTreeMap<String, serde_json::Value> {
    let out = Command::new("nft")
        .args(["-j", "list", "table", "ip", table])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listing: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut view = BTreeMap::new();
    let mut rules: BTreeMap<String, Vec<serde_json::Value>> = BTreeMap::new();
    for entry in listing["nftables"].as_array().unwrap() {
        let Some((kind, body)) = entry.as_object().and_then(|o| o.iter().next()) else {
            continue;
        };
        let mut body = body.clone();
        let Some(fields) = body.as_object_mut() else {
            continue;
        };
        fields.remove("handle");
        fields.remove("table");
        if let Some(serde_json::Value::Array(elements)) = fields.get_mut("elem") {
            elements.sort_by_key(|e| e.to_string());
        }
        match kind.as_str() {
            "rule" => rules
                .entry(body["chain"].as_str().unwrap().to_owned())
                .or_default()
                .push(body["expr"].clone()),
            "metainfo" | "table" => {}
            _ => {
                view.insert(format!("{kind} {}", body["name"]), body);
            }
        }
    }
    for (chain, list) in rules {
        view.insert(format!("rules of {chain}"), serde_json::Value::Array(list));
    }
    view
}

#[tokio::test]
async fn incremental_transactions_leave_the_same_table_as_a_full_replace() {
    let mut growing = port("growing", Protocol::Tcp, 1);
    growing.cluster_ip = Ipv4Addr::new(10, 43, 2, 1);
    let mut grown = port("growing", Protocol::Tcp, 3);
    grown.cluster_ip = growing.cluster_ip;
    grown.node_port = Some(30090);
    grown.affinity_timeout = Some(60);
    let mut with_growing = every_feature();
    with_growing.push(grown.clone());
    let steps = [
        ("one service", vec![growing.clone()]),
        (
            "every feature, more endpoints, affinity, a NodePort",
            with_growing,
        ),
        (
            "services and endpoints gone",
            vec![growing, every_feature().remove(4)],
        ),
        ("no services", vec![]),
        ("everything at once", every_feature()),
    ];
    let pid = std::process::id();
    let incremental = Table(format!("rkube-incremental-{pid}"));
    let full = Table(format!("rkube-full-{pid}"));
    let nft = NftCommand::default();
    let mut applied: Option<Ruleset> = None;
    for (what, ports) in steps {
        let wanted = render(&ports, &config(&incremental.0));
        match &applied {
            None => nft
                .replace_table(&incremental.0, &wanted.text)
                .await
                .unwrap(),
            Some(before) => {
                let tx = transaction(&incremental.0, before, &wanted)
                    .unwrap_or_else(|| panic!("{what}: no incremental transaction"));
                if let Err(e) = nft.apply(&tx).await {
                    panic!("{what}: {e}\n{tx}");
                }
            }
        }
        applied = Some(wanted);
        let reference = render(&ports, &config(&full.0));
        nft.replace_table(&full.0, &reference.text).await.unwrap();
        let (got, want) = (kernel_view(&incremental.0), kernel_view(&full.0));
        let differing: Vec<&String> = got
            .keys()
            .chain(want.keys())
            .filter(|k| got.get(*k) != want.get(*k))
            .collect();
        assert!(differing.is_empty(), "{what}: these differ: {differing:?}");
    }
}
