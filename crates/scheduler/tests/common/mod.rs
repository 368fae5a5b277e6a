//! A cluster for scheduler tests: an in-process apiserver, nodes created
//! through the API (no kubelet), and schedulers running against it.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use k8s_openapi::api::core::v1::{Event, Node, Pod};
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::runtime::wait::await_condition;
use rkube_scheduler::plugins::Registry;
use rkube_scheduler::Configuration;
use rkube_testkit::TestApiserver;
use serde_json::{json, Value};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How long any wait may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// A running scheduler, stopped on drop.
pub struct RunningScheduler {
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), rkube_scheduler::Error>>>,
}

impl RunningScheduler {
    /// Stops it and checks it returned Ok.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let outcome = tokio::time::timeout(DEADLINE, task)
                .await
                .expect("the scheduler did not stop: is its loop stuck?");
            outcome.expect("scheduler task").expect("scheduler result");
        }
    }
}

impl Drop for RunningScheduler {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// An apiserver with a client.
pub struct Cluster {
    pub api: TestApiserver,
    pub client: kube::Client,
}

impl Cluster {
    /// Starts an empty cluster (no scheduler yet).
    pub async fn start() -> Cluster {
        let api = TestApiserver::start();
        let client = api.client().await;
        Cluster { api, client }
    }

    /// Starts a cluster and the default scheduler.
    pub async fn with_scheduler() -> (Cluster, RunningScheduler) {
        let cluster = Cluster::start().await;
        let scheduler = cluster.scheduler(None);
        (cluster, scheduler)
    }

    /// Runs a scheduler with `config` (YAML) or upstream's defaults.
    pub fn scheduler(&self, config: Option<&str>) -> RunningScheduler {
        let registry = Registry::default();
        let config = match config {
            Some(yaml) => Configuration::from_yaml(yaml, &registry),
            None => Configuration::defaults(&registry),
        }
        .expect("scheduler configuration");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(rkube_scheduler::run(self.client.clone(), config, async {
            let _ = stopped.await;
        }));
        RunningScheduler {
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.client.clone(), "default")
    }

    /// Creates a node from a JSON document (status included, as a kubelet
    /// registers it).
    pub async fn create_node(&self, node: Value) {
        let node: Node = serde_json::from_value(node).expect("node JSON");
        Api::<Node>::all(self.client.clone())
            .create(&PostParams::default(), &node)
            .await
            .expect("create node");
    }

    /// Creates a pod in `default` from a JSON document.
    pub async fn create_pod(&self, pod: Value) {
        let pod: Pod = serde_json::from_value(pod).expect("pod JSON");
        self.pods()
            .create(&PostParams::default(), &pod)
            .await
            .expect("create pod");
    }

    /// Creates any object through the dynamic JSON path (PriorityClasses…).
    pub async fn create<K>(&self, object: Value)
    where
        K: kube::Resource<DynamicType = ()>
            + Clone
            + serde::de::DeserializeOwned
            + serde::Serialize
            + std::fmt::Debug,
    {
        let object: K = serde_json::from_value(object).expect("object JSON");
        Api::<K>::all(self.client.clone())
            .create(&PostParams::default(), &object)
            .await
            .expect("create object");
    }

    /// Waits until pod `name` satisfies `condition`; returns it.
    pub async fn wait_pod(&self, name: &str, what: &str, condition: impl Fn(&Pod) -> bool) -> Pod {
        let waited = tokio::time::timeout(
            DEADLINE,
            await_condition(self.pods(), name, move |p: Option<&Pod>| {
                p.is_some_and(&condition)
            }),
        )
        .await;
        match waited {
            Ok(Ok(Some(pod))) => pod,
            other => {
                let now = self.pods().get_opt(name).await.ok().flatten();
                panic!("pod {name}: waiting for {what}: {other:?}; pod is now {now:#?}")
            }
        }
    }

    /// Waits until pod `name` is bound; returns its node.
    pub async fn wait_bound(&self, name: &str) -> String {
        let pod = self
            .wait_pod(name, "a node", |p| node_of(p).is_some())
            .await;
        node_of(&pod).unwrap_or_default()
    }

    /// Waits until pod `name` has PodScheduled=False; returns the message.
    pub async fn wait_unschedulable(&self, name: &str) -> String {
        let pod = self
            .wait_pod(name, "PodScheduled=False", |p| {
                scheduled_condition(p).is_some_and(|(status, _, _)| status == "False")
            })
            .await;
        let (_, reason, message) = scheduled_condition(&pod).unwrap_or_default();
        assert_eq!(reason, "Unschedulable", "pod {name}");
        message
    }

    /// Waits until an event with `reason` about pod `name` exists; returns
    /// its message.
    pub async fn wait_event(&self, name: &str, reason: &str) -> String {
        let events: Api<Event> = Api::namespaced(self.client.clone(), "default");
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            let list = events
                .list(&ListParams::default())
                .await
                .expect("list events");
            let found = list.items.iter().find(|e| {
                e.involved_object.name.as_deref() == Some(name)
                    && e.reason.as_deref() == Some(reason)
            });
            if let Some(event) = found {
                return event.message.clone().unwrap_or_default();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no {reason} event for {name}; events: {:#?}",
                list.items
            );
            // Poll the event list (events have no per-object watch filter
            // here); each round is one list request.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Deletes a pod at once, as a kubelet finishing it would.
    pub async fn force_delete(&self, name: &str) {
        self.pods()
            .delete(name, &DeleteParams::default().grace_period(0))
            .await
            .expect("delete pod");
    }
}

/// The pod's node, if bound.
pub fn node_of(pod: &Pod) -> Option<String> {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.clone())
        .filter(|n| !n.is_empty())
}

/// (status, reason, message) of the PodScheduled condition.
pub fn scheduled_condition(pod: &Pod) -> Option<(String, String, String)> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "PodScheduled")
        .map(|c| {
            (
                c.status.clone(),
                c.reason.clone().unwrap_or_default(),
                c.message.clone().unwrap_or_default(),
            )
        })
}

/// A node document: `cpu` cores, 8Gi memory, 110 pods, the hostname label,
/// plus `labels` and `taints`.
pub fn node(name: &str, cpu: &str, labels: Value, taints: Value) -> Value {
    let mut all = json!({"kubernetes.io/hostname": name});
    if let (Some(all), Some(extra)) = (all.as_object_mut(), labels.as_object()) {
        all.extend(extra.clone());
    }
    let capacity = json!({"cpu": cpu, "memory": "8Gi", "pods": "110"});
    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": all},
        "spec": {"taints": taints},
        "status": {
            "capacity": capacity,
            "allocatable": capacity,
            "conditions": [{"type": "Ready", "status": "True"}],
        },
    })
}

/// A pod document with one container requesting `cpu`, merged with `spec`
/// (fields of the pod spec) and `labels`.
pub fn pod(name: &str, cpu: &str, labels: Value, spec: Value) -> Value {
    let mut pod_spec = json!({
        "containers": [{
            "name": "main",
            "image": "busybox",
            "resources": {"requests": {"cpu": cpu}},
        }],
    });
    if let (Some(base), Some(extra)) = (pod_spec.as_object_mut(), spec.as_object()) {
        for (k, v) in extra {
            if k == "ports" {
                if let Some(c) = base.get_mut("containers").and_then(|c| c.get_mut(0)) {
                    c["ports"] = v.clone();
                }
            } else {
                base.insert(k.clone(), v.clone());
            }
        }
    }
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "labels": labels},
        "spec": pod_spec,
    })
}
