//! The node lifecycle controller (upstream
//! `pkg/controller/nodelifecycle` and the taint-eviction controller
//! `pkg/controller/tainteviction`): a node whose Lease and Ready heartbeat
//! stop for the grace period gets `Ready=Unknown`, its pods are marked not
//! ready, it is tainted `node.kubernetes.io/unreachable` (or `not-ready` for
//! `Ready=False`), and its pods are deleted once their tolerations of the
//! NoExecute taint run out, so their controllers recreate them elsewhere.

pub mod eviction;
pub mod health;
pub mod taints;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::future::{BoxFuture, FutureExt};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod, PodCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Client};
use serde_json::json;

use self::eviction::Eviction;
use self::health::{Heartbeat, Observed, ReadyStatus};
use crate::framework::{
    run_controller, Action, Change, Context, DefaultState, EventRecorder, Reason, Triggers,
};
use crate::registry::Descriptor;

/// The `nodelifecycle` controller.
pub const DESCRIPTOR: Descriptor = Descriptor {
    name: "nodelifecycle",
    default: DefaultState::Enabled,
    start,
};

/// Where kubelets keep their heartbeat Leases.
const NODE_LEASE_NAMESPACE: &str = "kube-node-lease";
const TAINT_MANAGER_EVICTION: Reason = Reason("TaintManagerEviction");
const NODE_NOT_READY: Reason = Reason("NodeNotReady");

/// Why a node sync failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A write to the node or one of its pods failed.
    #[error("could not {action} {object}")]
    Write {
        /// What was attempted.
        action: &'static str,
        /// The object.
        object: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
}

struct State {
    client: Client,
    leases: Store<Lease>,
    pods: Store<Pod>,
    grace: SignedDuration,
    observed: Mutex<HashMap<String, Observed>>,
    recorder: EventRecorder,
}

fn start(ctx: Context) -> BoxFuture<'static, Result<(), crate::Error>> {
    async move {
        let grace = SignedDuration::try_from(ctx.settings().node_monitor_grace_period)
            .unwrap_or(SignedDuration::from_secs(40));
        let nodes = ctx.informer::<Node>();
        let leases = ctx.informer::<Lease>();
        let pods = ctx.informer::<Pod>();
        let triggers = Triggers::new()
            .primary(&nodes)
            .mapped(&leases, |change: &Change<Lease>| {
                let lease = change.object();
                match (lease.metadata.namespace.as_deref(), &lease.metadata.name) {
                    (Some(NODE_LEASE_NAMESPACE), Some(name)) => vec![ObjectRef::new(name)],
                    _ => Vec::new(),
                }
            })
            .mapped(&pods, |change: &Change<Pod>| match change {
                // A pod landing on a tainted node is checked at once.
                Change::Applied(pod) => pod
                    .spec
                    .as_ref()
                    .and_then(|s| s.node_name.as_deref())
                    .map(|n| vec![ObjectRef::new(n)])
                    .unwrap_or_default(),
                Change::Deleted(_) => Vec::new(),
            });
        let state = Arc::new(State {
            client: ctx.client().clone(),
            leases: leases.store(),
            pods: pods.store(),
            grace,
            observed: Mutex::new(HashMap::new()),
            recorder: ctx.recorder("node-controller"),
        });
        run_controller(&ctx, "nodelifecycle", &nodes, triggers, state, sync).await;
        Ok(())
    }
    .boxed()
}

fn to_std(d: SignedDuration) -> Duration {
    Duration::try_from(d).unwrap_or(Duration::ZERO)
}

async fn sync(node: Arc<Node>, state: Arc<State>) -> Result<Action, Error> {
    let name = node.metadata.name.clone().unwrap_or_default();
    let now = Timestamp::now();
    let lease_renew = state
        .leases
        .get(&ObjectRef::new(&name).within(NODE_LEASE_NAMESPACE))
        .and_then(|l| l.spec.as_ref()?.renew_time.as_ref().map(|t| t.0));
    let observed = {
        let mut map = state
            .observed
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let next = health::observe(map.get(&name), Heartbeat::of(&node, lease_renew), now);
        map.insert(name.clone(), next.clone());
        next
    };
    let nodes: Api<Node> = Api::all(state.client.clone());
    let write = |action: &'static str, object: String| {
        move |source| Error::Write {
            action,
            object,
            source,
        }
    };

    let mut ready = health::ready_status(&node);
    if let Some(conditions) = health::stale_conditions(&node, &observed, now, state.grace) {
        let patch = json!({"status": {"conditions": conditions}});
        nodes
            .patch_status(&name, &PatchParams::default(), &Patch::Strategic(&patch))
            .await
            .map_err(write("mark unknown", format!("node {name}")))?;
        tracing::info!(node = %name, "node stopped posting status; Ready=Unknown");
        state.recorder.normal(
            &*node,
            NODE_NOT_READY,
            format!("Node {name} status is now: NodeNotReady"),
        );
        ready = ReadyStatus::Unknown;
        mark_pods_not_ready(&state, &name, now).await?;
    }

    let current_taints = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.clone())
        .unwrap_or_default();
    let node_taints = match taints::reconcile(&current_taints, ready, now) {
        Some(next) => {
            let patch = json!({"spec": {"taints": next}});
            nodes
                .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .map_err(write("taint", format!("node {name}")))?;
            next
        }
        None => current_taints,
    };

    let mut next_check: Option<Duration> = None;
    if ready == ReadyStatus::Ready {
        next_check = Some(
            to_std(health::time_until_stale(&observed, now, state.grace)) + Duration::from_secs(1),
        );
    }
    for pod in pods_on(&state.pods, &name) {
        if pod.metadata.deletion_timestamp.is_some() {
            continue;
        }
        match eviction::pod_eviction_time(&pod, &node_taints, now) {
            Eviction::Never => {}
            Eviction::At(at) => {
                let wait = to_std(at.duration_since(now)) + Duration::from_millis(100);
                next_check = Some(next_check.map_or(wait, |n| n.min(wait)));
            }
            Eviction::Now => evict(&state, &pod).await?,
        }
    }
    Ok(match next_check {
        Some(wait) => Action::requeue(wait),
        None => Action::await_change(),
    })
}

fn pods_on(pods: &Store<Pod>, node: &str) -> Vec<Arc<Pod>> {
    pods.state()
        .into_iter()
        .filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(node))
        .collect()
}

/// Upstream `MarkPodsNotReady`: the node's pods stop counting as ready, so
/// Services stop sending them traffic while the node is unreachable.
async fn mark_pods_not_ready(state: &State, node: &str, now: Timestamp) -> Result<(), Error> {
    for pod in pods_on(&state.pods, node) {
        let ready = pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
            .is_some_and(|c| c.status == "True");
        if !ready {
            continue;
        }
        let (Some(ns), Some(name)) = (
            pod.metadata.namespace.as_deref(),
            pod.metadata.name.as_deref(),
        ) else {
            continue;
        };
        let condition = PodCondition {
            type_: "Ready".into(),
            status: "False".into(),
            reason: Some("NodeNotReady".into()),
            message: Some("Node is not ready".into()),
            last_transition_time: Some(Time(now)),
            ..Default::default()
        };
        let patch = json!({"status": {"conditions": [condition]}});
        let api: Api<Pod> = Api::namespaced(state.client.clone(), ns);
        match api
            .patch_status(name, &PatchParams::default(), &Patch::Strategic(&patch))
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(source) => {
                return Err(Error::Write {
                    action: "mark not ready",
                    object: format!("pod {ns}/{name}"),
                    source,
                })
            }
        }
    }
    Ok(())
}

async fn evict(state: &State, pod: &Pod) -> Result<(), Error> {
    let (Some(ns), Some(name)) = (
        pod.metadata.namespace.as_deref(),
        pod.metadata.name.as_deref(),
    ) else {
        return Ok(());
    };
    let api: Api<Pod> = Api::namespaced(state.client.clone(), ns);
    match api.delete(name, &DeleteParams::default()).await {
        Ok(_) => {
            tracing::info!(pod = %name, namespace = %ns, "evicting pod from tainted node");
            state.recorder.normal(
                pod,
                TAINT_MANAGER_EVICTION,
                format!("Marking for deletion Pod {ns}/{name}"),
            );
            Ok(())
        }
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(source) => Err(Error::Write {
            action: "evict",
            object: format!("pod {ns}/{name}"),
            source,
        }),
    }
}
