//! Cluster DNS benchmark: queries/s and latency for cluster names and for
//! forwarded names, over UDP on loopback.
//!
//! ```sh
//! cargo bench -p rkube-dns --bench dns
//! ```
//!
//! An in-process apiserver holds 1,000 ClusterIP services; the DNS server
//! watches it and forwards other names to a fake upstream (a second hickory
//! server on loopback). Concurrent clients, each with its own UDP socket,
//! ask one question at a time and time each answer. Phases: A queries for
//! random service names, then A queries for names the upstream answers.
//!
//! Without `--bench` (as `cargo test --all-targets` runs it) it does a small
//! smoke run, figures not meaningful.

#[path = "../tests/support/mod.rs"]
mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RecordType};
use k8s_openapi::api::core::v1::Service;
use kube::api::PostParams;
use kube::Api;
use rkube_dns::{DnsOptions, DnsServer, Transport, Upstream as UpstreamServers};
use rkube_testkit::{Latencies, TestApiserver};
use tokio::net::UdpSocket;

/// How long one answer may take before the run fails.
const QUERY_DEADLINE: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy)]
struct Budget {
    services: usize,
    clients: usize,
    queries_per_client: usize,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let budget = rkube_testkit::bench_size(
        Budget {
            services: 1_000,
            clients: 16,
            queries_per_client: 5_000,
        },
        Budget {
            services: 10,
            clients: 2,
            queries_per_client: 20,
        },
    );
    let apiserver = TestApiserver::start();
    let client = apiserver.client().await;
    let upstream = support::Upstream::start().await;
    let options = DnsOptions::new(vec!["127.0.0.1:0".parse()?])
        .with_upstream(UpstreamServers::Servers(vec![upstream.addr]));
    let server = DnsServer::bind(&options).await?;
    let dns = server.local_addrs()[0];
    let mut changes = server.changes();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.serve(client.clone(), async move {
        let _ = stopped.await;
    }));

    let services: Api<Service> = Api::namespaced(client, "default");
    for i in 0..budget.services {
        let service: Service = serde_json::from_value(serde_json::json!({
            "metadata": {"name": format!("svc-{i}")},
            "spec": {"ports": [{"name": "http", "port": 80}]},
        }))?;
        services
            .create(&PostParams::default(), &service)
            .await
            .context("create service")?;
    }
    let last = format!("svc-{}.default.svc.cluster.local.", budget.services - 1);
    support::wait_for_answer_code(
        dns,
        &mut changes,
        &last,
        RecordType::A,
        Transport::Udp,
        ResponseCode::NoError,
    )
    .await;

    let cluster_names: Vec<String> = (0..budget.services)
        .map(|i| format!("svc-{i}.default.svc.cluster.local."))
        .collect();
    let forwarded_names: Vec<String> = (0..budget.services)
        .map(|i| format!("host-{i}.example.test."))
        .collect();
    println!(
        "DNS benchmark: {} services, {} clients × {} queries per phase, UDP on loopback",
        budget.services, budget.clients, budget.queries_per_client
    );
    println!("| names | queries/s | p50 | p99 |");
    println!("| --- | ---: | ---: | ---: |");
    for (label, names) in [
        ("cluster (A, ClusterIP service)", &cluster_names),
        ("forwarded (A, fake upstream)", &forwarded_names),
    ] {
        let (rate, latencies) = measure(dns, names, budget).await?;
        println!(
            "| {label} | {rate:.0} | {:.3} ms | {:.3} ms |",
            latencies.percentile_ms(50.0),
            latencies.percentile_ms(99.0)
        );
    }
    let _ = stop.send(());
    serving.await??;
    Ok(())
}

/// Every client asks `queries_per_client` questions, one at a time, for
/// names picked round-robin from `names`.
async fn measure(
    dns: SocketAddr,
    names: &[String],
    budget: Budget,
) -> anyhow::Result<(f64, Latencies)> {
    let names: Vec<Name> = names
        .iter()
        .map(Name::from_ascii)
        .collect::<Result<_, _>>()?;
    let names = std::sync::Arc::new(names);
    let started = Instant::now();
    let mut clients = tokio::task::JoinSet::new();
    for client in 0..budget.clients {
        let names = names.clone();
        clients
            .spawn(async move { ask_many(dns, &names, client, budget.queries_per_client).await });
    }
    let mut samples = Vec::with_capacity(budget.clients * budget.queries_per_client);
    while let Some(done) = clients.join_next().await {
        samples.extend(done??);
    }
    let rate = samples.len() as f64 / started.elapsed().as_secs_f64();
    Ok((rate, Latencies::new(samples)))
}

async fn ask_many(
    dns: SocketAddr,
    names: &[Name],
    client: usize,
    count: usize,
) -> anyhow::Result<Vec<Duration>> {
    let socket = UdpSocket::bind("127.0.0.1:0").await?;
    socket.connect(dns).await?;
    let mut buffer = vec![0; 4096];
    let mut samples = Vec::with_capacity(count);
    for i in 0..count {
        let name = &names[(client * 7919 + i) % names.len()];
        let id = u16::try_from(i % 65_536).unwrap_or(0);
        let mut message = Message::new(id, MessageType::Query, OpCode::Query);
        message.metadata.recursion_desired = true;
        message.add_query(Query::query(name.clone(), RecordType::A));
        let bytes = message.to_vec()?;
        let asked = Instant::now();
        socket.send(&bytes).await?;
        let reply = loop {
            let len = tokio::time::timeout(QUERY_DEADLINE, socket.recv(&mut buffer))
                .await
                .context("no answer in time")??;
            let reply = Message::from_vec(&buffer[..len])?;
            if reply.metadata.id == id {
                break reply;
            }
        };
        samples.push(asked.elapsed());
        ensure!(
            reply.metadata.response_code == ResponseCode::NoError && !reply.answers.is_empty(),
            "{name}: {:?} with {} answers",
            reply.metadata.response_code,
            reply.answers.len()
        );
    }
    Ok(samples)
}
