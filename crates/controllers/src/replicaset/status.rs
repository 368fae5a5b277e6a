//! The status a replica controller reports, computed purely from the object and its pods
//! (upstream `calculateStatus` in `replica_set_utils.go`).

use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::pod_state;

/// The condition type set while creating or deleting pods fails.
pub const REPLICA_FAILURE: &str = "ReplicaFailure";

/// Why managing replicas failed, for the `ReplicaFailure` condition's reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureReason {
    /// Creating pods failed.
    FailedCreate,
    /// Deleting pods failed.
    FailedDelete,
}

impl FailureReason {
    fn as_str(self) -> &'static str {
        match self {
            FailureReason::FailedCreate => "FailedCreate",
            FailureReason::FailedDelete => "FailedDelete",
        }
    }
}

/// A status condition; ReplicaSet's and ReplicationController's have the same fields.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplicaCondition {
    /// `ReplicaFailure`.
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`/`False`/`Unknown`.
    pub status: String,
    /// When `status` last changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<Time>,
    /// Machine-readable reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Human-readable message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The status fields ReplicaSet and ReplicationController share, serialised as both spell them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ReplicaStatus {
    /// Active pods owned.
    pub replicas: i32,
    /// Owned pods whose labels include all the template's labels.
    pub fully_labeled_replicas: i32,
    /// Owned pods that are ready.
    pub ready_replicas: i32,
    /// Owned pods ready for at least minReadySeconds.
    pub available_replicas: i32,
    /// The generation this status reflects.
    pub observed_generation: i64,
    /// `ReplicaFailure` while managing pods fails.
    pub conditions: Vec<ReplicaCondition>,
}

impl ReplicaStatus {
    /// Reads a ReplicaSet's or ReplicationController's status through their shared wire form.
    pub fn from_wire<T: Serialize>(status: Option<&T>) -> Self {
        status
            .and_then(|status| serde_json::to_value(status).ok())
            .and_then(|value| serde_json::from_value(value).ok())
            .unwrap_or_default()
    }
}

/// What one sync observed, the input of [`calculate`].
pub struct Observed<'a> {
    /// The object's generation.
    pub generation: i64,
    /// The template's labels.
    pub template_labels: Option<&'a std::collections::BTreeMap<String, String>>,
    /// `spec.minReadySeconds`.
    pub min_ready_seconds: i32,
    /// The active pods it owns.
    pub pods: &'a [Arc<Pod>],
    /// Why managing pods failed this sync, with a message.
    pub failure: Option<(FailureReason, String)>,
    /// The current status (its condition times are kept when nothing changed).
    pub current: &'a ReplicaStatus,
    /// The time to judge availability at.
    pub now: Timestamp,
}

/// Computes the new status.
pub fn calculate(observed: &Observed<'_>) -> ReplicaStatus {
    let pods = observed.pods;
    let fully_labeled = pods
        .iter()
        .filter(|pod| {
            observed.template_labels.is_none_or(|labels| {
                let pod_labels = pod.metadata.labels.as_ref();
                labels
                    .iter()
                    .all(|(key, value)| pod_labels.and_then(|have| have.get(key)) == Some(value))
            })
        })
        .count();
    let ready = pods.iter().filter(|pod| pod_state::is_ready(pod)).count();
    let available = pods
        .iter()
        .filter(|pod| pod_state::is_available(pod, observed.min_ready_seconds, observed.now))
        .count();
    let existing = observed
        .current
        .conditions
        .iter()
        .find(|condition| condition.type_ == REPLICA_FAILURE);
    // Upstream sets the condition when a failure first happens and removes it once a sync
    // manages pods without error.
    let conditions = match (&observed.failure, existing) {
        (Some(_), Some(existing)) => vec![existing.clone()],
        (Some((reason, message)), None) => vec![ReplicaCondition {
            type_: REPLICA_FAILURE.to_owned(),
            status: "True".to_owned(),
            last_transition_time: Some(Time(observed.now)),
            reason: Some(reason.as_str().to_owned()),
            message: Some(message.clone()),
        }],
        (None, _) => Vec::new(),
    };
    ReplicaStatus {
        replicas: count(pods.len()),
        fully_labeled_replicas: count(fully_labeled),
        ready_replicas: count(ready),
        available_replicas: count(available),
        observed_generation: observed.generation,
        conditions,
    }
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// The merge patch that writes `status` (an empty condition list removes the field).
pub fn patch(status: &ReplicaStatus) -> serde_json::Value {
    let mut value = serde_json::json!({ "status": status });
    if status.conditions.is_empty() {
        value["status"]["conditions"] = serde_json::Value::Null;
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pod_state::tests::{at, pod, PodBuilder};
    use std::collections::BTreeMap;

    #[test]
    fn status_counts_labeled_ready_and_available_pods() {
        let labels: BTreeMap<String, String> = [("app".to_owned(), "web".to_owned())].into();
        let mut labeled = pod("labeled").phase("Running").ready_at(100);
        labeled.metadata.labels = Some(labels.clone());
        let pods = vec![
            Arc::new(labeled),
            Arc::new(pod("ready-long").phase("Running").ready_at(10)),
            Arc::new(pod("not-ready").phase("Running").not_ready()),
        ];
        let current = ReplicaStatus::default();
        let status = calculate(&Observed {
            generation: 3,
            template_labels: Some(&labels),
            min_ready_seconds: 30,
            pods: &pods,
            failure: None,
            current: &current,
            now: at(110),
        });
        assert_eq!(
            (
                status.replicas,
                status.fully_labeled_replicas,
                status.ready_replicas,
                status.available_replicas,
                status.observed_generation
            ),
            (3, 1, 2, 1, 3)
        );
    }

    #[test]
    fn the_failure_condition_appears_on_failure_and_goes_once_a_sync_succeeds() {
        let failed = Some((FailureReason::FailedCreate, "quota".to_owned()));
        let none = ReplicaStatus::default();
        let observe = |failure: &Option<(FailureReason, String)>, current: &ReplicaStatus, now| {
            calculate(&Observed {
                generation: 1,
                template_labels: None,
                min_ready_seconds: 0,
                pods: &[],
                failure: failure.clone(),
                current,
                now,
            })
        };
        let first = observe(&failed, &none, at(1));
        assert_eq!(first.conditions.len(), 1);
        assert_eq!(
            first.conditions.first().and_then(|c| c.reason.as_deref()),
            Some("FailedCreate")
        );
        let again = observe(&failed, &first, at(2));
        assert_eq!(
            again.conditions, first.conditions,
            "the transition time is kept"
        );
        assert!(observe(&None, &again, at(3)).conditions.is_empty());
        assert_eq!(
            patch(&observe(&None, &again, at(3)))["status"]["conditions"],
            serde_json::Value::Null
        );
    }
}
