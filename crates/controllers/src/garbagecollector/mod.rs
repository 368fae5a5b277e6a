//! The garbage collector (upstream `pkg/controller/garbagecollector`): deletes objects whose
//! owners are gone, and carries out the `orphan` and `foregroundDeletion` finalizers the
//! apiserver puts on an owner deleted with `propagationPolicy: Orphan` / `Foreground`.
//!
//! * [`monitors`] watch every deletable resource into the ownership [`graph`];
//! * each change queues the objects whose decision it affects;
//! * one worker decides per object ([`plan`]) and acts: drop references to absent owners,
//!   delete dependents nobody owns (background, or foreground down a foreground chain),
//!   orphan dependents, and remove the finalizer once its work is done.
//!
//! An owner missing from the graph is looked up live before a dependent is deleted, so a
//! lagging watch never deletes anything that still has an owner.

pub mod graph;
pub mod monitors;
pub mod plan;
mod queue;

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};

use futures::future::{BoxFuture, FutureExt};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{DeleteParams, DynamicObject, Patch, PatchParams, Preconditions};
use kube::core::ApiResource;
use kube::{Api, Client, ResourceExt};
use serde_json::json;
use tokio::sync::Notify;

use crate::framework::{Context, DefaultState, FailureBackoff};
use crate::registry::Descriptor;
use graph::{Graph, Node, FOREGROUND, ORPHAN};
use monitors::{Kinds, Unsynced};
use plan::{DependentStep, OwnerState, OwnerStep};
use queue::UidQueue;

/// The garbage collector.
pub const GARBAGE_COLLECTOR: Descriptor = Descriptor {
    name: "garbagecollector",
    default: DefaultState::Enabled,
    start,
};

/// Why processing one object failed (it is retried with backoff).
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// An API call failed.
    #[error("{action} {name} failed")]
    Api {
        /// What we tried.
        action: &'static str,
        /// The object.
        name: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
}

/// The collector's shared state.
pub struct Collector {
    client: Client,
    graph: Mutex<Graph>,
    kinds: Mutex<Kinds>,
    queue: UidQueue,
    backoff: FailureBackoff<String>,
    unsynced: Unsynced,
    synced: Notify,
}

impl Collector {
    fn register_kind(&self, resource: &Arc<ApiResource>, namespaced: bool) {
        self.kinds
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(resource, namespaced);
    }

    fn upsert(&self, node: Node) {
        let affected = self
            .graph
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .upsert(node);
        for uid in affected {
            self.queue.push(uid);
        }
    }

    fn remove(&self, uid: &str) {
        let affected = self
            .graph
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(uid);
        for uid in affected {
            self.queue.push(uid);
        }
    }
}

fn start(ctx: Context) -> BoxFuture<'static, Result<(), crate::Error>> {
    async move {
        let collector = Arc::new(Collector {
            client: ctx.client().clone(),
            graph: Mutex::default(),
            kinds: Mutex::default(),
            queue: UidQueue::default(),
            backoff: FailureBackoff::default(),
            // One for the first discovery round, until it has started the first monitors.
            unsynced: Unsynced::new(1),
            synced: Notify::new(),
        });
        let shutdown = ctx.shutdown().clone();
        tokio::spawn(monitors::run(Arc::clone(&collector), shutdown.clone()));
        // Upstream waits for the graph to sync before deciding anything.
        let wait_synced = async {
            loop {
                let notified = collector.synced.notified();
                if collector.unsynced.load(Ordering::SeqCst) == 0 {
                    break;
                }
                notified.await;
            }
        };
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            () = wait_synced => {}
        }
        tracing::info!("garbage collector graph synced; collecting");
        loop {
            let uid = tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                uid = collector.queue.pop() => uid,
            };
            match process(&collector, &uid).await {
                Ok(()) => collector.backoff.forget(&uid),
                Err(error) => {
                    let delay = collector.backoff.failed(uid.clone());
                    tracing::warn!(%uid, error = %crate::framework::ErrorChain(&error), ?delay, "garbage collection failed; retrying");
                    let retry = Arc::clone(&collector);
                    tokio::spawn(async move {
                        tokio::time::sleep(delay).await;
                        retry.queue.push(uid);
                    });
                }
            }
        }
    }
    .boxed()
}

/// Decides and acts for one object.
async fn process(collector: &Collector, uid: &str) -> Result<(), CollectError> {
    let (node, dependents) = {
        let graph = collector
            .graph
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let Some(node) = graph.get(uid).cloned() else {
            return Ok(());
        };
        let dependents: Vec<Node> = graph.dependents(uid).into_iter().cloned().collect();
        (node, dependents)
    };
    if node.deleting && (node.has_finalizer(ORPHAN) || node.has_finalizer(FOREGROUND)) {
        let refs: Vec<&Node> = dependents.iter().collect();
        return match plan::plan_owner(&node, &refs) {
            OwnerStep::Orphan(uids) => {
                for dependent in dependents.iter().filter(|d| uids.contains(&d.uid)) {
                    drop_references(collector, dependent, std::slice::from_ref(&node.uid)).await?;
                }
                remove_finalizer(collector, &node, ORPHAN).await
            }
            OwnerStep::AwaitDependents(uids) => {
                for uid in uids {
                    collector.queue.push(uid);
                }
                Ok(())
            }
            OwnerStep::FinishForeground => remove_finalizer(collector, &node, FOREGROUND).await,
            OwnerStep::Nothing => Ok(()),
        };
    }
    if node.owners.is_empty() {
        return Ok(());
    }
    let mut owners = Vec::with_capacity(node.owners.len());
    for reference in &node.owners {
        owners.push((
            reference.uid.clone(),
            owner_state(collector, &node, reference).await?,
        ));
    }
    match plan::plan_dependent(&node, &owners, !dependents.is_empty()) {
        DependentStep::Keep => Ok(()),
        DependentStep::DropReferences(uids) => drop_references(collector, &node, &uids).await,
        DependentStep::Delete(policy) => {
            tracing::debug!(name = %node.name, namespace = ?node.namespace, ?policy, "deleting object whose owners are gone");
            let params = DeleteParams {
                propagation_policy: Some(policy),
                preconditions: Some(Preconditions {
                    uid: Some(node.uid.clone()),
                    resource_version: None,
                }),
                ..DeleteParams::default()
            };
            match api_for(collector, &node.resource, node.namespace.as_deref())
                .delete(&node.name, &params)
                .await
            {
                Ok(_) => Ok(()),
                // Gone already, or a new object has the name: nothing to do.
                Err(kube::Error::Api(status)) if status.code == 404 || status.code == 409 => Ok(()),
                Err(source) => Err(CollectError::Api {
                    action: "delete",
                    name: node.name.clone(),
                    source,
                }),
            }
        }
    }
}

fn api_for(
    collector: &Collector,
    resource: &ApiResource,
    namespace: Option<&str>,
) -> Api<DynamicObject> {
    match namespace {
        Some(namespace) => Api::namespaced_with(collector.client.clone(), namespace, resource),
        None => Api::all_with(collector.client.clone(), resource),
    }
}

/// Classifies one owner: from the graph, or (absent there) by a live read, since the graph
/// may lag behind the owner's creation (upstream `isDangling`).
async fn owner_state(
    collector: &Collector,
    dependent: &Node,
    reference: &OwnerReference,
) -> Result<OwnerState, CollectError> {
    let in_graph = collector
        .graph
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&reference.uid)
        .map(|owner| owner.deleting && owner.has_finalizer(FOREGROUND));
    if let Some(waiting) = in_graph {
        return Ok(if waiting {
            OwnerState::WaitingForDependents
        } else {
            OwnerState::Solid
        });
    }
    let kind = collector
        .kinds
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&reference.api_version, &reference.kind);
    let Some((resource, namespaced)) = kind else {
        // An owner of a kind we do not know cannot be checked: never delete on a guess.
        return Ok(OwnerState::Solid);
    };
    let namespace = if namespaced {
        dependent.namespace.as_deref()
    } else {
        None
    };
    let owner = api_for(collector, &resource, namespace)
        .get_opt(&reference.name)
        .await
        .map_err(|source| CollectError::Api {
            action: "get owner",
            name: reference.name.clone(),
            source,
        })?;
    Ok(match owner {
        Some(owner) if owner.uid().as_deref() == Some(reference.uid.as_str()) => {
            let waiting = owner.metadata.deletion_timestamp.is_some()
                && owner.finalizers().iter().any(|f| f == FOREGROUND);
            if waiting {
                OwnerState::WaitingForDependents
            } else {
                OwnerState::Solid
            }
        }
        _ => OwnerState::Dangling,
    })
}

/// Removes the references to `owners` (uids) from `node`, preconditioned on the version we
/// decided from.
async fn drop_references(
    collector: &Collector,
    node: &Node,
    owners: &[String],
) -> Result<(), CollectError> {
    let kept: Vec<&OwnerReference> = node
        .owners
        .iter()
        .filter(|reference| !owners.contains(&reference.uid))
        .collect();
    if kept.len() == node.owners.len() {
        return Ok(());
    }
    let references = if kept.is_empty() {
        serde_json::Value::Null
    } else {
        json!(kept)
    };
    let patch = json!({ "metadata": { "ownerReferences": references, "uid": node.uid, "resourceVersion": node.resource_version } });
    patch_node(collector, node, &patch, "drop owner references from").await
}

async fn remove_finalizer(
    collector: &Collector,
    node: &Node,
    finalizer: &str,
) -> Result<(), CollectError> {
    let kept: Vec<&String> = node.finalizers.iter().filter(|f| *f != finalizer).collect();
    let finalizers = if kept.is_empty() {
        serde_json::Value::Null
    } else {
        json!(kept)
    };
    let patch = json!({ "metadata": { "finalizers": finalizers, "uid": node.uid, "resourceVersion": node.resource_version } });
    patch_node(collector, node, &patch, "remove finalizer from").await
}

async fn patch_node(
    collector: &Collector,
    node: &Node,
    patch: &serde_json::Value,
    action: &'static str,
) -> Result<(), CollectError> {
    match api_for(collector, &node.resource, node.namespace.as_deref())
        .patch(&node.name, &PatchParams::default(), &Patch::Merge(patch))
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(source) => Err(CollectError::Api {
            action,
            name: node.name.clone(),
            source,
        }),
    }
}
