//! Controller figures for BENCHMARKS.md: how long a 1,000-replica Deployment takes to be fully
//! available on simulated nodes, and how long a rolling update of it takes. The apiserver
//! runs in this process; the stand-in kubelet of the integration tests binds pods and marks
//! them ready at once, so the figures are the control plane's alone.
//!
//! `cargo bench -p rkube-controllers --bench deployment` (REPLICAS=… to change the size).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;
use support::{until_within, Cluster};

const DEADLINE: Duration = Duration::from_secs(1800);

fn complete(deployments: &[std::sync::Arc<Deployment>], replicas: i32, generation: i64) -> bool {
    deployments.iter().any(|d| {
        let status = d.status.clone().unwrap_or_default();
        status.observed_generation.unwrap_or(0) >= generation
            && status.updated_replicas == Some(replicas)
            && status.available_replicas == Some(replicas)
            && status.replicas == Some(replicas)
    })
}

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

fn main() {
    let replicas: i32 = std::env::var("REPLICAS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(rkube_testkit::bench_size(1000, 20));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let cluster = Cluster::start().await;
        let api: Api<Deployment> = Api::namespaced(cluster.client.clone(), "default");
        let deployment: Deployment = serde_json::from_value(json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": { "name": "big" },
            "spec": {
                "replicas": replicas,
                "selector": { "matchLabels": { "app": "big" } },
                "template": {
                    "metadata": { "labels": { "app": "big" } },
                    "spec": { "containers": [{ "name": "c", "image": "busybox:1.35" }] }
                }
            }
        }))
        .unwrap();
        let started = Instant::now();
        api.create(&PostParams::default(), &deployment).await.unwrap();
        until_within(DEADLINE, api.clone(), "the deployment to be available", |_| {}, |d| complete(d, replicas, 1)).await;
        let available = started.elapsed();
        println!("{replicas}-replica deployment fully available: {:.1} s", available.as_secs_f64());

        let started = Instant::now();
        let patch = json!({ "spec": { "template": { "spec": { "containers": [{ "name": "c", "image": "busybox:1.36" }] } } } });
        api.patch("big", &PatchParams::default(), &Patch::Strategic(&patch)).await.unwrap();
        until_within(DEADLINE, api.clone(), "the rolling update", |_| {}, |d| complete(d, replicas, 2)).await;
        let rolled = started.elapsed();
        println!("rolling update of {replicas} replicas (25% surge / 25% unavailable): {:.1} s", rolled.as_secs_f64());
        println!("process RSS (apiserver + controller manager + stand-in kubelet): {:.0} MiB", rss_mib());
    });
}
