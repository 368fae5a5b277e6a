//! Throughput of the scheduling algorithm alone (no apiserver, no queue):
//! snapshot update, one scheduling cycle with the default profile, and
//! assuming the pod in the cache, for each pod in turn.
//!
//! Scenarios follow the issue: 5,000 nodes and 10,000 pods (a) plain,
//! (b) with required pod anti-affinity on hostname, (c) with a
//! `DoNotSchedule` topology spread over 3 zones. Anti-affinity and spread
//! use 10 label groups of 1,000 pods so every group fits.
//!
//! Run: `cargo bench -p rkube-scheduler --bench algorithm` (optionally
//! `-- NODES PODS [plain|anti|spread]`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{
    Affinity, Container, Node, NodeStatus, Pod, PodAffinityTerm, PodAntiAffinity, PodSpec,
    ResourceRequirements, TopologySpreadConstraint,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use rkube_scheduler::framework::{Algorithm, PodInfo, Snapshot, TieBreak};
use rkube_scheduler::plugins::Registry;
use rkube_scheduler::{Cache, Configuration};

const GROUPS: usize = 10;

fn quantities(pairs: &[(&str, &str)]) -> BTreeMap<String, Quantity> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), Quantity(v.to_string())))
        .collect()
}

fn node(i: usize) -> Node {
    let name = format!("node-{i:05}");
    let labels = BTreeMap::from([
        ("kubernetes.io/hostname".to_string(), name.clone()),
        (
            "topology.kubernetes.io/zone".to_string(),
            format!("zone-{}", i % 3),
        ),
    ]);
    Node {
        metadata: ObjectMeta {
            name: Some(name),
            labels: Some(labels),
            ..Default::default()
        },
        spec: None,
        status: Some(NodeStatus {
            allocatable: Some(quantities(&[
                ("cpu", "32"),
                ("memory", "128Gi"),
                ("pods", "110"),
            ])),
            ..Default::default()
        }),
    }
}

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

fn pod(i: usize, scenario: Scenario) -> Pod {
    let group = format!("group-{}", i % GROUPS);
    let selector = LabelSelector {
        match_labels: Some(BTreeMap::from([("app".to_string(), group.clone())])),
        match_expressions: None,
    };
    let mut spec = PodSpec {
        containers: vec![Container {
            name: "main".into(),
            image: Some("registry.k8s.io/pause:3.10".into()),
            resources: Some(ResourceRequirements {
                requests: Some(quantities(&[("cpu", "100m"), ("memory", "100Mi")])),
                ..Default::default()
            }),
            ..Default::default()
        }],
        ..Default::default()
    };
    match scenario {
        Scenario::Plain => {}
        Scenario::AntiAffinity => {
            spec.affinity = Some(Affinity {
                pod_anti_affinity: Some(PodAntiAffinity {
                    required_during_scheduling_ignored_during_execution: Some(vec![
                        PodAffinityTerm {
                            label_selector: Some(selector),
                            topology_key: "kubernetes.io/hostname".into(),
                            ..Default::default()
                        },
                    ]),
                    ..Default::default()
                }),
                ..Default::default()
            })
        }
        Scenario::TopologySpread => {
            spec.topology_spread_constraints = Some(vec![TopologySpreadConstraint {
                max_skew: 1,
                topology_key: "topology.kubernetes.io/zone".into(),
                when_unsatisfiable: "DoNotSchedule".into(),
                label_selector: Some(selector),
                ..Default::default()
            }])
        }
    }
    Pod {
        metadata: ObjectMeta {
            name: Some(format!("pod-{i:05}")),
            namespace: Some("default".into()),
            uid: Some(format!("uid-{i:05}")),
            labels: Some(BTreeMap::from([("app".to_string(), group)])),
            ..Default::default()
        },
        spec: Some(spec),
        status: None,
    }
}

/// CPU time this process has run, from `/proc/self/schedstat` (Linux), so
/// figures taken on a busy shared machine can be read as CPU-bound cost too.
fn cpu_time() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/self/schedstat").ok()?;
    let nanos: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(nanos))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(index).copied().unwrap_or_default()
}

fn run(scenario: Scenario, nodes: usize, pods: usize) -> Result<(), Box<dyn std::error::Error>> {
    let config = Configuration::defaults(&Registry::default())?;
    let profile = config.profiles.first().cloned().ok_or("no profile")?;
    let mut algorithm = Algorithm::new(profile, TieBreak::seeded(1));
    let mut cache = Cache::new();
    for i in 0..nodes {
        cache.add_node(node(i));
    }
    let mut snapshot = Snapshot::default();
    cache.update_snapshot(&mut snapshot);
    let pending: Vec<Arc<PodInfo>> = (0..pods)
        .map(|i| Arc::new(PodInfo::new(Arc::new(pod(i, scenario)))))
        .collect();

    let mut latencies = Vec::with_capacity(pods);
    let mut failed = 0usize;
    let started = Instant::now();
    let cpu_started = cpu_time();
    for info in pending {
        let t = Instant::now();
        cache.update_snapshot(&mut snapshot);
        match algorithm.schedule(&info, &snapshot) {
            Ok(result) => cache.assume_pod(info, &result.suggested_host)?,
            Err(_) => failed += 1,
        }
        latencies.push(t.elapsed());
    }
    let total = started.elapsed();
    let cpu = cpu_time()
        .zip(cpu_started)
        .map(|(end, start)| end.saturating_sub(start));
    latencies.sort();
    println!(
        "{:<45} nodes={nodes} pods={pods} unschedulable={failed} wall={:.2}s throughput={:.0} pods/s p50={:.0}µs p99={:.0}µs cpu={} ({} pods per CPU-second)",
        scenario.name(),
        total.as_secs_f64(),
        pods as f64 / total.as_secs_f64(),
        percentile(&latencies, 0.50).as_secs_f64() * 1e6,
        percentile(&latencies, 0.99).as_secs_f64() * 1e6,
        cpu.map_or("n/a".to_string(), |c| format!("{:.2}s", c.as_secs_f64())),
        cpu.map_or("n/a".to_string(), |c| format!("{:.0}", pods as f64 / c.as_secs_f64())),
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // `cargo bench` passes `--bench`; only numeric arguments are ours.
    let numbers: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let (default_nodes, default_pods) = rkube_testkit::bench_size((5000, 10_000), (30, 60));
    let nodes = numbers.first().copied().unwrap_or(default_nodes);
    let pods = numbers.get(1).copied().unwrap_or(default_pods);
    // Scenario names as arguments (`plain`, `anti`, `spread`) pick a subset.
    let args: Vec<String> = std::env::args().collect();
    let picked = |word: &str| args.iter().any(|a| a == word);
    let all = !["plain", "anti", "spread"].iter().any(|w| picked(w));
    let scenarios = [
        ("plain", Scenario::Plain),
        ("anti", Scenario::AntiAffinity),
        ("spread", Scenario::TopologySpread),
    ];
    for (word, scenario) in scenarios {
        if all || picked(word) {
            run(scenario, nodes, pods)?;
        }
    }
    Ok(())
}
