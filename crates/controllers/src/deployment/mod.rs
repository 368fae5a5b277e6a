//! The Deployment controller (upstream `pkg/controller/deployment`): rolls a deployment's pod
//! template out through ReplicaSets named `<deployment>-<pod-template-hash>`.
//!
//! A sync claims the deployment's ReplicaSets, then, as upstream's `syncDeployment`:
//! * being deleted → only the status;
//! * paused, or `spec.replicas` changed (a scaling event) → scale the ReplicaSets
//!   proportionally ([`sizes::proportional`]) and, if paused, clean up old revisions;
//! * `Recreate` → scale every old ReplicaSet to 0, wait until their pods are gone, then scale
//!   the new one up;
//! * `RollingUpdate` → grow the new ReplicaSet within maxSurge, shrink old ones within
//!   maxUnavailable ([`sizes`]), and clean up beyond `revisionHistoryLimit` when complete.
//!
//! Then the status and the Available/Progressing conditions ([`status`]). Rollback
//! (`kubectl rollout undo`) needs nothing here: kubectl copies an old ReplicaSet's template
//! into the deployment, whose ReplicaSet is then found again as the new one and gets the next
//! revision.

pub mod fenceposts;
pub mod revision;
pub mod sizes;
pub mod status;
pub mod template_hash;

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::future::{BoxFuture, FutureExt};
use k8s_openapi::api::apps::v1::{Deployment, DeploymentCondition, ReplicaSet, ReplicaSetSpec};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::core::{Selector, SelectorExt};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Client, Resource, ResourceExt};
use serde_json::json;

use crate::claim::{self, controller_of};
use crate::framework::{
    controller_owner, run_controller, Action, Change, Context, DefaultState, EventRecorder, Reason,
    Triggers,
};
use crate::registry::Descriptor;
use sizes::SetView;
use status::{ConditionReason, Truth};
use template_hash::POD_TEMPLATE_HASH;

/// The Deployment controller.
pub const DEPLOYMENT: Descriptor = Descriptor {
    name: "deployment",
    default: DefaultState::Enabled,
    start,
};

/// Upstream's event source.
const COMPONENT: &str = "deployment-controller";

/// Event: a ReplicaSet was scaled.
pub const SCALING_REPLICA_SET: Reason = Reason("ScalingReplicaSet");
/// Event: creating the new ReplicaSet failed.
pub const FAILED_CREATE: Reason = Reason("FailedCreate");

/// Why a sync failed (it is retried with backoff).
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// Adopting or releasing ReplicaSets failed.
    #[error("could not claim replica sets")]
    Claim(#[source] kube::Error),
    /// Creating the new ReplicaSet failed.
    #[error("could not create replica set {name}")]
    Create {
        /// The ReplicaSet.
        name: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// A ReplicaSet with the new ReplicaSet's name but another template exists: the collision
    /// count was raised and the next sync uses another name.
    #[error("replica set {0} exists with another template (hash collision)")]
    HashCollision(String),
    /// Updating a ReplicaSet (size, annotations) failed.
    #[error("could not update replica set {name}")]
    UpdateReplicaSet {
        /// The ReplicaSet.
        name: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// Deleting an old ReplicaSet failed.
    #[error("could not delete replica set {name}")]
    Delete {
        /// The ReplicaSet.
        name: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// Writing the deployment (revision annotation or status) failed.
    #[error("could not update the deployment")]
    UpdateDeployment(#[source] kube::Error),
}

struct State {
    client: Client,
    replica_sets: Store<ReplicaSet>,
    pods: Store<Pod>,
    recorder: EventRecorder,
}

fn start(ctx: Context) -> BoxFuture<'static, Result<(), crate::Error>> {
    async move {
        let deployments = ctx.informer::<Deployment>();
        let replica_sets = ctx.informer::<ReplicaSet>();
        let pods = ctx.informer::<Pod>();
        let state = Arc::new(State {
            client: ctx.client().clone(),
            replica_sets: replica_sets.store(),
            pods: pods.store(),
            recorder: ctx.recorder(COMPONENT),
        });
        let deployment_store = deployments.store();
        let rs_store = replica_sets.store();
        let triggers = Triggers::new()
            .primary(&deployments)
            .owned(&replica_sets)
            .mapped(&replica_sets, move |change| {
                orphan_owners(&deployment_store, change)
            })
            // Recreate waits for old pods to be gone: a pod deletion wakes its deployment.
            .mapped(&pods, move |change| match change {
                Change::Deleted(pod) => controller_owner::<ReplicaSet, Pod>(pod)
                    .and_then(|rs| rs_store.get(&rs))
                    .and_then(|rs| controller_owner::<Deployment, ReplicaSet>(&rs))
                    .into_iter()
                    .collect(),
                Change::Applied(_) => Vec::new(),
            });
        run_controller(&ctx, "deployment", &deployments, triggers, state, sync).await;
        Ok(())
    }
    .boxed()
}

fn orphan_owners(
    deployments: &Store<Deployment>,
    change: &Change<ReplicaSet>,
) -> Vec<ObjectRef<Deployment>> {
    let rs = change.object();
    if controller_of(&**rs).is_some() || rs.metadata.deletion_timestamp.is_some() {
        return Vec::new();
    }
    deployments
        .state()
        .iter()
        .filter(|d| d.namespace() == rs.namespace())
        .filter(|d| selector_of(d).is_some_and(|selector| selector.matches(rs.labels())))
        .map(|d| ObjectRef::from_obj(&**d))
        .collect()
}

/// The deployment's selector; `None` if it is empty (selects nothing here, as upstream
/// refuses to act on a select-all deployment) or malformed.
fn selector_of(deployment: &Deployment) -> Option<Selector> {
    let selector: LabelSelector = deployment.spec.as_ref()?.selector.clone();
    if selector
        .match_labels
        .as_ref()
        .is_none_or(BTreeMap::is_empty)
        && selector
            .match_expressions
            .as_ref()
            .is_none_or(Vec::is_empty)
    {
        return None;
    }
    selector.try_into().ok()
}

async fn sync(deployment: Arc<Deployment>, state: Arc<State>) -> Result<Action, SyncError> {
    let Some(selector) = selector_of(&deployment) else {
        tracing::warn!(deployment = %ObjectRef::from_obj(&*deployment), "empty or invalid selector; not syncing");
        return Ok(Action::await_change());
    };
    let namespace = deployment.namespace().unwrap_or_default();
    let rs_api: Api<ReplicaSet> = Api::namespaced(state.client.clone(), &namespace);
    let deployment_api: Api<Deployment> = Api::namespaced(state.client.clone(), &namespace);
    let candidates = state
        .replica_sets
        .state_filter(|rs| rs.metadata.namespace.as_deref() == Some(namespace.as_str()));
    let uid = deployment.uid();
    let claimed = claim::claim_children(&rs_api, &*deployment, &selector, candidates, || async {
        let fresh = deployment_api.get_opt(&deployment.name_any()).await?;
        Ok(fresh
            .is_some_and(|fresh| fresh.uid() == uid && fresh.meta().deletion_timestamp.is_none()))
    })
    .await
    .map_err(SyncError::Claim)?;
    let mut rollout = Rollout {
        deployment: (*deployment).clone(),
        replica_sets: claimed.iter().map(|rs| (**rs).clone()).collect(),
        rs_api,
        deployment_api,
        state: &state,
        now: status::now_seconds(),
    };
    rollout.sync().await
}

/// One sync of one deployment: its current copy and ReplicaSets, kept up to date as we write.
struct Rollout<'a> {
    deployment: Deployment,
    replica_sets: Vec<ReplicaSet>,
    rs_api: Api<ReplicaSet>,
    deployment_api: Api<Deployment>,
    state: &'a State,
    now: Timestamp,
}

fn replicas_of(rs: &ReplicaSet) -> i32 {
    rs.spec.as_ref().and_then(|spec| spec.replicas).unwrap_or(1)
}

impl Rollout<'_> {
    fn desired(&self) -> i32 {
        fenceposts::desired(&self.deployment)
    }

    fn paused(&self) -> bool {
        self.deployment
            .spec
            .as_ref()
            .and_then(|spec| spec.paused)
            .unwrap_or(false)
    }

    async fn sync(&mut self) -> Result<Action, SyncError> {
        if self.deployment.metadata.deletion_timestamp.is_some() {
            let new = self.new_replica_set(false).await?;
            return self.sync_status(new, Progress::Skip).await;
        }
        if let Some(condition) = status::paused_condition(&self.deployment, self.now) {
            let mut status = self.deployment.status.clone().unwrap_or_default();
            status
                .conditions
                .get_or_insert_with(Vec::new)
                .retain(|c| c.type_ != status::PROGRESSING);
            status
                .conditions
                .get_or_insert_with(Vec::new)
                .push(condition);
            self.write_status(status).await?;
        }
        if self.paused() {
            return self.scale_only().await;
        }
        if self.scaling_event().await? {
            return self.scale_only().await;
        }
        if fenceposts::is_rolling_update(&self.deployment) {
            self.rolling().await
        } else {
            self.recreate().await
        }
    }

    /// The index of the new ReplicaSet: the oldest whose template is the deployment's
    /// (upstream `FindNewReplicaSet`).
    fn find_new(&self) -> Option<usize> {
        let template = self.deployment.spec.as_ref()?.template.clone();
        let mut matching: Vec<usize> = (0..self.replica_sets.len())
            .filter(|i| {
                self.replica_sets
                    .get(*i)
                    .and_then(|rs| rs.spec.as_ref()?.template.as_ref())
                    .is_some_and(|rs_template| {
                        template_hash::equal_ignoring_hash(rs_template, &template)
                    })
            })
            .collect();
        matching.sort_by(|a, b| {
            self.view(*a)
                .zip(self.view(*b))
                .map_or(std::cmp::Ordering::Equal, |(a, b)| {
                    sizes::by_creation(&a, &b)
                })
        });
        matching.first().copied()
    }

    fn view(&self, index: usize) -> Option<SetView> {
        self.replica_sets.get(index).map(SetView::of)
    }

    fn old_indices(&self, new: Option<usize>) -> Vec<usize> {
        (0..self.replica_sets.len())
            .filter(|i| Some(*i) != new)
            .collect()
    }

    /// Finds (or, if `create`, creates) the new ReplicaSet and brings its and the
    /// deployment's revision annotations up to date (upstream `getNewReplicaSet`).
    async fn new_replica_set(&mut self, create: bool) -> Result<Option<usize>, SyncError> {
        let new = self.find_new();
        let old: Vec<&ReplicaSet> = self
            .old_indices(new)
            .into_iter()
            .filter_map(|i| self.replica_sets.get(i))
            .collect();
        let new_revision = revision::max_revision(old) + 1;
        let max_surge = fenceposts::max_surge(&self.deployment);
        if let Some(index) = new {
            let Some(rs) = self.replica_sets.get(index) else {
                return Ok(None);
            };
            let mut updated = rs.clone();
            let mut changed = revision::set_new_replica_set_annotations(
                &self.deployment,
                &mut updated,
                new_revision,
                true,
                max_surge,
            );
            let min_ready = self
                .deployment
                .spec
                .as_ref()
                .and_then(|spec| spec.min_ready_seconds);
            if let Some(spec) = updated.spec.as_mut() {
                if spec.min_ready_seconds != min_ready {
                    spec.min_ready_seconds = min_ready;
                    changed = true;
                }
            }
            if changed {
                self.replace_replica_set(index, updated).await?;
            }
            let rs_revision = self.replica_sets.get(index).map_or(0, |rs| {
                revision::revision_of(rs.metadata.annotations.as_ref())
            });
            self.set_deployment_revision(rs_revision).await?;
            let has_progressing = self
                .deployment
                .status
                .as_ref()
                .is_some_and(|s| status::get_condition(s, status::PROGRESSING).is_some());
            if !has_progressing && self.has_progress_deadline() {
                let name = self
                    .replica_sets
                    .get(index)
                    .map(ResourceExt::name_any)
                    .unwrap_or_default();
                let condition = status::condition(
                    status::PROGRESSING,
                    Truth::True,
                    ConditionReason::FoundNewReplicaSet,
                    format!("Found new replica set \"{name}\""),
                    self.now,
                );
                self.set_condition_now(condition).await?;
            }
            return Ok(Some(index));
        }
        if !create {
            return Ok(None);
        }
        self.create_new_replica_set(new_revision, max_surge)
            .await
            .map(Some)
    }

    fn has_progress_deadline(&self) -> bool {
        self.deployment
            .spec
            .as_ref()
            .and_then(|spec| spec.progress_deadline_seconds)
            .is_some_and(|seconds| seconds != i32::MAX)
    }

    async fn create_new_replica_set(
        &mut self,
        new_revision: i64,
        max_surge: i32,
    ) -> Result<usize, SyncError> {
        let spec = self.deployment.spec.clone().unwrap_or_default();
        let collision_count = self
            .deployment
            .status
            .as_ref()
            .and_then(|status| status.collision_count);
        let hash = template_hash::compute(&spec.template, collision_count);
        let mut template = spec.template.clone();
        template
            .metadata
            .get_or_insert_with(ObjectMeta::default)
            .labels
            .get_or_insert_with(BTreeMap::new)
            .insert(POD_TEMPLATE_HASH.to_owned(), hash.clone());
        let mut selector = spec.selector.clone();
        selector
            .match_labels
            .get_or_insert_with(BTreeMap::new)
            .insert(POD_TEMPLATE_HASH.to_owned(), hash.clone());
        let name = format!("{}-{hash}", self.deployment.name_any());
        let mut rs = ReplicaSet {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: self.deployment.namespace(),
                owner_references: Some(vec![claim::controller_ref(&self.deployment)]),
                labels: template
                    .metadata
                    .as_ref()
                    .and_then(|meta| meta.labels.clone()),
                ..ObjectMeta::default()
            },
            spec: Some(ReplicaSetSpec {
                replicas: Some(0),
                min_ready_seconds: spec.min_ready_seconds,
                selector,
                template: Some(template),
            }),
            status: None,
        };
        let total: i32 = self.replica_sets.iter().map(replicas_of).sum();
        let size = if fenceposts::is_rolling_update(&self.deployment) {
            sizes::rolling_new_size(self.desired(), max_surge, total, 0)
        } else {
            self.desired()
        };
        if let Some(spec) = rs.spec.as_mut() {
            spec.replicas = Some(size);
        }
        revision::set_new_replica_set_annotations(
            &self.deployment,
            &mut rs,
            new_revision,
            false,
            max_surge,
        );
        let (created, already_existed) = match self.rs_api.create(&PostParams::default(), &rs).await
        {
            Ok(created) => (created, false),
            Err(kube::Error::Api(status)) if status.code == 409 => {
                let existing =
                    self.rs_api
                        .get(&name)
                        .await
                        .map_err(|source| SyncError::Create {
                            name: name.clone(),
                            source,
                        })?;
                let ours = controller_of(&existing)
                    .is_some_and(|owner| Some(&owner.uid) == self.deployment.metadata.uid.as_ref());
                let same = existing
                    .spec
                    .as_ref()
                    .and_then(|spec| spec.template.as_ref())
                    .is_some_and(|template| {
                        template_hash::equal_ignoring_hash(template, &spec.template)
                    });
                if !(ours && same) {
                    let mut status = self.deployment.status.clone().unwrap_or_default();
                    status.collision_count = Some(collision_count.unwrap_or(0).saturating_add(1));
                    self.write_status(status).await?;
                    return Err(SyncError::HashCollision(name));
                }
                (existing, true)
            }
            Err(source) => {
                let message = format!("Failed to create new replica set \"{name}\": {source}");
                self.state
                    .recorder
                    .warning(&self.deployment, FAILED_CREATE, message.clone());
                if self.has_progress_deadline() {
                    let condition = status::condition(
                        status::PROGRESSING,
                        Truth::False,
                        ConditionReason::ReplicaSetCreateError,
                        message,
                        self.now,
                    );
                    self.set_condition_now(condition).await?;
                }
                return Err(SyncError::Create { name, source });
            }
        };
        if !already_existed && size > 0 {
            self.state.recorder.normal(
                &self.deployment,
                SCALING_REPLICA_SET,
                format!("Scaled up replica set {name} from 0 to {size}"),
            );
        }
        self.replica_sets.push(created);
        let index = self.replica_sets.len() - 1;
        self.set_deployment_revision(new_revision).await?;
        if !already_existed && self.has_progress_deadline() {
            let condition = status::condition(
                status::PROGRESSING,
                Truth::True,
                ConditionReason::NewReplicaSetCreated,
                format!("Created new replica set \"{name}\""),
                self.now,
            );
            self.set_condition_now(condition).await?;
        }
        Ok(index)
    }

    /// Writes the revision annotation on the deployment if it differs (what `kubectl
    /// rollout history` and `undo` read).
    async fn set_deployment_revision(&mut self, revision: i64) -> Result<(), SyncError> {
        let revision = revision.to_string();
        let current = self
            .deployment
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(revision::REVISION));
        if current == Some(&revision) {
            return Ok(());
        }
        let patch = json!({ "metadata": { "annotations": { revision::REVISION: revision } } });
        self.deployment = self
            .deployment_api
            .patch(
                &self.deployment.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
            .map_err(SyncError::UpdateDeployment)?;
        Ok(())
    }

    /// Sets one condition and writes the status at once (upstream does so on creation).
    async fn set_condition_now(&mut self, condition: DeploymentCondition) -> Result<(), SyncError> {
        let mut status = self.deployment.status.clone().unwrap_or_default();
        status::set_condition(&mut status, condition);
        self.write_status(status).await
    }

    async fn write_status(
        &mut self,
        new: k8s_openapi::api::apps::v1::DeploymentStatus,
    ) -> Result<(), SyncError> {
        let current = self.deployment.status.clone().unwrap_or_default();
        if status::normalized(&current) == status::normalized(&new) {
            return Ok(());
        }
        let mut updated = self.deployment.clone();
        updated.status = Some(new);
        self.deployment = self
            .deployment_api
            .replace_status(
                &self.deployment.name_any(),
                &PostParams::default(),
                &updated,
            )
            .await
            .map_err(SyncError::UpdateDeployment)?;
        Ok(())
    }

    async fn replace_replica_set(
        &mut self,
        index: usize,
        updated: ReplicaSet,
    ) -> Result<(), SyncError> {
        let name = updated.name_any();
        let written = self
            .rs_api
            .replace(&name, &PostParams::default(), &updated)
            .await
            .map_err(|source| SyncError::UpdateReplicaSet { name, source })?;
        if let Some(slot) = self.replica_sets.get_mut(index) {
            *slot = written;
        }
        Ok(())
    }

    /// Scales one ReplicaSet and refreshes its replica annotations, with a ScalingReplicaSet
    /// event (upstream `scaleReplicaSetAndRecordEvent`).
    async fn scale(&mut self, index: usize, size: i32) -> Result<(), SyncError> {
        let Some(rs) = self.replica_sets.get(index) else {
            return Ok(());
        };
        let from = replicas_of(rs);
        let desired = self.desired();
        let max = desired.saturating_add(fenceposts::max_surge(&self.deployment));
        if from == size && !revision::replicas_annotations_need_update(rs, desired, max) {
            return Ok(());
        }
        let mut updated = rs.clone();
        updated
            .spec
            .get_or_insert_with(ReplicaSetSpec::default)
            .replicas = Some(size);
        revision::set_replicas_annotations(&mut updated, desired, max);
        let name = updated.name_any();
        self.replace_replica_set(index, updated).await?;
        if from != size {
            let direction = if size > from { "up" } else { "down" };
            self.state.recorder.normal(
                &self.deployment,
                SCALING_REPLICA_SET,
                format!("Scaled {direction} replica set {name} from {from} to {size}"),
            );
        }
        Ok(())
    }

    /// A ReplicaSet's `desired-replicas` annotation differs from `spec.replicas` (upstream
    /// `isScalingEvent`).
    async fn scaling_event(&mut self) -> Result<bool, SyncError> {
        self.new_replica_set(false).await?;
        let desired = self.desired();
        Ok(self
            .replica_sets
            .iter()
            .filter(|rs| replicas_of(rs) > 0)
            .filter_map(|rs| revision::int_annotation(rs, revision::DESIRED_REPLICAS))
            .any(|annotated| annotated != desired))
    }

    /// Paused or scaling: resize ReplicaSets only (upstream `sync`).
    async fn scale_only(&mut self) -> Result<Action, SyncError> {
        let new = self.new_replica_set(false).await?;
        self.scale_proportionally(new).await?;
        if self.paused() {
            self.cleanup(new).await?;
        }
        self.sync_status(new, Progress::Skip).await
    }

    /// Upstream `scale`.
    async fn scale_proportionally(&mut self, new: Option<usize>) -> Result<(), SyncError> {
        let desired = self.desired();
        let active: Vec<usize> = (0..self.replica_sets.len())
            .filter(|i| {
                self.replica_sets
                    .get(*i)
                    .is_some_and(|rs| replicas_of(rs) > 0)
            })
            .collect();
        // One active (or, with none, the newest) ReplicaSet simply takes the new size.
        let only = match active.as_slice() {
            [single] => Some(*single),
            [] => new.or_else(|| {
                let mut old = self.old_indices(new);
                old.sort_by(|a, b| {
                    self.view(*a)
                        .zip(self.view(*b))
                        .map_or(std::cmp::Ordering::Equal, |(a, b)| {
                            sizes::by_creation(&a, &b)
                        })
                });
                old.last().copied()
            }),
            _ => None,
        };
        if let Some(index) = only {
            if self.replica_sets.get(index).map(replicas_of) != Some(desired) {
                self.scale(index, desired).await?;
            }
            return Ok(());
        }
        // The new ReplicaSet is complete: old ones go to zero.
        if let Some(index) = new.filter(|index| self.saturated(*index)) {
            for old in active.into_iter().filter(|i| *i != index) {
                self.scale(old, 0).await?;
            }
            return Ok(());
        }
        if !fenceposts::is_rolling_update(&self.deployment) {
            return Ok(());
        }
        let mut views: Vec<(usize, SetView)> = active
            .iter()
            .filter_map(|i| self.view(*i).map(|view| (*i, view)))
            .collect();
        let mut sets: Vec<SetView> = views.iter().map(|(_, view)| view.clone()).collect();
        let status_replicas = self
            .deployment
            .status
            .as_ref()
            .and_then(|s| s.replicas)
            .unwrap_or(0);
        sizes::proportional(
            desired,
            fenceposts::max_surge(&self.deployment),
            status_replicas,
            &mut sets,
        );
        for (index, view) in &mut views {
            if let Some(size) = sets
                .iter()
                .find(|set| set.name == view.name)
                .map(|set| set.replicas)
            {
                self.scale(*index, size).await?;
            }
        }
        Ok(())
    }

    /// The ReplicaSet at `index` runs all replicas, available (upstream `IsSaturated`).
    fn saturated(&self, index: usize) -> bool {
        let desired = self.desired();
        self.replica_sets.get(index).is_some_and(|rs| {
            replicas_of(rs) == desired
                && revision::int_annotation(rs, revision::DESIRED_REPLICAS) == Some(desired)
                && rs
                    .status
                    .as_ref()
                    .and_then(|s| s.available_replicas)
                    .unwrap_or(0)
                    == desired
        })
    }

    /// Upstream `rolloutRolling`.
    async fn rolling(&mut self) -> Result<Action, SyncError> {
        let Some(new) = self.new_replica_set(true).await? else {
            return Ok(Action::await_change());
        };
        let desired = self.desired();
        let max_surge = fenceposts::max_surge(&self.deployment);
        let total: i32 = self.replica_sets.iter().map(replicas_of).sum();
        let new_size = self.replica_sets.get(new).map_or(0, replicas_of);
        if let Some(size) = sizes::reconcile_new(desired, max_surge, total, new_size) {
            self.scale(new, size).await?;
            return self.sync_status(Some(new), Progress::Track).await;
        }
        let mut old: Vec<(usize, SetView)> = self
            .old_indices(Some(new))
            .into_iter()
            .filter_map(|i| self.view(i).map(|view| (i, view)))
            .filter(|(_, view)| view.replicas > 0)
            .collect();
        old.sort_by(|(_, a), (_, b)| sizes::by_creation(a, b));
        let mut views: Vec<SetView> = old.iter().map(|(_, view)| view.clone()).collect();
        let new_view = self
            .view(new)
            .unwrap_or_else(|| SetView::of(&ReplicaSet::default()));
        if sizes::scale_down_old(
            desired,
            fenceposts::max_unavailable(&self.deployment),
            &mut views,
            &new_view,
        ) {
            for ((index, before), after) in old.iter().zip(&views) {
                if before.replicas != after.replicas {
                    self.scale(*index, after.replicas).await?;
                }
            }
            return self.sync_status(Some(new), Progress::Track).await;
        }
        let current = self.deployment.status.clone().unwrap_or_default();
        if status::complete(&self.deployment, &current) {
            self.cleanup(Some(new)).await?;
        }
        self.sync_status(Some(new), Progress::Track).await
    }

    /// Upstream `rolloutRecreate`.
    async fn recreate(&mut self) -> Result<Action, SyncError> {
        let new = self.new_replica_set(false).await?;
        let mut scaled_down = false;
        for index in self.old_indices(new) {
            if self
                .replica_sets
                .get(index)
                .is_some_and(|rs| replicas_of(rs) > 0)
            {
                self.scale(index, 0).await?;
                scaled_down = true;
            }
        }
        if scaled_down || self.old_pods_running(new) {
            return self.sync_status(new, Progress::Track).await;
        }
        let new = match new {
            Some(index) => index,
            None => match self.new_replica_set(true).await? {
                Some(index) => index,
                None => return Ok(Action::await_change()),
            },
        };
        let desired = self.desired();
        if self.replica_sets.get(new).map(replicas_of) != Some(desired) {
            self.scale(new, desired).await?;
        }
        let current = self.deployment.status.clone().unwrap_or_default();
        if status::complete(&self.deployment, &current) {
            self.cleanup(Some(new)).await?;
        }
        self.sync_status(Some(new), Progress::Track).await
    }

    /// Old ReplicaSets still have pods that are not finished, terminating ones included
    /// (upstream `oldPodsRunning`).
    fn old_pods_running(&self, new: Option<usize>) -> bool {
        let old: Vec<&ReplicaSet> = self
            .old_indices(new)
            .into_iter()
            .filter_map(|i| self.replica_sets.get(i))
            .collect();
        if old
            .iter()
            .any(|rs| rs.status.as_ref().is_some_and(|status| status.replicas > 0))
        {
            return true;
        }
        let old_uids: Vec<String> = old
            .iter()
            .filter_map(|rs| rs.metadata.uid.clone())
            .collect();
        let namespace = self.deployment.namespace();
        self.state.pods.state().iter().any(|pod| {
            pod.metadata.namespace == namespace
                && controller_of(&**pod).is_some_and(|owner| old_uids.contains(&owner.uid))
                && !matches!(
                    crate::pod_state::phase(pod),
                    crate::pod_state::Phase::Succeeded | crate::pod_state::Phase::Failed
                )
        })
    }

    /// Deletes the oldest empty old ReplicaSets beyond `revisionHistoryLimit` (upstream
    /// `cleanupDeployment`).
    async fn cleanup(&mut self, new: Option<usize>) -> Result<(), SyncError> {
        let Some(limit) = self
            .deployment
            .spec
            .as_ref()
            .and_then(|spec| spec.revision_history_limit)
        else {
            return Ok(());
        };
        let mut old: Vec<&ReplicaSet> = self
            .old_indices(new)
            .into_iter()
            .filter_map(|i| self.replica_sets.get(i))
            .filter(|rs| rs.metadata.deletion_timestamp.is_none())
            .collect();
        let surplus = old
            .len()
            .saturating_sub(usize::try_from(limit).unwrap_or(0));
        if surplus == 0 {
            return Ok(());
        }
        old.sort_by_key(|rs| revision::revision_of(rs.metadata.annotations.as_ref()));
        let doomed: Vec<String> = old
            .into_iter()
            .take(surplus)
            .filter(|rs| {
                let status = rs.status.clone().unwrap_or_default();
                status.replicas == 0
                    && replicas_of(rs) == 0
                    && rs.metadata.generation.unwrap_or(0)
                        <= status.observed_generation.unwrap_or(0)
            })
            .map(ResourceExt::name_any)
            .collect();
        for name in doomed {
            match self.rs_api.delete(&name, &DeleteParams::background()).await {
                Ok(_) => {}
                Err(kube::Error::Api(status)) if status.code == 404 => {}
                Err(source) => return Err(SyncError::Delete { name, source }),
            }
            self.replica_sets
                .retain(|rs| rs.metadata.name.as_deref() != Some(name.as_str()));
        }
        Ok(())
    }

    /// Writes the status; with [`Progress::Track`] also the Progressing condition, and
    /// requeues to notice a missed progress deadline.
    async fn sync_status(
        &mut self,
        new: Option<usize>,
        progress: Progress,
    ) -> Result<Action, SyncError> {
        let new_rs = new.and_then(|index| self.replica_sets.get(index));
        let all: Vec<&ReplicaSet> = self.replica_sets.iter().collect();
        let mut next = status::calculate(&self.deployment, &all, new_rs, self.now);
        if progress == Progress::Track {
            let failure = new_rs.and_then(replica_failure);
            let name = new_rs.map(ResourceExt::name_any);
            status::sync_progress(
                &self.deployment,
                &mut next,
                name.as_deref(),
                failure,
                self.now,
            );
        }
        let recheck = status::recheck_after(&self.deployment, &next, self.now);
        self.write_status(next).await?;
        Ok(match (progress, recheck) {
            (Progress::Track, Some(after)) => Action::requeue(after),
            _ => Action::await_change(),
        })
    }
}

/// Whether a status write also judges rollout progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Progress {
    /// Rolling out: update Progressing.
    Track,
    /// Scaling, paused or deleting: leave Progressing alone (upstream `syncDeploymentStatus`).
    Skip,
}

/// The new ReplicaSet's `ReplicaFailure` condition, as a deployment condition.
fn replica_failure(rs: &ReplicaSet) -> Option<DeploymentCondition> {
    let condition = rs
        .status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == status::REPLICA_FAILURE && c.status == "True")?;
    Some(DeploymentCondition {
        type_: condition.type_.clone(),
        status: condition.status.clone(),
        reason: condition.reason.clone(),
        message: condition.message.clone(),
        last_transition_time: condition.last_transition_time.clone(),
        last_update_time: condition.last_transition_time.clone(),
    })
}
