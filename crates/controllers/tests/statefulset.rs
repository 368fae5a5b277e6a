//! StatefulSets on a simulated node, driven by kubectl: `web-0`, `web-1`, `web-2` come up
//! one after the other, each only once the previous is ready, scale down removes the highest
//! ordinal first and keeps the claims, a partition keeps lower ordinals on the old
//! revision, and `kubectl rollout undo` brings the old template back.
//!
//! The template names the node (no scheduler runs here).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use common::{wait_for, Cluster};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use kube::runtime::watcher;
use kube::ResourceExt;
use serde_json::Value;

fn web(replicas: u32) -> String {
    format!(
        "
apiVersion: v1
kind: Service
metadata:
  name: nginx
spec:
  clusterIP: None
  selector: {{app: web}}
  ports:
  - port: 80
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
spec:
  serviceName: nginx
  replicas: {replicas}
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      nodeName: sim-0001
      containers:
      - name: nginx
        image: nginx:1
  volumeClaimTemplates:
  - metadata:
      name: data
    spec:
      accessModes: [ReadWriteOnce]
      resources:
        requests:
          storage: 1Gi
"
    )
}

fn kubectl(cluster: &Cluster, args: &[&str]) -> String {
    tokio::task::block_in_place(|| cluster.kubectl(args))
}

fn apply(cluster: &Cluster, yaml: &str) {
    tokio::task::block_in_place(|| cluster.api.kubectl_stdin(&["apply", "-f", "-"], Some(yaml)));
}

/// What a watch of the set's pods saw, in order.
#[derive(Default)]
struct Seen {
    /// Pod names in the order they first appeared, with whether every lower ordinal was
    /// ready at that moment.
    created: Vec<(String, bool)>,
    /// Pod names in the order they disappeared.
    deleted: Vec<String>,
    ready: BTreeMap<String, bool>,
}

fn watch_pods(cluster: &Cluster) -> (Arc<Mutex<Seen>>, tokio::task::JoinHandle<()>) {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), "default");
    let record = Arc::clone(&seen);
    let task = tokio::spawn(async move {
        let config = watcher::Config::default().labels("app=web");
        let mut events = watcher::watcher(pods, config).boxed();
        while let Some(event) = events.next().await {
            let mut seen = record.lock().unwrap();
            match event {
                Ok(watcher::Event::Apply(pod) | watcher::Event::InitApply(pod)) => {
                    let name = pod.name_any();
                    if !seen.ready.contains_key(&name) {
                        let ordinal: usize = name.trim_start_matches("web-").parse().unwrap();
                        let lower_ready = (0..ordinal)
                            .all(|i| seen.ready.get(&format!("web-{i}")) == Some(&true));
                        seen.created.push((name.clone(), lower_ready));
                    }
                    let ready = rkube_controllers::pod_state::is_ready(&pod);
                    seen.ready.insert(name, ready);
                }
                Ok(watcher::Event::Delete(pod)) => {
                    let name = pod.name_any();
                    seen.ready.remove(&name);
                    seen.deleted.push(name);
                }
                _ => {}
            }
        }
    });
    (seen, task)
}

async fn status(cluster: &Cluster) -> Value {
    serde_json::from_str(&kubectl(cluster, &["get", "sts", "web", "-o", "json"])).unwrap()
}

/// The image of each pod, by name.
async fn images(cluster: &Cluster) -> BTreeMap<String, String> {
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), "default");
    let list = pods
        .list(&ListParams::default().labels("app=web"))
        .await
        .unwrap();
    list.items
        .into_iter()
        .filter(|pod| {
            pod.metadata.deletion_timestamp.is_none() && rkube_controllers::pod_state::is_ready(pod)
        })
        .map(|pod| {
            let image = pod
                .spec
                .as_ref()
                .and_then(|s| s.containers.first())
                .and_then(|c| c.image.clone());
            (pod.name_any(), image.unwrap_or_default())
        })
        .collect()
}

fn expect_images(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(n, i)| ((*n).to_owned(), (*i).to_owned()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_pods_come_up_in_order_and_leave_in_reverse() {
    let cluster = Cluster::start("statefulset", 1, |s| s).await;
    let (seen, watch) = watch_pods(&cluster);
    apply(&cluster, &web(3));
    kubectl(
        &cluster,
        &["rollout", "status", "statefulset/web", "--timeout=60s"],
    );
    {
        let seen = seen.lock().unwrap();
        let names: Vec<&str> = seen.created.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["web-0", "web-1", "web-2"]);
        assert!(
            seen.created.iter().all(|(_, lower_ready)| *lower_ready),
            "{:?}",
            seen.created
        );
    }
    let pod: Value =
        serde_json::from_str(&kubectl(&cluster, &["get", "pod", "web-1", "-o", "json"])).unwrap();
    assert_eq!(pod["spec"]["hostname"], "web-1");
    assert_eq!(pod["spec"]["subdomain"], "nginx");
    assert_eq!(
        pod["metadata"]["labels"]["statefulset.kubernetes.io/pod-name"],
        "web-1"
    );
    assert_eq!(
        pod["metadata"]["labels"]["apps.kubernetes.io/pod-index"],
        "1"
    );
    let claims = kubectl(&cluster, &["get", "pvc", "-o", "name"]);
    assert_eq!(
        claims.lines().collect::<Vec<_>>(),
        [
            "persistentvolumeclaim/data-web-0",
            "persistentvolumeclaim/data-web-1",
            "persistentvolumeclaim/data-web-2"
        ]
    );
    kubectl(&cluster, &["scale", "statefulset/web", "--replicas=1"]);
    wait_for("web-1 and web-2 to go", || async {
        (seen.lock().unwrap().deleted.len() == 2).then_some(())
    })
    .await;
    assert_eq!(seen.lock().unwrap().deleted, ["web-2", "web-1"]);
    let status = wait_for("the status to show one replica", || async {
        let s = status(&cluster).await;
        (s["status"]["replicas"] == 1 && s["status"]["readyReplicas"] == 1).then_some(s)
    })
    .await;
    assert_eq!(
        status["status"]["observedGeneration"],
        status["metadata"]["generation"]
    );
    let claims = kubectl(&cluster, &["get", "pvc", "-o", "name"]);
    assert_eq!(claims.lines().count(), 3, "claims are retained: {claims}");
    watch.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_holds_lower_ordinals_and_rollout_undo_goes_back() {
    let cluster = Cluster::start("statefulset", 1, |s| s).await;
    apply(&cluster, &web(3));
    kubectl(
        &cluster,
        &["rollout", "status", "statefulset/web", "--timeout=60s"],
    );
    kubectl(
        &cluster,
        &[
            "patch",
            "statefulset",
            "web",
            "-p",
            r#"{"spec":{"updateStrategy":{"type":"RollingUpdate","rollingUpdate":{"partition":2}}}}"#,
        ],
    );
    kubectl(
        &cluster,
        &["set", "image", "statefulset/web", "nginx=nginx:2"],
    );
    let want = expect_images(&[
        ("web-0", "nginx:1"),
        ("web-1", "nginx:1"),
        ("web-2", "nginx:2"),
    ]);
    wait_for("only web-2 to be updated", || async {
        let s = status(&cluster).await;
        (images(&cluster).await == want && s["status"]["updatedReplicas"] == 1).then_some(())
    })
    .await;
    let s = status(&cluster).await;
    assert_ne!(
        s["status"]["currentRevision"],
        s["status"]["updateRevision"]
    );
    kubectl(
        &cluster,
        &["rollout", "status", "statefulset/web", "--timeout=60s"],
    );
    assert_eq!(
        images(&cluster).await,
        want,
        "the partition holds web-0 and web-1"
    );
    kubectl(
        &cluster,
        &[
            "patch",
            "statefulset",
            "web",
            "-p",
            r#"{"spec":{"updateStrategy":{"rollingUpdate":{"partition":0}}}}"#,
        ],
    );
    kubectl(
        &cluster,
        &["rollout", "status", "statefulset/web", "--timeout=60s"],
    );
    let want = expect_images(&[
        ("web-0", "nginx:2"),
        ("web-1", "nginx:2"),
        ("web-2", "nginx:2"),
    ]);
    wait_for("every pod to be updated", || async {
        let s = status(&cluster).await;
        (images(&cluster).await == want
            && s["status"]["currentRevision"] == s["status"]["updateRevision"])
            .then_some(())
    })
    .await;
    kubectl(&cluster, &["rollout", "undo", "statefulset/web"]);
    let want = expect_images(&[
        ("web-0", "nginx:1"),
        ("web-1", "nginx:1"),
        ("web-2", "nginx:1"),
    ]);
    wait_for("every pod to be back on the first image", || async {
        let s = status(&cluster).await;
        (images(&cluster).await == want
            && s["status"]["currentRevision"] == s["status"]["updateRevision"])
            .then_some(())
    })
    .await;
    kubectl(
        &cluster,
        &["rollout", "status", "statefulset/web", "--timeout=60s"],
    );
    let history = kubectl(&cluster, &["rollout", "history", "statefulset/web"]);
    assert!(history.contains('2') && history.contains('3'), "{history}");
}
