//! The loop that runs one probe of one container instance every period
//! (pkg/kubelet/prober/worker.go `run`): it asks the state machine whether
//! to probe, runs the action under the probe's timeout, posts `Unhealthy`
//! on a failed run and publishes verdict changes where the pod worker
//! reads them.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::time::MissedTickBehavior;

use super::events::{PodEvents, Reason};
use super::state::{Outcome, ProbeKind, ProbeResult, ProbeState};
use super::{Action, Results};
use crate::runtime::cri::Cri;

/// One probe of one container instance.
pub(super) struct ProbeRun {
    pub kind: ProbeKind,
    pub state: ProbeState,
    pub action: Action,
    pub period: Duration,
    pub timeout: Duration,
    pub cri: Cri,
    pub container: String,
    pub container_id: String,
    pub started_at: SystemTime,
    /// Whether liveness and readiness wait for a startup probe.
    pub has_startup_probe: bool,
    pub results: Arc<Results>,
    pub events: PodEvents,
}

impl ProbeRun {
    /// Probes until the verdict is final for this instance; the manager
    /// aborts the task when the container stops.
    pub async fn run(mut self) {
        self.results
            .set(&self.container_id, self.kind, self.state.result());
        let mut ticks = tokio::time::interval(self.period);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let running_for = SystemTime::now()
                .duration_since(self.started_at)
                .unwrap_or_default();
            let started = !self.has_startup_probe
                || self.results.get(&self.container_id, ProbeKind::Startup)
                    == Some(ProbeResult::Success);
            if !self.state.due(running_for, started) {
                continue;
            }
            let outcome = self
                .action
                .run(&self.cri, &self.container_id, self.timeout)
                .await;
            if let Outcome::Failure(message) = &outcome {
                tracing::debug!(container = %self.container, kind = self.kind.as_str(), %message, "probe failed");
                self.events.record(
                    &self.container,
                    Reason::Unhealthy,
                    format!("{} probe failed: {message}", self.kind.as_str()),
                );
            }
            if let Some(result) = self.state.record(&outcome) {
                self.results.set(&self.container_id, self.kind, result);
            }
            if self.state.finished() {
                return;
            }
        }
    }
}
