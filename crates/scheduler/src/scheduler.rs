//! The scheduler's state and decisions, apart from I/O (upstream
//! pkg/scheduler/eventhandlers.go and schedule_one.go).
//!
//! Watch events update the [`Cache`] (bound pods, nodes, namespaces) and the
//! [`SchedulingQueue`] (pending pods of our profiles). One scheduling cycle
//! pops a pod, runs its profile's [`Algorithm`] over a fresh snapshot and
//! returns the [`Action`]s the caller performs against the apiserver: bind,
//! report a failure, preempt. A chosen node is assumed in the cache at once,
//! so the next cycle sees it before the bind returns; a failed bind forgets
//! it again.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::scheduling::v1::PriorityClass;

use crate::framework::{
    pod_key, Algorithm, ClusterEvent, FitError, PodInfo, PodKey, ScheduleError, Snapshot, TieBreak,
};
use crate::informers::{Change, Delta, Mirror};
use crate::preemption::{preempt, Preemption};
use crate::queue::{PendingCounts, QueuedPod, SystemClock};
use crate::{priority, Cache, Configuration, SchedulingQueue};

/// Upstream flushes pods stuck in the unschedulable queue this often
/// (`flushUnschedulablePodsLeftover` runs every 30 s).
const FLUSH_UNSCHEDULABLE_EVERY: Duration = Duration::from_secs(30);

/// Why a cycle did not place a pod, as upstream's PodScheduled condition
/// reason (`v1.PodReasonUnschedulable`, `v1.PodReasonSchedulerError`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FailureReason {
    /// No node fits.
    Unschedulable,
    /// The cycle failed for another reason.
    SchedulerError,
}

impl FailureReason {
    /// The condition reason on the wire.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            FailureReason::Unschedulable => "Unschedulable",
            FailureReason::SchedulerError => "SchedulerError",
        }
    }
}

/// What the caller must do against the apiserver after a cycle.
#[derive(Debug, Clone)]
pub(crate) enum Action {
    /// POST the pod's `binding` subresource.
    Bind {
        /// The pod, as scheduled.
        pod: Arc<Pod>,
        /// The chosen node.
        node: String,
    },
    /// A FailedScheduling event and the PodScheduled=False condition.
    ReportFailure {
        /// The pod.
        pod: Arc<Pod>,
        /// The condition reason.
        reason: FailureReason,
        /// Upstream's message ("0/3 nodes are available: …").
        message: String,
        /// Set `status.nominatedNodeName` to this.
        nominated_node: Option<String>,
    },
    /// Evict `victims` so `pod` can run on `node` later.
    Preempt {
        /// The preemptor.
        pod: Arc<Pod>,
        /// The node nominated for it.
        node: String,
        /// The pods to delete.
        victims: Vec<Arc<Pod>>,
    },
}

/// How one cycle ended, for metrics (upstream's `result` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AttemptResult {
    /// A node was chosen.
    Scheduled,
    /// No node fits.
    Unschedulable,
    /// Something else failed.
    Error,
}

impl AttemptResult {
    /// The metric label value.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            AttemptResult::Scheduled => "scheduled",
            AttemptResult::Unschedulable => "unschedulable",
            AttemptResult::Error => "error",
        }
    }
}

/// One scheduling cycle's outcome.
#[derive(Debug)]
pub(crate) struct Attempt {
    /// The profile (scheduler name) that ran.
    pub(crate) profile: String,
    /// How it ended.
    pub(crate) result: AttemptResult,
    /// What to do about it.
    pub(crate) actions: Vec<Action>,
    /// How long the cycle took.
    pub(crate) duration: Duration,
}

/// The scheduler's state: informer mirrors, cache, queue and one algorithm
/// per profile.
pub(crate) struct Scheduler {
    cache: Cache,
    queue: SchedulingQueue,
    snapshot: Snapshot,
    algorithms: Vec<Algorithm>,
    pods: Mirror<Pod>,
    nodes: Mirror<Node>,
    namespaces: Mirror<Namespace>,
    pdbs: Mirror<PodDisruptionBudget>,
    priority_classes: Mirror<PriorityClass>,
    /// Pods assumed and being bound, to requeue if the bind fails.
    binding: HashMap<PodKey, QueuedPod>,
    /// Where preemption nominated pods.
    nominated: HashMap<PodKey, String>,
    last_flush: Instant,
}

fn assigned_node(pod: &Pod) -> Option<&str> {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .filter(|n| !n.is_empty())
}

fn terminated(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded") | Some("Failed")
    )
}

/// The scheduler a pod asks for; empty means the default one.
pub(crate) fn scheduler_name(pod: &Pod) -> &str {
    pod.spec
        .as_ref()
        .and_then(|s| s.scheduler_name.as_deref())
        .filter(|n| !n.is_empty())
        .unwrap_or(crate::framework::DEFAULT_SCHEDULER_NAME)
}

/// Upstream's `isPodUpdated`: a change the scheduler cares about, i.e. not
/// only status, resource version or managed fields (our own status writes
/// must not retry the pod at once).
fn spec_or_meta_changed(old: &Pod, new: &Pod) -> bool {
    let strip = |p: &Pod| {
        let mut p = p.clone();
        p.metadata.resource_version = None;
        p.metadata.generation = None;
        p.metadata.managed_fields = None;
        p.metadata.finalizers = None;
        p.status = None;
        p
    };
    strip(old) != strip(new)
}

fn priority_of(pod: &Pod) -> i32 {
    pod.spec.as_ref().and_then(|s| s.priority).unwrap_or(0)
}

impl Scheduler {
    /// A scheduler for `config`'s profiles.
    pub(crate) fn new(config: &Configuration) -> Self {
        let algorithms = config
            .profiles
            .iter()
            .map(|p| {
                Algorithm::new(p.clone(), TieBreak::seeded(rand::random()))
                    .with_default_percentage(config.percentage_of_nodes_to_score)
            })
            .collect();
        Scheduler {
            cache: Cache::new(),
            queue: SchedulingQueue::with_backoff(
                Arc::new(SystemClock),
                config.pod_initial_backoff,
                config.pod_max_backoff,
            ),
            snapshot: Snapshot::new(Vec::new()),
            algorithms,
            pods: Mirror::default(),
            nodes: Mirror::default(),
            namespaces: Mirror::default(),
            pdbs: Mirror::default(),
            priority_classes: Mirror::default(),
            binding: HashMap::new(),
            nominated: HashMap::new(),
            last_flush: Instant::now(),
        }
    }

    /// True once every informer delivered its first list (upstream waits
    /// for cache sync before scheduling).
    pub(crate) fn synced(&self) -> bool {
        self.pods.synced()
            && self.nodes.synced()
            && self.namespaces.synced()
            && self.pdbs.synced()
            && self.priority_classes.synced()
    }

    /// Pending pods per sub-queue.
    pub(crate) fn pending(&self) -> PendingCounts {
        self.queue.pending()
    }

    fn responsible_for(&self, pod: &Pod) -> bool {
        let name = scheduler_name(pod);
        self.algorithms
            .iter()
            .any(|a| a.profile().scheduler_name() == name)
    }

    /// Applies one watch event.
    pub(crate) fn on_change(&mut self, change: Change) {
        match change {
            Change::Pod(event) => {
                for delta in self.pods.apply(event) {
                    self.on_pod(delta);
                }
            }
            Change::Node(event) => {
                for delta in self.nodes.apply(event) {
                    self.on_node(delta);
                }
            }
            Change::Namespace(event) => {
                for delta in self.namespaces.apply(event) {
                    let (ns, labels) = match &delta {
                        Delta::Added(ns) | Delta::Updated(_, ns) => {
                            (ns, ns.metadata.labels.clone().unwrap_or_default())
                        }
                        Delta::Deleted(ns) => (ns, Default::default()),
                    };
                    let name = ns.metadata.name.as_deref().unwrap_or_default();
                    self.cache.set_namespace(name, labels);
                }
            }
            Change::Pdb(event) => {
                self.pdbs.apply(event);
            }
            Change::PriorityClass(event) => {
                self.priority_classes.apply(event);
            }
        }
    }

    fn on_node(&mut self, delta: Delta<Node>) {
        match delta {
            Delta::Added(node) => {
                self.cache.add_node((*node).clone());
                self.queue.on_event(ClusterEvent::NodeAdded);
            }
            Delta::Updated(old, new) => {
                self.cache.add_node((*new).clone());
                for event in ClusterEvent::node_updated(&old, &new) {
                    self.queue.on_event(event);
                }
            }
            Delta::Deleted(node) => {
                self.cache
                    .remove_node(node.metadata.name.as_deref().unwrap_or_default());
                self.queue.on_event(ClusterEvent::NodeDeleted);
            }
        }
    }

    fn on_pod(&mut self, delta: Delta<Pod>) {
        match delta {
            Delta::Added(pod) => self.pod_seen(None, &pod),
            Delta::Updated(old, new) => self.pod_seen(Some(&old), &new),
            Delta::Deleted(pod) => self.pod_deleted(&pod),
        }
    }

    fn pod_seen(&mut self, old: Option<&Pod>, new: &Pod) {
        let key = pod_key(new);
        let in_cache = self.cache.pod_node(&key).is_some();
        let assumed = self.cache.is_assumed(&key);
        if assigned_node(new).is_some() {
            if terminated(new) {
                // Finished pods free their node (upstream drops them from
                // the cache on update to a terminal phase).
                if in_cache {
                    self.pod_deleted(new);
                }
                return;
            }
            let pod = priority::resolve(new.clone(), &self.priority_classes);
            self.queue.delete(&key);
            self.nominated.remove(&key);
            if in_cache && !assumed {
                if let Err(error) = self.cache.update_pod(pod) {
                    tracing::debug!(pod = %key, %error, "cache update");
                }
                for event in old
                    .map(|o| ClusterEvent::assigned_pod_updated(o, new))
                    .unwrap_or_default()
                {
                    self.queue.on_event(event);
                }
            } else {
                if let Err(error) = self.cache.add_pod(pod) {
                    tracing::debug!(pod = %key, %error, "cache add");
                }
                self.queue.on_event(ClusterEvent::AssignedPodAdded);
            }
            return;
        }
        if assumed {
            // Our bind is in flight; the bound version will follow.
            return;
        }
        if !self.responsible_for(new) || new.metadata.deletion_timestamp.is_some() {
            self.queue.delete(&key);
            return;
        }
        let pod = priority::resolve(new.clone(), &self.priority_classes);
        match old {
            None => self.queue.add(pod),
            Some(old) if spec_or_meta_changed(old, new) => self.queue.update(pod),
            Some(_) => {}
        }
    }

    fn pod_deleted(&mut self, pod: &Pod) {
        let key = pod_key(pod);
        self.queue.delete(&key);
        self.nominated.remove(&key);
        if self.cache.pod_node(&key).is_some() {
            if let Err(error) = self.cache.remove_pod(&key) {
                tracing::debug!(pod = %key, %error, "cache remove");
            }
            self.queue.on_event(ClusterEvent::AssignedPodDeleted);
        }
    }

    /// The bind of `key` returned: confirm the assumption, or forget it and
    /// retry the pod after backoff.
    pub(crate) fn bind_finished(&mut self, key: &str, bound: bool) {
        let Some(queued) = self.binding.remove(key) else {
            return;
        };
        if bound {
            // The informer may have confirmed it first; that is fine.
            let _ = self.cache.finish_binding(key, Instant::now());
            return;
        }
        if self.cache.is_assumed(key) {
            let _ = self.cache.forget_pod(key);
            self.queue.on_event(ClusterEvent::AssignedPodDeleted);
        }
        let still_pending = self
            .pods
            .get(key)
            .is_some_and(|p| assigned_node(p).is_none() && p.metadata.deletion_timestamp.is_none());
        if still_pending {
            self.queue.add_after_error(queued);
        }
    }

    /// Periodic queue upkeep; returns when it wants to run next.
    pub(crate) fn housekeeping(&mut self, now: Instant) -> Instant {
        if now.duration_since(self.last_flush) >= FLUSH_UNSCHEDULABLE_EVERY {
            self.queue.flush_unschedulable_left_over();
            self.last_flush = now;
        }
        let flush = self.last_flush + FLUSH_UNSCHEDULABLE_EVERY;
        self.queue
            .next_backoff_expiry()
            .map_or(flush, |b| b.min(flush))
    }

    /// Runs one scheduling cycle if a pod is ready.
    pub(crate) fn schedule_one(&mut self) -> Option<Attempt> {
        let queued = self.queue.pop()?;
        let started = Instant::now();
        let key = queued.info.key().to_string();
        let pod = queued.info.pod.clone();
        let profile = scheduler_name(&pod).to_string();
        let Some(index) = self
            .algorithms
            .iter()
            .position(|a| a.profile().scheduler_name() == profile)
        else {
            // The pod changed scheduler while queued.
            self.queue.done(&key);
            return None;
        };
        self.cache.update_snapshot(&mut self.snapshot);
        let outcome = match self.algorithms.get_mut(index) {
            Some(algorithm) => algorithm.schedule(&queued.info, &self.snapshot),
            None => return None,
        };
        let (result, actions) = match outcome {
            Ok(placed) => match self
                .cache
                .assume_pod(queued.info.clone(), &placed.suggested_host)
            {
                Ok(()) => {
                    self.queue.done(&key);
                    self.binding.insert(key, queued);
                    let bind = Action::Bind {
                        pod,
                        node: placed.suggested_host,
                    };
                    (AttemptResult::Scheduled, vec![bind])
                }
                Err(error) => {
                    self.queue.add_after_error(queued);
                    (
                        AttemptResult::Error,
                        vec![failure(
                            pod,
                            FailureReason::SchedulerError,
                            error.to_string(),
                            None,
                        )],
                    )
                }
            },
            Err(ScheduleError::Unschedulable(mut fit)) => {
                let (nominated, mut actions) = self.post_filter(index, &queued.info, &mut fit);
                let waiting_for = self
                    .algorithms
                    .get(index)
                    .map(|a| a.profile().events_for(&fit.diagnosis.unschedulable_plugins))
                    .unwrap_or_default();
                self.queue.add_unschedulable(queued, waiting_for);
                actions.push(failure(
                    pod,
                    FailureReason::Unschedulable,
                    fit.to_string(),
                    nominated,
                ));
                (AttemptResult::Unschedulable, actions)
            }
            Err(ScheduleError::NoNodesAvailable) => {
                let message = ScheduleError::NoNodesAvailable.to_string();
                self.queue
                    .add_unschedulable(queued, BTreeSet::from([ClusterEvent::NodeAdded]));
                let report = failure(pod, FailureReason::Unschedulable, message, None);
                (AttemptResult::Unschedulable, vec![report])
            }
            Err(error @ ScheduleError::Plugin { .. }) => {
                self.queue.add_after_error(queued);
                let report = failure(pod, FailureReason::SchedulerError, error.to_string(), None);
                (AttemptResult::Error, vec![report])
            }
        };
        Some(Attempt {
            profile,
            result,
            actions,
            duration: started.elapsed(),
        })
    }

    /// Upstream's PostFilter (DefaultPreemption): nominate a node and evict
    /// victims, or explain in the failure message why preemption cannot help.
    fn post_filter(
        &mut self,
        index: usize,
        info: &PodInfo,
        fit: &mut FitError,
    ) -> (Option<String>, Vec<Action>) {
        let key = info.key().to_string();
        if let Some(node) = self.nominated.get(&key) {
            // Upstream `podEligibleToPreemptOthers`: victims of an earlier
            // preemption are still terminating; wait for them.
            let priority = priority_of(&info.pod);
            let waiting = self.snapshot.get(node).is_some_and(|n| {
                n.pods()
                    .iter()
                    .any(|p| p.is_terminating() && priority_of(&p.pod) < priority)
            });
            if waiting {
                fit.diagnosis.post_filter_msg = Some(
                    "preemption: not eligible due to a terminating pod on the nominated node"
                        .into(),
                );
                return (Some(node.clone()), Vec::new());
            }
        }
        let Some(algorithm) = self.algorithms.get(index) else {
            return (None, Vec::new());
        };
        let pdbs: Vec<PodDisruptionBudget> = self.pdbs.values().map(|p| (**p).clone()).collect();
        match preempt(algorithm, info, &self.snapshot, fit, &pdbs) {
            Ok(Preemption::Nominate(candidate)) => {
                self.nominated.insert(key, candidate.node.clone());
                let preempt = Action::Preempt {
                    pod: info.pod.clone(),
                    node: candidate.node.clone(),
                    victims: candidate.victims.iter().map(|v| v.pod.clone()).collect(),
                };
                (Some(candidate.node), vec![preempt])
            }
            Ok(Preemption::NotHelpful(message)) => {
                fit.diagnosis.post_filter_msg = Some(message.trim_end_matches('.').to_string());
                (None, Vec::new())
            }
            Err(error) => {
                tracing::warn!(pod = %key, %error, "preemption failed");
                (None, Vec::new())
            }
        }
    }
}

fn failure(
    pod: Arc<Pod>,
    reason: FailureReason,
    message: String,
    nominated_node: Option<String>,
) -> Action {
    Action::ReportFailure {
        pod,
        reason,
        message,
        nominated_node,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::Registry;
    use crate::testing::{node, pod};
    use kube::runtime::watcher::Event;

    fn scheduler(yaml: Option<&str>) -> Scheduler {
        let registry = Registry::default();
        let config = match yaml {
            Some(y) => Configuration::from_yaml(y, &registry),
            None => Configuration::defaults(&registry),
        }
        .unwrap_or_else(|e| panic!("{e}"));
        let mut s = Scheduler::new(&config);
        for change in [
            Change::Pod(Event::InitDone),
            Change::Node(Event::InitDone),
            Change::Namespace(Event::InitDone),
            Change::Pdb(Event::InitDone),
            Change::PriorityClass(Event::InitDone),
        ] {
            s.on_change(change);
        }
        s
    }

    fn with_rv(mut p: Pod, rv: &str) -> Pod {
        p.metadata.resource_version = Some(rv.into());
        p
    }

    fn binds(attempt: &Attempt) -> Vec<String> {
        attempt
            .actions
            .iter()
            .filter_map(|a| match a {
                Action::Bind { node, .. } => Some(node.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_pending_pod_is_assumed_and_the_next_cycle_sees_it() {
        let mut s = scheduler(None);
        assert!(s.synced());
        s.on_change(Change::Node(Event::Apply(node("n1").cpu("1").build())));
        s.on_change(Change::Pod(Event::Apply(with_rv(
            pod("a").cpu("600m").build(),
            "1",
        ))));
        s.on_change(Change::Pod(Event::Apply(with_rv(
            pod("b").cpu("600m").build(),
            "2",
        ))));
        let first = s
            .schedule_one()
            .unwrap_or_else(|| panic!("a pod was ready"));
        assert_eq!(binds(&first), vec!["n1"]);
        let second = s
            .schedule_one()
            .unwrap_or_else(|| panic!("a pod was ready"));
        assert_eq!(second.result, AttemptResult::Unschedulable);
        let Some(Action::ReportFailure { message, .. }) = second.actions.last() else {
            panic!("expected a failure report: {:?}", second.actions);
        };
        assert_eq!(message, "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.");
    }

    #[test]
    fn a_failed_bind_frees_the_node_for_the_next_pod() {
        let mut s = scheduler(None);
        s.on_change(Change::Node(Event::Apply(node("n1").cpu("1").build())));
        s.on_change(Change::Pod(Event::Apply(with_rv(
            pod("a").cpu("600m").build(),
            "1",
        ))));
        let first = s
            .schedule_one()
            .unwrap_or_else(|| panic!("a pod was ready"));
        assert_eq!(binds(&first), vec!["n1"]);
        s.bind_finished("default/a", false);
        s.on_change(Change::Pod(Event::Apply(with_rv(
            pod("b").cpu("600m").build(),
            "2",
        ))));
        let second = s.schedule_one().unwrap_or_else(|| panic!("b was ready"));
        assert_eq!(binds(&second), vec!["n1"]);
    }

    #[test]
    fn only_pods_of_our_profiles_without_a_node_are_queued() {
        let cases = [
            (
                "a pod for the default scheduler is queued",
                pod("p").build(),
                1,
            ),
            (
                "a pod for another scheduler is left alone",
                pod("p").scheduler_name("other").build(),
                0,
            ),
            (
                "a pod that already has a node is not queued",
                pod("p").node_name("n1").build(),
                0,
            ),
        ];
        for (name, p, want) in cases {
            let mut s = scheduler(None);
            s.on_change(Change::Pod(Event::Apply(with_rv(p, "1"))));
            let pending = s.pending();
            assert_eq!(
                pending.active + pending.backoff + pending.unschedulable,
                want,
                "{name}"
            );
        }
    }

    #[test]
    fn a_status_only_update_does_not_retry_an_unschedulable_pod() {
        let mut s = scheduler(None);
        s.on_change(Change::Node(Event::Apply(node("n1").cpu("1").build())));
        let big = pod("big").cpu("2").build();
        s.on_change(Change::Pod(Event::Apply(with_rv(big.clone(), "1"))));
        let attempt = s
            .schedule_one()
            .unwrap_or_else(|| panic!("a pod was ready"));
        assert_eq!(attempt.result, AttemptResult::Unschedulable);
        let mut with_status = with_rv(big, "2");
        with_status.status = Some(Default::default());
        s.on_change(Change::Pod(Event::Apply(with_status)));
        assert_eq!(s.pending().unschedulable, 1);
        s.on_change(Change::Node(Event::Apply(node("n2").cpu("4").build())));
        assert_eq!(s.pending().unschedulable, 0, "a new node moves it back");
    }
}
