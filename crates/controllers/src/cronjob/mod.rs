//! The CronJob controller (upstream `pkg/controller/cronjob`, the v2 controller): creates a
//! Job from `spec.jobTemplate` at each activation of `spec.schedule` in `spec.timeZone`,
//! honouring `suspend`, `startingDeadlineSeconds` and `concurrencyPolicy`, keeps
//! `status.active`, `lastScheduleTime` and `lastSuccessfulTime`, and deletes finished Jobs
//! beyond the history limits. [`sync`] decides; this module reads the caches, writes and
//! records Events. A CronJob is requeued for its next activation, never polled.

pub mod sync;
pub mod time_zone;

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::future::{BoxFuture, FutureExt};
use k8s_openapi::api::batch::v1::{CronJob, CronJobStatus, Job};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{OwnerReference, Time};
use k8s_openapi::jiff::tz::TimeZone;
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, ObjectMeta, PostParams};
use kube::runtime::reflector::Store;
use kube::{Api, Client, Resource};

use self::sync::{Decision, Seen};
use crate::framework::{
    run_controller, Action, Clock, Context, DefaultState, EventRecorder, Reason, Triggers,
};
use crate::registry::Descriptor;
use rkube_api::kinds::cron_schedule::Schedule;

/// The `cronjob` controller.
pub const DESCRIPTOR: Descriptor = Descriptor {
    name: "cronjob",
    default: DefaultState::Enabled,
    start,
};

/// The annotation a Job gets with the activation it runs for, RFC 3339 in the CronJob's
/// time zone (upstream `batchv1.CronJobScheduledTimestampAnnotation`).
pub const SCHEDULED_TIMESTAMP: &str = "batch.kubernetes.io/cronjob-scheduled-timestamp";

const SUCCESSFUL_CREATE: Reason = Reason("SuccessfulCreate");
const SUCCESSFUL_DELETE: Reason = Reason("SuccessfulDelete");
const SAW_COMPLETED_JOB: Reason = Reason("SawCompletedJob");
const UNEXPECTED_JOB: Reason = Reason("UnexpectedJob");
const MISSING_JOB: Reason = Reason("MissingJob");
const MISS_SCHEDULE: Reason = Reason("MissSchedule");
const JOB_ALREADY_ACTIVE: Reason = Reason("JobAlreadyActive");
const TOO_MANY_MISSED_TIMES: Reason = Reason("TooManyMissedTimes");
const UNKNOWN_TIME_ZONE: Reason = Reason("UnknownTimeZone");
const UNPARSEABLE_SCHEDULE: Reason = Reason("UnparseableSchedule");
const INVALID_SCHEDULE: Reason = Reason("InvalidSchedule");
const FAILED_CREATE: Reason = Reason("FailedCreate");

/// Why a CronJob sync failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A read or write failed.
    #[error("could not {action} for CronJob {namespace}/{cronjob}")]
    Api {
        /// What was attempted.
        action: &'static str,
        /// The CronJob's namespace.
        namespace: String,
        /// The CronJob's name.
        cronjob: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
}

struct State {
    client: Client,
    jobs: Store<Job>,
    recorder: EventRecorder,
    clock: Arc<dyn Clock>,
}

fn start(ctx: Context) -> BoxFuture<'static, Result<(), crate::Error>> {
    async move {
        let cronjobs = ctx.informer::<CronJob>();
        let jobs = ctx.informer::<Job>();
        let triggers = Triggers::new().primary(&cronjobs).owned(&jobs);
        let state = Arc::new(State {
            client: ctx.client().clone(),
            jobs: jobs.store(),
            recorder: ctx.recorder("cronjob-controller"),
            clock: Arc::clone(&ctx.settings().clock),
        });
        run_controller(&ctx, "cronjob", &cronjobs, triggers, state, reconcile).await;
        Ok(())
    }
    .boxed()
}

fn is_not_found(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(e) if e.code == 404)
}

/// One sync of one CronJob (upstream `sync` + `syncCronJob` + `cleanupFinishedJobs`).
async fn reconcile(cronjob: Arc<CronJob>, state: Arc<State>) -> Result<Action, Error> {
    let namespace = cronjob.metadata.namespace.clone().unwrap_or_default();
    let name = cronjob.metadata.name.clone().unwrap_or_default();
    let uid = cronjob.metadata.uid.clone().unwrap_or_default();
    let failed = |action: &'static str| {
        let (namespace, cronjob) = (namespace.clone(), name.clone());
        move |source| Error::Api {
            action,
            namespace,
            cronjob,
            source,
        }
    };
    let jobs_api: Api<Job> = Api::namespaced(state.client.clone(), &namespace);
    let owned: Vec<Arc<Job>> = state
        .jobs
        .state()
        .into_iter()
        .filter(|job| job.metadata.namespace.as_deref() == Some(namespace.as_str()))
        .filter(|job| crate::claim::controller_of(&**job).is_some_and(|o| o.uid == uid))
        .collect();

    let mut reconciled = sync::reconcile_active(&cronjob, &owned);
    let mut cronjob = cronjob;
    let cronjobs: Api<CronJob> = Api::namespaced(state.client.clone(), &namespace);
    if reconciled
        .seen
        .iter()
        .any(|seen| matches!(seen, Seen::Unexpected { .. }))
    {
        // The cache may predate our own status update listing the Job (upstream re-reads
        // the CronJob before calling a Job unexpected).
        match cronjobs
            .get_opt(&name)
            .await
            .map_err(failed("get the CronJob"))?
        {
            Some(live) => {
                cronjob = Arc::new(live);
                reconciled = sync::reconcile_active(&cronjob, &owned);
            }
            None => return Ok(Action::await_change()),
        }
    }
    let mut status = reconciled.status;
    for seen in reconciled.seen {
        match seen {
            Seen::Completed { job, how } => state.recorder.normal(
                &*cronjob,
                SAW_COMPLETED_JOB,
                format!("Saw completed job: {job}, condition: {}", how.as_str()),
            ),
            Seen::Unexpected { job } => state.recorder.warning(
                &*cronjob,
                UNEXPECTED_JOB,
                format!("Saw a job that the controller did not create or forgot: {job}"),
            ),
        }
    }
    // The cache may just not have a Job we created yet: only the apiserver can tell.
    for reference in reconciled.unconfirmed {
        let job_name = reference.name.clone().unwrap_or_default();
        match jobs_api
            .get_opt(&job_name)
            .await
            .map_err(failed("get a Job"))?
        {
            Some(job) if job.metadata.uid == reference.uid => {}
            _ => {
                state.recorder.normal(
                    &*cronjob,
                    MISSING_JOB,
                    format!("Active job went missing: {job_name}"),
                );
                remove_active(&mut status, reference.uid.as_deref());
            }
        }
    }

    let wake = if cronjob.metadata.deletion_timestamp.is_some() {
        None
    } else {
        run_due(&cronjob, &mut status, &jobs_api, &state)
            .await
            .map_err(failed("start a Job"))?
    };

    if cronjob.metadata.deletion_timestamp.is_none() {
        for job in sync::over_history_limits(&cronjob, &owned) {
            delete_job(&cronjob, &job, &mut status, &jobs_api, &state)
                .await
                .map_err(failed("delete a finished Job"))?;
        }
    }

    if Some(&status) != cronjob.status.as_ref()
        && !(cronjob.status.is_none() && status == CronJobStatus::default())
    {
        let mut next = (*cronjob).clone();
        next.status = Some(status);
        cronjobs
            .replace_status(&name, &PostParams::default(), &next)
            .await
            .map_err(failed("update the status"))?;
    }
    Ok(match wake {
        Some(at) => Action::requeue(state.clock.real_wait(at.duration_since(state.clock.now()))),
        None => Action::await_change(),
    })
}

/// Starts the run that is due, if any; returns when to look again.
async fn run_due(
    cronjob: &CronJob,
    status: &mut CronJobStatus,
    jobs_api: &Api<Job>,
    state: &State,
) -> Result<Option<Timestamp>, kube::Error> {
    let Some(spec) = cronjob.spec.as_ref() else {
        return Ok(None);
    };
    let zone = match spec.time_zone.as_deref() {
        None => TimeZone::UTC,
        Some(name) => match time_zone::load(name) {
            Ok(zone) => zone,
            Err(error) => {
                state.recorder.warning(
                    cronjob,
                    UNKNOWN_TIME_ZONE,
                    format!("invalid timeZone: {name:?}: {error}"),
                );
                return Ok(None);
            }
        },
    };
    if spec.suspend == Some(true) {
        return Ok(None);
    }
    let schedule: Schedule = match spec.schedule.parse() {
        Ok(schedule) => schedule,
        Err(error) => {
            state.recorder.warning(
                cronjob,
                UNPARSEABLE_SCHEDULE,
                format!("unparseable schedule: {:?} : {error}", spec.schedule),
            );
            return Ok(None);
        }
    };
    let now = state.clock.now();
    match sync::decide(cronjob, status, now, &schedule, &zone) {
        Decision::Wait { wake } => Ok(wake),
        Decision::Invalid => {
            state.recorder.warning(
                cronjob,
                INVALID_SCHEDULE,
                format!(
                    "invalid schedule: {} : time difference between two schedules is less than 1 second",
                    spec.schedule
                ),
            );
            Ok(None)
        }
        Decision::Missed { scheduled, wake } => {
            state.recorder.warning(
                cronjob,
                MISS_SCHEDULE,
                format!(
                    "Missed scheduled time to start a job: {}",
                    scheduled.strftime("%a, %d %b %Y %H:%M:%S +0000")
                ),
            );
            Ok(wake)
        }
        Decision::AlreadyActive { wake } => {
            state.recorder.normal(
                cronjob,
                JOB_ALREADY_ACTIVE,
                "Not starting job because prior execution is running and concurrency policy is Forbid".into(),
            );
            Ok(wake)
        }
        Decision::Start {
            scheduled,
            replace_active,
            too_many_missed,
            wake,
        } => {
            if too_many_missed {
                state.recorder.warning(
                    cronjob,
                    TOO_MANY_MISSED_TIMES,
                    "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew".into(),
                );
            }
            if replace_active {
                for reference in status.active.clone().unwrap_or_default() {
                    let job_name = reference.name.clone().unwrap_or_default();
                    match jobs_api.get_opt(&job_name).await? {
                        Some(job) => delete_job(cronjob, &job, status, jobs_api, state).await?,
                        None => remove_active(status, reference.uid.as_deref()),
                    }
                }
            }
            let wanted = job_for(cronjob, scheduled, &zone);
            let job = match jobs_api.create(&PostParams::default(), &wanted).await {
                Ok(job) => {
                    state.recorder.normal(
                        cronjob,
                        SUCCESSFUL_CREATE,
                        format!("Created job {}", job.metadata.name.as_deref().unwrap_or("")),
                    );
                    job
                }
                Err(kube::Error::Api(e)) if e.code == 409 => {
                    // Created before a lost status update (the name is the lock), or by
                    // someone else: only ours is recorded.
                    let name = wanted.metadata.name.clone().unwrap_or_default();
                    let existing = jobs_api.get(&name).await?;
                    let ours = crate::claim::controller_of(&existing)
                        .is_some_and(|o| Some(&o.uid) == cronjob.metadata.uid.as_ref());
                    let listed = status
                        .active
                        .iter()
                        .flatten()
                        .any(|r| r.uid == existing.metadata.uid);
                    if !ours || listed {
                        return Ok(None);
                    }
                    existing
                }
                Err(error) => {
                    state.recorder.warning(
                        cronjob,
                        FAILED_CREATE,
                        format!("Error creating job: {error}"),
                    );
                    return Err(error);
                }
            };
            status
                .active
                .get_or_insert_with(Vec::new)
                .push(reference_to(&job));
            status.last_schedule_time = Some(Time(scheduled));
            Ok(wake)
        }
    }
}

/// Deletes a Job in the background (its pods go with it) and forgets it as active
/// (upstream `deleteJob`).
async fn delete_job(
    cronjob: &CronJob,
    job: &Job,
    status: &mut CronJobStatus,
    jobs_api: &Api<Job>,
    state: &State,
) -> Result<(), kube::Error> {
    let name = job.metadata.name.clone().unwrap_or_default();
    match jobs_api.delete(&name, &DeleteParams::background()).await {
        Ok(_) => state
            .recorder
            .normal(cronjob, SUCCESSFUL_DELETE, format!("Deleted job {name}")),
        Err(error) if is_not_found(&error) => {}
        Err(error) => return Err(error),
    }
    remove_active(status, job.metadata.uid.as_deref());
    Ok(())
}

fn remove_active(status: &mut CronJobStatus, uid: Option<&str>) {
    if let Some(active) = status.active.as_mut() {
        active.retain(|r| r.uid.as_deref() != uid);
        if active.is_empty() {
            status.active = None;
        }
    }
}

fn reference_to(job: &Job) -> ObjectReference {
    ObjectReference {
        api_version: Some("batch/v1".into()),
        kind: Some("Job".into()),
        name: job.metadata.name.clone(),
        namespace: job.metadata.namespace.clone(),
        uid: job.metadata.uid.clone(),
        resource_version: job.metadata.resource_version.clone(),
        ..ObjectReference::default()
    }
}

/// RFC 3339 in `zone`, as Go formats it (`Z` for a zero offset).
fn rfc3339_in(at: Timestamp, zone: &TimeZone) -> String {
    let zoned = at.to_zoned(zone.clone());
    if zoned.offset().seconds() == 0 {
        zoned.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
    } else {
        zoned.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
    }
}

/// The Job for the activation at `scheduled` (upstream `getJobFromTemplate2`): the
/// template's labels and annotations plus the scheduled timestamp, controlled by the
/// CronJob.
fn job_for(cronjob: &CronJob, scheduled: Timestamp, zone: &TimeZone) -> Job {
    let template = cronjob
        .spec
        .as_ref()
        .map(|spec| spec.job_template.clone())
        .unwrap_or_default();
    let template_meta = template.metadata.unwrap_or_default();
    let mut annotations: BTreeMap<String, String> = template_meta.annotations.unwrap_or_default();
    annotations.insert(SCHEDULED_TIMESTAMP.into(), rfc3339_in(scheduled, zone));
    let name = cronjob.metadata.name.as_deref().unwrap_or_default();
    Job {
        metadata: ObjectMeta {
            name: Some(sync::job_name(name, scheduled)),
            namespace: cronjob.metadata.namespace.clone(),
            labels: template_meta.labels,
            annotations: Some(annotations),
            owner_references: Some(vec![OwnerReference {
                api_version: CronJob::api_version(&()).into_owned(),
                kind: CronJob::kind(&()).into_owned(),
                name: name.to_owned(),
                uid: cronjob.metadata.uid.clone().unwrap_or_default(),
                controller: Some(true),
                block_owner_deletion: Some(true),
            }]),
            ..ObjectMeta::default()
        },
        spec: template.spec,
        status: None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;
    use k8s_openapi::api::batch::v1::{CronJobSpec, JobTemplateSpec};

    #[test]
    fn the_job_carries_the_template_the_owner_and_the_scheduled_time() {
        let cronjob = CronJob {
            metadata: ObjectMeta {
                name: Some("tick".into()),
                namespace: Some("ns".into()),
                uid: Some("u1".into()),
                ..ObjectMeta::default()
            },
            spec: Some(CronJobSpec {
                schedule: "* * * * *".into(),
                job_template: JobTemplateSpec {
                    metadata: Some(ObjectMeta {
                        labels: Some([("app".to_string(), "tick".to_string())].into()),
                        ..ObjectMeta::default()
                    }),
                    spec: None,
                },
                ..CronJobSpec::default()
            }),
            status: None,
        };
        let at: Timestamp = "2024-01-01T10:00:00Z".parse().unwrap();
        let plus_one = TimeZone::fixed(k8s_openapi::jiff::tz::offset(1));
        let cases = [
            (TimeZone::UTC, "2024-01-01T10:00:00Z"),
            (plus_one, "2024-01-01T11:00:00+01:00"),
        ];
        for (zone, want) in cases {
            let job = job_for(&cronjob, at, &zone);
            assert_eq!(job.metadata.name.as_deref(), Some("tick-28401720"));
            assert_eq!(job.metadata.annotations.unwrap()[SCHEDULED_TIMESTAMP], want);
            assert_eq!(job.metadata.labels.unwrap()["app"], "tick");
            let owner = &job.metadata.owner_references.unwrap()[0];
            assert_eq!(
                (owner.kind.as_str(), owner.uid.as_str(), owner.controller),
                ("CronJob", "u1", Some(true))
            );
        }
    }
}
