//! DaemonSets on simulated nodes, driven by kubectl: one pod per node including a node
//! that joins later, a tainted node skipped until tolerated, and a template change rolled
//! out node by node within maxUnavailable.
//!
//! No scheduler runs here: a stand-in binds each daemon pod to the node its
//! `metadata.name` affinity names, which is all the default scheduler does for them.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use std::collections::BTreeMap;

use common::{wait_for, Cluster};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{Binding, ObjectReference, Pod};
use kube::api::{Api, ListParams, ObjectMeta, PostParams};
use kube::runtime::watcher;
use kube::ResourceExt;
use rkube_simnode::{SimOptions, SimulatedNodes};
use serde_json::Value;

const DAEMONSET: &str = "
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
spec:
  selector:
    matchLabels: {app: agent}
  updateStrategy:
    type: RollingUpdate
    rollingUpdate: {maxUnavailable: 1}
  template:
    metadata:
      labels: {app: agent}
    spec:
      containers:
      - name: agent
        image: agent:1
";

/// Binds pods pinned to a node by affinity, until dropped.
struct Binder(tokio::task::JoinHandle<()>);

impl Drop for Binder {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn binder(cluster: &Cluster) -> Binder {
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), "default");
    Binder(tokio::spawn(async move {
        let mut events = watcher::watcher(pods.clone(), watcher::Config::default()).boxed();
        while let Some(event) = events.next().await {
            let (watcher::Event::Apply(pod) | watcher::Event::InitApply(pod)) =
                event.unwrap_or(watcher::Event::Init)
            else {
                continue;
            };
            let spec = pod.spec.clone().unwrap_or_default();
            if spec.node_name.is_some() {
                continue;
            }
            let node = rkube_controllers::daemonset::placement::target_node(&spec);
            let Some(node) = node else { continue };
            let binding = Binding {
                metadata: ObjectMeta {
                    name: Some(pod.name_any()),
                    ..ObjectMeta::default()
                },
                target: ObjectReference {
                    kind: Some("Node".into()),
                    name: Some(node.to_owned()),
                    ..ObjectReference::default()
                },
            };
            let _ = pods
                .create_subresource::<Binding, Value>(
                    "binding",
                    &pod.name_any(),
                    &PostParams::default(),
                    &binding,
                )
                .await;
        }
    }))
}

/// The DaemonSet `agent` as JSON, status included.
async fn daemonset(cluster: &Cluster) -> Value {
    let api: Api<DaemonSet> = Api::namespaced(cluster.client.clone(), "default");
    serde_json::to_value(api.get("agent").await.unwrap()).unwrap()
}

/// Running pods of the DaemonSet by node: (image, ready).
async fn pods_by_node(cluster: &Cluster) -> BTreeMap<String, Vec<(String, bool)>> {
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), "default");
    let list = pods
        .list(&ListParams::default().labels("app=agent"))
        .await
        .unwrap();
    let mut by_node: BTreeMap<String, Vec<(String, bool)>> = BTreeMap::new();
    for pod in list
        .items
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
    {
        let spec = pod.spec.clone().unwrap_or_default();
        let Some(node) = spec.node_name.clone() else {
            continue;
        };
        let image = spec
            .containers
            .first()
            .and_then(|c| c.image.clone())
            .unwrap_or_default();
        by_node
            .entry(node)
            .or_default()
            .push((image, rkube_controllers::pod_state::is_ready(&pod)));
    }
    by_node
}

fn kubectl(cluster: &Cluster, args: &[&str]) -> String {
    tokio::task::block_in_place(|| cluster.kubectl(args))
}

fn apply(cluster: &Cluster, yaml: &str) {
    tokio::task::block_in_place(|| cluster.api.kubectl_stdin(&["apply", "-f", "-"], Some(yaml)));
}

fn ready_everywhere(
    by_node: &BTreeMap<String, Vec<(String, bool)>>,
    nodes: &[&str],
    image: &str,
) -> bool {
    by_node.len() == nodes.len()
        && nodes.iter().all(|node| {
            by_node.get(*node).is_some_and(|pods| {
                pods.len() == 1 && pods.iter().all(|(i, ready)| i == image && *ready)
            })
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemonset_covers_every_node_and_a_node_that_joins() {
    let cluster = Cluster::start("daemonset", 3, |s| s).await;
    let _binder = binder(&cluster);
    apply(&cluster, DAEMONSET);
    let nodes = ["sim-0001", "sim-0002", "sim-0003"];
    wait_for("a ready pod on every node", || async {
        ready_everywhere(&pods_by_node(&cluster).await, &nodes, "agent:1").then_some(())
    })
    .await;
    kubectl(
        &cluster,
        &["rollout", "status", "daemonset/agent", "--timeout=60s"],
    );
    let late = SimulatedNodes::start(
        cluster.client.clone(),
        SimOptions::new(1).with_name_prefix("late-"),
    )
    .await
    .unwrap();
    let nodes = ["late-0001", "sim-0001", "sim-0002", "sim-0003"];
    wait_for("a ready pod on the new node", || async {
        ready_everywhere(&pods_by_node(&cluster).await, &nodes, "agent:1").then_some(())
    })
    .await;
    let status = wait_for("the status to count four nodes", || async {
        let status = daemonset(&cluster).await;
        (status["status"]["numberReady"] == 4).then_some(status)
    })
    .await;
    assert_eq!(status["status"]["numberMisscheduled"], 0);
    let events = kubectl(
        &cluster,
        &[
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=agent",
        ],
    );
    assert!(events.contains("SuccessfulCreate"), "{events}");
    drop(late);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tainted_node_is_skipped_until_tolerated() {
    let cluster = Cluster::start("daemonset", 2, |s| s).await;
    let _binder = binder(&cluster);
    kubectl(
        &cluster,
        &["taint", "nodes", "sim-0002", "dedicated=db:NoSchedule"],
    );
    apply(&cluster, DAEMONSET);
    wait_for("the DaemonSet to settle on the untainted node", || async {
        let status = daemonset(&cluster).await;
        (status["status"]["desiredNumberScheduled"] == 1 && status["status"]["numberReady"] == 1)
            .then_some(())
    })
    .await;
    let by_node = pods_by_node(&cluster).await;
    assert_eq!(by_node.keys().collect::<Vec<_>>(), vec!["sim-0001"]);
    kubectl(
        &cluster,
        &[
            "patch",
            "ds",
            "agent",
            "--type=json",
            "-p",
            r#"[{"op":"add","path":"/spec/template/spec/tolerations","value":[{"key":"dedicated","operator":"Equal","value":"db","effect":"NoSchedule"}]}]"#,
        ],
    );
    wait_for("a pod on the tolerated node too", || async {
        ready_everywhere(
            &pods_by_node(&cluster).await,
            &["sim-0001", "sim-0002"],
            "agent:1",
        )
        .then_some(())
    })
    .await;
    kubectl(
        &cluster,
        &["rollout", "status", "daemonset/agent", "--timeout=60s"],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_template_change_rolls_node_by_node() {
    let cluster = Cluster::start("daemonset", 3, |s| s).await;
    let _binder = binder(&cluster);
    apply(&cluster, DAEMONSET);
    let nodes = ["sim-0001", "sim-0002", "sim-0003"];
    wait_for("a ready pod on every node", || async {
        ready_everywhere(&pods_by_node(&cluster).await, &nodes, "agent:1").then_some(())
    })
    .await;
    kubectl(
        &cluster,
        &["set", "image", "daemonset/agent", "agent=agent:2"],
    );
    let most_unavailable = std::cell::Cell::new(0);
    wait_for("every node to run the new image", || async {
        let by_node = pods_by_node(&cluster).await;
        let unavailable = nodes
            .iter()
            .filter(|node| {
                !by_node
                    .get(**node)
                    .is_some_and(|pods| pods.iter().any(|(_, ready)| *ready))
            })
            .count();
        most_unavailable.set(most_unavailable.get().max(unavailable));
        ready_everywhere(&by_node, &nodes, "agent:2").then_some(())
    })
    .await;
    let most_unavailable = most_unavailable.get();
    assert!(
        most_unavailable <= 1,
        "maxUnavailable 1 was exceeded: {most_unavailable}"
    );
    kubectl(
        &cluster,
        &["rollout", "status", "daemonset/agent", "--timeout=60s"],
    );
    let revisions = kubectl(
        &cluster,
        &[
            "get",
            "controllerrevisions",
            "-l",
            "app=agent",
            "-o",
            "name",
        ],
    );
    assert_eq!(revisions.lines().count(), 2, "{revisions}");
}
