//! The DaemonSet controller (upstream `pkg/controller/daemon`): one daemon pod on every node
//! that should run one, pinned there by node affinity on `metadata.name` so the default
//! scheduler binds it, rolled out node by node on template changes, with the template
//! history kept as ControllerRevisions.
//!
//! A sync:
//! 1. claims pods and ControllerRevisions (adopt matching orphans, release non-matching);
//! 2. finds or creates the revision of the current template (its hash labels new pods);
//! 3. if its last actions are visible in the cache (expectations): creates missing daemon
//!    pods, deletes failed, duplicate, misscheduled and orphaned-node pods; then, with
//!    nothing else to do, takes one [`rolling`] step (RollingUpdate; OnDelete waits for the
//!    user to delete old pods);
//! 4. truncates history to `revisionHistoryLimit` and writes the status.

pub mod placement;
pub mod rolling;
pub mod status;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures::future::{BoxFuture, FutureExt};
use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet};
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams};
use kube::core::Selector;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Client, ResourceExt};
use serde_json::json;

use crate::claim;
use crate::framework::{
    run_controller, Action, Context, DefaultState, EventRecorder, Expectations, Triggers,
};
use crate::history::{self, pod_actions, CONTROLLER_REVISION_HASH};
use crate::pod_state;
use crate::registry::Descriptor;
use placement::{add_default_tolerations, pin_to_node, placement, target_node};

/// The DaemonSet controller.
pub const DESCRIPTOR: Descriptor = Descriptor {
    name: "daemonset",
    default: DefaultState::Enabled,
    start,
};

/// The label with the DaemonSet generation a pod was made from (upstream
/// `pod-template-generation`).
pub const POD_TEMPLATE_GENERATION: &str = "pod-template-generation";

/// Upstream's `BurstReplicas` for daemon pods.
const BURST: usize = 250;

/// Why a sync failed (it is retried with backoff).
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// Adopting or releasing pods or revisions failed.
    #[error("could not claim children")]
    Claim(#[source] kube::Error),
    /// Reading or writing ControllerRevisions failed.
    #[error("could not update the revision history")]
    History(#[source] kube::Error),
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
    nodes: Store<Node>,
    revisions: Store<ControllerRevision>,
    recorder: EventRecorder,
    expectations: Arc<Expectations<DaemonSet, Pod>>,
}

fn start(ctx: Context) -> BoxFuture<'static, Result<(), crate::Error>> {
    async move {
        let sets = ctx.informer::<DaemonSet>();
        let pods = ctx.informer::<Pod>();
        let nodes = ctx.informer::<Node>();
        let revisions = ctx.informer::<ControllerRevision>();
        let expectations = Arc::new(Expectations::default());
        let state = Arc::new(State {
            client: ctx.client().clone(),
            pods: pods.store(),
            nodes: nodes.store(),
            revisions: revisions.store(),
            recorder: ctx.recorder("daemonset-controller"),
            expectations: Arc::clone(&expectations),
        });
        let set_store = sets.store();
        let triggers = Triggers::new()
            .primary(&sets)
            .owned(&pods)
            .waits_for(&revisions)
            // Any node change can change where daemon pods belong.
            .mapped(&nodes, move |_| {
                set_store
                    .state()
                    .iter()
                    .map(|set| ObjectRef::from_obj(&**set))
                    .collect()
            })
            .forgets_deleted(&sets, expectations);
        run_controller(&ctx, "daemonset", &sets, triggers, state, sync).await;
        Ok(())
    }
    .boxed()
}

async fn sync(set: Arc<DaemonSet>, state: Arc<State>) -> Result<Action, SyncError> {
    let key = ObjectRef::from_obj(&*set);
    let namespace = set.namespace().unwrap_or_default();
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
    let sets_api: Api<DaemonSet> = Api::namespaced(state.client.clone(), &namespace);
    let can_adopt = || async {
        let fresh = sets_api.get_opt(&set.name_any()).await?;
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
    let current = history::ensure(
        &revisions_api,
        &*set,
        &spec.template,
        &mut revisions,
        &mut collision_count,
    )
    .await
    .map_err(SyncError::History)?;
    let hash = history::hash_label(&*current)
        .unwrap_or_default()
        .to_owned();

    let mut daemon_spec = spec.template.spec.clone().unwrap_or_default();
    add_default_tolerations(&mut daemon_spec);
    let nodes = state.nodes.state();
    let by_node = pods_by_node(&pods);
    let manage = if set.metadata.deletion_timestamp.is_none()
        && state.expectations.satisfied(&key, &state.pods)
    {
        manage(
            &set,
            &nodes,
            &by_node,
            &daemon_spec,
            &hash,
            &pods_api,
            &state,
        )
        .await
    } else {
        Ok(())
    };

    // Revisions still used by a pod, and the current one, are live.
    let hash_to_name: HashMap<&str, String> = revisions
        .iter()
        .filter_map(|rev| Some((history::hash_label(&**rev)?, rev.name_any())))
        .collect();
    let mut live: HashSet<String> = pods
        .iter()
        .filter_map(|pod| hash_to_name.get(history::hash_label(&**pod)?).cloned())
        .collect();
    live.insert(current.name_any());
    history::truncate(
        &revisions_api,
        &revisions,
        &live,
        spec.revision_history_limit
            .unwrap_or(history::DEFAULT_HISTORY_LIMIT),
    )
    .await
    .map_err(SyncError::History)?;

    let min_ready = spec.min_ready_seconds.unwrap_or(0);
    let views: Vec<(bool, Vec<Arc<Pod>>)> = nodes
        .iter()
        .map(|node| {
            let name = node.name_any();
            let run = placement(node, &daemon_spec).should_run;
            (run, by_node.get(name.as_str()).cloned().unwrap_or_default())
        })
        .collect();
    let node_views: Vec<status::NodeView<'_>> = views
        .iter()
        .map(|(should_run, pods)| status::NodeView {
            should_run: *should_run,
            pods,
        })
        .collect();
    let now = Timestamp::now();
    let new_status = status::calculate(
        &node_views,
        &hash,
        min_ready,
        set.metadata.generation.unwrap_or(0),
        collision_count,
        now,
    );
    if set.status.as_ref() != Some(&new_status) {
        sets_api
            .patch_status(
                &set.name_any(),
                &PatchParams::default(),
                &Patch::Merge(json!({ "status": new_status })),
            )
            .await
            .map_err(SyncError::Status)?;
    }
    manage?;
    // Ready pods become available after minReadySeconds without any event.
    if min_ready > 0 && new_status.number_ready > new_status.number_available.unwrap_or(0) {
        return Ok(Action::requeue(Duration::from_secs(
            u64::try_from(min_ready).unwrap_or(0),
        )));
    }
    Ok(Action::await_change())
}

/// The live daemon pods by the node they are for, oldest first.
fn pods_by_node(pods: &[Arc<Pod>]) -> BTreeMap<String, Vec<Arc<Pod>>> {
    let mut by_node: BTreeMap<String, Vec<Arc<Pod>>> = BTreeMap::new();
    for pod in pods
        .iter()
        .filter(|pod| pod.metadata.deletion_timestamp.is_none())
    {
        let node = pod.spec.as_ref().and_then(target_node).unwrap_or_default();
        by_node
            .entry(node.to_owned())
            .or_default()
            .push(Arc::clone(pod));
    }
    for pods in by_node.values_mut() {
        pods.sort_by(|a, b| {
            (&a.metadata.creation_timestamp, a.name_any())
                .cmp(&(&b.metadata.creation_timestamp, b.name_any()))
        });
    }
    by_node
}

/// Creates and deletes daemon pods (upstream `manage` and `rollingUpdate`).
async fn manage(
    set: &DaemonSet,
    nodes: &[Arc<Node>],
    by_node: &BTreeMap<String, Vec<Arc<Pod>>>,
    daemon_spec: &k8s_openapi::api::core::v1::PodSpec,
    hash: &str,
    api: &Api<Pod>,
    state: &State,
) -> Result<(), SyncError> {
    let surge_allowed = set
        .spec
        .as_ref()
        .map(|spec| rolling::budgets(spec.update_strategy.as_ref(), 1).0 > 0)
        .unwrap_or(false);
    let mut create_on: Vec<String> = Vec::new();
    let mut delete: Vec<Arc<Pod>> = Vec::new();
    let mut rolling_nodes = Vec::new();
    let known: HashSet<String> = nodes.iter().map(|node| node.name_any()).collect();
    for node in nodes {
        let name = node.name_any();
        let placed = placement(node, daemon_spec);
        let pods = by_node.get(&name).cloned().unwrap_or_default();
        let (failed, running): (Vec<_>, Vec<_>) = pods
            .into_iter()
            .partition(|pod| pod_state::phase(pod) == pod_state::Phase::Failed);
        if !placed.should_continue_running {
            delete.extend(failed);
            delete.extend(running);
            continue;
        }
        delete.extend(failed);
        if running.is_empty() {
            if placed.should_run {
                create_on.push(name);
            }
            continue;
        }
        // Keep the oldest pod (and, while surging, the oldest of the other revision).
        let (new, old): (Vec<_>, Vec<_>) = running
            .into_iter()
            .partition(|pod| history::hash_label(&**pod) == Some(hash));
        let (keep_new, keep_old) = if surge_allowed {
            (new.first().cloned(), old.first().cloned())
        } else if let Some(first_old) = old.first() {
            (None, Some(Arc::clone(first_old)))
        } else {
            (new.first().cloned(), None)
        };
        let keep_names: HashSet<String> = keep_new
            .iter()
            .chain(keep_old.iter())
            .map(|pod| pod.name_any())
            .collect();
        let extra: Vec<Arc<Pod>> = new
            .iter()
            .chain(old.iter())
            .filter(|pod| !keep_names.contains(&pod.name_any()))
            .cloned()
            .collect();
        let settled = extra.is_empty();
        delete.extend(extra);
        let now = Timestamp::now();
        let min_ready = set
            .spec
            .as_ref()
            .and_then(|s| s.min_ready_seconds)
            .unwrap_or(0);
        let candidate = |pod: &Arc<Pod>| rolling::Candidate {
            name: pod.name_any(),
            available: pod_state::is_available(pod, min_ready, now),
        };
        rolling_nodes.push((
            rolling::OnNode {
                node: name,
                new: keep_new.as_ref().map(candidate),
                old: keep_old.as_ref().map(candidate),
                settled,
            },
            keep_old,
        ));
    }
    // Pods for nodes that no longer exist (upstream deletes unscheduled ones).
    for (node, pods) in by_node {
        if !known.contains(node) {
            delete.extend(pods.iter().cloned());
        }
    }
    let is_rolling = set
        .spec
        .as_ref()
        .and_then(|spec| spec.update_strategy.as_ref())
        .and_then(|strategy| strategy.type_.as_deref())
        .is_none_or(|kind| kind == "RollingUpdate");
    if create_on.is_empty() && delete.is_empty() && is_rolling {
        let desired = i32::try_from(rolling_nodes.len()).unwrap_or(i32::MAX);
        let (max_surge, max_unavailable) = rolling::budgets(
            set.spec
                .as_ref()
                .and_then(|spec| spec.update_strategy.as_ref()),
            desired,
        );
        let views: Vec<rolling::OnNode> =
            rolling_nodes.iter().map(|(view, _)| view.clone()).collect();
        let step = rolling::plan(&views, max_surge, max_unavailable);
        let doomed: HashSet<&String> = step.delete.iter().collect();
        delete.extend(
            rolling_nodes
                .iter()
                .filter_map(|(_, old)| old.as_ref())
                .filter(|old| doomed.contains(&old.name_any()))
                .cloned(),
        );
        create_on.extend(step.create_on);
    }
    create_on.truncate(BURST);
    delete.truncate(BURST);
    let key = ObjectRef::from_obj(set);
    let template = set
        .spec
        .as_ref()
        .map(|spec| spec.template.clone())
        .unwrap_or_default();
    let generation = set.metadata.generation.unwrap_or(0).to_string();
    let mut first_error = None;
    let mut created = Vec::new();
    for node in &create_on {
        let mut pod = crate::replicaset::pod_from_template(set, &template);
        let mut spec = daemon_spec.clone();
        pin_to_node(&mut spec, node);
        pod.spec = Some(spec);
        let labels = pod.metadata.labels.get_or_insert_with(BTreeMap::new);
        labels.insert(CONTROLLER_REVISION_HASH.to_owned(), hash.to_owned());
        labels.insert(POD_TEMPLATE_GENERATION.to_owned(), generation.clone());
        match pod_actions::create(api, &state.recorder, set, &pod).await {
            Ok(Some(made)) => created.push(ObjectRef::from_obj(&made)),
            Ok(None) => {}
            Err(error) => {
                first_error.get_or_insert(SyncError::Create(error));
                break;
            }
        }
    }
    let mut deleted = Vec::new();
    for pod in &delete {
        match pod_actions::delete(api, &state.recorder, set, pod).await {
            Ok(()) => deleted.push((ObjectRef::from_obj(&**pod), pod.uid().unwrap_or_default())),
            Err(error) => {
                first_error.get_or_insert(SyncError::Delete(error));
            }
        }
    }
    state.expectations.expect(key, created, deleted);
    first_error.map_or(Ok(()), Err)
}
