//! A cluster for controller tests: the in-process apiserver, the controller manager, and a
//! stand-in kubelet that binds every pod to a simulated node, reports it running and ready,
//! and confirms graceful deletions (what simulated nodes do).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::reflector::{self, Store};
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::{Api, Client, Resource, ResourceExt};
use rkube_testkit::TestApiserver;
use serde::de::DeserializeOwned;
use serde_json::json;
use tokio_util::sync::CancellationToken;

/// How long any awaited condition may take.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// The simulated node pods are bound to.
pub const NODE: &str = "sim-node-1";

/// The apiserver, the controller manager and the stand-in kubelet; all stopped on drop.
pub struct Cluster {
    pub api: TestApiserver,
    pub client: Client,
    stop: CancellationToken,
}

impl Cluster {
    /// Starts everything with every default controller.
    pub async fn start() -> Cluster {
        // `RUST_LOG=rkube_controllers=debug` shows what the controllers do.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let api = TestApiserver::start();
        let client = api.client().await;
        let stop = CancellationToken::new();
        let manager_stop = stop.clone();
        let options = rkube_controllers::Options::new("test-manager");
        let manager_client = client.clone();
        tokio::spawn(async move {
            let result =
                rkube_controllers::run(manager_client, options, manager_stop.cancelled_owned())
                    .await;
            if let Err(error) = result {
                panic!("controller manager failed: {error}");
            }
        });
        tokio::spawn(kubelet(client.clone(), stop.clone()));
        Cluster { api, client, stop }
    }

    /// kubectl that must succeed, off the async workers.
    pub async fn kubectl(&self, args: &[&str]) -> String {
        let out = self.kubectl_output(args).await;
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// kubectl's output, success or not.
    pub async fn kubectl_output(&self, args: &[&str]) -> std::process::Output {
        tokio::task::block_in_place(|| self.api.kubectl(args))
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// The stand-in kubelet: binds, starts (Running + Ready) and finishes deleting pods.
async fn kubelet(client: Client, stop: CancellationToken) {
    let pods: Api<Pod> = Api::all(client.clone());
    let mut events = watcher::watcher(pods, watcher::Config::default())
        .default_backoff()
        .applied_objects()
        .boxed();
    loop {
        let pod = tokio::select! {
            () = stop.cancelled() => return,
            pod = events.next() => match pod {
                Some(Ok(pod)) => pod,
                Some(Err(_)) => continue,
                None => return,
            },
        };
        let api: Api<Pod> = Api::namespaced(client.clone(), &pod.namespace().unwrap_or_default());
        let name = pod.name_any();
        // Errors are races with the controllers (pod gone, changed): the next event retries.
        if pod.metadata.deletion_timestamp.is_some() {
            let _ = api
                .delete(
                    &name,
                    &DeleteParams {
                        grace_period_seconds: Some(0),
                        ..DeleteParams::default()
                    },
                )
                .await;
        } else if pod
            .spec
            .as_ref()
            .and_then(|spec| spec.node_name.as_deref())
            .is_none_or(str::is_empty)
        {
            let binding = json!({
                "apiVersion": "v1", "kind": "Binding",
                "metadata": { "name": name, "namespace": pod.namespace() },
                "target": { "apiVersion": "v1", "kind": "Node", "name": NODE }
            });
            let _ = api
                .create_subresource::<_, serde_json::Value>(
                    "binding",
                    &name,
                    &PostParams::default(),
                    &binding,
                )
                .await;
        } else if pod
            .status
            .as_ref()
            .and_then(|status| status.phase.as_deref())
            != Some("Running")
        {
            let now = Timestamp::now().to_string();
            let status = json!({ "status": {
                "phase": "Running",
                "podIP": "10.42.0.10",
                "conditions": [
                    { "type": "PodScheduled", "status": "True", "lastTransitionTime": now },
                    { "type": "Initialized", "status": "True", "lastTransitionTime": now },
                    { "type": "ContainersReady", "status": "True", "lastTransitionTime": now },
                    { "type": "Ready", "status": "True", "lastTransitionTime": now }
                ]
            }});
            let _ = api
                .patch_status(&name, &PatchParams::default(), &Patch::Merge(&status))
                .await;
        }
    }
}

/// Watches `api` until `done` holds for the objects it lists, calling `observe` on every
/// state on the way; panics with `what` after [`DEADLINE`].
pub async fn until<K>(
    api: Api<K>,
    what: &str,
    observe: impl FnMut(&[Arc<K>]),
    done: impl Fn(&[Arc<K>]) -> bool,
) -> Vec<Arc<K>>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    until_within(DEADLINE, api, what, observe, done).await
}

/// [`until`] with another deadline.
pub async fn until_within<K>(
    deadline: Duration,
    api: Api<K>,
    what: &str,
    mut observe: impl FnMut(&[Arc<K>]),
    done: impl Fn(&[Arc<K>]) -> bool,
) -> Vec<Arc<K>>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    let (store, writer): (Store<K>, _) = reflector::store();
    let mut events =
        reflector::reflector(writer, watcher::watcher(api, watcher::Config::default()))
            .default_backoff()
            .boxed();
    let wait = async {
        while let Some(event) = events.next().await {
            if matches!(event, Ok(Event::Init | Event::InitApply(_))) {
                continue;
            }
            let state = store.state();
            observe(&state);
            if done(&state) {
                return state;
            }
        }
        panic!("watch ended while waiting for {what}");
    };
    tokio::time::timeout(deadline, wait)
        .await
        .unwrap_or_else(|_| {
            panic!(
                "timed out waiting for {what}; last state: {:#?}",
                store.state()
            )
        })
}
