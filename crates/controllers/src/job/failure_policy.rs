//! A Job's `podFailurePolicy` (upstream
//! `pkg/controller/job/pod_failure_policy.go`): the first rule matching a
//! failed pod, by container exit codes or pod conditions, decides whether
//! the failure fails the Job, is ignored, or counts towards `backoffLimit`.

use k8s_openapi::api::batch::v1::{Job, PodFailurePolicyRule};
use k8s_openapi::api::core::v1::Pod;

/// What a matching rule says to do with a failed pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureAction {
    /// Fail the whole Job, with this message.
    FailJob(String),
    /// Do not count the failure; replace the pod.
    Ignore,
    /// Count the failure as usual (also `FailIndex`, which needs
    /// `backoffLimitPerIndex`, not supported here).
    Count,
}

fn exit_code_match(rule: &PodFailurePolicyRule, pod: &Pod, index: usize) -> Option<String> {
    let on = rule.on_exit_codes.as_ref()?;
    let status = pod.status.as_ref()?;
    let statuses = status
        .container_statuses
        .iter()
        .flatten()
        .chain(status.init_container_statuses.iter().flatten());
    for container in statuses {
        if on
            .container_name
            .as_deref()
            .is_some_and(|n| n != container.name)
        {
            continue;
        }
        let Some(code) = container
            .state
            .as_ref()
            .and_then(|s| s.terminated.as_ref())
            .map(|t| t.exit_code)
        else {
            continue;
        };
        // Exit code 0 never matches: the container succeeded.
        if code == 0 {
            continue;
        }
        let listed = on.values.contains(&code);
        let matched = match on.operator.as_str() {
            "In" => listed,
            "NotIn" => !listed,
            _ => false,
        };
        if matched {
            return Some(format!(
                "Container {} for pod {}/{} failed with exit code {} matching FailJob rule at index {}",
                container.name,
                pod.metadata.namespace.as_deref().unwrap_or_default(),
                pod.metadata.name.as_deref().unwrap_or_default(),
                code,
                index
            ));
        }
    }
    None
}

fn condition_match(rule: &PodFailurePolicyRule, pod: &Pod, index: usize) -> Option<String> {
    let patterns = rule.on_pod_conditions.as_ref()?;
    let conditions = pod.status.as_ref()?.conditions.as_ref()?;
    patterns.iter().find_map(|pattern| {
        let want = pattern.status.as_str();
        conditions
            .iter()
            .find(|c| c.type_ == pattern.type_ && c.status == want)
            .map(|c| {
                format!(
                    "Pod {}/{} has condition {} matching FailJob rule at index {}",
                    pod.metadata.namespace.as_deref().unwrap_or_default(),
                    pod.metadata.name.as_deref().unwrap_or_default(),
                    c.type_,
                    index
                )
            })
    })
}

/// What the Job's policy says about a failed pod; `None` when the Job has
/// no policy or no rule matches (the failure then counts).
pub fn evaluate(job: &Job, pod: &Pod) -> Option<FailureAction> {
    let rules = &job.spec.as_ref()?.pod_failure_policy.as_ref()?.rules;
    rules.iter().enumerate().find_map(|(i, rule)| {
        let message = exit_code_match(rule, pod, i).or_else(|| condition_match(rule, pod, i))?;
        Some(match rule.action.as_str() {
            "FailJob" => FailureAction::FailJob(message),
            "Ignore" => FailureAction::Ignore,
            _ => FailureAction::Count,
        })
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;
    use crate::job::pods::tests::{job, pod};
    use k8s_openapi::api::batch::v1::{
        PodFailurePolicy, PodFailurePolicyOnExitCodesRequirement,
        PodFailurePolicyOnPodConditionsPattern,
    };
    use k8s_openapi::api::core::v1::{
        ContainerState, ContainerStateTerminated, ContainerStatus, PodCondition,
    };

    fn with_policy(rules: Vec<PodFailurePolicyRule>) -> Job {
        let mut j = job();
        if let Some(s) = j.spec.as_mut() {
            s.pod_failure_policy = Some(PodFailurePolicy { rules });
        }
        j
    }

    fn exit_rule(action: &str, operator: &str, values: Vec<i32>) -> PodFailurePolicyRule {
        PodFailurePolicyRule {
            action: action.into(),
            on_exit_codes: Some(PodFailurePolicyOnExitCodesRequirement {
                container_name: None,
                operator: operator.into(),
                values,
            }),
            on_pod_conditions: None,
        }
    }

    fn failed_with(code: i32) -> Pod {
        let mut p = pod("p", "Failed");
        if let Some(s) = p.status.as_mut() {
            s.container_statuses = Some(vec![ContainerStatus {
                name: "main".into(),
                state: Some(ContainerState {
                    terminated: Some(ContainerStateTerminated {
                        exit_code: code,
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }]);
        }
        p
    }

    #[test]
    fn the_first_matching_rule_decides() {
        let disrupted = {
            let mut p = pod("p", "Failed");
            if let Some(s) = p.status.as_mut() {
                s.conditions = Some(vec![PodCondition {
                    type_: "DisruptionTarget".into(),
                    status: "True".into(),
                    ..Default::default()
                }]);
            }
            p
        };
        let ignore_disruption = PodFailurePolicyRule {
            action: "Ignore".into(),
            on_exit_codes: None,
            on_pod_conditions: Some(vec![PodFailurePolicyOnPodConditionsPattern {
                type_: "DisruptionTarget".into(),
                status: "True".into(),
            }]),
        };
        let policy = with_policy(vec![
            ignore_disruption,
            exit_rule("FailJob", "In", vec![42]),
            exit_rule("Count", "NotIn", vec![1]),
        ]);
        let cases = [
            ("a disrupted pod is ignored", disrupted, Some(FailureAction::Ignore)),
            ("exit 42 fails the job", failed_with(42), Some(FailureAction::FailJob(
                "Container main for pod default/p failed with exit code 42 matching FailJob rule at index 1".into()))),
            ("exit 2 counts", failed_with(2), Some(FailureAction::Count)),
            ("exit 1 matches nothing", failed_with(1), None),
            ("exit 0 never matches", failed_with(0), None),
        ];
        for (name, p, want) in cases {
            assert_eq!(evaluate(&policy, &p), want, "{name}");
        }
        assert_eq!(
            evaluate(&job(), &failed_with(42)),
            None,
            "no policy, no verdict"
        );
    }
}
