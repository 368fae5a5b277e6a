//! Node IPAM and node lifecycle with simulated nodes: every node gets a pod
//! CIDR; a node whose heartbeats stop becomes `Ready=Unknown`, is tainted
//! unreachable, and its pods are evicted when their tolerations run out.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{wait_for, Cluster};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_node_gets_its_own_pod_cidr() {
    let cluster = Cluster::start("nodeipam", 3, |s| s).await;
    let cidrs = wait_for("three nodes with pod CIDRs", || async {
        let out = cluster.kubectl(&[
            "get",
            "nodes",
            "-o",
            "jsonpath={range .items[*]}{.spec.podCIDR}{\"\\n\"}{end}",
        ]);
        let cidrs: Vec<String> = out
            .lines()
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect();
        (cidrs.len() == 3).then_some(cidrs)
    })
    .await;
    let unique: BTreeSet<&String> = cidrs.iter().collect();
    assert_eq!(unique.len(), 3, "{cidrs:?}");
    assert!(
        cidrs
            .iter()
            .all(|c| c.starts_with("10.42.") && c.ends_with(".0/24")),
        "{cidrs:?}"
    );
}

const PODS: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: quick
spec:
  nodeName: sim-0001
  tolerations:
  - key: node.kubernetes.io/unreachable
    operator: Exists
    effect: NoExecute
    tolerationSeconds: 1
  containers:
  - name: c
    image: busybox
---
apiVersion: v1
kind: Pod
metadata:
  name: patient
spec:
  nodeName: sim-0001
  containers:
  - name: c
    image: busybox
---
apiVersion: v1
kind: Pod
metadata:
  name: elsewhere
spec:
  nodeName: sim-0002
  tolerations:
  - key: node.kubernetes.io/unreachable
    operator: Exists
    effect: NoExecute
    tolerationSeconds: 1
  containers:
  - name: c
    image: busybox
"#;

fn node(cluster: &Cluster, name: &str) -> Value {
    serde_json::from_str(&cluster.kubectl(&["get", "node", name, "-o", "json"])).unwrap()
}

fn ready(node: &Value) -> String {
    node["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == "Ready")
        .and_then(|c| c["status"].as_str())
        .unwrap_or_default()
        .to_string()
}

fn has_taint(node: &Value, key: &str, effect: &str) -> bool {
    node["spec"]["taints"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|t| t["key"] == key && t["effect"] == effect)
}

fn is_deleting(cluster: &Cluster, pod: &str) -> bool {
    let out = cluster.api.kubectl(&[
        "get",
        "pod",
        pod,
        "-o",
        "jsonpath={.metadata.deletionTimestamp}",
    ]);
    !out.status.success() || !out.stdout.is_empty()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_node_is_marked_unknown_tainted_and_drained() {
    let cluster = Cluster::start("nodelifecycle", 2, |s| rkube_controllers::Settings {
        node_monitor_grace_period: Duration::from_secs(3),
        ..s
    })
    .await;
    cluster.api.kubectl_stdin(&["apply", "-f", "-"], Some(PODS));
    // The DefaultTolerationSeconds admission gave `patient` five minutes.
    let tolerations = cluster.kubectl(&[
        "get",
        "pod",
        "patient",
        "-o",
        "jsonpath={.spec.tolerations[*].tolerationSeconds}",
    ]);
    assert_eq!(tolerations, "300 300");
    wait_for("pods running", || async {
        let phases = cluster.kubectl(&["get", "pods", "-o", "jsonpath={.items[*].status.phase}"]);
        (phases == "Running Running Running").then_some(())
    })
    .await;

    cluster
        .nodes
        .as_ref()
        .unwrap()
        .control()
        .stop_heartbeats("sim-0001")
        .unwrap();
    wait_for("sim-0001 Ready=Unknown and tainted unreachable", || async {
        let n = node(&cluster, "sim-0001");
        (ready(&n) == "Unknown"
            && has_taint(&n, "node.kubernetes.io/unreachable", "NoExecute")
            && has_taint(&n, "node.kubernetes.io/unreachable", "NoSchedule"))
        .then_some(())
    })
    .await;
    wait_for("the pod tolerating one second evicted", || async {
        is_deleting(&cluster, "quick").then_some(())
    })
    .await;
    let reason = cluster.kubectl(&[
        "get",
        "pod",
        "patient",
        "-o",
        "jsonpath={.status.conditions[?(@.type==\"Ready\")].reason}",
    ]);
    assert_eq!(
        reason, "NodeNotReady",
        "pods of the silent node are marked not ready"
    );
    assert!(
        !is_deleting(&cluster, "patient"),
        "a pod tolerating 300 s stays"
    );
    assert!(
        !is_deleting(&cluster, "elsewhere"),
        "pods of healthy nodes stay"
    );
    let healthy = node(&cluster, "sim-0002");
    assert_eq!(ready(&healthy), "True");
    assert!(!has_taint(
        &healthy,
        "node.kubernetes.io/unreachable",
        "NoExecute"
    ));

    cluster
        .nodes
        .as_ref()
        .unwrap()
        .control()
        .resume_heartbeats("sim-0001")
        .unwrap();
    wait_for("sim-0001 Ready again and untainted", || async {
        let n = node(&cluster, "sim-0001");
        (ready(&n) == "True" && n["spec"]["taints"].as_array().is_none_or(|t| t.is_empty()))
            .then_some(())
    })
    .await;
}
