//! Proxy benchmark (root, real nft): for 1k and 10k Services,
//! 1. ruleset generation time and `nft -f` apply time of the whole table;
//! 2. service programming latency: from creating a Service and its
//!    EndpointSlice through the API until the proxy has applied a table that
//!    holds it (p50/p99 over 20 changes).
//!
//! Sizes: `RKUBE_PROXY_BENCH_SIZES=1000,10000` (the default) for part 1,
//! `RKUBE_PROXY_BENCH_LATENCY_SIZES` (the same default) for part 2. Under
//! `cargo test` (no `--bench`) both default to 50, a smoke run.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::PostParams;
use kube::{Api, Client};
use rkube_proxy::nftables::{NftCommand, Nftables};
use rkube_proxy::ruleset::{render, RenderConfig};
use rkube_proxy::service_ports::{Endpoint, Protocol, ProxiedPort, TrafficPolicy};
use rkube_proxy::{LocalhostNodePorts, Metrics, ProxyOptions};
use rkube_testkit::{Latencies, TestApiserver};
use serde_json::json;

const SAMPLES: usize = 20;

/// The i-th Service's cluster IP: 10.43.(1 + i/250).(1 + i%250).
fn service_ip(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 43, (1 + i / 250) as u8, (1 + i % 250) as u8)
}

fn endpoint_ip(i: usize, j: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 42, (i / 128) as u8, ((i % 128) * 2 + j) as u8)
}

fn ports(n: usize) -> Vec<ProxiedPort> {
    (0..n)
        .map(|i| {
            let endpoints: Vec<Endpoint> = (0..2)
                .map(|j| Endpoint {
                    ip: endpoint_ip(i, j),
                    port: 8080,
                })
                .collect();
            ProxiedPort {
                namespace: "default".into(),
                name: format!("svc-{i}"),
                protocol: Protocol::Tcp,
                cluster_ip: service_ip(i),
                port: 80,
                node_port: None,
                external_ips: vec![],
                affinity_timeout: None,
                internal_policy: TrafficPolicy::Cluster,
                external_policy: TrafficPolicy::Cluster,
                local_endpoints: vec![],
                cluster_endpoints: endpoints,
            }
        })
        .collect()
}

async fn generation_and_apply(n: usize) {
    let table = format!("rkp-bench-{}", std::process::id());
    let config = RenderConfig {
        table: table.clone(),
        cluster_cidr: "10.42.0.0/16".parse().ok(),
        localhost_node_ports: LocalhostNodePorts::Enabled,
    };
    let ports = ports(n);
    let nft = NftCommand::default();
    let mut render_times = Vec::new();
    let mut apply_times = Vec::new();
    let mut rules = 0;
    for _ in 0..5 {
        let started = Instant::now();
        let ruleset = render(&ports, &config);
        render_times.push(started.elapsed());
        rules = ruleset.rules;
        let started = Instant::now();
        nft.replace_table(&table, &ruleset.text)
            .await
            .expect("apply");
        apply_times.push(started.elapsed());
    }
    nft.delete_table(&table).await.expect("delete");
    let (render_times, apply_times) = (Latencies::new(render_times), Latencies::new(apply_times));
    println!(
        "{n:>6} services: {rules} rules; generate p50 {:.1} ms, apply (nft -f, replace) p50 {:.1} ms, max {:.1} ms",
        render_times.percentile_ms(50.0),
        apply_times.percentile_ms(50.0),
        apply_times.percentile_ms(100.0),
    );
}

/// Forwards to nft and remembers when each applied table was in place.
struct Recording {
    nft: NftCommand,
    applied: Mutex<Vec<(Instant, String)>>,
    notify: tokio::sync::Notify,
}

#[async_trait]
impl Nftables for Recording {
    async fn replace_table(&self, table: &str, definition: &str) -> rkube_proxy::Result<()> {
        self.nft.replace_table(table, definition).await?;
        self.applied
            .lock()
            .unwrap()
            .push((Instant::now(), definition.to_string()));
        self.notify.notify_waiters();
        Ok(())
    }
    async fn apply(&self, transaction: &str) -> rkube_proxy::Result<()> {
        self.nft.apply(transaction).await?;
        self.applied
            .lock()
            .unwrap()
            .push((Instant::now(), transaction.to_string()));
        self.notify.notify_waiters();
        Ok(())
    }
    async fn delete_table(&self, table: &str) -> rkube_proxy::Result<()> {
        self.nft.delete_table(table).await
    }
    async fn table_exists(&self, table: &str) -> rkube_proxy::Result<bool> {
        self.nft.table_exists(table).await
    }
}

impl Recording {
    /// When a table holding `needle` was first applied.
    async fn applied_with(&self, needle: &str) -> Instant {
        loop {
            let notified = self.notify.notified();
            if let Some((at, _)) = self
                .applied
                .lock()
                .unwrap()
                .iter()
                .find(|(_, t)| t.contains(needle))
            {
                return *at;
            }
            tokio::time::timeout(Duration::from_secs(120), notified)
                .await
                .expect("the proxy never applied the change");
        }
    }
}

async fn create_service(client: &Client, i: usize) {
    let name = format!("svc-{i}");
    let svc: Service = serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"clusterIP": service_ip(i).to_string(), "ports": [{"name": "http", "port": 80}]},
    }))
    .unwrap();
    Api::<Service>::namespaced(client.clone(), "default")
        .create(&PostParams::default(), &svc)
        .await
        .expect("create service");
    let slice: EndpointSlice = serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"kubernetes.io/service-name": name}},
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
        "endpoints": [{"addresses": [endpoint_ip(i, 0).to_string()]},
                      {"addresses": [endpoint_ip(i, 1).to_string()]}],
    }))
    .unwrap();
    Api::<EndpointSlice>::namespaced(client.clone(), "default")
        .create(&PostParams::default(), &slice)
        .await
        .expect("create slice");
}

async fn programming_latency(n: usize) {
    let api = TestApiserver::start();
    let client = api.client().await;
    let started = Instant::now();
    futures::stream::iter(0..n)
        .for_each_concurrent(16, |i| {
            let client = client.clone();
            async move { create_service(&client, i).await }
        })
        .await;
    let created_in = started.elapsed();
    let recording = Arc::new(Recording {
        nft: NftCommand::default(),
        applied: Mutex::new(Vec::new()),
        notify: tokio::sync::Notify::new(),
    });
    let table = format!("rkp-bench-{}", std::process::id());
    let options = ProxyOptions::default()
        .table(table)
        .cluster_cidr("10.42.0.0/16".parse().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let metrics = Arc::new(Metrics::default());
    let proxy = tokio::spawn(rkube_proxy::run_with(
        client.clone(),
        options,
        recording.clone(),
        metrics.clone(),
        async {
            let _ = stopped.await;
        },
    ));
    let started = Instant::now();
    let last = format!("{} . tcp . 80", service_ip(n - 1));
    let first_sync = recording.applied_with(&last).await.duration_since(started);
    let mut samples = Vec::new();
    for k in 0..SAMPLES {
        let i = n + k;
        let started = Instant::now();
        create_service(&client, i).await;
        let needle = format!("dnat to {}:8080", endpoint_ip(i, 1));
        samples.push(
            recording
                .applied_with(&needle)
                .await
                .duration_since(started),
        );
    }
    let _ = stop.send(());
    proxy.await.expect("proxy task").expect("proxy");
    let latencies = Latencies::new(samples);
    println!(
        "{n:>6} services: created through the API in {:.1} s; first full sync {:.0} ms; \
         programming latency (create Service + EndpointSlice → table applied) p50 {:.0} ms, p99 {:.0} ms; \
         {} rules",
        created_in.as_secs_f64(),
        first_sync.as_secs_f64() * 1e3,
        latencies.percentile_ms(50.0),
        latencies.percentile_ms(99.0),
        metrics.rules(),
    );
}

#[tokio::main]
async fn main() {
    let default_sizes = rkube_testkit::bench_size("1000,10000", "50");
    let sizes = |var: &str| -> Vec<usize> {
        std::env::var(var)
            .unwrap_or_else(|_| default_sizes.to_string())
            .split(',')
            .filter_map(|s| s.trim().parse().ok())
            .collect()
    };
    for n in sizes("RKUBE_PROXY_BENCH_SIZES") {
        generation_and_apply(n).await;
    }
    for n in sizes("RKUBE_PROXY_BENCH_LATENCY_SIZES") {
        programming_latency(n).await;
    }
}
