//! The scheduler component: informers feed the [`Scheduler`] state, one
//! loop runs scheduling cycles, and the resulting binds, status updates,
//! events and evictions go to the apiserver concurrently so the next cycle
//! never waits for them (upstream runs the binding cycle in a goroutine).

use std::future::Future;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams};
use tokio::sync::{mpsc, Semaphore};

use crate::framework::pod_key;
use crate::informers;
use crate::metrics::Metrics;
use crate::pod_status;
use crate::recorder::{self, Reason};
use crate::scheduler::{scheduler_name, Action, Scheduler};
use crate::Configuration;

/// Requests to the apiserver in flight at once (binds, status patches,
/// events); upstream's client defaults to a similar burst.
const MAX_IN_FLIGHT: usize = 128;

/// Watch events buffered between the informers and the loop.
const CHANGE_BUFFER: usize = 16 * 1024;

/// Why the scheduler stopped on its own.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration has no profile to run.
    #[error("the configuration has no profiles")]
    NoProfiles,
    /// Every watch stream ended, so nothing can be scheduled any more.
    #[error("the informers stopped")]
    InformersStopped,
}

/// Runs the scheduler with `config`'s profiles against the apiserver behind
/// `client` until `shutdown` completes.
pub async fn run(
    client: kube::Client,
    config: Configuration,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), Error> {
    run_with_metrics(client, config, Arc::new(Metrics::new()), shutdown).await
}

/// [`run`], recording into `metrics` (which a `/metrics` endpoint can serve).
pub async fn run_with_metrics(
    client: kube::Client,
    config: Configuration,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), Error> {
    if config.profiles.is_empty() {
        return Err(Error::NoProfiles);
    }
    let profiles: Vec<&str> = config.profiles.iter().map(|p| p.scheduler_name()).collect();
    tracing::info!(?profiles, "scheduler starting");
    let (changes_tx, mut changes) = mpsc::channel(CHANGE_BUFFER);
    let mut watchers = informers::spawn(&client, changes_tx);
    let (bound_tx, mut bound) = mpsc::unbounded_channel::<(String, bool)>();
    let writer = Writer {
        client,
        permits: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
        bound: bound_tx,
    };
    let mut scheduler = Scheduler::new(&config);
    let mut shutdown = std::pin::pin!(shutdown);
    let mut was_synced = false;
    loop {
        while let Ok(change) = changes.try_recv() {
            scheduler.on_change(change);
        }
        while let Ok((key, ok)) = bound.try_recv() {
            scheduler.bind_finished(&key, ok);
        }
        if scheduler.synced() {
            if !was_synced {
                tracing::info!("informers synced; scheduling");
                was_synced = true;
            }
            if let Some(attempt) = scheduler.schedule_one() {
                metrics.observe_attempt(
                    attempt.result.as_str(),
                    &attempt.profile,
                    attempt.duration,
                );
                for action in attempt.actions {
                    writer.perform(action);
                }
                continue;
            }
        }
        metrics.set_pending(scheduler.pending());
        let wake = scheduler.housekeeping(std::time::Instant::now());
        tokio::select! {
            _ = &mut shutdown => break,
            change = changes.recv() => match change {
                Some(change) => scheduler.on_change(change),
                None => return Err(Error::InformersStopped),
            },
            Some((key, ok)) = bound.recv() => scheduler.bind_finished(&key, ok),
            _ = tokio::time::sleep_until(wake.into()) => {}
        }
    }
    watchers.abort_all();
    tracing::info!("scheduler stopped");
    Ok(())
}

/// Performs actions against the apiserver, each in its own task.
#[derive(Clone)]
struct Writer {
    client: kube::Client,
    permits: Arc<Semaphore>,
    bound: mpsc::UnboundedSender<(String, bool)>,
}

impl Writer {
    fn perform(&self, action: Action) {
        let this = self.clone();
        tokio::spawn(async move {
            let Ok(_permit) = this.permits.clone().acquire_owned().await else {
                return;
            };
            match action {
                Action::Bind { pod, node } => this.bind(&pod, &node).await,
                Action::ReportFailure {
                    pod,
                    reason,
                    message,
                    nominated_node,
                } => {
                    let profile = scheduler_name(&pod);
                    recorder::record(
                        &this.client,
                        &pod,
                        profile,
                        Reason::FailedScheduling,
                        &message,
                    )
                    .await;
                    let patch = pod_status::unschedulable_patch(
                        reason,
                        &message,
                        nominated_node.as_deref(),
                        Timestamp::now(),
                    );
                    if let Err(error) = pod_status::patch(&this.client, &pod, &patch).await {
                        tracing::debug!(pod = %pod_key(&pod), %error, "updating PodScheduled");
                    }
                }
                Action::Preempt { pod, node, victims } => this.preempt(&pod, &node, &victims).await,
            }
        });
    }

    async fn bind(&self, pod: &Pod, node: &str) {
        let key = pod_key(pod);
        let result = crate::binder::bind(&self.client, pod, node).await;
        let ok = result.is_ok();
        let _ = self.bound.send((key.clone(), ok));
        let profile = scheduler_name(pod);
        match result {
            Ok(()) => {
                tracing::debug!(pod = %key, node, "bound");
                let namespace = pod.metadata.namespace.as_deref().unwrap_or("default");
                let name = pod.metadata.name.as_deref().unwrap_or_default();
                let message = format!("Successfully assigned {namespace}/{name} to {node}");
                recorder::record(&self.client, pod, profile, Reason::Scheduled, &message).await;
            }
            Err(error) => {
                tracing::info!(pod = %key, node, %error, "binding failed; will retry");
                let message = format!("Binding rejected: {error}");
                recorder::record(
                    &self.client,
                    pod,
                    profile,
                    Reason::FailedScheduling,
                    &message,
                )
                .await;
            }
        }
    }

    /// Upstream `prepareCandidate`: each victim gets the DisruptionTarget
    /// condition and a Preempted event, then is deleted.
    async fn preempt(&self, pod: &Pod, node: &str, victims: &[Arc<Pod>]) {
        let profile = scheduler_name(pod);
        let preemptor = pod.metadata.uid.as_deref().unwrap_or_default();
        for victim in victims {
            let key = pod_key(victim);
            let patch = pod_status::disruption_target_patch(profile, Timestamp::now());
            if let Err(error) = pod_status::patch(&self.client, victim, &patch).await {
                tracing::debug!(pod = %key, %error, "marking a preemption victim");
            }
            let message = format!("Preempted by pod {preemptor} on node {node}");
            recorder::record(&self.client, victim, profile, Reason::Preempted, &message).await;
            let namespace = victim.metadata.namespace.as_deref().unwrap_or("default");
            let name = victim.metadata.name.as_deref().unwrap_or_default();
            let api: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
            match api.delete(name, &DeleteParams::default()).await {
                Ok(_) => {
                    tracing::info!(victim = %key, preemptor = %pod_key(pod), node, "preempted")
                }
                Err(error) => tracing::warn!(victim = %key, %error, "deleting a preemption victim"),
            }
        }
    }
}
