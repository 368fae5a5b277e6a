//! End-to-end scheduling throughput: a real apiserver (in process, embedded
//! store), N nodes and M pods created through the API, the scheduler
//! running against it, and a watch that sees each pod's binding.
//!
//! Throughput is M / (last binding seen − first create sent); latency per
//! pod is binding seen − its create sent. Scenarios follow the issue:
//! (a) plain, (b) required pod anti-affinity on hostname, (c) topology
//! spread over 3 zones (`DoNotSchedule`), 10 label groups each like the
//! algorithm bench.
//!
//! Run: `cargo bench -p rkube-scheduler --bench e2e` (optionally
//! `-- NODES PODS [plain|anti|spread]`). Without `--bench` (as
//! `cargo test --all-targets` runs it) a small smoke run.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{stream, StreamExt};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, PostParams};
use kube::runtime::watcher::{self, Event};
use rkube_scheduler::plugins::Registry;
use rkube_scheduler::Configuration;
use rkube_testkit::{Latencies, TestApiserver};
use serde_json::json;

const GROUPS: usize = 10;
/// Creates in flight at once.
const CONCURRENCY: usize = 64;
/// How long one scenario may take before it reports what it has.
const DEADLINE: Duration = Duration::from_secs(900);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Scenario {
    Plain,
    AntiAffinity,
    TopologySpread,
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Scenario::Plain => "(a) plain",
            Scenario::AntiAffinity => "(b) required pod anti-affinity on hostname",
            Scenario::TopologySpread => "(c) topology spread over 3 zones",
        }
    }
}

fn node(i: usize) -> Node {
    let name = format!("node-{i:05}");
    let capacity = json!({"cpu": "32", "memory": "128Gi", "pods": "110"});
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {
            "kubernetes.io/hostname": name,
            "topology.kubernetes.io/zone": format!("zone-{}", i % 3),
        }},
        "status": {"capacity": capacity, "allocatable": capacity,
            "conditions": [{"type": "Ready", "status": "True"}]},
    }))
    .expect("node")
}

fn pod(i: usize, scenario: Scenario) -> Pod {
    let group = format!("group-{}", i % GROUPS);
    let selector = json!({"matchLabels": {"app": group}});
    let mut spec = json!({"containers": [{
        "name": "main",
        "image": "registry.k8s.io/pause:3.10",
        "resources": {"requests": {"cpu": "100m", "memory": "100Mi"}},
    }]});
    match scenario {
        Scenario::Plain => {}
        Scenario::AntiAffinity => {
            spec["affinity"] = json!({"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": selector, "topologyKey": "kubernetes.io/hostname"}
            ]}})
        }
        Scenario::TopologySpread => {
            spec["topologySpreadConstraints"] = json!([{
                "maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
                "whenUnsatisfiable": "DoNotSchedule", "labelSelector": selector,
            }])
        }
    }
    serde_json::from_value(json!({
        "metadata": {"name": format!("pod-{i:05}"), "namespace": "default", "labels": {"app": group}},
        "spec": spec,
    }))
    .expect("pod")
}

async fn run(scenario: Scenario, nodes: usize, pods: usize) {
    let api = TestApiserver::start();
    let client = api.client().await;
    let node_api: Api<Node> = Api::all(client.clone());
    stream::iter(0..nodes)
        .map(|i| {
            let node_api = node_api.clone();
            async move {
                node_api
                    .create(&PostParams::default(), &node(i))
                    .await
                    .expect("create node")
            }
        })
        .buffer_unordered(CONCURRENCY)
        .for_each(|_| async {})
        .await;

    let config = Configuration::defaults(&Registry::default()).expect("config");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let scheduler = tokio::spawn(rkube_scheduler::run(client.clone(), config, async {
        let _ = stopped.await;
    }));

    // Bindings as the watch sees them.
    let pod_api: Api<Pod> = Api::namespaced(client.clone(), "default");
    let (bound_tx, mut bound_rx) = tokio::sync::mpsc::unbounded_channel::<(String, Instant)>();
    let watch = tokio::spawn({
        let pod_api = pod_api.clone();
        async move {
            let mut seen = std::collections::HashSet::new();
            let mut events = std::pin::pin!(watcher::watcher(pod_api, watcher::Config::default()));
            while let Some(event) = events.next().await {
                let (Ok(Event::Apply(p)) | Ok(Event::InitApply(p))) = event else {
                    continue;
                };
                let bound = p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some();
                let name = p.metadata.name.clone().unwrap_or_default();
                if bound
                    && seen.insert(name.clone())
                    && bound_tx.send((name, Instant::now())).is_err()
                {
                    return;
                }
            }
        }
    });

    // Measure from a running scheduler: one pod bound means its informers
    // have synced.
    let mut warmup = pod(pods, Scenario::Plain);
    warmup.metadata.name = Some("warmup".into());
    warmup.metadata.labels = None;
    pod_api
        .create(&PostParams::default(), &warmup)
        .await
        .expect("create warm-up pod");
    loop {
        match tokio::time::timeout(DEADLINE, bound_rx.recv()).await {
            Ok(Some((name, _))) if name == "warmup" => break,
            Ok(Some(_)) => {}
            _ => panic!("the warm-up pod was not bound"),
        }
    }

    let started = Instant::now();
    let created: Arc<std::sync::Mutex<HashMap<String, Instant>>> = Default::default();
    let creator = tokio::spawn({
        let created = created.clone();
        async move {
            stream::iter(0..pods)
                .map(|i| {
                    let pod_api = pod_api.clone();
                    let created = created.clone();
                    async move {
                        let p = pod(i, scenario);
                        let name = p.metadata.name.clone().unwrap_or_default();
                        created.lock().unwrap().insert(name, Instant::now());
                        pod_api
                            .create(&PostParams::default(), &p)
                            .await
                            .expect("create pod");
                    }
                })
                .buffer_unordered(CONCURRENCY)
                .for_each(|_| async {})
                .await;
        }
    });

    let mut bound_at: HashMap<String, Instant> = HashMap::with_capacity(pods);
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while bound_at.len() < pods {
        match tokio::time::timeout_at(deadline, bound_rx.recv()).await {
            Ok(Some((name, at))) => {
                bound_at.insert(name, at);
            }
            _ => break,
        }
    }
    let creates_done = creator.await.is_ok();
    let last = bound_at.values().max().copied().unwrap_or(started);
    let total = last.duration_since(started);
    let created = created.lock().unwrap().clone();
    let latencies = Latencies::new(
        bound_at
            .iter()
            .filter_map(|(name, at)| created.get(name).map(|c| at.saturating_duration_since(*c)))
            .collect(),
    );
    println!(
        "{:<45} nodes={nodes} pods={pods} bound={} creates_ok={creates_done} wall={:.2}s throughput={:.0} pods/s p50={:.1}ms p99={:.1}ms",
        scenario.name(),
        bound_at.len(),
        total.as_secs_f64(),
        bound_at.len() as f64 / total.as_secs_f64().max(1e-9),
        latencies.percentile_ms(50.0),
        latencies.percentile_ms(99.0),
    );
    let _ = stop.send(());
    let _ = scheduler.await;
    watch.abort();
}

fn main() {
    // `cargo bench` passes `--bench`; only numeric arguments are ours.
    let numbers: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let (default_nodes, default_pods) = rkube_testkit::bench_size((5000, 10_000), (20, 40));
    let nodes = numbers.first().copied().unwrap_or(default_nodes);
    let pods = numbers.get(1).copied().unwrap_or(default_pods);
    let args: Vec<String> = std::env::args().collect();
    let picked = |word: &str| args.iter().any(|a| a == word);
    let all = !["plain", "anti", "spread"].iter().any(|w| picked(w));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    for (word, scenario) in [
        ("plain", Scenario::Plain),
        ("anti", Scenario::AntiAffinity),
        ("spread", Scenario::TopologySpread),
    ] {
        if all || picked(word) {
            runtime.block_on(run(scenario, nodes, pods));
        }
    }
}
