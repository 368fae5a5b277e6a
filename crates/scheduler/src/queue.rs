//! The scheduling queue (upstream pkg/scheduler/backend/queue): pending pods
//! wait in one of three places.
//!
//! - **active**: ready to schedule, highest priority first, then oldest
//!   (upstream's PrioritySort);
//! - **backoff**: failed recently; wait `initial * 2^(attempts-1)`, capped
//!   (1 s doubling to 10 s by default), before becoming active again;
//! - **unschedulable**: no node fits; they wait for a cluster event that one
//!   of the plugins that rejected them cares about, or at most five minutes.
//!
//! An event that arrives while a pod is being scheduled sends that pod to
//! backoff rather than unschedulable if it then fails, so the event is not
//! lost (upstream's `moveRequestCycle`). Time comes from a [`Clock`] so tests
//! control it.

use std::cmp::Reverse;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;

use crate::framework::{pod_key, ClusterEvent, PodInfo, PodKey};

/// A source of the current time.
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> Instant;
}

/// The real monotonic clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// A clock that moves only when told to.
#[derive(Debug)]
pub struct FakeClock {
    start: Instant,
    offset: Mutex<Duration>,
}

impl Default for FakeClock {
    fn default() -> Self {
        FakeClock {
            start: Instant::now(),
            offset: Mutex::new(Duration::ZERO),
        }
    }
}

impl FakeClock {
    /// Moves time forward.
    pub fn advance(&self, by: Duration) {
        if let Ok(mut offset) = self.offset.lock() {
            *offset += by;
        }
    }
}

impl Clock for FakeClock {
    fn now(&self) -> Instant {
        self.start + self.offset.lock().map(|o| *o).unwrap_or_default()
    }
}

/// Upstream's `DefaultPodMaxInUnschedulablePodsDuration`.
pub const MAX_IN_UNSCHEDULABLE: Duration = Duration::from_secs(5 * 60);

/// A pending pod and its queueing history.
#[derive(Debug, Clone)]
pub struct QueuedPod {
    /// The pod.
    pub info: Arc<PodInfo>,
    /// When the pod last entered the queue (orders equal priorities).
    pub timestamp: Instant,
    /// When the pod first entered the queue.
    pub initial_timestamp: Instant,
    /// Scheduling attempts so far.
    pub attempts: u32,
    /// The scheduling cycle that popped the pod last.
    pub scheduling_cycle: u64,
    /// Events that can make the pod schedulable (set when it is rejected).
    pub waiting_for: BTreeSet<ClusterEvent>,
}

impl QueuedPod {
    fn priority(&self) -> i32 {
        self.info
            .pod
            .spec
            .as_ref()
            .and_then(|s| s.priority)
            .unwrap_or(0)
    }
}

/// Where a queued pod is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueName {
    /// Ready to schedule.
    Active,
    /// Waiting out a backoff.
    Backoff,
    /// Waiting for a cluster event.
    Unschedulable,
}

type ActiveKey = (Reverse<i32>, Instant, u64, PodKey);
type BackoffKey = (Instant, u64, PodKey);

#[derive(Debug)]
struct Entry {
    pod: QueuedPod,
    queue: QueueName,
    active_key: Option<ActiveKey>,
    backoff_key: Option<BackoffKey>,
}

/// Counts per sub-queue (upstream's `scheduler_pending_pods{queue=…}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PendingCounts {
    /// In the active queue.
    pub active: usize,
    /// In backoff.
    pub backoff: usize,
    /// Unschedulable.
    pub unschedulable: usize,
}

/// The queue of pods waiting for a node.
pub struct SchedulingQueue {
    clock: Arc<dyn Clock>,
    initial_backoff: Duration,
    max_backoff: Duration,
    entries: HashMap<PodKey, Entry>,
    active: BTreeSet<ActiveKey>,
    backoff: BTreeSet<BackoffKey>,
    seq: u64,
    scheduling_cycle: u64,
    move_request_cycle: u64,
    /// Pods popped and not yet requeued or done, with what happened to them
    /// meanwhile.
    in_flight: HashMap<PodKey, InFlight>,
}

/// A change to a pod that arrived while it was being scheduled.
#[derive(Debug, Clone)]
enum InFlight {
    /// Nothing yet.
    Unchanged,
    /// The pod object changed; a requeue uses this version and retries it.
    Updated(Arc<PodInfo>),
    /// The pod was deleted; a requeue drops it.
    Deleted,
}

impl std::fmt::Debug for SchedulingQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchedulingQueue")
            .field("pending", &self.pending())
            .field("scheduling_cycle", &self.scheduling_cycle)
            .finish()
    }
}

impl SchedulingQueue {
    /// A queue with upstream's backoff bounds (1 s, 10 s).
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self::with_backoff(clock, Duration::from_secs(1), Duration::from_secs(10))
    }

    /// A queue with explicit backoff bounds.
    pub fn with_backoff(clock: Arc<dyn Clock>, initial: Duration, max: Duration) -> Self {
        SchedulingQueue {
            clock,
            initial_backoff: initial,
            max_backoff: max,
            entries: HashMap::new(),
            active: BTreeSet::new(),
            backoff: BTreeSet::new(),
            seq: 0,
            scheduling_cycle: 0,
            move_request_cycle: 0,
            in_flight: HashMap::new(),
        }
    }

    /// The backoff after `attempts` failures (upstream `calculateBackoffDuration`).
    pub fn backoff_duration(&self, attempts: u32) -> Duration {
        let mut d = self.initial_backoff;
        for _ in 1..attempts {
            d = d.saturating_mul(2);
            if d >= self.max_backoff {
                return self.max_backoff;
            }
        }
        d.min(self.max_backoff)
    }

    fn backoff_expiry(&self, pod: &QueuedPod) -> Instant {
        pod.timestamp + self.backoff_duration(pod.attempts)
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    fn detach(&mut self, key: &str) -> Option<QueuedPod> {
        let entry = self.entries.remove(key)?;
        if let Some(k) = &entry.active_key {
            self.active.remove(k);
        }
        if let Some(k) = &entry.backoff_key {
            self.backoff.remove(k);
        }
        Some(entry.pod)
    }

    fn insert(&mut self, pod: QueuedPod, queue: QueueName) {
        let key = pod.info.key().to_string();
        let seq = self.next_seq();
        let (active_key, backoff_key) = match queue {
            QueueName::Active => {
                let k = (Reverse(pod.priority()), pod.timestamp, seq, key.clone());
                self.active.insert(k.clone());
                (Some(k), None)
            }
            QueueName::Backoff => {
                let k = (self.backoff_expiry(&pod), seq, key.clone());
                self.backoff.insert(k.clone());
                (None, Some(k))
            }
            QueueName::Unschedulable => (None, None),
        };
        self.entries.insert(
            key,
            Entry {
                pod,
                queue,
                active_key,
                backoff_key,
            },
        );
    }

    /// A new pending pod.
    pub fn add(&mut self, pod: Pod) {
        let now = self.clock.now();
        let info = Arc::new(PodInfo::new(Arc::new(pod)));
        let key = info.key().to_string();
        if let Some(old) = self.detach(&key) {
            self.insert(QueuedPod { info, ..old }, QueueName::Active);
            return;
        }
        self.insert(
            QueuedPod {
                info,
                timestamp: now,
                initial_timestamp: now,
                attempts: 0,
                scheduling_cycle: 0,
                waiting_for: BTreeSet::new(),
            },
            QueueName::Active,
        );
    }

    /// A pending pod changed: an unschedulable pod gets another chance (in
    /// backoff if its backoff has not run out), others are updated in place.
    pub fn update(&mut self, pod: Pod) {
        let key = pod_key(&pod);
        if let Some(state) = self.in_flight.get_mut(&key) {
            *state = InFlight::Updated(Arc::new(PodInfo::new(Arc::new(pod))));
            return;
        }
        let Some(queue) = self.entries.get(&key).map(|e| e.queue) else {
            self.add(pod);
            return;
        };
        let Some(old) = self.detach(&key) else { return };
        let updated = QueuedPod {
            info: Arc::new(PodInfo::new(Arc::new(pod))),
            ..old
        };
        let target = match queue {
            QueueName::Unschedulable => self.ready_queue(&updated),
            other => other,
        };
        self.insert(updated, target);
    }

    /// A pending pod was deleted (or bound by someone else).
    pub fn delete(&mut self, key: &str) {
        if let Some(state) = self.in_flight.get_mut(key) {
            *state = InFlight::Deleted;
        }
        self.detach(key);
    }

    fn ready_queue(&self, pod: &QueuedPod) -> QueueName {
        if self.backoff_expiry(pod) > self.clock.now() {
            QueueName::Backoff
        } else {
            QueueName::Active
        }
    }

    /// Moves pods whose backoff ran out to the active queue.
    pub fn flush_backoff_completed(&mut self) {
        let now = self.clock.now();
        while let Some(first) = self.backoff.first().cloned() {
            if first.0 > now {
                break;
            }
            if let Some(pod) = self.detach(&first.2) {
                self.insert(pod, QueueName::Active);
            }
        }
    }

    /// Moves pods unschedulable for longer than [`MAX_IN_UNSCHEDULABLE`] back.
    pub fn flush_unschedulable_left_over(&mut self) {
        let now = self.clock.now();
        let stale: Vec<PodKey> = self
            .entries
            .iter()
            .filter(|(_, e)| {
                e.queue == QueueName::Unschedulable
                    && now.duration_since(e.pod.timestamp) >= MAX_IN_UNSCHEDULABLE
            })
            .map(|(k, _)| k.clone())
            .collect();
        for key in stale {
            self.move_pod(&key);
        }
    }

    fn move_pod(&mut self, key: &str) {
        if let Some(pod) = self.detach(key) {
            let target = self.ready_queue(&pod);
            self.insert(pod, target);
        }
    }

    /// The next pod to schedule, if any is ready. Starts a scheduling cycle.
    pub fn pop(&mut self) -> Option<QueuedPod> {
        self.flush_backoff_completed();
        let first = self.active.first().cloned()?;
        let mut pod = self.detach(&first.3)?;
        self.scheduling_cycle += 1;
        pod.attempts += 1;
        pod.scheduling_cycle = self.scheduling_cycle;
        self.in_flight.insert(first.3, InFlight::Unchanged);
        Some(pod)
    }

    /// The popped pod was scheduled (assumed and sent to bind): stop
    /// tracking it.
    pub fn done(&mut self, key: &str) {
        self.in_flight.remove(key);
    }

    /// Ends tracking of a popped pod being requeued; `None` if it was
    /// deleted meanwhile. An update during the cycle replaces the pod and
    /// makes it retry without waiting for an event.
    fn finish_in_flight(&mut self, mut pod: QueuedPod) -> Option<(QueuedPod, bool)> {
        match self.in_flight.remove(pod.info.key()) {
            Some(InFlight::Deleted) => None,
            Some(InFlight::Updated(info)) => {
                pod.info = info;
                Some((pod, true))
            }
            Some(InFlight::Unchanged) | None => Some((pod, false)),
        }
    }

    /// Puts back a pod no node fits. It waits for one of `waiting_for`, unless
    /// a cluster event arrived since it was popped, then it only backs off.
    pub fn add_unschedulable(&mut self, pod: QueuedPod, waiting_for: BTreeSet<ClusterEvent>) {
        let Some((mut pod, updated)) = self.finish_in_flight(pod) else {
            return;
        };
        pod.timestamp = self.clock.now();
        pod.waiting_for = waiting_for;
        let target = if updated
            || self.move_request_cycle >= pod.scheduling_cycle
            || pod.waiting_for.is_empty()
        {
            QueueName::Backoff
        } else {
            QueueName::Unschedulable
        };
        self.insert(pod, target);
    }

    /// Puts back a pod whose cycle failed for a reason other than fit (a
    /// plugin error, a failed bind): it backs off and retries.
    pub fn add_after_error(&mut self, pod: QueuedPod) {
        let Some((mut pod, _)) = self.finish_in_flight(pod) else {
            return;
        };
        pod.timestamp = self.clock.now();
        self.insert(pod, QueueName::Backoff);
    }

    /// A cluster change: unschedulable pods waiting for it move to backoff
    /// or active.
    pub fn on_event(&mut self, event: ClusterEvent) {
        self.move_request_cycle = self.scheduling_cycle;
        let waiting: Vec<PodKey> = self
            .entries
            .iter()
            .filter(|(_, e)| {
                e.queue == QueueName::Unschedulable && e.pod.waiting_for.contains(&event)
            })
            .map(|(k, _)| k.clone())
            .collect();
        for key in waiting {
            self.move_pod(&key);
        }
    }

    /// When the earliest backoff runs out, for the driver to wake up.
    pub fn next_backoff_expiry(&self) -> Option<Instant> {
        self.backoff.first().map(|k| k.0)
    }

    /// Where a pod is queued.
    pub fn queue_of(&self, key: &str) -> Option<QueueName> {
        self.entries.get(key).map(|e| e.queue)
    }

    /// Pods per sub-queue.
    pub fn pending(&self) -> PendingCounts {
        PendingCounts {
            active: self.active.len(),
            backoff: self.backoff.len(),
            unschedulable: self.entries.len() - self.active.len() - self.backoff.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::pod;

    fn queue() -> (Arc<FakeClock>, SchedulingQueue) {
        let clock = Arc::new(FakeClock::default());
        (clock.clone(), SchedulingQueue::new(clock))
    }

    fn names(q: &mut SchedulingQueue) -> Vec<String> {
        std::iter::from_fn(|| q.pop())
            .map(|p| p.info.pod.metadata.name.clone().unwrap_or_default())
            .collect()
    }

    #[test]
    fn active_pods_pop_by_priority_then_age() {
        let (clock, mut q) = queue();
        q.add(pod("low-old").priority(1).build());
        clock.advance(Duration::from_millis(1));
        q.add(pod("high").priority(10).build());
        clock.advance(Duration::from_millis(1));
        q.add(pod("low-new").priority(1).build());
        q.add(pod("default").build());
        assert_eq!(names(&mut q), vec!["high", "low-old", "low-new", "default"]);
    }

    #[test]
    fn backoff_doubles_from_one_second_up_to_ten() {
        let (_, q) = queue();
        let got: Vec<u64> = (1..=6).map(|a| q.backoff_duration(a).as_secs()).collect();
        assert_eq!(got, vec![1, 2, 4, 8, 10, 10]);
    }

    #[test]
    fn failed_pods_wait_out_their_backoff() {
        let (clock, mut q) = queue();
        q.add(pod("p").build());
        let p = q.pop().unwrap_or_else(|| panic!("pod should pop"));
        q.add_after_error(p);
        assert_eq!(q.queue_of("default/p"), Some(QueueName::Backoff));
        clock.advance(Duration::from_millis(999));
        assert!(q.pop().is_none(), "still backing off");
        clock.advance(Duration::from_millis(1));
        let p = q.pop().unwrap_or_else(|| panic!("backoff over"));
        assert_eq!(p.attempts, 2);
        q.add_after_error(p);
        assert_eq!(
            q.next_backoff_expiry(),
            Some(clock.now() + Duration::from_secs(2))
        );
    }

    #[test]
    fn unschedulable_pods_move_only_on_events_their_plugins_want() {
        let (clock, mut q) = queue();
        q.add(pod("p").build());
        let p = q.pop().unwrap_or_else(|| panic!("pod should pop"));
        q.add_unschedulable(p, BTreeSet::from([ClusterEvent::NodeAdded]));
        assert_eq!(q.queue_of("default/p"), Some(QueueName::Unschedulable));
        q.on_event(ClusterEvent::AssignedPodDeleted);
        assert_eq!(q.queue_of("default/p"), Some(QueueName::Unschedulable));
        q.on_event(ClusterEvent::NodeAdded);
        assert_eq!(
            q.queue_of("default/p"),
            Some(QueueName::Backoff),
            "moved, but backoff not over"
        );
        clock.advance(Duration::from_secs(1));
        assert_eq!(names(&mut q), vec!["p"]);
    }

    #[test]
    fn an_event_during_the_cycle_sends_the_pod_to_backoff() {
        let (_, mut q) = queue();
        q.add(pod("p").build());
        let p = q.pop().unwrap_or_else(|| panic!("pod should pop"));
        q.on_event(ClusterEvent::NodeAdded);
        q.add_unschedulable(p, BTreeSet::from([ClusterEvent::NodeLabelsChanged]));
        assert_eq!(q.queue_of("default/p"), Some(QueueName::Backoff));
    }

    #[test]
    fn unschedulable_pods_are_retried_after_five_minutes() {
        let (clock, mut q) = queue();
        q.add(pod("p").build());
        let p = q.pop().unwrap_or_else(|| panic!("pod should pop"));
        q.add_unschedulable(p, BTreeSet::from([ClusterEvent::NodeAdded]));
        clock.advance(MAX_IN_UNSCHEDULABLE - Duration::from_secs(1));
        q.flush_unschedulable_left_over();
        assert_eq!(q.queue_of("default/p"), Some(QueueName::Unschedulable));
        clock.advance(Duration::from_secs(1));
        q.flush_unschedulable_left_over();
        assert_eq!(q.queue_of("default/p"), Some(QueueName::Active));
    }

    #[test]
    fn changes_during_the_cycle_are_not_lost() {
        let (_, mut q) = queue();
        q.add(pod("upd").build());
        q.add(pod("del").build());
        q.add(pod("ok").build());
        let (upd, del, ok) = match (q.pop(), q.pop(), q.pop()) {
            (Some(a), Some(b), Some(c)) => (a, b, c),
            _ => panic!("three pods should pop"),
        };
        q.update(pod("upd").label("v", "2").build());
        q.delete("default/del");
        q.update(pod("ok").label("v", "2").build());
        assert_eq!(
            q.pending(),
            PendingCounts::default(),
            "in-flight pods are not queued twice"
        );
        q.add_unschedulable(upd, BTreeSet::from([ClusterEvent::NodeAdded]));
        q.add_unschedulable(del, BTreeSet::from([ClusterEvent::NodeAdded]));
        q.done(ok.info.key());
        assert_eq!(
            q.queue_of("default/upd"),
            Some(QueueName::Backoff),
            "updated pods retry"
        );
        assert_eq!(q.queue_of("default/del"), None, "deleted pods are dropped");
        assert_eq!(q.queue_of("default/ok"), None);
        q.update(pod("ok").label("v", "3").build());
        assert_eq!(
            q.queue_of("default/ok"),
            Some(QueueName::Active),
            "after done, an update is a new pending pod"
        );
    }

    #[test]
    fn updates_and_deletes_reach_every_sub_queue() {
        let (_, mut q) = queue();
        q.add(pod("a").build());
        q.add(pod("b").build());
        let a = q.pop().unwrap_or_else(|| panic!("a should pop"));
        q.add_unschedulable(a, BTreeSet::from([ClusterEvent::NodeAdded]));
        assert_eq!(
            q.pending(),
            PendingCounts {
                active: 1,
                backoff: 0,
                unschedulable: 1
            }
        );
        q.update(pod("a").label("fixed", "yes").build());
        assert_eq!(
            q.queue_of("default/a"),
            Some(QueueName::Backoff),
            "an updated pod gets another chance"
        );
        q.update(pod("b").priority(5).build());
        q.delete("default/a");
        assert_eq!(
            q.pending(),
            PendingCounts {
                active: 1,
                backoff: 0,
                unschedulable: 0
            }
        );
        let b = q.pop().unwrap_or_else(|| panic!("b should pop"));
        assert_eq!(b.info.pod.spec.as_ref().and_then(|s| s.priority), Some(5));
    }
}
