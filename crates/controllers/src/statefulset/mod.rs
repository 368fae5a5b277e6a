//! The StatefulSet controller (upstream `pkg/controller/statefulset`): pods with stable
//! names `<set>-<ordinal>`, hostnames under the governing Service and their own claims,
//! created in ordinal order and removed in reverse (OrderedReady) or all at once
//! (Parallel), updated highest ordinal first down to the partition (RollingUpdate) or when
//! the user deletes them (OnDelete), with the template history kept as ControllerRevisions
//! (`status.currentRevision` / `status.updateRevision`, what `kubectl rollout` reads).
//!
//! A sync claims pods and revisions, finds or creates the update revision, and, if its
//! last actions are visible in the cache (expectations), carries out the [`plan`]; then it
//! truncates the history and writes the [`status`]. Claims are kept when pods go
//! (`persistentVolumeClaimRetentionPolicy` Retain, the default).

pub mod identity;
pub mod plan;
pub mod status;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use futures::future::{BoxFuture, FutureExt};
use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams, PostParams};
use kube::core::Selector;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Client, ResourceExt};
use serde_json::json;

use crate::claim;
use crate::framework::{
    run_controller, Action, Context, DefaultState, EventRecorder, Expectations, Triggers,
};
use crate::history::{self, pod_actions};
use crate::pod_state;
use crate::registry::Descriptor;
use plan::{PodView, Step};

/// The StatefulSet controller.
pub const DESCRIPTOR: Descriptor = Descriptor {
    name: "statefulset",
    default: DefaultState::Enabled,
    start,
};

/// Why a sync failed (it is retried with backoff).
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// Adopting or releasing pods or revisions failed.
    #[error("could not claim children")]
    Claim(#[source] kube::Error),
    /// Reading or writing ControllerRevisions failed.
    #[error("could not update the revision history")]
    History(#[source] kube::Error),
    /// Creating a claim failed.
    #[error("could not create a PersistentVolumeClaim")]
    Claims(#[source] kube::Error),
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

struct State {
    client: Client,
    pods: Store<Pod>,
    revisions: Store<ControllerRevision>,
    recorder: EventRecorder,
    expectations: Arc<Expectations<StatefulSet, Pod>>,
}

fn start(ctx: Context) -> BoxFuture<'static, Result<(), crate::Error>> {
    async move {
        let sets = ctx.informer::<StatefulSet>();
        let pods = ctx.informer::<Pod>();
        let revisions = ctx.informer::<ControllerRevision>();
        let expectations = Arc::new(Expectations::default());
        let state = Arc::new(State {
            client: ctx.client().clone(),
            pods: pods.store(),
            revisions: revisions.store(),
            recorder: ctx.recorder("statefulset-controller"),
            expectations: Arc::clone(&expectations),
        });
        let triggers = Triggers::new()
            .primary(&sets)
            .owned(&pods)
            .waits_for(&revisions)
            .forgets_deleted(&sets, expectations);
        run_controller(&ctx, "statefulset", &sets, triggers, state, sync).await;
        Ok(())
    }
    .boxed()
}

async fn sync(set: Arc<StatefulSet>, state: Arc<State>) -> Result<Action, SyncError> {
    let key = ObjectRef::from_obj(&*set);
    let namespace = set.namespace().unwrap_or_default();
    let set_name = set.name_any();
    let Some(spec) = set.spec.as_ref() else {
        return Ok(Action::await_change());
    };
    let selector: Selector = match spec.selector.clone().try_into() {
        Ok(selector) => selector,
        Err(error) => {
            tracing::warn!(object = %key, %error, "invalid selector");
            return Ok(Action::await_change());
        }
    };
    let pods_api: Api<Pod> = Api::namespaced(state.client.clone(), &namespace);
    let revisions_api: Api<ControllerRevision> = Api::namespaced(state.client.clone(), &namespace);
    let sets_api: Api<StatefulSet> = Api::namespaced(state.client.clone(), &namespace);
    let can_adopt = || async {
        let fresh = sets_api.get_opt(&set_name).await?;
        Ok(fresh.is_some_and(|fresh| {
            fresh.uid() == set.uid() && fresh.metadata.deletion_timestamp.is_none()
        }))
    };
    let in_namespace = |meta: &kube::api::ObjectMeta| meta.namespace.as_deref() == Some(&namespace);
    let candidates = state.pods.state_filter(|pod| in_namespace(&pod.metadata));
    let pods = claim::claim_children(&pods_api, &*set, &selector, candidates, can_adopt)
        .await
        .map_err(SyncError::Claim)?;
    let candidates = state
        .revisions
        .state_filter(|rev| in_namespace(&rev.metadata));
    let mut revisions =
        claim::claim_children(&revisions_api, &*set, &selector, candidates, can_adopt)
            .await
            .map_err(SyncError::Claim)?;
    let mut collision_count = set
        .status
        .as_ref()
        .and_then(|status| status.collision_count)
        .unwrap_or(0);
    let update = history::ensure(
        &revisions_api,
        &*set,
        &spec.template,
        &mut revisions,
        &mut collision_count,
    )
    .await
    .map_err(SyncError::History)?;
    let current = set
        .status
        .as_ref()
        .and_then(|status| status.current_revision.as_deref())
        .and_then(|name| revisions.iter().find(|rev| rev.name_any() == name))
        .cloned()
        .unwrap_or_else(|| Arc::clone(&update));
    let (update_name, current_name) = (update.name_any(), current.name_any());

    let rolling = spec
        .update_strategy
        .as_ref()
        .and_then(|strategy| strategy.type_.as_deref())
        .is_none_or(|kind| kind == "RollingUpdate");
    let partition = spec
        .update_strategy
        .as_ref()
        .and_then(|strategy| strategy.rolling_update.as_ref())
        .and_then(|rolling| rolling.partition)
        .unwrap_or(0);
    let start = spec.ordinals.as_ref().and_then(|o| o.start).unwrap_or(0);
    let min_ready = spec.min_ready_seconds.unwrap_or(0);
    let now = Timestamp::now();
    let views: Vec<PodView> = pods
        .iter()
        .filter_map(|pod| {
            Some(PodView {
                ordinal: identity::ordinal_of(&set_name, &pod.name_any())?,
                name: pod.name_any(),
                revision: history::hash_label(&**pod).map(str::to_owned),
                terminating: pod.metadata.deletion_timestamp.is_some(),
                finished: matches!(
                    pod_state::phase(pod),
                    pod_state::Phase::Failed | pod_state::Phase::Succeeded
                ),
                healthy: status::running_and_ready(pod)
                    && pod_state::is_available(pod, min_ready, now),
            })
        })
        .collect();
    let act = if set.metadata.deletion_timestamp.is_none()
        && state.expectations.satisfied(&key, &state.pods)
    {
        let steps = plan::plan(&plan::Input {
            start,
            replicas: spec.replicas.unwrap_or(1),
            pods: &views,
            parallel: spec.pod_management_policy.as_deref() == Some("Parallel"),
            rolling,
            partition,
            update_revision: &update_name,
        });
        let current_template =
            history::template_of(&current).unwrap_or_else(|| spec.template.clone());
        let revision_for = |ordinal: i32| {
            if rolling && ordinal - start < partition {
                (&current_template, current_name.as_str())
            } else {
                (&spec.template, update_name.as_str())
            }
        };
        act(&set, &steps, &pods, revision_for, &pods_api, &state).await
    } else {
        Ok(())
    };

    let mut live: HashSet<String> = pods
        .iter()
        .filter_map(|pod| history::hash_label(&**pod).map(str::to_owned))
        .collect();
    live.insert(update_name.clone());
    live.insert(current_name.clone());
    history::truncate(
        &revisions_api,
        &revisions,
        &live,
        spec.revision_history_limit
            .unwrap_or(history::DEFAULT_HISTORY_LIMIT),
    )
    .await
    .map_err(SyncError::History)?;

    let new_status = status::calculate(&status::Observed {
        pods: &pods,
        current_revision: &current_name,
        update_revision: &update_name,
        min_ready_seconds: min_ready,
        generation: set.metadata.generation.unwrap_or(0),
        collision_count,
        rolling,
        now,
    });
    let old = set.status.clone().unwrap_or_default();
    let conditions_free = k8s_openapi::api::apps::v1::StatefulSetStatus {
        conditions: None,
        ..old
    };
    if conditions_free != new_status {
        sets_api
            .patch_status(
                &set_name,
                &PatchParams::default(),
                &Patch::Merge(json!({ "status": new_status })),
            )
            .await
            .map_err(SyncError::Status)?;
    }
    act?;
    if min_ready > 0
        && new_status.ready_replicas.unwrap_or(0) > new_status.available_replicas.unwrap_or(0)
    {
        return Ok(Action::requeue(Duration::from_secs(
            u64::try_from(min_ready).unwrap_or(0),
        )));
    }
    Ok(Action::await_change())
}

/// Carries out `steps`: claims before each pod that needs them, then the pod.
async fn act<'a>(
    set: &StatefulSet,
    steps: &[Step],
    pods: &[Arc<Pod>],
    revision_for: impl Fn(i32) -> (&'a k8s_openapi::api::core::v1::PodTemplateSpec, &'a str),
    api: &Api<Pod>,
    state: &State,
) -> Result<(), SyncError> {
    let namespace = set.namespace().unwrap_or_default();
    let claims_api: Api<PersistentVolumeClaim> = Api::namespaced(state.client.clone(), &namespace);
    let mut created = Vec::new();
    let mut deleted = Vec::new();
    let mut result = Ok(());
    for step in steps {
        match step {
            Step::Create(ordinal) => {
                if let Err(error) = create_claims(&claims_api, set, *ordinal).await {
                    result = Err(SyncError::Claims(error));
                    break;
                }
                let (template, revision) = revision_for(*ordinal);
                let pod = identity::new_pod(set, template, *ordinal, revision);
                match pod_actions::create(api, &state.recorder, set, &pod).await {
                    Ok(Some(made)) => created.push(ObjectRef::from_obj(&made)),
                    Ok(None) => {}
                    Err(error) => {
                        result = Err(SyncError::Create(error));
                        break;
                    }
                }
            }
            Step::Delete(name) => {
                let Some(pod) = pods.iter().find(|pod| &pod.name_any() == name) else {
                    continue;
                };
                match pod_actions::delete(api, &state.recorder, set, pod).await {
                    Ok(()) => {
                        deleted.push((ObjectRef::from_obj(&**pod), pod.uid().unwrap_or_default()))
                    }
                    Err(error) => {
                        result = Err(SyncError::Delete(error));
                        break;
                    }
                }
            }
        }
    }
    state
        .expectations
        .expect(ObjectRef::from_obj(set), created, deleted);
    result
}

/// Creates the claims of the pod with `ordinal` that do not exist yet.
async fn create_claims(
    api: &Api<PersistentVolumeClaim>,
    set: &StatefulSet,
    ordinal: i32,
) -> Result<(), kube::Error> {
    for claim in identity::claims(set, ordinal) {
        match api.create(&PostParams::default(), &claim).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 409 => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}
