//! Jobs and pod garbage collection with simulated nodes: the example Job
//! completes three times, two at a time; a failing Job stops at its backoff
//! limit; finished pods over the threshold and pods of missing nodes go.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use std::time::Duration;

use common::{wait_for, Cluster};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{json, Value};

/// The shared example, with its pods placed on a simulated node (no
/// scheduler runs here) and told to finish after a second with `exit_code`.
fn example_job(exit_code: i32) -> String {
    let example = std::fs::read_to_string(
        rkube_testkit::TestApiserver::examples_dir().join("batch-job.yaml"),
    )
    .unwrap();
    let placed = example.replace(
        "  template:\n    spec:\n",
        &format!(
            "  template:\n    metadata:\n      annotations:\n        sim.rkube.io/run-seconds: \"1\"\n        sim.rkube.io/exit-code: \"{exit_code}\"\n    spec:\n      nodeName: sim-0001\n"
        ),
    );
    assert_ne!(placed, example, "the example's template layout changed");
    placed
}

fn job(cluster: &Cluster) -> Value {
    serde_json::from_str(&cluster.kubectl(&["get", "job", "count", "-o", "json"])).unwrap()
}

fn true_conditions(job: &Value) -> Vec<String> {
    job["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["status"] == "True")
        .filter_map(|c| c["type"].as_str().map(String::from))
        .collect()
}

fn fast_backoff(s: rkube_controllers::Settings) -> rkube_controllers::Settings {
    rkube_controllers::Settings {
        job_backoff_base: Duration::from_millis(100),
        job_backoff_max: Duration::from_secs(1),
        ..s
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_job_completes_three_times() {
    let cluster = Cluster::start("job", 1, fast_backoff).await;
    cluster
        .api
        .kubectl_stdin(&["apply", "-f", "-"], Some(&example_job(0)));
    let mut most_active = 0;
    let done = wait_for("the Job to complete", || {
        let j = job(&cluster);
        most_active = most_active.max(j["status"]["active"].as_i64().unwrap_or(0));
        async move {
            true_conditions(&j)
                .contains(&"Complete".to_string())
                .then_some(j)
        }
    })
    .await;
    assert_eq!(done["status"]["succeeded"], 3);
    assert_eq!(
        true_conditions(&done),
        vec!["SuccessCriteriaMet", "Complete"]
    );
    assert!(done["status"]["completionTime"].is_string());
    assert!(
        most_active <= 2,
        "parallelism 2 was exceeded: {most_active}"
    );
    cluster.kubectl(&[
        "wait",
        "--for=condition=complete",
        "job/count",
        "--timeout=5s",
    ]);
    // Counted pods no longer carry the tracking finalizer.
    let finalizers = cluster.kubectl(&[
        "get",
        "pods",
        "-l",
        "job-name=count",
        "-o",
        "jsonpath={.items[*].metadata.finalizers}",
    ]);
    assert!(!finalizers.contains("job-tracking"), "{finalizers}");
    let pods = cluster.kubectl(&["get", "pods", "-l", "job-name=count", "-o", "name"]);
    assert_eq!(pods.lines().count(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_job_stops_at_its_backoff_limit() {
    let cluster = Cluster::start("job", 1, fast_backoff).await;
    cluster
        .api
        .kubectl_stdin(&["apply", "-f", "-"], Some(&example_job(1)));
    let failed = wait_for("the Job to fail", || {
        let j = job(&cluster);
        async move {
            true_conditions(&j)
                .contains(&"Failed".to_string())
                .then_some(j)
        }
    })
    .await;
    // backoffLimit 2: the third failure fails the Job.
    // Pods still running when the limit is reached are deleted and, as
    // upstream, count as failed too: with parallelism 2, three or four.
    let count = failed["status"]["failed"].as_i64().unwrap();
    assert!((3..=4).contains(&count), "failed {count}");
    let reason = failed["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Failed")
        .unwrap()["reason"]
        .clone();
    assert_eq!(reason, "BackoffLimitExceeded");
    assert_eq!(failed["status"]["active"], 0);
}

fn pod(name: &str, node: &str) -> Pod {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"nodeName": node, "containers": [{"name": "c", "image": "busybox"}]}
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pod_gc_removes_old_finished_pods_and_orphans() {
    let cluster = Cluster::start("podgc", 0, |s| rkube_controllers::Settings {
        terminated_pod_gc_threshold: 2,
        pod_gc_period: Duration::from_millis(200),
        ..s
    })
    .await;
    // A node with no kubelet: nothing but this test reports its pods.
    cluster.api.kubectl_stdin(
        &["apply", "-f", "-"],
        Some("apiVersion: v1\nkind: Node\nmetadata:\n  name: quiet\n"),
    );
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), "default");
    for name in ["done-1", "done-2", "done-3", "done-4"] {
        pods.create(&PostParams::default(), &pod(name, "quiet"))
            .await
            .unwrap();
        let status = json!({"status": {"phase": "Succeeded"}});
        pods.patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
            .await
            .unwrap();
    }
    pods.create(&PostParams::default(), &pod("running", "quiet"))
        .await
        .unwrap();
    pods.create(&PostParams::default(), &pod("orphan", "no-such-node"))
        .await
        .unwrap();
    // Equal creation times are ordered by name, so done-1 and done-2 are the oldest.
    wait_for(
        "the two oldest finished pods and the orphan collected",
        || async {
            let names =
                cluster.kubectl(&["get", "pods", "-o", "jsonpath={.items[*].metadata.name}"]);
            (names == "done-3 done-4 running").then_some(())
        },
    )
    .await;
}
