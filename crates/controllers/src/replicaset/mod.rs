//! The ReplicaSet and ReplicationController controllers (upstream
//! `pkg/controller/replicaset/replica_set.go`): keep `spec.replicas` active pods matching the
//! selector, owned through a controller ownerReference, and report their status.
//!
//! One implementation serves both kinds through [`Replicated`]. A sync:
//! 1. claims pods (adopts matching orphans, releases owned pods that stopped matching);
//! 2. if its last creations/deletions are visible in the cache (expectations), creates the
//!    missing pods in slow-start batches or deletes the surplus, least valuable first;
//! 3. writes the status (replicas, fullyLabeled, ready, available, observedGeneration,
//!    `ReplicaFailure`).

mod deletion_order;
mod kind;
mod slow_start;
mod status;

use std::sync::Arc;

use futures::future::{BoxFuture, FutureExt};
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec, ReplicationController};
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::core::{Selector, SelectorExt};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Client, Resource, ResourceExt};

pub use deletion_order::deletion_order;
pub use kind::Replicated;
pub use slow_start::{slow_start, Started, INITIAL_BATCH};
pub use status::{calculate, FailureReason, Observed, ReplicaStatus};

use crate::claim::{self, controller_of};
use crate::framework::{
    run_controller, Action, Change, Context, DefaultState, EventRecorder, Expectations, Reason,
    Triggers,
};
use crate::registry::Descriptor;

/// The ReplicaSet controller.
pub const REPLICASET: Descriptor = Descriptor {
    name: <ReplicaSet as Replicated>::CONTROLLER,
    default: DefaultState::Enabled,
    start: start::<ReplicaSet>,
};

/// The ReplicationController controller.
pub const REPLICATIONCONTROLLER: Descriptor = Descriptor {
    name: <ReplicationController as Replicated>::CONTROLLER,
    default: DefaultState::Enabled,
    start: start::<ReplicationController>,
};

/// Upstream's `BurstReplicas`: at most this many creations or deletions per sync.
pub const BURST_REPLICAS: usize = 500;

/// Event: a pod was created.
pub const SUCCESSFUL_CREATE: Reason = Reason("SuccessfulCreate");
/// Event: creating a pod failed.
pub const FAILED_CREATE: Reason = Reason("FailedCreate");
/// Event: a pod was deleted.
pub const SUCCESSFUL_DELETE: Reason = Reason("SuccessfulDelete");
/// Event: deleting a pod failed.
pub const FAILED_DELETE: Reason = Reason("FailedDelete");

/// Why a sync failed (it is retried with backoff).
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// Adopting or releasing pods failed.
    #[error("could not claim pods")]
    Claim(#[source] kube::Error),
    /// Creating pods failed.
    #[error("could not create pods")]
    Create(#[source] kube::Error),
    /// Deleting pods failed.
    #[error("could not delete pods")]
    Delete(#[source] kube::Error),
    /// Writing the status failed.
    #[error("could not update status")]
    Status(#[source] kube::Error),
}

/// What a sync reads and acts through.
struct State<K: Replicated> {
    client: Client,
    pods: Store<Pod>,
    recorder: EventRecorder,
    expectations: Arc<Expectations<K, Pod>>,
}

fn start<K: Replicated>(ctx: Context) -> BoxFuture<'static, Result<(), crate::Error>> {
    async move {
        let owners = ctx.informer::<K>();
        let pods = ctx.informer::<Pod>();
        let expectations = Arc::new(Expectations::default());
        let state = Arc::new(State {
            client: ctx.client().clone(),
            pods: pods.store(),
            recorder: ctx.recorder(K::COMPONENT),
            expectations: Arc::clone(&expectations),
        });
        let owner_store = owners.store();
        let triggers = Triggers::new()
            .primary(&owners)
            .owned(&pods)
            // An orphan wakes every owner whose selector matches it, to be adopted.
            .mapped(&pods, move |change| {
                orphan_owners::<K>(&owner_store, change)
            })
            .forgets_deleted(&owners, expectations);
        run_controller(&ctx, K::CONTROLLER, &owners, triggers, state, sync::<K>).await;
        Ok(())
    }
    .boxed()
}

fn orphan_owners<K: Replicated>(owners: &Store<K>, change: &Change<Pod>) -> Vec<ObjectRef<K>> {
    let pod = change.object();
    if controller_of(&**pod).is_some() || pod.metadata.deletion_timestamp.is_some() {
        return Vec::new();
    }
    owners
        .state()
        .iter()
        .filter(|owner| owner.namespace() == pod.namespace())
        .filter(|owner| {
            owner
                .selector()
                .is_ok_and(|selector| selector.matches(pod.labels()))
        })
        .map(|owner| ObjectRef::from_obj(&**owner))
        .collect()
}

async fn sync<K: Replicated>(owner: Arc<K>, state: Arc<State<K>>) -> Result<Action, SyncError> {
    let key = ObjectRef::from_obj(&*owner);
    let namespace = owner.namespace().unwrap_or_default();
    let selector = match owner.selector() {
        Ok(selector) => selector,
        Err(error) => {
            // Upstream gives up on an unparsable selector until the object changes.
            tracing::warn!(object = %key, %error, "invalid selector");
            return Ok(Action::await_change());
        }
    };
    let candidates = state.pods.state_filter(|pod| {
        pod.metadata.namespace.as_deref() == Some(namespace.as_str())
            && crate::pod_state::is_active(pod)
    });
    let pods_api: Api<Pod> = Api::namespaced(state.client.clone(), &namespace);
    let owners_api: Api<K> = Api::namespaced(state.client.clone(), &namespace);
    let owner_uid = owner.uid();
    let mut pods = claim::claim_children(&pods_api, &*owner, &selector, candidates, || async {
        // Upstream's `RecheckDeletionTimestamp`: adopt only if a fresh read shows the owner
        // is the same object and is not being deleted.
        let fresh = owners_api.get_opt(&owner.name_any()).await?;
        Ok(fresh.is_some_and(|fresh| {
            fresh.uid() == owner_uid && fresh.meta().deletion_timestamp.is_none()
        }))
    })
    .await
    .map_err(SyncError::Claim)?;

    let manage = if owner.meta().deletion_timestamp.is_none()
        && state.expectations.satisfied(&key, &state.pods)
    {
        manage_replicas(&*owner, &mut pods, &pods_api, &state).await
    } else {
        Ok(())
    };

    let current = owner.status();
    let now = Timestamp::now();
    let failure = manage.as_ref().err().map(|error| {
        let reason = match error {
            SyncError::Delete(_) => FailureReason::FailedDelete,
            _ => FailureReason::FailedCreate,
        };
        (reason, error_message(error))
    });
    let status = calculate(&Observed {
        generation: owner.meta().generation.unwrap_or(0),
        template_labels: owner
            .template()
            .and_then(|template| template.metadata.as_ref()?.labels.as_ref()),
        min_ready_seconds: owner.min_ready_seconds(),
        pods: &pods,
        failure,
        current: &current,
        now,
    });
    if status != current {
        owners_api
            .patch_status(
                &owner.name_any(),
                &PatchParams::default(),
                &Patch::Merge(status::patch(&status)),
            )
            .await
            .map_err(SyncError::Status)?;
    }
    manage?;
    // Pods that are ready but not yet available become available after minReadySeconds
    // without any event: come back then (upstream requeues the same way).
    let min_ready = owner.min_ready_seconds();
    if min_ready > 0
        && status.ready_replicas == owner.replicas()
        && status.available_replicas != owner.replicas()
    {
        return Ok(Action::requeue(std::time::Duration::from_secs(
            u64::try_from(min_ready).unwrap_or(0),
        )));
    }
    Ok(Action::await_change())
}

/// The error and its sources as one line, for conditions and events.
fn error_message(error: &(dyn std::error::Error + 'static)) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

/// Creates or deletes pods so `pods` (the owned active pods) reaches `spec.replicas`.
async fn manage_replicas<K: Replicated>(
    owner: &K,
    pods: &mut Vec<Arc<Pod>>,
    api: &Api<Pod>,
    state: &State<K>,
) -> Result<(), SyncError> {
    let key = ObjectRef::from_obj(owner);
    let want = usize::try_from(owner.replicas()).unwrap_or(0);
    if pods.len() < want {
        let missing = (want - pods.len()).min(BURST_REPLICAS);
        let Some(template) = owner.template() else {
            return Ok(());
        };
        let pod = pod_from_template(owner, template);
        let started = slow_start(missing, INITIAL_BATCH, || {
            let pod = pod.clone();
            async move { api.create(&PostParams::default(), &pod).await }
        })
        .await;
        let created: Vec<ObjectRef<Pod>> = started.done.iter().map(ObjectRef::from_obj).collect();
        state.expectations.expect(key, created, Vec::new());
        for pod in &started.done {
            state.recorder.normal(
                owner,
                SUCCESSFUL_CREATE,
                format!("Created pod: {}", pod.name_any()),
            );
        }
        if let Some(error) = started.error {
            state
                .recorder
                .warning(owner, FAILED_CREATE, format!("Error creating: {error}"));
            return Err(SyncError::Create(error));
        }
    } else if pods.len() > want {
        let surplus = (pods.len() - want).min(BURST_REPLICAS);
        deletion_order(pods);
        let doomed: Vec<Arc<Pod>> = pods.drain(..surplus).collect();
        let results = futures::future::join_all(doomed.iter().map(|pod| async move {
            match api.delete(&pod.name_any(), &DeleteParams::default()).await {
                Ok(_) => Ok(()),
                Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
                Err(error) => Err(error),
            }
        }))
        .await;
        let mut deleted = Vec::new();
        let mut first_error = None;
        for (pod, result) in doomed.iter().zip(results) {
            match result {
                Ok(()) => {
                    deleted.push((ObjectRef::from_obj(&**pod), pod.uid().unwrap_or_default()));
                    state.recorder.normal(
                        owner,
                        SUCCESSFUL_DELETE,
                        format!("Deleted pod: {}", pod.name_any()),
                    );
                }
                Err(error) => {
                    state.recorder.warning(
                        owner,
                        FAILED_DELETE,
                        format!("Error deleting: {error}"),
                    );
                    first_error.get_or_insert(error);
                }
            }
        }
        state.expectations.expect(key, Vec::new(), deleted);
        if let Some(error) = first_error {
            return Err(SyncError::Delete(error));
        }
    }
    Ok(())
}

/// A new pod for `owner` from its template (upstream `GetPodFromTemplate`): the template's
/// labels, annotations and spec, a generated name prefixed by the owner's, and the owner as
/// its controller.
pub fn pod_from_template<K: Resource<DynamicType = ()>>(
    owner: &K,
    template: &PodTemplateSpec,
) -> Pod {
    let template_meta = template.metadata.clone().unwrap_or_default();
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(format!("{}-", owner.name_any())),
            namespace: owner.namespace(),
            labels: template_meta.labels,
            annotations: template_meta.annotations,
            finalizers: template_meta.finalizers,
            owner_references: Some(vec![claim::controller_ref(owner)]),
            ..ObjectMeta::default()
        },
        spec: template.spec.clone(),
        status: None,
    }
}

/// Whether `selector` selects `labels` (re-exported for controllers built on this one).
pub fn selects(selector: &Selector, labels: &std::collections::BTreeMap<String, String>) -> bool {
    selector.matches(labels)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::ReplicaSetSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

    fn replica_set() -> ReplicaSet {
        ReplicaSet {
            metadata: ObjectMeta {
                name: Some("web".to_owned()),
                namespace: Some("default".to_owned()),
                uid: Some("rs-uid".to_owned()),
                ..ObjectMeta::default()
            },
            spec: Some(ReplicaSetSpec {
                selector: LabelSelector {
                    match_labels: Some([("app".to_owned(), "web".to_owned())].into()),
                    ..LabelSelector::default()
                },
                ..ReplicaSetSpec::default()
            }),
            status: None,
        }
    }

    #[test]
    fn a_pod_from_the_template_is_controlled_by_its_owner() {
        let template = PodTemplateSpec {
            metadata: Some(ObjectMeta {
                labels: Some([("app".to_owned(), "web".to_owned())].into()),
                ..ObjectMeta::default()
            }),
            spec: None,
        };
        let pod = pod_from_template(&replica_set(), &template);
        assert_eq!(pod.metadata.generate_name.as_deref(), Some("web-"));
        assert_eq!(pod.metadata.namespace.as_deref(), Some("default"));
        let controller = controller_of(&pod);
        assert_eq!(controller.map(|owner| owner.uid.as_str()), Some("rs-uid"));
        assert_eq!(
            controller.and_then(|owner| owner.block_owner_deletion),
            Some(true)
        );
        assert_eq!(
            controller.map(|owner| owner.kind.as_str()),
            Some("ReplicaSet")
        );
    }

    #[test]
    fn only_orphans_wake_the_owners_that_select_them() {
        let (store, mut writer) = kube::runtime::reflector::store::<ReplicaSet>();
        writer.apply_watcher_event(&kube::runtime::watcher::Event::Apply(replica_set()));
        let mut orphan = crate::pod_state::tests::pod("p");
        orphan.metadata.labels = Some([("app".to_owned(), "web".to_owned())].into());
        let mut owned = orphan.clone();
        owned.metadata.owner_references = Some(vec![claim::controller_ref(&replica_set())]);
        let mut other = orphan.clone();
        other.metadata.labels = Some([("app".to_owned(), "db".to_owned())].into());
        let cases = [
            ("matching orphan", orphan, 1),
            ("owned", owned, 0),
            ("not matching", other, 0),
        ];
        for (name, pod, want) in cases {
            let got = orphan_owners::<ReplicaSet>(&store, &Change::Applied(Arc::new(pod)));
            assert_eq!(got.len(), want, "{name}");
        }
    }
}
