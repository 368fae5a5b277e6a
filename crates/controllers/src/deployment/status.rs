//! A deployment's status and conditions, computed purely (upstream `sync.go`
//! `calculateStatus`, `progress.go` `syncRolloutStatus`, and the condition helpers of
//! `deployment_util.go`), exactly as `kubectl rollout status` reads them.

use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentCondition, DeploymentStatus, ReplicaSet};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};

use super::fenceposts;

/// Condition types.
pub const AVAILABLE: &str = "Available";
/// Whether the rollout makes progress.
pub const PROGRESSING: &str = "Progressing";
/// Copied from the new ReplicaSet when it cannot create pods.
pub const REPLICA_FAILURE: &str = "ReplicaFailure";

/// Upstream's condition reasons.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConditionReason {
    /// Available=True.
    MinimumReplicasAvailable,
    /// Available=False.
    MinimumReplicasUnavailable,
    /// Progressing=True: the new ReplicaSet was just created.
    NewReplicaSetCreated,
    /// Progressing=True: the new ReplicaSet already existed.
    FoundNewReplicaSet,
    /// Progressing=True: the rollout moved.
    ReplicaSetUpdated,
    /// Progressing=True: the rollout is complete.
    NewReplicaSetAvailable,
    /// Progressing=False: no progress within progressDeadlineSeconds.
    ProgressDeadlineExceeded,
    /// Progressing=False: creating the new ReplicaSet failed.
    ReplicaSetCreateError,
    /// Progressing=Unknown: paused.
    DeploymentPaused,
    /// Progressing=Unknown: resumed.
    DeploymentResumed,
}

impl ConditionReason {
    /// The wire string.
    pub fn as_str(self) -> &'static str {
        match self {
            ConditionReason::MinimumReplicasAvailable => "MinimumReplicasAvailable",
            ConditionReason::MinimumReplicasUnavailable => "MinimumReplicasUnavailable",
            ConditionReason::NewReplicaSetCreated => "NewReplicaSetCreated",
            ConditionReason::FoundNewReplicaSet => "FoundNewReplicaSet",
            ConditionReason::ReplicaSetUpdated => "ReplicaSetUpdated",
            ConditionReason::NewReplicaSetAvailable => "NewReplicaSetAvailable",
            ConditionReason::ProgressDeadlineExceeded => "ProgressDeadlineExceeded",
            ConditionReason::ReplicaSetCreateError => "ReplicaSetCreateError",
            ConditionReason::DeploymentPaused => "DeploymentPaused",
            ConditionReason::DeploymentResumed => "DeploymentResumed",
        }
    }
}

/// A condition's truth.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Truth {
    /// `True`.
    True,
    /// `False`.
    False,
    /// `Unknown`.
    Unknown,
}

impl Truth {
    fn as_str(self) -> &'static str {
        match self {
            Truth::True => "True",
            Truth::False => "False",
            Truth::Unknown => "Unknown",
        }
    }
}

/// `now` to the second, as conditions are stored (so recomputing gives equal values).
pub fn now_seconds() -> Timestamp {
    let now = Timestamp::now();
    Timestamp::from_second(now.as_second()).unwrap_or(now)
}

/// A new condition, both times `now` (upstream `NewDeploymentCondition`).
pub fn condition(
    type_: &str,
    truth: Truth,
    reason: ConditionReason,
    message: String,
    now: Timestamp,
) -> DeploymentCondition {
    DeploymentCondition {
        type_: type_.to_owned(),
        status: truth.as_str().to_owned(),
        reason: Some(reason.as_str().to_owned()),
        message: Some(message),
        last_update_time: Some(Time(now)),
        last_transition_time: Some(Time(now)),
    }
}

/// The condition of `type_`.
pub fn get_condition<'a>(
    status: &'a DeploymentStatus,
    type_: &str,
) -> Option<&'a DeploymentCondition> {
    status
        .conditions
        .as_ref()?
        .iter()
        .find(|condition| condition.type_ == type_)
}

/// Sets a condition; an identical status and reason keeps the old one, an identical status
/// keeps the transition time (upstream `SetDeploymentCondition`).
pub fn set_condition(status: &mut DeploymentStatus, mut new: DeploymentCondition) {
    if let Some(current) = get_condition(status, &new.type_) {
        if current.status == new.status && current.reason == new.reason {
            return;
        }
        if current.status == new.status {
            new.last_transition_time = current.last_transition_time.clone();
        }
    }
    remove_condition(status, &new.type_);
    status.conditions.get_or_insert_with(Vec::new).push(new);
}

/// Removes the condition of `type_`.
pub fn remove_condition(status: &mut DeploymentStatus, type_: &str) {
    if let Some(conditions) = status.conditions.as_mut() {
        conditions.retain(|condition| condition.type_ != type_);
        if conditions.is_empty() {
            status.conditions = None;
        }
    }
}

fn nonzero(n: i32) -> Option<i32> {
    (n != 0).then_some(n)
}

/// A status with zero counts and empty conditions omitted, as the wire form omits them, so
/// statuses compare equal whatever way they were produced.
pub fn normalized(status: &DeploymentStatus) -> DeploymentStatus {
    let mut status = status.clone();
    for count in [
        &mut status.replicas,
        &mut status.updated_replicas,
        &mut status.ready_replicas,
        &mut status.available_replicas,
        &mut status.unavailable_replicas,
    ] {
        *count = count.and_then(nonzero);
    }
    if status.conditions.as_ref().is_some_and(Vec::is_empty) {
        status.conditions = None;
    }
    status
}

fn spec_replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.as_ref().and_then(|spec| spec.replicas).unwrap_or(1)
}

fn status_of(
    rs: &ReplicaSet,
    field: fn(&k8s_openapi::api::apps::v1::ReplicaSetStatus) -> i32,
) -> i32 {
    rs.status.as_ref().map_or(0, field)
}

/// The deployment's new status from its ReplicaSets, with the Available condition (upstream
/// `calculateStatus`). Progressing is handled by [`sync_progress`].
pub fn calculate(
    deployment: &Deployment,
    all: &[&ReplicaSet],
    new: Option<&ReplicaSet>,
    now: Timestamp,
) -> DeploymentStatus {
    let available: i32 = all
        .iter()
        .map(|rs| status_of(rs, |s| s.available_replicas.unwrap_or(0)))
        .sum();
    let total: i32 = all.iter().map(|rs| spec_replicas(rs)).sum();
    let current = deployment.status.clone().unwrap_or_default();
    let mut status = DeploymentStatus {
        observed_generation: deployment.metadata.generation,
        replicas: nonzero(all.iter().map(|rs| status_of(rs, |s| s.replicas)).sum()),
        updated_replicas: nonzero(new.map_or(0, |rs| status_of(rs, |s| s.replicas))),
        ready_replicas: nonzero(
            all.iter()
                .map(|rs| status_of(rs, |s| s.ready_replicas.unwrap_or(0)))
                .sum(),
        ),
        available_replicas: nonzero(available),
        unavailable_replicas: nonzero((total - available).max(0)),
        collision_count: current.collision_count,
        conditions: current.conditions.clone(),
        terminating_replicas: None,
    };
    let desired = fenceposts::desired(deployment);
    if available >= desired - fenceposts::max_unavailable(deployment) {
        set_condition(
            &mut status,
            condition(
                AVAILABLE,
                Truth::True,
                ConditionReason::MinimumReplicasAvailable,
                "Deployment has minimum availability.".to_owned(),
                now,
            ),
        );
    } else {
        set_condition(
            &mut status,
            condition(
                AVAILABLE,
                Truth::False,
                ConditionReason::MinimumReplicasUnavailable,
                "Deployment does not have minimum availability.".to_owned(),
                now,
            ),
        );
    }
    status
}

/// `spec.progressDeadlineSeconds`, unless unset or "never" (MaxInt32).
fn progress_deadline(deployment: &Deployment) -> Option<i32> {
    deployment
        .spec
        .as_ref()
        .and_then(|spec| spec.progress_deadline_seconds)
        .filter(|seconds| *seconds != i32::MAX)
}

fn count(value: Option<i32>) -> i32 {
    value.unwrap_or(0)
}

/// Every replica is updated and available, and the status is current (upstream
/// `DeploymentComplete`).
pub fn complete(deployment: &Deployment, status: &DeploymentStatus) -> bool {
    let desired = fenceposts::desired(deployment);
    count(status.updated_replicas) == desired
        && count(status.replicas) == desired
        && count(status.available_replicas) == desired
        && status.observed_generation.unwrap_or(0) >= deployment.metadata.generation.unwrap_or(0)
}

/// The rollout moved since the last status (upstream `DeploymentProgressing`).
pub fn progressing(deployment: &Deployment, new: &DeploymentStatus) -> bool {
    let old = deployment.status.clone().unwrap_or_default();
    let old_old = count(old.replicas) - count(old.updated_replicas);
    let new_old = count(new.replicas) - count(new.updated_replicas);
    count(new.updated_replicas) > count(old.updated_replicas)
        || new_old < old_old
        || count(new.ready_replicas) > count(old.ready_replicas)
        || count(new.available_replicas) > count(old.available_replicas)
}

/// No progress within the deadline since the Progressing condition last changed (upstream
/// `DeploymentTimedOut`).
pub fn timed_out(deployment: &Deployment, status: &DeploymentStatus, now: Timestamp) -> bool {
    let Some(deadline) = progress_deadline(deployment) else {
        return false;
    };
    let Some(condition) = get_condition(status, PROGRESSING) else {
        return false;
    };
    match condition.reason.as_deref() {
        Some(reason) if reason == ConditionReason::NewReplicaSetAvailable.as_str() => return false,
        Some(reason) if reason == ConditionReason::ProgressDeadlineExceeded.as_str() => {
            return true
        }
        _ => {}
    }
    let Some(from) = condition.last_update_time.as_ref().map(|time| time.0) else {
        return false;
    };
    from.checked_add(SignedDuration::from_secs(i64::from(deadline)))
        .is_ok_and(|expires| expires < now)
}

/// Updates the Progressing and ReplicaFailure conditions of `new` (upstream
/// `syncRolloutStatus`). `new_rs` is the new ReplicaSet's name; `replica_failure` the new
/// ReplicaSet's own failure condition.
pub fn sync_progress(
    deployment: &Deployment,
    new: &mut DeploymentStatus,
    new_rs: Option<&str>,
    replica_failure: Option<DeploymentCondition>,
    now: Timestamp,
) {
    if progress_deadline(deployment).is_none() {
        remove_condition(new, PROGRESSING);
    }
    let old = deployment.status.clone().unwrap_or_default();
    let current = get_condition(&old, PROGRESSING).cloned();
    let already_complete = count(new.replicas) == count(new.updated_replicas)
        && current
            .as_ref()
            .and_then(|condition| condition.reason.as_deref())
            .is_some_and(|reason| reason == ConditionReason::NewReplicaSetAvailable.as_str());
    if progress_deadline(deployment).is_some() && !already_complete {
        let subject = match new_rs {
            Some(name) => format!("ReplicaSet \"{name}\""),
            None => format!(
                "Deployment \"{}\"",
                deployment.metadata.name.as_deref().unwrap_or_default()
            ),
        };
        if complete(deployment, new) {
            set_condition(
                new,
                condition(
                    PROGRESSING,
                    Truth::True,
                    ConditionReason::NewReplicaSetAvailable,
                    format!("{subject} has successfully progressed."),
                    now,
                ),
            );
        } else if progressing(deployment, new) {
            let mut updated = condition(
                PROGRESSING,
                Truth::True,
                ConditionReason::ReplicaSetUpdated,
                format!("{subject} is progressing."),
                now,
            );
            // Progress refreshes the update time (restarting the deadline) but is no
            // transition if it was already progressing.
            if let Some(current) = &current {
                if current.status == Truth::True.as_str() {
                    updated.last_transition_time = current.last_transition_time.clone();
                }
            }
            remove_condition(new, PROGRESSING);
            new.conditions.get_or_insert_with(Vec::new).push(updated);
        } else if timed_out(deployment, new, now) {
            set_condition(
                new,
                condition(
                    PROGRESSING,
                    Truth::False,
                    ConditionReason::ProgressDeadlineExceeded,
                    format!("{subject} has timed out progressing."),
                    now,
                ),
            );
        }
    }
    match replica_failure {
        Some(failure) => set_condition(new, failure),
        None => remove_condition(new, REPLICA_FAILURE),
    }
}

/// When to look again so a stuck rollout is marked timed out on time (upstream
/// `requeueStuckDeployment`).
pub fn recheck_after(
    deployment: &Deployment,
    status: &DeploymentStatus,
    now: Timestamp,
) -> Option<Duration> {
    let deadline = progress_deadline(deployment)?;
    let condition = get_condition(status, PROGRESSING)?;
    let reason = condition.reason.as_deref()?;
    if reason == ConditionReason::NewReplicaSetAvailable.as_str()
        || reason == ConditionReason::ProgressDeadlineExceeded.as_str()
    {
        return None;
    }
    if complete(deployment, status) {
        return None;
    }
    let from = condition.last_update_time.as_ref()?.0;
    let expires = from
        .checked_add(SignedDuration::from_secs(i64::from(deadline)))
        .ok()?;
    let left = expires.duration_since(now);
    // One second past the deadline, so the next sync sees it expired.
    Some(Duration::try_from(left).unwrap_or(Duration::ZERO) + Duration::from_secs(1))
}

/// The paused/resumed Progressing condition, if it must change (upstream
/// `checkPausedConditions`).
pub fn paused_condition(deployment: &Deployment, now: Timestamp) -> Option<DeploymentCondition> {
    progress_deadline(deployment)?;
    let paused = deployment
        .spec
        .as_ref()
        .and_then(|spec| spec.paused)
        .unwrap_or(false);
    let status = deployment.status.clone().unwrap_or_default();
    let reason = get_condition(&status, PROGRESSING).and_then(|condition| condition.reason.clone());
    let is_paused_reason = reason.as_deref() == Some(ConditionReason::DeploymentPaused.as_str());
    if paused && !is_paused_reason {
        Some(condition(
            PROGRESSING,
            Truth::Unknown,
            ConditionReason::DeploymentPaused,
            "Deployment is paused".to_owned(),
            now,
        ))
    } else if !paused && is_paused_reason {
        Some(condition(
            PROGRESSING,
            Truth::Unknown,
            ConditionReason::DeploymentResumed,
            "Deployment is resumed".to_owned(),
            now,
        ))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::{DeploymentSpec, ReplicaSetStatus};
    use kube::api::ObjectMeta;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(seconds).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    fn deployment(replicas: i32, status: DeploymentStatus) -> Deployment {
        Deployment {
            metadata: ObjectMeta {
                name: Some("web".to_owned()),
                generation: Some(2),
                ..ObjectMeta::default()
            },
            spec: Some(DeploymentSpec {
                replicas: Some(replicas),
                progress_deadline_seconds: Some(600),
                ..DeploymentSpec::default()
            }),
            status: Some(status),
        }
    }

    fn rs(replicas: i32, ready: i32, available: i32) -> ReplicaSet {
        ReplicaSet {
            spec: Some(k8s_openapi::api::apps::v1::ReplicaSetSpec {
                replicas: Some(replicas),
                ..Default::default()
            }),
            status: Some(ReplicaSetStatus {
                replicas,
                ready_replicas: Some(ready),
                available_replicas: Some(available),
                ..Default::default()
            }),
            ..ReplicaSet::default()
        }
    }

    #[test]
    fn status_sums_replica_sets_and_reports_availability() {
        // 4 desired, 25% maxUnavailable → 1: 3 available is enough.
        let d = deployment(4, DeploymentStatus::default());
        let (old, new) = (rs(1, 1, 1), rs(3, 2, 2));
        let status = calculate(&d, &[&old, &new], Some(&new), at(10));
        assert_eq!(
            (
                status.replicas,
                status.updated_replicas,
                status.ready_replicas,
                status.available_replicas,
                status.unavailable_replicas
            ),
            (Some(4), Some(3), Some(3), Some(3), Some(1))
        );
        assert_eq!(status.observed_generation, Some(2));
        let available = get_condition(&status, AVAILABLE).map(|c| c.status.as_str());
        assert_eq!(available, Some("True"));

        let status = calculate(&d, &[&rs(4, 0, 0)], None, at(10));
        assert_eq!(
            get_condition(&status, AVAILABLE).and_then(|c| c.reason.as_deref()),
            Some("MinimumReplicasUnavailable")
        );
    }

    #[test]
    fn progressing_goes_updated_then_available_or_times_out() {
        let now = at(1000);
        let start = DeploymentStatus {
            conditions: Some(vec![condition(
                PROGRESSING,
                Truth::True,
                ConditionReason::NewReplicaSetCreated,
                String::new(),
                at(100),
            )]),
            ..DeploymentStatus::default()
        };
        let reason = |status: &DeploymentStatus| {
            get_condition(status, PROGRESSING).and_then(|c| c.reason.clone())
        };

        // Some progress: ReplicaSetUpdated, the transition time kept.
        let d = deployment(2, start.clone());
        let mut moved = DeploymentStatus {
            replicas: Some(1),
            updated_replicas: Some(1),
            conditions: start.conditions.clone(),
            observed_generation: Some(2),
            ..DeploymentStatus::default()
        };
        sync_progress(&d, &mut moved, Some("web-abc"), None, now);
        assert_eq!(reason(&moved).as_deref(), Some("ReplicaSetUpdated"));
        let progressing = get_condition(&moved, PROGRESSING);
        assert_eq!(
            progressing.and_then(|c| c.last_transition_time.clone()),
            Some(Time(at(100)))
        );
        assert_eq!(
            progressing.and_then(|c| c.message.clone()).as_deref(),
            Some("ReplicaSet \"web-abc\" is progressing.")
        );

        // Done: NewReplicaSetAvailable.
        let mut done = DeploymentStatus {
            replicas: Some(2),
            updated_replicas: Some(2),
            available_replicas: Some(2),
            ready_replicas: Some(2),
            observed_generation: Some(2),
            conditions: start.conditions.clone(),
            ..DeploymentStatus::default()
        };
        sync_progress(&d, &mut done, Some("web-abc"), None, now);
        assert_eq!(reason(&done).as_deref(), Some("NewReplicaSetAvailable"));

        // No progress for longer than 600 s since the last update: timed out.
        let mut stuck = start.clone();
        stuck.observed_generation = Some(2);
        sync_progress(
            &deployment(2, start.clone()),
            &mut stuck,
            Some("web-abc"),
            None,
            now,
        );
        assert_eq!(reason(&stuck).as_deref(), Some("ProgressDeadlineExceeded"));
        assert_eq!(
            get_condition(&stuck, PROGRESSING).map(|c| c.status.as_str()),
            Some("False")
        );

        // Not yet past the deadline: recheck when it would be.
        let mut waiting = start.clone();
        sync_progress(
            &deployment(2, start.clone()),
            &mut waiting,
            Some("web-abc"),
            None,
            at(200),
        );
        assert_eq!(reason(&waiting).as_deref(), Some("NewReplicaSetCreated"));
        assert_eq!(
            recheck_after(&deployment(2, start), &waiting, at(200)),
            Some(Duration::from_secs(501))
        );
    }

    #[test]
    fn pausing_and_resuming_set_the_progressing_reason() {
        let mut d = deployment(1, DeploymentStatus::default());
        if let Some(spec) = d.spec.as_mut() {
            spec.paused = Some(true);
        }
        let paused = paused_condition(&d, at(1));
        assert_eq!(
            paused.as_ref().and_then(|c| c.reason.as_deref()),
            Some("DeploymentPaused")
        );
        d.status = Some(DeploymentStatus {
            conditions: paused.map(|c| vec![c]),
            ..DeploymentStatus::default()
        });
        assert_eq!(paused_condition(&d, at(2)), None);
        if let Some(spec) = d.spec.as_mut() {
            spec.paused = Some(false);
        }
        assert_eq!(
            paused_condition(&d, at(3)).and_then(|c| c.reason),
            Some("DeploymentResumed".to_owned())
        );
    }
}
