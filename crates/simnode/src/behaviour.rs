//! How a simulated pod behaves, chosen by annotations on the pod, and what
//! happens when its containers exit (the kubelet's restart policy,
//! `kuberuntime_manager.go` `computePodActions`).
//!
//! | annotation | value | effect |
//! | --- | --- | --- |
//! | `sim.rkube.io/run-seconds` | seconds (decimal) | containers exit after this long; without it they run until the pod is deleted |
//! | `sim.rkube.io/exit-code` | integer, default 0 | the exit code when they do |
//! | `sim.rkube.io/ready` | `"false"` | containers run but never become ready |

use std::collections::BTreeMap;
use std::time::Duration;

/// Containers exit after this many seconds.
pub const RUN_SECONDS_ANNOTATION: &str = "sim.rkube.io/run-seconds";
/// The exit code of containers that exit (default 0).
pub const EXIT_CODE_ANNOTATION: &str = "sim.rkube.io/exit-code";
/// `"false"` keeps the containers (and the pod) not ready.
pub const READY_ANNOTATION: &str = "sim.rkube.io/ready";

/// Whether running containers report ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readiness {
    /// Ready as soon as they run (no readiness probe).
    Ready,
    /// Never ready (a readiness probe that always fails).
    NeverReady,
}

/// What a pod's containers do, from its annotations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Behaviour {
    /// How long the containers run before they exit; forever when `None`.
    pub run_for: Option<Duration>,
    /// Their exit code.
    pub exit_code: i32,
    /// Whether they report ready while running.
    pub readiness: Readiness,
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            run_for: None,
            exit_code: 0,
            readiness: Readiness::Ready,
        }
    }
}

/// An annotation whose value cannot be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("annotation {key}={value:?}: {why}")]
pub struct BadAnnotation {
    /// The annotation.
    pub key: &'static str,
    /// Its value.
    pub value: String,
    /// What a valid value looks like.
    pub why: &'static str,
}

impl Behaviour {
    /// The behaviour the annotations ask for; unknown annotations are
    /// ignored, bad values of ours are errors.
    pub fn from_annotations(
        annotations: Option<&BTreeMap<String, String>>,
    ) -> Result<Behaviour, BadAnnotation> {
        let mut behaviour = Behaviour::default();
        let Some(annotations) = annotations else {
            return Ok(behaviour);
        };
        let bad = |key, value: &String, why| BadAnnotation {
            key,
            value: value.clone(),
            why,
        };
        if let Some(v) = annotations.get(RUN_SECONDS_ANNOTATION) {
            let seconds: f64 = v
                .trim()
                .parse()
                .ok()
                .filter(|s: &f64| s.is_finite() && *s >= 0.0)
                .ok_or_else(|| bad(RUN_SECONDS_ANNOTATION, v, "a number of seconds ≥ 0"))?;
            behaviour.run_for = Some(Duration::from_secs_f64(seconds));
        }
        if let Some(v) = annotations.get(EXIT_CODE_ANNOTATION) {
            behaviour.exit_code = v
                .trim()
                .parse()
                .map_err(|_| bad(EXIT_CODE_ANNOTATION, v, "an integer exit code"))?;
        }
        if let Some(v) = annotations.get(READY_ANNOTATION) {
            behaviour.readiness = match v.trim() {
                "true" => Readiness::Ready,
                "false" => Readiness::NeverReady,
                _ => return Err(bad(READY_ANNOTATION, v, "\"true\" or \"false\"")),
            };
        }
        Ok(behaviour)
    }
}

/// A pod's `spec.restartPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartPolicy {
    /// Restart whenever the containers exit (the default).
    Always,
    /// Restart only after a non-zero exit.
    OnFailure,
    /// Never restart.
    Never,
}

impl RestartPolicy {
    /// The policy named in a pod spec; upstream defaults it to Always.
    pub fn from_spec(value: Option<&str>) -> Self {
        match value {
            Some("OnFailure") => RestartPolicy::OnFailure,
            Some("Never") => RestartPolicy::Never,
            _ => RestartPolicy::Always,
        }
    }
}

/// A terminal pod phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finished {
    /// All containers exited 0.
    Succeeded,
    /// A container exited non-zero.
    Failed,
}

impl Finished {
    /// The `status.phase` value.
    pub fn phase(self) -> &'static str {
        match self {
            Finished::Succeeded => "Succeeded",
            Finished::Failed => "Failed",
        }
    }

    /// The phase of a pod whose containers exited with `exit_code`.
    pub fn from_exit_code(exit_code: i32) -> Self {
        if exit_code == 0 {
            Finished::Succeeded
        } else {
            Finished::Failed
        }
    }
}

/// What happens after the containers exit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterExit {
    /// They start again, with a higher restart count.
    Restart,
    /// The pod is done.
    Finish(Finished),
}

/// The kubelet's decision for a pod whose containers exited.
pub fn after_exit(policy: RestartPolicy, exit_code: i32) -> AfterExit {
    match (policy, exit_code) {
        (RestartPolicy::Always, _) => AfterExit::Restart,
        (RestartPolicy::OnFailure, code) if code != 0 => AfterExit::Restart,
        (_, code) => AfterExit::Finish(Finished::from_exit_code(code)),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    fn annotations(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn annotations_choose_the_behaviour() {
        let cases: &[(&[(&str, &str)], Behaviour)] = &[
            (&[], Behaviour::default()),
            (&[("other", "x")], Behaviour::default()),
            (
                &[(RUN_SECONDS_ANNOTATION, "2"), (EXIT_CODE_ANNOTATION, "3")],
                Behaviour {
                    run_for: Some(Duration::from_secs(2)),
                    exit_code: 3,
                    readiness: Readiness::Ready,
                },
            ),
            (
                &[(RUN_SECONDS_ANNOTATION, "0.5"), (READY_ANNOTATION, "false")],
                Behaviour {
                    run_for: Some(Duration::from_millis(500)),
                    exit_code: 0,
                    readiness: Readiness::NeverReady,
                },
            ),
        ];
        for (pairs, want) in cases {
            let got = Behaviour::from_annotations(Some(&annotations(pairs)));
            assert_eq!(got.as_ref(), Ok(want), "{pairs:?}");
        }
    }

    #[test]
    fn bad_values_name_the_annotation() {
        let cases = [
            (RUN_SECONDS_ANNOTATION, "soon"),
            (RUN_SECONDS_ANNOTATION, "-1"),
            (EXIT_CODE_ANNOTATION, "1.5"),
            (READY_ANNOTATION, "no"),
        ];
        for (key, value) in cases {
            let err =
                Behaviour::from_annotations(Some(&annotations(&[(key, value)]))).expect_err(value);
            assert_eq!(err.key, key);
        }
    }

    #[test]
    fn the_restart_policy_decides_after_an_exit() {
        let cases = [
            (RestartPolicy::Always, 0, AfterExit::Restart),
            (RestartPolicy::Always, 1, AfterExit::Restart),
            (
                RestartPolicy::OnFailure,
                0,
                AfterExit::Finish(Finished::Succeeded),
            ),
            (RestartPolicy::OnFailure, 2, AfterExit::Restart),
            (
                RestartPolicy::Never,
                0,
                AfterExit::Finish(Finished::Succeeded),
            ),
            (
                RestartPolicy::Never,
                137,
                AfterExit::Finish(Finished::Failed),
            ),
        ];
        for (policy, code, want) in cases {
            assert_eq!(after_exit(policy, code), want, "{policy:?} exit {code}");
        }
    }
}
