//! The CronJob controller's decisions as pure functions of the CronJob, the Jobs it owns and
//! the time (upstream `pkg/controller/cronjob/cronjob_controllerv2.go` `syncCronJob` and
//! `cleanupFinishedJobs`, `utils.go` `mostRecentScheduleTime`): which Jobs are still active,
//! whether a run is due now, and which finished Jobs fall out of the history.

use std::collections::HashSet;
use std::sync::Arc;

use k8s_openapi::api::batch::v1::{CronJob, CronJobStatus, Job};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::tz::TimeZone;
use k8s_openapi::jiff::{SignedDuration, Timestamp};

use rkube_api::kinds::cron_schedule::Schedule;

/// Above this many missed start times upstream warns `TooManyMissedTimes` ("more than 80,
/// but less than lots").
pub const TOO_MANY_MISSED: i64 = 100;

/// Upstream requeues 100 ms after the next activation against clock skew
/// (`nextScheduleDelta`).
pub const NEXT_SCHEDULE_DELTA: SignedDuration = SignedDuration::from_millis(100);

/// `spec.concurrencyPolicy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConcurrencyPolicy {
    /// Runs may overlap (the default).
    Allow,
    /// A run is skipped while another is active.
    Forbid,
    /// The active runs are deleted before the new one starts.
    Replace,
}

impl ConcurrencyPolicy {
    /// The policy of `cronjob` (unknown values act as the default, `Allow`).
    pub fn of(cronjob: &CronJob) -> Self {
        match cronjob
            .spec
            .as_ref()
            .and_then(|spec| spec.concurrency_policy.as_deref())
        {
            Some("Forbid") => ConcurrencyPolicy::Forbid,
            Some("Replace") => ConcurrencyPolicy::Replace,
            _ => ConcurrencyPolicy::Allow,
        }
    }
}

/// How a Job ended (its `Complete` or `Failed` condition is true).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Finished {
    /// `Complete`.
    Complete,
    /// `Failed`.
    Failed,
}

impl Finished {
    /// The condition type, as events print it.
    pub fn as_str(self) -> &'static str {
        match self {
            Finished::Complete => "Complete",
            Finished::Failed => "Failed",
        }
    }
}

/// How `job` finished, if it has (upstream `IsJobFinished`).
pub fn finished(job: &Job) -> Option<Finished> {
    job.status
        .as_ref()?
        .conditions
        .iter()
        .flatten()
        .filter(|c| c.status == "True")
        .find_map(|c| match c.type_.as_str() {
            "Complete" => Some(Finished::Complete),
            "Failed" => Some(Finished::Failed),
            _ => None,
        })
}

/// Something the active-list reconciliation saw that a user should see as an Event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seen {
    /// An active Job finished (`SawCompletedJob`).
    Completed {
        /// The Job.
        job: String,
        /// How.
        how: Finished,
    },
    /// A running Job we own that the status does not list (`UnexpectedJob`).
    Unexpected {
        /// The Job.
        job: String,
    },
}

/// The status after comparing `status.active` with the owned Jobs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ActiveJobs {
    /// The new status.
    pub status: CronJobStatus,
    /// What to report.
    pub seen: Vec<Seen>,
    /// Listed as active but not in the cache: gone, or too new for the cache; the caller
    /// asks the apiserver before dropping them (upstream's `MissingJob`).
    pub unconfirmed: Vec<ObjectReference>,
}

fn uid_of(reference: &ObjectReference) -> &str {
    reference.uid.as_deref().unwrap_or_default()
}

/// Drops finished Jobs from `status.active` and records the latest success
/// (the first loop of upstream's `syncCronJob`). `owned` are the Jobs whose controller is
/// this CronJob.
pub fn reconcile_active(cronjob: &CronJob, owned: &[Arc<Job>]) -> ActiveJobs {
    let mut status = cronjob.status.clone().unwrap_or_default();
    let mut seen = Vec::new();
    let mut active = status.active.take().unwrap_or_default();
    for job in owned {
        let uid = job.metadata.uid.as_deref().unwrap_or_default();
        let name = job.metadata.name.clone().unwrap_or_default();
        let listed = active.iter().any(|r| uid_of(r) == uid);
        match (listed, finished(job)) {
            (false, None) => seen.push(Seen::Unexpected { job: name }),
            (true, Some(how)) => {
                active.retain(|r| uid_of(r) != uid);
                seen.push(Seen::Completed { job: name, how });
            }
            (true, None) => {}
            (false, Some(_)) => {}
        }
        if finished(job) == Some(Finished::Complete) {
            let completed = job.status.as_ref().and_then(|s| s.completion_time.clone());
            if let Some(completed) = completed {
                let newer = status
                    .last_successful_time
                    .as_ref()
                    .is_none_or(|last| completed.0 > last.0);
                if newer {
                    status.last_successful_time = Some(completed);
                }
            }
        }
    }
    let owned_uids: HashSet<&str> = owned
        .iter()
        .filter_map(|job| job.metadata.uid.as_deref())
        .collect();
    let unconfirmed = active
        .iter()
        .filter(|r| !owned_uids.contains(uid_of(r)))
        .cloned()
        .collect();
    status.active = (!active.is_empty()).then_some(active);
    ActiveJobs {
        status,
        seen,
        unconfirmed,
    }
}

/// Whether a run is due, and when to look again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Nothing is due; look again at `wake`.
    Wait {
        /// The next activation plus [`NEXT_SCHEDULE_DELTA`] (`None`: never).
        wake: Option<Timestamp>,
    },
    /// The due run is older than `startingDeadlineSeconds` (`MissSchedule`).
    Missed {
        /// The missed activation.
        scheduled: Timestamp,
        /// When to look again.
        wake: Option<Timestamp>,
    },
    /// Forbid, and a run is active (`JobAlreadyActive`).
    AlreadyActive {
        /// When to look again.
        wake: Option<Timestamp>,
    },
    /// Start the run for `scheduled` (after deleting the active runs when replacing).
    Start {
        /// The activation the Job is for.
        scheduled: Timestamp,
        /// Delete `status.active` first (Replace).
        replace_active: bool,
        /// More than [`TOO_MANY_MISSED`] activations were missed (`TooManyMissedTimes`).
        too_many_missed: bool,
        /// When to look again, after this run is recorded.
        wake: Option<Timestamp>,
    },
    /// Two consecutive activations are less than a second apart (`InvalidSchedule`).
    Invalid,
}

/// The latest activation not after `now`, counted from `earliest`, and how many were
/// missed (upstream `mostRecentScheduleTime`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct MostRecent {
    earliest: Timestamp,
    most_recent: Option<Timestamp>,
    missed: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct TooClose;

fn most_recent(
    earliest: Timestamp,
    now: Timestamp,
    schedule: &Schedule,
    zone: &TimeZone,
) -> Result<MostRecent, TooClose> {
    let none = MostRecent {
        earliest,
        most_recent: None,
        missed: 0,
    };
    let Some(t1) = schedule.next(earliest, zone) else {
        return Ok(none);
    };
    if now < t1 {
        return Ok(none);
    }
    let Some(t2) = schedule.next(t1, zone) else {
        return Ok(MostRecent {
            most_recent: Some(t1),
            missed: 1,
            ..none
        });
    };
    if now < t2 {
        return Ok(MostRecent {
            most_recent: Some(t1),
            ..none
        });
    }
    // Upstream's approximation: count intervals of the first gap, then walk the schedule
    // from one interval before the estimate (exact for irregular schedules too).
    let interval = t2
        .duration_since(t1)
        .round(k8s_openapi::jiff::Unit::Second)
        .map_err(|_| TooClose)?;
    let interval = interval.as_secs();
    if interval < 1 {
        return Err(TooClose);
    }
    let missed = now.duration_since(t1).as_secs() / interval + 1;
    let back = SignedDuration::from_secs((missed - 2).saturating_mul(interval));
    let mut cursor = t1.checked_add(back).unwrap_or(t1);
    let mut latest = None;
    while let Some(t) = schedule.next(cursor, zone).filter(|t| *t <= now) {
        latest = Some(t);
        cursor = t;
    }
    Ok(MostRecent {
        earliest,
        most_recent: latest,
        missed,
    })
}

fn time(t: Option<&Time>) -> Option<Timestamp> {
    t.map(|t| t.0)
}

/// When nothing is due: the next activation after the last one (or after creation), plus
/// the delta (upstream `nextScheduleTimeDuration`).
fn wake(
    cronjob: &CronJob,
    status: &CronJobStatus,
    now: Timestamp,
    schedule: &Schedule,
    zone: &TimeZone,
) -> Option<Timestamp> {
    let earliest = time(status.last_schedule_time.as_ref())
        .or(time(cronjob.metadata.creation_timestamp.as_ref()))
        .unwrap_or(now);
    let from = match most_recent(earliest, now, schedule, zone) {
        Err(TooClose) => now,
        Ok(found) => found.most_recent.unwrap_or(found.earliest),
    };
    schedule
        .next(from, zone)?
        .checked_add(NEXT_SCHEDULE_DELTA)
        .ok()
}

/// The name of the Job for `scheduled`: `<cronjob>-<minutes since the epoch>`, so that a
/// run is created once even if the status update after it is lost (upstream `getJobName`).
pub fn job_name(cronjob: &str, scheduled: Timestamp) -> String {
    format!("{cronjob}-{}", scheduled.as_second().div_euclid(60))
}

/// Decides whether to start a run at `now` given the reconciled `status`
/// (the second half of upstream's `syncCronJob`; suspend and time zone checks come first).
pub fn decide(
    cronjob: &CronJob,
    status: &CronJobStatus,
    now: Timestamp,
    schedule: &Schedule,
    zone: &TimeZone,
) -> Decision {
    let spec = cronjob.spec.as_ref();
    let deadline = spec.and_then(|spec| spec.starting_deadline_seconds);
    let mut earliest = time(status.last_schedule_time.as_ref())
        .or(time(cronjob.metadata.creation_timestamp.as_ref()))
        .unwrap_or(now);
    if let Some(seconds) = deadline {
        // Nothing older than the deadline will be started anyway.
        let limit = now
            .checked_sub(SignedDuration::from_secs(seconds))
            .unwrap_or(now);
        earliest = earliest.max(limit);
    }
    let found = match most_recent(earliest, now, schedule, zone) {
        Ok(found) => found,
        Err(TooClose) => return Decision::Invalid,
    };
    let wake = |status: &CronJobStatus| wake(cronjob, status, now, schedule, zone);
    let Some(scheduled) = found.most_recent else {
        return Decision::Wait { wake: wake(status) };
    };
    let too_late = deadline.is_some_and(|seconds| {
        scheduled
            .checked_add(SignedDuration::from_secs(seconds))
            .is_ok_and(|latest| latest < now)
    });
    if too_late {
        return Decision::Missed {
            scheduled,
            wake: wake(status),
        };
    }
    let name = cronjob.metadata.name.as_deref().unwrap_or_default();
    let processed = status
        .active
        .iter()
        .flatten()
        .any(|r| r.name.as_deref() == Some(job_name(name, scheduled).as_str()))
        || time(status.last_schedule_time.as_ref()) == Some(scheduled);
    if processed {
        return Decision::Wait { wake: wake(status) };
    }
    let policy = ConcurrencyPolicy::of(cronjob);
    let running = status.active.as_ref().is_some_and(|a| !a.is_empty());
    if policy == ConcurrencyPolicy::Forbid && running {
        return Decision::AlreadyActive { wake: wake(status) };
    }
    let after = CronJobStatus {
        last_schedule_time: Some(Time(scheduled)),
        ..status.clone()
    };
    Decision::Start {
        scheduled,
        replace_active: policy == ConcurrencyPolicy::Replace && running,
        too_many_missed: found.missed > TOO_MANY_MISSED,
        wake: wake(&after),
    }
}

/// The finished Jobs beyond `successfulJobsHistoryLimit` / `failedJobsHistoryLimit`, oldest
/// first by start time (unstarted last, then by name), to delete (upstream
/// `cleanupFinishedJobs` / `removeOldestJobs`).
pub fn over_history_limits(cronjob: &CronJob, owned: &[Arc<Job>]) -> Vec<Arc<Job>> {
    let spec = cronjob.spec.as_ref();
    let limits = [
        (
            Finished::Complete,
            spec.and_then(|s| s.successful_jobs_history_limit),
        ),
        (
            Finished::Failed,
            spec.and_then(|s| s.failed_jobs_history_limit),
        ),
    ];
    let mut delete = Vec::new();
    for (how, limit) in limits {
        let Some(limit) = limit else { continue };
        let mut jobs: Vec<&Arc<Job>> = owned
            .iter()
            .filter(|job| finished(job) == Some(how))
            .collect();
        let keep = usize::try_from(limit).unwrap_or(0);
        if jobs.len() <= keep {
            continue;
        }
        jobs.sort_by_key(|job| {
            let started = job.status.as_ref().and_then(|s| s.start_time.as_ref());
            (
                started.is_none(),
                started.map(|t| t.0),
                job.metadata.name.clone(),
            )
        });
        let excess = jobs.len() - keep;
        delete.extend(jobs.into_iter().take(excess).cloned());
    }
    delete
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;
    use k8s_openapi::api::batch::v1::{CronJobSpec, JobCondition, JobStatus};
    use kube::api::ObjectMeta;

    fn ts(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    struct Cj(CronJob);

    impl Cj {
        fn new(schedule: &str, created: &str) -> Self {
            Cj(CronJob {
                metadata: ObjectMeta {
                    name: Some("tick".into()),
                    namespace: Some("default".into()),
                    uid: Some("cj-uid".into()),
                    creation_timestamp: Some(Time(ts(created))),
                    ..ObjectMeta::default()
                },
                spec: Some(CronJobSpec {
                    schedule: schedule.into(),
                    ..CronJobSpec::default()
                }),
                status: None,
            })
        }
        fn policy(mut self, policy: &str) -> Self {
            self.spec().concurrency_policy = Some(policy.into());
            self
        }
        fn deadline(mut self, seconds: i64) -> Self {
            self.spec().starting_deadline_seconds = Some(seconds);
            self
        }
        fn last_scheduled(mut self, at: &str) -> Self {
            self.status().last_schedule_time = Some(Time(ts(at)));
            self
        }
        fn active(mut self, names: &[&str]) -> Self {
            self.status().active = Some(names.iter().map(|n| reference(n)).collect());
            self
        }
        fn history(mut self, successful: i32, failed: i32) -> Self {
            self.spec().successful_jobs_history_limit = Some(successful);
            self.spec().failed_jobs_history_limit = Some(failed);
            self
        }
        fn spec(&mut self) -> &mut CronJobSpec {
            self.0.spec.get_or_insert_with(CronJobSpec::default)
        }
        fn status(&mut self) -> &mut CronJobStatus {
            self.0.status.get_or_insert_with(CronJobStatus::default)
        }
    }

    fn reference(name: &str) -> ObjectReference {
        ObjectReference {
            kind: Some("Job".into()),
            name: Some(name.into()),
            namespace: Some("default".into()),
            uid: Some(format!("{name}-uid")),
            ..ObjectReference::default()
        }
    }

    fn job(name: &str, ended: Option<Finished>, started: Option<&str>) -> Arc<Job> {
        let conditions = ended.map(|how| {
            vec![JobCondition {
                type_: how.as_str().into(),
                status: "True".into(),
                ..JobCondition::default()
            }]
        });
        Arc::new(Job {
            metadata: ObjectMeta {
                name: Some(name.into()),
                uid: Some(format!("{name}-uid")),
                ..ObjectMeta::default()
            },
            status: Some(JobStatus {
                conditions,
                start_time: started.map(|s| Time(ts(s))),
                completion_time: (ended == Some(Finished::Complete))
                    .then(|| Time(ts(started.unwrap_or("2024-01-01T00:00:00Z")))),
                ..JobStatus::default()
            }),
            ..Job::default()
        })
    }

    fn names(status: &CronJobStatus) -> Vec<String> {
        status
            .active
            .iter()
            .flatten()
            .filter_map(|r| r.name.clone())
            .collect()
    }

    #[test]
    fn finished_jobs_leave_the_active_list_and_unknown_ones_are_reported() {
        let cronjob = Cj::new("* * * * *", "2024-01-01T00:00:00Z")
            .active(&["a", "b", "gone"])
            .0;
        let owned = [
            job("a", None, None),
            job("b", Some(Finished::Complete), Some("2024-01-01T00:05:00Z")),
            job("c", None, None),
        ];
        let got = reconcile_active(&cronjob, &owned);
        assert_eq!(names(&got.status), vec!["a", "gone"]);
        assert_eq!(
            got.seen,
            vec![
                Seen::Completed {
                    job: "b".into(),
                    how: Finished::Complete
                },
                Seen::Unexpected { job: "c".into() },
            ]
        );
        assert_eq!(
            got.status.last_successful_time,
            Some(Time(ts("2024-01-01T00:05:00Z")))
        );
        let unconfirmed: Vec<_> = got
            .unconfirmed
            .iter()
            .filter_map(|r| r.name.clone())
            .collect();
        assert_eq!(unconfirmed, vec!["gone"]);
    }

    #[test]
    fn decisions_follow_the_schedule_deadline_and_concurrency_policy() {
        let now = ts("2024-01-01T10:00:30Z");
        let start = |scheduled: &str, replace: bool, many: bool| Decision::Start {
            scheduled: ts(scheduled),
            replace_active: replace,
            too_many_missed: many,
            wake: Some(ts("2024-01-01T10:01:00.1Z")),
        };
        let cases = [
            (
                "a run due a few seconds ago starts",
                Cj::new("* * * * *", "2024-01-01T09:59:50Z"),
                start("2024-01-01T10:00:00Z", false, false),
            ),
            (
                "nothing due since creation waits for the next minute",
                Cj::new("* * * * *", "2024-01-01T10:00:10Z"),
                Decision::Wait {
                    wake: Some(ts("2024-01-01T10:01:00.1Z")),
                },
            ),
            (
                "an already started run is not started again",
                Cj::new("* * * * *", "2024-01-01T09:00:00Z").last_scheduled("2024-01-01T10:00:00Z"),
                Decision::Wait {
                    wake: Some(ts("2024-01-01T10:01:00.1Z")),
                },
            ),
            (
                "only the latest of several missed runs starts",
                Cj::new("* * * * *", "2024-01-01T09:00:00Z").last_scheduled("2024-01-01T09:55:00Z"),
                start("2024-01-01T10:00:00Z", false, false),
            ),
            (
                "more than a hundred missed runs are flagged",
                Cj::new("* * * * *", "2024-01-01T00:00:00Z"),
                start("2024-01-01T10:00:00Z", false, true),
            ),
            (
                // As upstream: the deadline moves the earliest time considered, so the late
                // run is not even found.
                "a deadline shorter than the delay skips the run",
                Cj::new("* * * * *", "2024-01-01T09:59:50Z").deadline(10),
                Decision::Wait {
                    wake: Some(ts("2024-01-01T10:01:00.1Z")),
                },
            ),
            (
                "a deadline also caps how far back missed runs count",
                Cj::new("* * * * *", "2024-01-01T00:00:00Z").deadline(60),
                start("2024-01-01T10:00:00Z", false, false),
            ),
            (
                "forbid skips while a run is active",
                Cj::new("* * * * *", "2024-01-01T09:59:50Z")
                    .policy("Forbid")
                    .active(&["tick-1"]),
                Decision::AlreadyActive {
                    wake: Some(ts("2024-01-01T10:01:00.1Z")),
                },
            ),
            (
                "replace starts and deletes the active run",
                Cj::new("* * * * *", "2024-01-01T09:59:50Z")
                    .policy("Replace")
                    .active(&["tick-1"]),
                start("2024-01-01T10:00:00Z", true, false),
            ),
            (
                "allow starts beside the active run",
                Cj::new("* * * * *", "2024-01-01T09:59:50Z").active(&["tick-1"]),
                start("2024-01-01T10:00:00Z", false, false),
            ),
        ];
        for (name, cronjob, want) in cases {
            let cronjob = cronjob.0;
            let schedule: Schedule = cronjob.spec.as_ref().unwrap().schedule.parse().unwrap();
            let status = cronjob.status.clone().unwrap_or_default();
            let got = decide(&cronjob, &status, now, &schedule, &TimeZone::UTC);
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn job_names_carry_the_scheduled_minute() {
        assert_eq!(
            job_name("tick", ts("2024-01-01T10:00:00Z")),
            "tick-28401720"
        );
    }

    #[test]
    fn the_oldest_finished_jobs_beyond_the_limits_are_deleted() {
        let cronjob = Cj::new("* * * * *", "2024-01-01T00:00:00Z").history(2, 1).0;
        let owned = [
            job(
                "ok-3",
                Some(Finished::Complete),
                Some("2024-01-01T00:03:00Z"),
            ),
            job(
                "ok-1",
                Some(Finished::Complete),
                Some("2024-01-01T00:01:00Z"),
            ),
            job(
                "ok-2",
                Some(Finished::Complete),
                Some("2024-01-01T00:02:00Z"),
            ),
            job(
                "bad-1",
                Some(Finished::Failed),
                Some("2024-01-01T00:01:30Z"),
            ),
            job("bad-unstarted", Some(Finished::Failed), None),
            job(
                "bad-2",
                Some(Finished::Failed),
                Some("2024-01-01T00:02:30Z"),
            ),
            job("running", None, Some("2024-01-01T00:00:30Z")),
        ];
        let got: Vec<String> = over_history_limits(&cronjob, &owned)
            .iter()
            .filter_map(|j| j.metadata.name.clone())
            .collect();
        assert_eq!(got, vec!["ok-1", "bad-1", "bad-2"]);
        let unlimited = Cj::new("* * * * *", "2024-01-01T00:00:00Z").0;
        assert!(over_history_limits(&unlimited, &owned).is_empty());
    }
}
