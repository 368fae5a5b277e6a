//! Benchmark (BENCHMARKS.md "Kubelet"): pod startup latency, create →
//! Running, over 50 pods on one node with the image present. Ignored by
//! default; run with
//! `cargo test -p rkube-kubelet --release --test startup_latency -- --ignored --nocapture`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use kube::runtime::watcher;
use rkube_testkit::{Latencies, TestApiserver};
use support::*;

const PODS: usize = 50;

#[tokio::test(flavor = "multi_thread")]
#[ignore = "benchmark: starts 50 real pods"]
async fn pod_startup_latency_create_to_running() {
    let server = TestApiserver::start();
    let client = server.client().await;
    let mut node = TestNode::new(30);
    let options = node.start_containerd("bench").await;
    let _kubelet = RunningKubelet::start(client.clone(), options);

    // Watch first, so every Running transition is seen when it happens.
    let api: Api<Pod> = Api::namespaced(client.clone(), "default");
    let mut events = watcher::watcher(api, watcher::Config::default()).boxed();
    let mut created: std::collections::HashMap<String, Instant> = Default::default();
    let mut samples = Vec::with_capacity(PODS);
    for i in 0..PODS {
        let name = format!("bench-{i}");
        created.insert(name.clone(), Instant::now());
        create_pod(&client, "bench", serde_json::json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name},
            "spec": {"terminationGracePeriodSeconds": 0, "containers": [{"name": "c", "image": "docker.io/library/busybox:1.35", "command": ["sleep", "3600"]}]}
        }))
        .await;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
    while samples.len() < PODS {
        let event = tokio::time::timeout_at(deadline, events.next())
            .await
            .expect("all pods Running within 300s")
            .unwrap()
            .unwrap();
        if let watcher::Event::Apply(pod) | watcher::Event::InitApply(pod) = event {
            let name = pod.metadata.name.clone().unwrap();
            if phase(&pod) == "Running" {
                if let Some(at) = created.remove(&name) {
                    samples.push(at.elapsed());
                }
            }
        }
    }
    let latencies = Latencies::new(samples);
    println!(
        "pod startup create→Running over {PODS} pods: p50 {:.0} ms, p99 {:.0} ms",
        latencies.percentile_ms(50.0),
        latencies.percentile_ms(99.0)
    );
    let rss = std::fs::read_to_string("/proc/self/status").unwrap();
    let rss = rss
        .lines()
        .find(|l| l.starts_with("VmRSS"))
        .unwrap_or("VmRSS: ?");
    println!("test process (apiserver + kubelet) {rss}");
}
