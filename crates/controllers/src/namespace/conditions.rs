//! The conditions a terminating namespace reports while its content is
//! deleted (upstream `pkg/controller/namespace/deletion/status_condition_utils.go`):
//! each condition is `True` with the problem or `False` with upstream's
//! all-clear reason, so `kubectl describe namespace` tells what is left.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::NamespaceCondition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

/// What one deletion pass found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeletionReport {
    /// Discovery failed for some groups: their messages.
    pub discovery_failures: Vec<String>,
    /// Deleting some resources failed: their messages.
    pub deletion_failures: Vec<String>,
    /// Objects still present, by resource (`pods`, `deployments.apps`).
    pub remaining: BTreeMap<String, usize>,
    /// Objects still held by finalizers, by finalizer.
    pub finalizers: BTreeMap<String, usize>,
}

impl DeletionReport {
    /// Whether the namespace is empty and nothing failed, so its
    /// `kubernetes` finalizer may go.
    pub fn is_done(&self) -> bool {
        self.discovery_failures.is_empty()
            && self.deletion_failures.is_empty()
            && self.remaining.is_empty()
    }
}

fn condition(
    kind: &str,
    problem: Option<(&str, String)>,
    clear: (&str, &str),
) -> NamespaceCondition {
    let (status, reason, message) = match problem {
        Some((reason, message)) => ("True", reason.to_string(), message),
        None => ("False", clear.0.to_string(), clear.1.to_string()),
    };
    NamespaceCondition {
        type_: kind.into(),
        status: status.into(),
        reason: Some(reason),
        message: Some(message),
        last_transition_time: None,
    }
}

fn listing(counts: &BTreeMap<String, usize>, what: &str) -> String {
    counts
        .iter()
        .map(|(k, n)| format!("{k} {what} {n} resource instances"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The five deletion conditions for a report, without transition times.
pub fn conditions(report: &DeletionReport) -> Vec<NamespaceCondition> {
    vec![
        condition(
            "NamespaceDeletionDiscoveryFailure",
            (!report.discovery_failures.is_empty()).then(|| {
                (
                    "DiscoveryFailed",
                    format!(
                        "Discovery failed for some groups: {}",
                        report.discovery_failures.join(", ")
                    ),
                )
            }),
            (
                "ResourcesDiscovered",
                "All resources successfully discovered",
            ),
        ),
        condition(
            "NamespaceDeletionGroupVersionParsingFailure",
            None,
            (
                "ParsedGroupVersions",
                "All legacy kube types successfully parsed",
            ),
        ),
        condition(
            "NamespaceDeletionContentFailure",
            (!report.deletion_failures.is_empty()).then(|| {
                (
                    "ContentDeletionFailed",
                    format!(
                        "Failed to delete all resource types, {} remaining: {}",
                        report.deletion_failures.len(),
                        report.deletion_failures.join(", ")
                    ),
                )
            }),
            (
                "ContentDeleted",
                "All content successfully deleted, may be waiting on finalization",
            ),
        ),
        condition(
            "NamespaceContentRemaining",
            (!report.remaining.is_empty()).then(|| {
                (
                    "SomeResourcesRemain",
                    format!(
                        "Some resources are remaining: {}",
                        listing(&report.remaining, "has")
                    ),
                )
            }),
            ("ContentRemoved", "All content successfully removed"),
        ),
        condition(
            "NamespaceFinalizersRemaining",
            (!report.finalizers.is_empty()).then(|| {
                (
                    "SomeFinalizersRemain",
                    format!(
                        "Some content in the namespace has finalizers remaining: {}",
                        listing(&report.finalizers, "in")
                    ),
                )
            }),
            (
                "ContentHasNoFinalizers",
                "All content-preserving finalizers finished",
            ),
        ),
    ]
}

/// Merges new conditions into the current ones: an unchanged condition
/// keeps its transition time; `None` when nothing changed.
pub fn merge(
    current: &[NamespaceCondition],
    wanted: Vec<NamespaceCondition>,
    now: Timestamp,
) -> Option<Vec<NamespaceCondition>> {
    let mut changed = false;
    let mut merged: Vec<NamespaceCondition> = current
        .iter()
        .filter(|c| !wanted.iter().any(|w| w.type_ == c.type_))
        .cloned()
        .collect();
    for mut w in wanted {
        match current.iter().find(|c| c.type_ == w.type_) {
            Some(c) if c.status == w.status && c.reason == w.reason && c.message == w.message => {
                merged.push(c.clone());
            }
            Some(c) => {
                w.last_transition_time = if c.status == w.status {
                    c.last_transition_time.clone()
                } else {
                    Some(Time(now))
                };
                merged.push(w);
                changed = true;
            }
            None => {
                w.last_transition_time = Some(Time(now));
                merged.push(w);
                changed = true;
            }
        }
    }
    changed.then_some(merged)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    fn status_of<'a>(conditions: &'a [NamespaceCondition], kind: &str) -> (&'a str, &'a str) {
        let c = conditions.iter().find(|c| c.type_ == kind).unwrap();
        (c.status.as_str(), c.message.as_deref().unwrap_or(""))
    }

    #[test]
    fn conditions_report_what_is_left_and_what_failed() {
        let clean = DeletionReport::default();
        assert!(clean.is_done());
        let c = conditions(&clean);
        assert_eq!(c.len(), 5);
        assert!(c.iter().all(|c| c.status == "False"));

        let busy = DeletionReport {
            remaining: [("pods".to_string(), 2), ("deployments.apps".to_string(), 1)].into(),
            finalizers: [("example.com/keep".to_string(), 1)].into(),
            deletion_failures: vec!["widgets.example.com: forbidden".into()],
            ..Default::default()
        };
        assert!(!busy.is_done());
        let c = conditions(&busy);
        assert_eq!(
            status_of(&c, "NamespaceContentRemaining"),
            ("True", "Some resources are remaining: deployments.apps has 1 resource instances, pods has 2 resource instances")
        );
        assert_eq!(
            status_of(&c, "NamespaceFinalizersRemaining"),
            ("True", "Some content in the namespace has finalizers remaining: example.com/keep in 1 resource instances")
        );
        assert_eq!(status_of(&c, "NamespaceDeletionContentFailure").0, "True");
        assert_eq!(
            status_of(&c, "NamespaceDeletionDiscoveryFailure").0,
            "False"
        );
    }

    #[test]
    fn merging_keeps_transition_times_of_unchanged_conditions() {
        let t0 = Timestamp::from_second(1).unwrap();
        let t1 = Timestamp::from_second(2).unwrap();
        let first = merge(&[], conditions(&DeletionReport::default()), t0).unwrap();
        assert!(merge(&first, conditions(&DeletionReport::default()), t1).is_none());
        let busy = DeletionReport {
            remaining: [("pods".to_string(), 1)].into(),
            ..Default::default()
        };
        let second = merge(&first, conditions(&busy), t1).unwrap();
        let remaining = second
            .iter()
            .find(|c| c.type_ == "NamespaceContentRemaining")
            .unwrap();
        assert_eq!(remaining.last_transition_time, Some(Time(t1)));
        let discovered = second
            .iter()
            .find(|c| c.type_ == "NamespaceDeletionDiscoveryFailure")
            .unwrap();
        assert_eq!(discovered.last_transition_time, Some(Time(t0)));
    }
}
