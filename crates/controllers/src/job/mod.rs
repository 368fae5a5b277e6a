//! The Job controller (upstream `pkg/controller/job`, plus the
//! TTL-after-finished controller for `ttlSecondsAfterFinished`): runs a
//! Job's pods to the wanted number of completions. [`sync::sync`] decides;
//! this module reads the caches, writes the status before releasing pods'
//! tracking finalizers, creates and deletes pods, and records Events.

pub mod failure_policy;
pub mod indexes;
pub mod pods;
pub mod sync;

use std::sync::Arc;
use std::time::Duration;

use futures::future::{BoxFuture, FutureExt};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Client};
use serde_json::json;

use self::sync::{Backoff, ConditionType};
use crate::framework::{
    run_controller, Action, Change, Context, DefaultState, EventRecorder, Expectations, Reason,
    Triggers,
};
use crate::registry::Descriptor;

/// The `job` controller.
pub const DESCRIPTOR: Descriptor = Descriptor {
    name: "job",
    default: DefaultState::Enabled,
    start,
};

const SUCCESSFUL_CREATE: Reason = Reason("SuccessfulCreate");
const SUCCESSFUL_DELETE: Reason = Reason("SuccessfulDelete");
const COMPLETED: Reason = Reason("Completed");
const FAILED: Reason = Reason("Failed");

/// Why a Job sync failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A write failed.
    #[error("could not {action} for Job {namespace}/{job}")]
    Write {
        /// What was attempted.
        action: &'static str,
        /// The Job's namespace.
        namespace: String,
        /// The Job's name.
        job: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
}

struct State {
    client: Client,
    pods: Store<Pod>,
    expectations: Expectations<Job, Pod>,
    backoff: Backoff,
    recorder: EventRecorder,
    /// The resourceVersion of each Job's last status write. A sync that sees an older Job in
    /// the cache waits: that Job does not yet count the pods whose tracking finalizers the
    /// write let us remove, so it would replace finished pods (upstream guards the same
    /// window with `uncountedTerminatedPods` and its finalizer expectations). An entry lives
    /// only until the cache shows that write.
    status_written: std::sync::Mutex<std::collections::HashMap<ObjectRef<Job>, u64>>,
}

fn start(ctx: Context) -> BoxFuture<'static, Result<(), crate::Error>> {
    async move {
        let jobs = ctx.informer::<Job>();
        let pods = ctx.informer::<Pod>();
        let triggers = Triggers::new().primary(&jobs).owned(&pods);
        tokio::spawn(release_orphans(
            ctx.client().clone(),
            jobs.store(),
            pods.subscribe(),
            ctx.shutdown().clone(),
        ));
        let state = Arc::new(State {
            client: ctx.client().clone(),
            pods: pods.store(),
            expectations: Expectations::default(),
            backoff: Backoff {
                base: SignedDuration::try_from(ctx.settings().job_backoff_base)
                    .unwrap_or(SignedDuration::from_secs(10)),
                max: SignedDuration::try_from(ctx.settings().job_backoff_max)
                    .unwrap_or(SignedDuration::from_secs(360)),
            },
            recorder: ctx.recorder("job-controller"),
            status_written: std::sync::Mutex::default(),
        });
        run_controller(&ctx, "job", &jobs, triggers, state, reconcile).await;
        Ok(())
    }
    .boxed()
}

fn to_std(d: SignedDuration) -> Duration {
    Duration::try_from(d).unwrap_or(Duration::ZERO)
}

async fn reconcile(job: Arc<Job>, state: Arc<State>) -> Result<Action, Error> {
    let namespace = job.metadata.namespace.clone().unwrap_or_default();
    let name = job.metadata.name.clone().unwrap_or_default();
    let uid = job.metadata.uid.clone().unwrap_or_default();
    let key = ObjectRef::from_obj(&*job);
    let write = |action: &'static str| {
        let (namespace, job) = (namespace.clone(), name.clone());
        move |source| Error::Write {
            action,
            namespace,
            job,
            source,
        }
    };
    if job.metadata.deletion_timestamp.is_some() {
        // Dependents go with the Job (garbage collector); only free them.
        release_all(&state, &job).await?;
        return Ok(Action::await_change());
    }
    let revision = |job: &Job| {
        job.metadata
            .resource_version
            .as_deref()
            .and_then(|rv| rv.parse::<u64>().ok())
    };
    {
        let mut written = state
            .status_written
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(&w) = written.get(&key) {
            if revision(&job).is_some_and(|cached| cached < w) {
                return Ok(Action::requeue(Duration::from_millis(100)));
            }
            // The cache caught up: nothing left to wait for, and no entry
            // outlives its Job.
            written.remove(&key);
        }
    }
    let owned: Vec<Pod> = state
        .pods
        .state()
        .iter()
        .filter(|p| p.metadata.namespace.as_deref() == Some(namespace.as_str()))
        .filter(|p| {
            p.metadata
                .owner_references
                .iter()
                .flatten()
                .any(|o| o.controller == Some(true) && o.uid == uid)
        })
        .map(|p| (**p).clone())
        .collect();
    let may_act = state.expectations.satisfied(&key, &state.pods);
    let plan = sync::sync(&job, &owned, Timestamp::now(), state.backoff);

    let jobs: Api<Job> = Api::namespaced(state.client.clone(), &namespace);
    let old_status = job.status.clone().unwrap_or_default();
    if plan.status != old_status {
        let mut next = (*job).clone();
        next.status = Some(plan.status.clone());
        let stored = jobs
            .replace_status(&name, &PostParams::default(), &next)
            .await
            .map_err(write("update status"))?;
        if let Some(rv) = revision(&stored) {
            state
                .status_written
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(key.clone(), rv);
        }
        for (kind, reason, event) in [
            (ConditionType::Complete, COMPLETED, "Job completed"),
            (ConditionType::Failed, FAILED, ""),
        ] {
            let newly = sync::true_condition(&plan.status, kind).is_some()
                && sync::true_condition(&old_status, kind).is_none();
            if newly {
                let message = match kind {
                    ConditionType::Failed => sync::true_condition(&plan.status, kind)
                        .and_then(|c| c.message.clone())
                        .unwrap_or_default(),
                    _ => event.to_string(),
                };
                state.recorder.normal(&*job, reason, message);
            }
        }
    }
    let pod_api: Api<Pod> = Api::namespaced(state.client.clone(), &namespace);
    // Only now that the status records them may the finalizers go.
    for pod_name in &plan.release {
        release(&pod_api, pod_name)
            .await
            .map_err(write("remove the tracking finalizer"))?;
    }
    if plan.delete_job {
        match jobs.delete(&name, &DeleteParams::foreground()).await {
            Ok(_) => {
                tracing::info!(job = %name, %namespace, "ttlSecondsAfterFinished passed; deleted")
            }
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(source) => return Err(write("delete the finished Job")(source)),
        }
        return Ok(Action::await_change());
    }
    if may_act {
        let mut created = Vec::new();
        let mut deleted = Vec::new();
        for pod_name in &plan.delete {
            let Some(pod) = owned
                .iter()
                .find(|p| p.metadata.name.as_deref() == Some(pod_name))
            else {
                continue;
            };
            match pod_api.delete(pod_name, &DeleteParams::default()).await {
                Ok(_) => {
                    deleted.push((
                        ObjectRef::from_obj(pod),
                        pod.metadata.uid.clone().unwrap_or_default(),
                    ));
                    state.recorder.normal(
                        &*job,
                        SUCCESSFUL_DELETE,
                        format!("Deleted pod: {pod_name}"),
                    );
                }
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                Err(source) => {
                    state.expectations.expect(key.clone(), created, deleted);
                    return Err(write("delete a pod")(source));
                }
            }
        }
        for index in &plan.create {
            match pod_api
                .create(&PostParams::default(), &pods::new_pod(&job, *index))
                .await
            {
                Ok(pod) => {
                    let pod_name = pod.metadata.name.clone().unwrap_or_default();
                    state.recorder.normal(
                        &*job,
                        SUCCESSFUL_CREATE,
                        format!("Created pod: {pod_name}"),
                    );
                    created.push(ObjectRef::from_obj(&pod));
                }
                Err(source) => {
                    state.expectations.expect(key.clone(), created, deleted);
                    return Err(write("create a pod")(source));
                }
            }
        }
        state.expectations.expect(key, created, deleted);
    }
    Ok(match plan.requeue_after {
        Some(after) => Action::requeue(to_std(after).max(Duration::from_millis(100))),
        None => Action::await_change(),
    })
}

/// Removes the tracking finalizer from one pod.
async fn release(api: &Api<Pod>, pod_name: &str) -> Result<(), kube::Error> {
    let Some(pod) = api.get_opt(pod_name).await? else {
        return Ok(());
    };
    let Some(finalizers) = pod.metadata.finalizers.clone() else {
        return Ok(());
    };
    if !finalizers.iter().any(|f| f == pods::TRACKING_FINALIZER) {
        return Ok(());
    }
    let kept: Vec<String> = finalizers
        .into_iter()
        .filter(|f| f != pods::TRACKING_FINALIZER)
        .collect();
    let patch =
        json!({"metadata": {"finalizers": kept, "resourceVersion": pod.metadata.resource_version}});
    match api
        .patch(pod_name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(e),
    }
}

async fn release_all(state: &State, job: &Job) -> Result<(), Error> {
    let namespace = job.metadata.namespace.clone().unwrap_or_default();
    let uid = job.metadata.uid.clone().unwrap_or_default();
    let api: Api<Pod> = Api::namespaced(state.client.clone(), &namespace);
    let owned = state.pods.state().into_iter().filter(|p| {
        p.metadata.namespace.as_deref() == Some(namespace.as_str())
            && pods::is_tracked(p)
            && p.metadata
                .owner_references
                .iter()
                .flatten()
                .any(|o| o.uid == uid)
    });
    for pod in owned {
        let pod_name = pod.metadata.name.clone().unwrap_or_default();
        release(&api, &pod_name)
            .await
            .map_err(|source| Error::Write {
                action: "remove the tracking finalizer",
                namespace: namespace.clone(),
                job: job.metadata.name.clone().unwrap_or_default(),
                source,
            })?;
    }
    Ok(())
}

/// Frees pods whose Job is gone (upstream's job controller does this from
/// its pod handler): their tracking finalizer would otherwise keep them for
/// ever once the garbage collector deletes them.
async fn release_orphans(
    client: Client,
    jobs: Store<Job>,
    mut changes: tokio::sync::mpsc::UnboundedReceiver<Change<Pod>>,
    shutdown: tokio_util::sync::CancellationToken,
) {
    jobs.wait_until_ready().await.ok();
    loop {
        let change = tokio::select! {
            () = shutdown.cancelled() => return,
            change = changes.recv() => change,
        };
        let Some(Change::Applied(pod)) = change else {
            if change.is_none() {
                return;
            }
            continue;
        };
        if !pods::is_tracked(&pod) {
            continue;
        }
        let Some(owner) = pod
            .metadata
            .owner_references
            .iter()
            .flatten()
            .find(|o| o.controller == Some(true) && o.kind == "Job")
        else {
            continue;
        };
        let namespace = pod.metadata.namespace.clone().unwrap_or_default();
        let alive = jobs
            .get(&ObjectRef::new(&owner.name).within(&namespace))
            .is_some_and(|j| j.metadata.uid.as_deref() == Some(owner.uid.as_str()));
        if alive {
            continue;
        }
        let api: Api<Pod> = Api::namespaced(client.clone(), &namespace);
        let pod_name = pod.metadata.name.clone().unwrap_or_default();
        if let Err(error) = release(&api, &pod_name).await {
            tracing::warn!(pod = %pod_name, %namespace, %error, "could not free an orphaned Job pod");
        }
    }
}
