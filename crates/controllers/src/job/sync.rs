//! One Job sync as a pure function (upstream
//! `pkg/controller/job/job_controller.go`, `syncJob` and
//! `trackJobStatusAndRemoveFinalizers`): from the Job and its pods, the new
//! status and the pods to create, delete and release.
//!
//! Counting is the upstream two-step protocol that survives restarts: a
//! finished pod still holding the tracking finalizer is first recorded in
//! `status.uncountedTerminatedPods`; once that status is written its
//! finalizer is removed; a recorded pod whose finalizer is gone is then
//! moved into `succeeded` / `failed`.
//!
//! Terminal conditions follow upstream's two phases: `SuccessCriteriaMet`
//! or `FailureTarget` first (remaining pods are deleted), then `Complete`
//! or `Failed` once no pod is active or uncounted.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::batch::v1::{Job, JobCondition, JobStatus, UncountedTerminatedPods};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};

use super::failure_policy::{self, FailureAction};
use super::indexes;
use super::pods::{self, PodState};

/// Upstream's default `backoffLimit`.
pub const DEFAULT_BACKOFF_LIMIT: i32 = 6;

/// The pod-failure backoff: `base * 2^(failures-1)`, at most `max`
/// (upstream `DefaultJobPodFailureBackOff` 10 s, `MaxJobPodFailureBackOff`
/// 6 min).
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// The delay after the first failure.
    pub base: SignedDuration,
    /// The longest delay.
    pub max: SignedDuration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: SignedDuration::from_secs(10),
            max: SignedDuration::from_secs(360),
        }
    }
}

impl Backoff {
    /// The delay after `failures` consecutive failures (≥ 1).
    pub fn delay(&self, failures: u32) -> SignedDuration {
        let mut delay = self.base;
        for _ in 1..failures {
            delay = delay.checked_mul(2).unwrap_or(self.max);
            if delay >= self.max {
                return self.max;
            }
        }
        delay.min(self.max)
    }
}

/// Job condition types this controller writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConditionType {
    /// The Job is suspended.
    Suspended,
    /// The Job will fail once its pods are gone.
    FailureTarget,
    /// The Job will complete once its pods are gone.
    SuccessCriteriaMet,
    /// Finished successfully.
    Complete,
    /// Finished unsuccessfully.
    Failed,
}

impl ConditionType {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ConditionType::Suspended => "Suspended",
            ConditionType::FailureTarget => "FailureTarget",
            ConditionType::SuccessCriteriaMet => "SuccessCriteriaMet",
            ConditionType::Complete => "Complete",
            ConditionType::Failed => "Failed",
        }
    }
}

/// A condition with status `True`, if the Job has it.
pub fn true_condition(status: &JobStatus, kind: ConditionType) -> Option<&JobCondition> {
    status
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == kind.as_str() && c.status == "True")
}

/// Whether the Job has finished (Complete or Failed).
pub fn is_finished(status: &JobStatus) -> bool {
    true_condition(status, ConditionType::Complete).is_some()
        || true_condition(status, ConditionType::Failed).is_some()
}

fn set_condition(
    status: &mut JobStatus,
    kind: ConditionType,
    value: &str,
    reason: &str,
    message: &str,
    now: Timestamp,
) {
    let conditions = status.conditions.get_or_insert_with(Vec::new);
    match conditions.iter_mut().find(|c| c.type_ == kind.as_str()) {
        Some(c) if c.status == value && c.reason.as_deref() == Some(reason) => {}
        Some(c) => {
            if c.status != value {
                c.last_transition_time = Some(Time(now));
            }
            c.status = value.into();
            c.reason = Some(reason.into());
            c.message = Some(message.into());
            c.last_probe_time = Some(Time(now));
        }
        None => conditions.push(JobCondition {
            type_: kind.as_str().into(),
            status: value.into(),
            reason: Some(reason.into()),
            message: Some(message.into()),
            last_probe_time: Some(Time(now)),
            last_transition_time: Some(Time(now)),
        }),
    }
}

/// What one sync decided.
#[derive(Debug, Default)]
pub struct JobPlan {
    /// The status to write.
    pub status: JobStatus,
    /// Pods to create: `Some(index)` in Indexed mode.
    pub create: Vec<Option<i32>>,
    /// Names of active pods to delete.
    pub delete: Vec<String>,
    /// Names of pods whose tracking finalizer to remove, after `status` is
    /// written.
    pub release: Vec<String>,
    /// When to look again even if nothing changes.
    pub requeue_after: Option<SignedDuration>,
    /// The finished Job's `ttlSecondsAfterFinished` has passed.
    pub delete_job: bool,
}

fn soonest(a: Option<SignedDuration>, b: SignedDuration) -> Option<SignedDuration> {
    Some(a.map_or(b, |a| a.min(b)))
}

/// The tracking protocol's result.
struct Counts {
    succeeded: i32,
    failed: i32,
    uncounted_succeeded: BTreeSet<String>,
    uncounted_failed: BTreeSet<String>,
    completed: BTreeSet<i32>,
    release: Vec<String>,
    fail_job: Option<String>,
}

fn count(job: &Job, old: &JobStatus, tracked: &[&Pod], completions: i32, indexed: bool) -> Counts {
    let by_uid: BTreeMap<&str, &Pod> = tracked
        .iter()
        .filter_map(|p| Some((p.metadata.uid.as_deref()?, *p)))
        .collect();
    let old_uncounted = old.uncounted_terminated_pods.clone().unwrap_or_default();
    let mut c = Counts {
        succeeded: old.succeeded.unwrap_or(0),
        failed: old.failed.unwrap_or(0),
        uncounted_succeeded: BTreeSet::new(),
        uncounted_failed: BTreeSet::new(),
        completed: indexes::parse(old.completed_indexes.as_deref().unwrap_or(""), completions),
        release: Vec::new(),
        fail_job: None,
    };
    // Step 3: recorded pods whose finalizer is gone are counted for good.
    for uid in old_uncounted.succeeded.into_iter().flatten() {
        if by_uid.contains_key(uid.as_str()) {
            c.uncounted_succeeded.insert(uid);
        } else if !indexed {
            c.succeeded += 1;
        }
    }
    for uid in old_uncounted.failed.into_iter().flatten() {
        if by_uid.contains_key(uid.as_str()) {
            c.uncounted_failed.insert(uid);
        } else {
            c.failed += 1;
        }
    }
    // Step 1: newly finished tracked pods are recorded; step 2 (releasing
    // their finalizers) happens after the status is written.
    for pod in tracked {
        let Some(uid) = pod.metadata.uid.clone() else {
            continue;
        };
        let name = pod.metadata.name.clone().unwrap_or_default();
        match pods::state(pod) {
            PodState::Active => continue,
            PodState::Succeeded => {
                if indexed {
                    if let Some(i) = pods::completion_index(pod).filter(|i| *i < completions) {
                        c.completed.insert(i);
                    }
                }
                c.uncounted_succeeded.insert(uid);
            }
            PodState::Failed => {
                if !c.uncounted_failed.contains(&uid) {
                    match failure_policy::evaluate(job, pod) {
                        Some(FailureAction::Ignore) => {
                            c.release.push(name);
                            continue;
                        }
                        Some(FailureAction::FailJob(message)) => {
                            c.fail_job.get_or_insert(message);
                        }
                        Some(FailureAction::Count) | None => {}
                    }
                }
                c.uncounted_failed.insert(uid);
            }
        }
        c.release.push(name);
    }
    if indexed {
        c.succeeded = i32::try_from(c.completed.len()).unwrap_or(i32::MAX);
    }
    c
}

/// Failures since the last success among the pods still visible, and when
/// the latest of them happened (upstream's backoff record).
fn recent_failures(all: &[Pod]) -> (u32, Option<Timestamp>) {
    let mut finished: Vec<(Timestamp, PodState)> = all
        .iter()
        .filter_map(|p| match pods::state(p) {
            PodState::Active => None,
            s => Some((pods::finish_time(p)?, s)),
        })
        .collect();
    finished.sort_by_key(|(t, _)| *t);
    let mut failures = 0u32;
    let mut last = None;
    for (t, s) in finished {
        if s == PodState::Succeeded {
            failures = 0;
            last = None;
        } else {
            failures += 1;
            last = Some(t);
        }
    }
    (failures, last)
}

/// Decides one sync of `job` given all pods it controls.
pub fn sync(job: &Job, all: &[Pod], now: Timestamp, backoff: Backoff) -> JobPlan {
    let spec = job.spec.clone().unwrap_or_default();
    let old = job.status.clone().unwrap_or_default();
    let indexed = spec.completion_mode.as_deref() == Some("Indexed");
    let completions_set = spec.completions;
    let completions = completions_set.unwrap_or(1).max(0);
    let parallelism = spec.parallelism.unwrap_or(1).max(0);
    let backoff_limit = spec.backoff_limit.unwrap_or(DEFAULT_BACKOFF_LIMIT);
    let suspended = spec.suspend.unwrap_or(false);

    let tracked: Vec<&Pod> = all.iter().filter(|p| pods::is_tracked(p)).collect();
    let counts = count(job, &old, &tracked, completions, indexed);
    let active: Vec<&Pod> = all
        .iter()
        .filter(|p| pods::state(p) == PodState::Active)
        .collect();

    let mut plan = JobPlan {
        release: counts.release.clone(),
        ..Default::default()
    };
    let mut status = old.clone();
    status.succeeded = Some(counts.succeeded);
    status.failed = Some(counts.failed);
    status.completed_indexes = if indexed {
        indexes::format(&counts.completed)
    } else {
        None
    };
    status.uncounted_terminated_pods = Some(UncountedTerminatedPods {
        succeeded: (!counts.uncounted_succeeded.is_empty())
            .then(|| counts.uncounted_succeeded.iter().cloned().collect()),
        failed: (!counts.uncounted_failed.is_empty())
            .then(|| counts.uncounted_failed.iter().cloned().collect()),
    });
    let uncounted_empty =
        counts.uncounted_succeeded.is_empty() && counts.uncounted_failed.is_empty();
    let succeeded_total = if indexed {
        counts.succeeded
    } else {
        counts.succeeded + i32::try_from(counts.uncounted_succeeded.len()).unwrap_or(i32::MAX)
    };
    let failed_total =
        counts.failed + i32::try_from(counts.uncounted_failed.len()).unwrap_or(i32::MAX);

    if is_finished(&old) {
        // A finished Job only releases what is left and waits for its TTL.
        plan.delete = names(&active);
        plan.release = tracked
            .iter()
            .filter_map(|p| p.metadata.name.clone())
            .collect();
        finish_counters(&mut status, all, &[]);
        ttl(&spec, &old, now, &mut plan);
        plan.status = status;
        return plan;
    }

    // Decide whether the Job has reached a terminal target.
    let mut target = if let Some(c) = true_condition(&old, ConditionType::FailureTarget) {
        Some((
            ConditionType::Failed,
            c.reason.clone().unwrap_or_default(),
            c.message.clone().unwrap_or_default(),
        ))
    } else {
        true_condition(&old, ConditionType::SuccessCriteriaMet).map(|c| {
            (
                ConditionType::Complete,
                c.reason.clone().unwrap_or_default(),
                c.message.clone().unwrap_or_default(),
            )
        })
    };
    if !suspended && status.start_time.is_none() {
        status.start_time = Some(Time(now));
    }
    if target.is_none() {
        let deadline = spec
            .active_deadline_seconds
            .zip(status.start_time.as_ref())
            .and_then(|(secs, start)| start.0.checked_add(SignedDuration::from_secs(secs)).ok());
        if let Some(message) = counts.fail_job.clone() {
            target = Some((ConditionType::Failed, "PodFailurePolicy".into(), message));
        } else if failed_total > backoff_limit {
            target = Some((
                ConditionType::Failed,
                "BackoffLimitExceeded".into(),
                "Job has reached the specified backoff limit".into(),
            ));
        } else if !suspended && deadline.is_some_and(|d| d <= now) {
            target = Some((
                ConditionType::Failed,
                "DeadlineExceeded".into(),
                "Job was active longer than specified deadline".into(),
            ));
        } else if completions_set.is_some_and(|c| succeeded_total >= c)
            || (completions_set.is_none() && succeeded_total > 0 && active.is_empty())
        {
            target = Some((
                ConditionType::Complete,
                "CompletionsReached".into(),
                "Reached expected number of succeeded pods".into(),
            ));
        } else if let (Some(d), false) = (deadline, suspended) {
            plan.requeue_after = soonest(plan.requeue_after, d.duration_since(now));
        }
        if let Some((kind, reason, message)) = &target {
            let first = match kind {
                ConditionType::Failed => ConditionType::FailureTarget,
                _ => ConditionType::SuccessCriteriaMet,
            };
            set_condition(&mut status, first, "True", reason, message, now);
        }
    }

    if let Some((kind, reason, message)) = target {
        plan.delete = names(&active);
        if active.is_empty() && uncounted_empty {
            set_condition(&mut status, kind, "True", &reason, &message, now);
            if kind == ConditionType::Complete {
                status.completion_time = Some(Time(now));
            }
            ttl(&spec, &status, now, &mut plan);
        }
        finish_counters(&mut status, all, &plan.delete);
        plan.status = status;
        return plan;
    }

    if suspended {
        set_condition(
            &mut status,
            ConditionType::Suspended,
            "True",
            "JobSuspended",
            "Job suspended",
            now,
        );
        // Upstream restarts the active deadline on resume.
        status.start_time = None;
        plan.delete = names(&active);
        finish_counters(&mut status, all, &plan.delete);
        plan.status = status;
        return plan;
    }
    if true_condition(&old, ConditionType::Suspended).is_some() {
        set_condition(
            &mut status,
            ConditionType::Suspended,
            "False",
            "JobResumed",
            "Job resumed",
            now,
        );
    }

    let (create, delete) = if indexed {
        indexed_diff(&active, &counts.completed, completions, parallelism)
    } else {
        let have = i32::try_from(active.len()).unwrap_or(i32::MAX);
        // A work queue (no completions) starts nothing once a pod succeeded
        // but lets the running ones finish (upstream `manageJob`).
        let want = match completions_set {
            Some(c) => parallelism.min(c - succeeded_total).max(0),
            None if succeeded_total > 0 => have.min(parallelism),
            None => parallelism,
        };
        let create = usize::try_from(want - have).unwrap_or(0);
        let excess = usize::try_from(have - want).unwrap_or(0);
        (
            vec![None; create],
            deletion_order(&active).into_iter().take(excess).collect(),
        )
    };
    plan.delete = delete;
    if !create.is_empty() {
        let (failures, last) = recent_failures(all);
        let wait = match (failures, last) {
            (0, _) | (_, None) => SignedDuration::ZERO,
            (n, Some(at)) => backoff.delay(n) - now.duration_since(at),
        };
        if wait.is_positive() {
            plan.requeue_after = soonest(plan.requeue_after, wait);
        } else {
            plan.create = create;
        }
    }
    finish_counters(&mut status, all, &plan.delete);
    plan.status = status;
    plan
}

fn names(list: &[&Pod]) -> Vec<String> {
    list.iter()
        .filter_map(|p| p.metadata.name.clone())
        .collect()
}

/// Excess pods go first when not ready, then newest first (upstream
/// `controller.ActivePods` ordering, simplified).
fn deletion_order(active: &[&Pod]) -> Vec<String> {
    let mut sorted: Vec<&&Pod> = active.iter().collect();
    sorted.sort_by(|a, b| {
        pods::is_ready(a)
            .cmp(&pods::is_ready(b))
            .then_with(|| {
                b.metadata
                    .creation_timestamp
                    .cmp(&a.metadata.creation_timestamp)
            })
            .then_with(|| b.metadata.name.cmp(&a.metadata.name))
    });
    sorted
        .into_iter()
        .filter_map(|p| p.metadata.name.clone())
        .collect()
}

/// Indexed mode: pods whose index is invalid, already completed or
/// duplicated go; missing indexes (lowest first) get pods up to
/// parallelism.
fn indexed_diff(
    active: &[&Pod],
    completed: &BTreeSet<i32>,
    completions: i32,
    parallelism: i32,
) -> (Vec<Option<i32>>, Vec<String>) {
    let mut running: BTreeSet<i32> = BTreeSet::new();
    let mut delete = Vec::new();
    for pod in active {
        let name = pod.metadata.name.clone().unwrap_or_default();
        match pods::completion_index(pod) {
            Some(i) if i < completions && !completed.contains(&i) && running.insert(i) => {}
            _ => delete.push(name),
        }
    }
    let room = usize::try_from(parallelism)
        .unwrap_or(0)
        .saturating_sub(running.len());
    let create = (0..completions)
        .filter(|i| !completed.contains(i) && !running.contains(i))
        .take(room)
        .map(Some)
        .collect();
    (create, delete)
}

/// `active`, `ready` and `terminating` after this sync's deletions.
fn finish_counters(status: &mut JobStatus, all: &[Pod], deleting: &[String]) {
    let going = |p: &Pod| {
        p.metadata
            .name
            .as_ref()
            .is_some_and(|n| deleting.contains(n))
    };
    let active: Vec<&Pod> = all
        .iter()
        .filter(|p| pods::state(p) == PodState::Active && !going(p))
        .collect();
    status.active = Some(i32::try_from(active.len()).unwrap_or(i32::MAX));
    status.ready = Some(
        i32::try_from(active.iter().filter(|p| pods::is_ready(p)).count()).unwrap_or(i32::MAX),
    );
    let terminating = all
        .iter()
        .filter(|p| pods::is_terminating(p) || going(p))
        .count();
    status.terminating = Some(i32::try_from(terminating).unwrap_or(i32::MAX));
}

/// `ttlSecondsAfterFinished` (upstream's TTL-after-finished controller):
/// delete the Job once it has been finished that long.
fn ttl(
    spec: &k8s_openapi::api::batch::v1::JobSpec,
    status: &JobStatus,
    now: Timestamp,
    plan: &mut JobPlan,
) {
    let Some(seconds) = spec.ttl_seconds_after_finished else {
        return;
    };
    let finished_at = [ConditionType::Complete, ConditionType::Failed]
        .into_iter()
        .find_map(|k| {
            true_condition(status, k)?
                .last_transition_time
                .as_ref()
                .map(|t| t.0)
        });
    let Some(finished_at) = finished_at else {
        return;
    };
    let expires = finished_at
        .checked_add(SignedDuration::from_secs(i64::from(seconds)))
        .unwrap_or(Timestamp::MAX);
    if expires <= now {
        plan.delete_job = true;
    } else {
        plan.requeue_after = soonest(plan.requeue_after, expires.duration_since(now));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;
    use crate::job::indexes::COMPLETION_INDEX_ANNOTATION;
    use crate::job::pods::tests::{job, pod};

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + secs).unwrap()
    }

    fn job_with(f: impl FnOnce(&mut k8s_openapi::api::batch::v1::JobSpec)) -> Job {
        let mut j = job();
        if let Some(s) = j.spec.as_mut() {
            f(s);
        }
        j
    }

    fn untracked(mut p: Pod) -> Pod {
        p.metadata.finalizers = None;
        p
    }

    fn indexed_pod(name: &str, phase: &str, index: i32) -> Pod {
        let mut p = pod(name, phase);
        p.metadata.annotations =
            Some([(COMPLETION_INDEX_ANNOTATION.to_string(), index.to_string())].into());
        p
    }

    fn condition_types(status: &JobStatus) -> Vec<String> {
        status
            .conditions
            .iter()
            .flatten()
            .filter(|c| c.status == "True")
            .map(|c| c.type_.clone())
            .collect()
    }

    #[test]
    fn pods_are_created_up_to_parallelism_and_remaining_completions() {
        let cases = [
            ("a default job starts one pod", job(), vec![], 1, 0),
            (
                "parallelism 3 of 5 completions",
                job_with(|s| {
                    s.completions = Some(5);
                    s.parallelism = Some(3);
                }),
                vec![],
                3,
                0,
            ),
            (
                "only the remaining completions",
                job_with(|s| {
                    s.completions = Some(3);
                    s.parallelism = Some(3);
                }),
                vec![
                    untracked(pod("a", "Succeeded")),
                    untracked(pod("b", "Succeeded")),
                ],
                1,
                0,
            ),
            (
                "excess pods are deleted",
                job_with(|s| {
                    s.completions = Some(5);
                    s.parallelism = Some(1);
                }),
                vec![pod("a", "Running"), pod("b", "Running")],
                0,
                1,
            ),
            (
                "a work queue stops creating after a success",
                job_with(|s| {
                    s.parallelism = Some(2);
                    s.completions = None;
                }),
                vec![pod("a", "Running"), pod("b", "Succeeded")],
                0,
                0,
            ),
        ];
        for (name, j, pods, creates, deletes) in cases {
            let mut j = j;
            // Pods without finalizers were counted by an earlier sync.
            let counted = pods
                .iter()
                .filter(|p| !pods::is_tracked(p) && pods::state(p) == PodState::Succeeded)
                .count();
            j.status = Some(JobStatus {
                succeeded: Some(counted as i32),
                ..Default::default()
            });
            let plan = sync(&j, &pods, at(0), Backoff::default());
            assert_eq!(
                (plan.create.len(), plan.delete.len()),
                (creates, deletes),
                "{name}"
            );
        }
    }

    #[test]
    fn finished_pods_are_recorded_released_then_counted() {
        let j = job_with(|s| s.completions = Some(2));
        let done = pod("a", "Succeeded");
        let first = sync(
            &j,
            &[done.clone(), pod("b", "Running")],
            at(0),
            Backoff::default(),
        );
        assert_eq!(
            first
                .status
                .uncounted_terminated_pods
                .as_ref()
                .and_then(|u| u.succeeded.clone()),
            Some(vec!["uid-a".to_string()])
        );
        assert_eq!(first.status.succeeded, Some(0));
        assert_eq!(first.release, vec!["a".to_string()]);

        let mut j2 = j.clone();
        j2.status = Some(first.status);
        let second = sync(
            &j2,
            &[untracked(done), pod("b", "Running")],
            at(1),
            Backoff::default(),
        );
        assert_eq!(second.status.succeeded, Some(1));
        assert_eq!(
            second
                .status
                .uncounted_terminated_pods
                .as_ref()
                .and_then(|u| u.succeeded.clone()),
            None
        );
        assert!(second.release.is_empty());
        assert_eq!(second.status.active, Some(1));
    }

    #[test]
    fn a_job_completes_in_two_phases() {
        let mut j = job_with(|s| s.completions = Some(1));
        j.status = Some(JobStatus {
            uncounted_terminated_pods: Some(UncountedTerminatedPods {
                succeeded: Some(vec!["uid-a".into()]),
                failed: None,
            }),
            ..Default::default()
        });
        let plan = sync(&j, &[pod("a", "Succeeded")], at(0), Backoff::default());
        assert_eq!(condition_types(&plan.status), vec!["SuccessCriteriaMet"]);
        j.status = Some(plan.status);
        let plan = sync(
            &j,
            &[untracked(pod("a", "Succeeded"))],
            at(1),
            Backoff::default(),
        );
        assert_eq!(
            condition_types(&plan.status),
            vec!["SuccessCriteriaMet", "Complete"]
        );
        assert_eq!(plan.status.succeeded, Some(1));
        assert_eq!(plan.status.completion_time, Some(Time(at(1))));
    }

    #[test]
    fn too_many_failures_fail_the_job_and_stop_its_pods() {
        let mut j = job_with(|s| {
            s.backoff_limit = Some(1);
            s.parallelism = Some(2);
            s.completions = Some(4);
        });
        j.status = Some(JobStatus {
            failed: Some(1),
            ..Default::default()
        });
        let plan = sync(
            &j,
            &[pod("a", "Failed"), pod("b", "Running")],
            at(0),
            Backoff::default(),
        );
        assert_eq!(condition_types(&plan.status), vec!["FailureTarget"]);
        let target = true_condition(&plan.status, ConditionType::FailureTarget).unwrap();
        assert_eq!(target.reason.as_deref(), Some("BackoffLimitExceeded"));
        assert_eq!(plan.delete, vec!["b".to_string()]);
        assert!(plan.create.is_empty());

        j.status = Some(JobStatus {
            failed: Some(2),
            ..plan.status
        });
        let plan = sync(&j, &[], at(1), Backoff::default());
        assert_eq!(
            condition_types(&plan.status),
            vec!["FailureTarget", "Failed"]
        );
        assert_eq!(plan.status.completion_time, None);
    }

    #[test]
    fn the_active_deadline_fails_the_job_and_is_requeued_before() {
        let mut j = job_with(|s| s.active_deadline_seconds = Some(30));
        j.status = Some(JobStatus {
            start_time: Some(Time(at(0))),
            ..Default::default()
        });
        let before = sync(&j, &[pod("a", "Running")], at(10), Backoff::default());
        assert_eq!(before.requeue_after, Some(SignedDuration::from_secs(20)));
        let after = sync(&j, &[pod("a", "Running")], at(30), Backoff::default());
        let target = true_condition(&after.status, ConditionType::FailureTarget).unwrap();
        assert_eq!(target.reason.as_deref(), Some("DeadlineExceeded"));
        assert_eq!(after.delete, vec!["a".to_string()]);
    }

    #[test]
    fn failures_delay_new_pods_exponentially() {
        let b = Backoff::default();
        assert_eq!(b.delay(1), SignedDuration::from_secs(10));
        assert_eq!(b.delay(3), SignedDuration::from_secs(40));
        assert_eq!(b.delay(30), SignedDuration::from_secs(360));
        let mut failed = untracked(pod("a", "Failed"));
        failed.metadata.creation_timestamp = Some(Time(at(0)));
        let j = job_with(|s| s.completions = Some(1));
        let mut j = j;
        j.status = Some(JobStatus {
            failed: Some(1),
            ..Default::default()
        });
        let waiting = sync(&j, &[failed.clone()], at(4), b);
        assert!(waiting.create.is_empty());
        assert_eq!(waiting.requeue_after, Some(SignedDuration::from_secs(6)));
        let ready = sync(&j, &[failed], at(10), b);
        assert_eq!(ready.create.len(), 1);
    }

    #[test]
    fn indexed_jobs_fill_missing_indexes_lowest_first() {
        let mut j = job_with(|s| {
            s.completion_mode = Some("Indexed".into());
            s.completions = Some(4);
            s.parallelism = Some(2);
        });
        j.status = Some(JobStatus {
            completed_indexes: Some("0".into()),
            succeeded: Some(1),
            ..Default::default()
        });
        let plan = sync(
            &j,
            &[
                indexed_pod("b", "Running", 2),
                indexed_pod("c", "Running", 2),
                indexed_pod("d", "Succeeded", 1),
            ],
            at(0),
            Backoff::default(),
        );
        assert_eq!(plan.status.completed_indexes.as_deref(), Some("0-1"));
        assert_eq!(plan.status.succeeded, Some(2));
        assert_eq!(plan.delete, vec!["c".to_string()], "a duplicate index goes");
        assert_eq!(plan.create, vec![Some(3)]);
    }

    #[test]
    fn suspending_deletes_pods_and_resuming_restarts_the_clock() {
        let mut j = job_with(|s| s.suspend = Some(true));
        j.status = Some(JobStatus {
            start_time: Some(Time(at(0))),
            ..Default::default()
        });
        let plan = sync(&j, &[pod("a", "Running")], at(5), Backoff::default());
        assert_eq!(condition_types(&plan.status), vec!["Suspended"]);
        assert_eq!(plan.delete, vec!["a".to_string()]);
        assert_eq!(plan.status.start_time, None);
        let mut resumed = job();
        resumed.status = Some(plan.status);
        let plan = sync(&resumed, &[], at(9), Backoff::default());
        assert!(condition_types(&plan.status).is_empty());
        assert_eq!(plan.status.start_time, Some(Time(at(9))));
        assert_eq!(plan.create.len(), 1);
    }

    #[test]
    fn finished_jobs_expire_after_their_ttl() {
        let mut j = job_with(|s| s.ttl_seconds_after_finished = Some(100));
        j.status = Some(JobStatus {
            conditions: Some(vec![JobCondition {
                type_: "Complete".into(),
                status: "True".into(),
                last_transition_time: Some(Time(at(0))),
                ..Default::default()
            }]),
            ..Default::default()
        });
        let early = sync(&j, &[], at(40), Backoff::default());
        assert!(!early.delete_job);
        assert_eq!(early.requeue_after, Some(SignedDuration::from_secs(60)));
        assert!(sync(&j, &[], at(100), Backoff::default()).delete_job);
    }
}
