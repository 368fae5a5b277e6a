//! One probe's state machine, pure: when to probe and what a run of
//! outcomes means (pkg/kubelet/prober/worker.go `doProbe`). A result only
//! changes after `failureThreshold` failures or `successThreshold`
//! successes in a row; a failed liveness or startup probe holds until the
//! container is replaced.

use std::time::Duration;

use k8s_openapi::api::core::v1::Probe;

/// Which probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProbeKind {
    /// Gates liveness and readiness until it succeeds once.
    Startup,
    /// A failure kills the container.
    Liveness,
    /// Decides `ready`.
    Readiness,
}

impl ProbeKind {
    /// The word upstream's events use ("Liveness probe failed: …").
    pub fn as_str(self) -> &'static str {
        match self {
            ProbeKind::Startup => "Startup",
            ProbeKind::Liveness => "Liveness",
            ProbeKind::Readiness => "Readiness",
        }
    }

    /// What a probe reports before its first decisive run (upstream's
    /// `initialValue`): not ready, alive, not yet started.
    fn initial(self) -> ProbeResult {
        match self {
            ProbeKind::Readiness => ProbeResult::Failure,
            ProbeKind::Liveness => ProbeResult::Success,
            ProbeKind::Startup => ProbeResult::Unknown,
        }
    }
}

/// A probe's current verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeResult {
    /// No verdict yet.
    Unknown,
    /// Passing.
    Success,
    /// Failing.
    Failure,
}

/// How one run went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It passed.
    Success,
    /// It failed; the message goes into the `Unhealthy` event.
    Failure(String),
}

/// The probe's timing fields with the apiserver's defaults
/// (pkg/apis/core/v1/defaults.go `SetDefaults_Probe`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// No probing before the container has run this long.
    pub initial_delay: Duration,
    /// Between runs.
    pub period: Duration,
    /// One run's limit.
    pub timeout: Duration,
    /// Successes in a row that make it pass.
    pub success_threshold: u32,
    /// Failures in a row that make it fail.
    pub failure_threshold: u32,
}

impl Timing {
    /// The timing of `probe`, defaults filled in, nonsense clamped.
    pub fn of(probe: &Probe) -> Timing {
        let seconds = |v: Option<i32>, default: i32, min: i32| {
            Duration::from_secs(u64::try_from(v.unwrap_or(default).max(min)).unwrap_or(0))
        };
        let count =
            |v: Option<i32>, default: i32| u32::try_from(v.unwrap_or(default).max(1)).unwrap_or(1);
        Timing {
            initial_delay: seconds(probe.initial_delay_seconds, 0, 0),
            period: seconds(probe.period_seconds, 10, 1),
            timeout: seconds(probe.timeout_seconds, 1, 1),
            success_threshold: count(probe.success_threshold, 1),
            failure_threshold: count(probe.failure_threshold, 3),
        }
    }
}

/// One probe of one container instance.
#[derive(Debug, Clone)]
pub struct ProbeState {
    kind: ProbeKind,
    timing: Timing,
    result: ProbeResult,
    last: Option<ProbeResult>,
    run: u32,
    on_hold: bool,
}

impl ProbeState {
    /// A fresh probe of a new container.
    pub fn new(kind: ProbeKind, timing: Timing) -> ProbeState {
        ProbeState {
            kind,
            timing,
            result: kind.initial(),
            last: None,
            run: 0,
            on_hold: false,
        }
    }

    /// The current verdict.
    pub fn result(&self) -> ProbeResult {
        self.result
    }

    /// Whether this probe runs now, the container having run for
    /// `running_for` and its startup probe having passed (`started`).
    pub fn due(&self, running_for: Duration, started: bool) -> bool {
        if self.on_hold || running_for < self.timing.initial_delay {
            return false;
        }
        // The startup probe runs until the container started; the others
        // wait for it (upstream: "Disable other probes until container has started").
        match self.kind {
            ProbeKind::Startup => !started,
            ProbeKind::Liveness | ProbeKind::Readiness => started,
        }
    }

    /// Whether the probe is done with this container: a failed liveness or
    /// startup probe (the container gets killed) or a passed startup probe.
    pub fn finished(&self) -> bool {
        self.on_hold || (self.kind == ProbeKind::Startup && self.result == ProbeResult::Success)
    }

    /// Records one run; returns the new verdict when it changed.
    pub fn record(&mut self, outcome: &Outcome) -> Option<ProbeResult> {
        let observed = match outcome {
            Outcome::Success => ProbeResult::Success,
            Outcome::Failure(_) => ProbeResult::Failure,
        };
        if self.last == Some(observed) {
            self.run = self.run.saturating_add(1);
        } else {
            self.last = Some(observed);
            self.run = 1;
        }
        let threshold = match observed {
            ProbeResult::Failure => self.timing.failure_threshold,
            _ => self.timing.success_threshold,
        };
        if self.run < threshold {
            return None;
        }
        if observed == ProbeResult::Failure && self.kind != ProbeKind::Readiness {
            // The container will be killed: stop probing it and start the
            // count afresh (upstream sets onHold and resets resultRun).
            self.on_hold = true;
            self.run = 0;
        }
        let changed = self.result != observed;
        self.result = observed;
        changed.then_some(observed)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    /// (name, kind, timing, outcomes, verdict changes)
    type Case = (
        &'static str,
        ProbeKind,
        Timing,
        Vec<Outcome>,
        Vec<Option<ProbeResult>>,
    );

    fn timing(success: u32, failure: u32) -> Timing {
        Timing {
            initial_delay: Duration::from_secs(5),
            period: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
            success_threshold: success,
            failure_threshold: failure,
        }
    }

    fn fail() -> Outcome {
        Outcome::Failure("boom".into())
    }

    #[test]
    fn results_change_only_after_the_threshold_in_a_row() {
        use Outcome::Success as S;
        let cases: Vec<Case> = vec![
            (
                "readiness passes after two successes in a row",
                ProbeKind::Readiness,
                timing(2, 3),
                vec![S, fail(), S, S],
                vec![None, None, None, Some(ProbeResult::Success)],
            ),
            (
                "readiness fails after three failures in a row, then recovers",
                ProbeKind::Readiness,
                timing(1, 3),
                vec![S, fail(), fail(), fail(), S],
                vec![
                    Some(ProbeResult::Success),
                    None,
                    None,
                    Some(ProbeResult::Failure),
                    Some(ProbeResult::Success),
                ],
            ),
            (
                "liveness starts alive and fails at the threshold",
                ProbeKind::Liveness,
                timing(1, 2),
                vec![S, fail(), S, fail(), fail()],
                vec![None, None, None, None, Some(ProbeResult::Failure)],
            ),
            (
                "startup passes on its first success",
                ProbeKind::Startup,
                timing(1, 3),
                vec![fail(), S],
                vec![None, Some(ProbeResult::Success)],
            ),
        ];
        for (name, kind, timing, outcomes, want) in cases {
            let mut state = ProbeState::new(kind, timing);
            let got: Vec<_> = outcomes.iter().map(|o| state.record(o)).collect();
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn initial_delay_and_startup_gating_decide_when_a_probe_runs() {
        let after = Duration::from_secs(6);
        let before = Duration::from_secs(4);
        let cases = [
            (
                "liveness waits out the initial delay",
                ProbeKind::Liveness,
                before,
                true,
                false,
            ),
            (
                "liveness runs after the initial delay",
                ProbeKind::Liveness,
                after,
                true,
                true,
            ),
            (
                "liveness waits for the startup probe",
                ProbeKind::Liveness,
                after,
                false,
                false,
            ),
            (
                "readiness waits for the startup probe",
                ProbeKind::Readiness,
                after,
                false,
                false,
            ),
            (
                "startup runs until the container started",
                ProbeKind::Startup,
                after,
                false,
                true,
            ),
            (
                "startup stops once started",
                ProbeKind::Startup,
                after,
                true,
                false,
            ),
        ];
        for (name, kind, running_for, started, want) in cases {
            let state = ProbeState::new(kind, timing(1, 3));
            assert_eq!(state.due(running_for, started), want, "{name}");
        }
    }

    #[test]
    fn a_failed_liveness_probe_holds_until_the_container_is_replaced() {
        let mut state = ProbeState::new(ProbeKind::Liveness, timing(1, 1));
        assert_eq!(state.record(&fail()), Some(ProbeResult::Failure));
        assert!(state.finished());
        assert!(!state.due(Duration::from_secs(60), true));
    }

    #[test]
    fn a_failed_readiness_probe_keeps_probing() {
        let mut state = ProbeState::new(ProbeKind::Readiness, timing(1, 1));
        assert_eq!(state.record(&fail()), None, "it starts as not ready");
        assert!(!state.finished());
        assert!(state.due(Duration::from_secs(60), true));
    }

    #[test]
    fn unset_timing_fields_get_the_apiserver_defaults() {
        let t = Timing::of(&Probe::default());
        assert_eq!(
            t,
            Timing {
                initial_delay: Duration::ZERO,
                period: Duration::from_secs(10),
                timeout: Duration::from_secs(1),
                success_threshold: 1,
                failure_threshold: 3,
            }
        );
    }
}
