//! Facts about pods that several controllers need (upstream `pkg/api/v1/pod` podutil and
//! `pkg/controller/controller_utils.go`).

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::{SignedDuration, Timestamp};

/// The phase a pod reports, as an enum (unknown strings become `Unknown`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    /// Accepted, not all containers running yet (or no phase reported).
    Pending,
    /// Node lost contact.
    Unknown,
    /// Bound and at least one container running.
    Running,
    /// All containers exited 0.
    Succeeded,
    /// All containers exited, at least one failed.
    Failed,
}

/// The pod's phase.
pub fn phase(pod: &Pod) -> Phase {
    match pod
        .status
        .as_ref()
        .and_then(|status| status.phase.as_deref())
    {
        Some("Running") => Phase::Running,
        Some("Succeeded") => Phase::Succeeded,
        Some("Failed") => Phase::Failed,
        Some("Unknown") => Phase::Unknown,
        _ => Phase::Pending,
    }
}

/// Counts toward a controller's replicas: not finished and not being deleted
/// (upstream `IsPodActive`).
pub fn is_active(pod: &Pod) -> bool {
    !matches!(phase(pod), Phase::Succeeded | Phase::Failed)
        && pod.metadata.deletion_timestamp.is_none()
}

/// When the pod's `Ready` condition last became true, if it is true now.
pub fn ready_since(pod: &Pod) -> Option<Option<Timestamp>> {
    let condition = pod
        .status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|condition| condition.type_ == "Ready")?;
    (condition.status == "True").then(|| condition.last_transition_time.as_ref().map(|time| time.0))
}

/// The pod's `Ready` condition is true (upstream `IsPodReady`).
pub fn is_ready(pod: &Pod) -> bool {
    ready_since(pod).is_some()
}

/// Ready for at least `min_ready_seconds` at `now` (upstream `IsPodAvailable`).
pub fn is_available(pod: &Pod, min_ready_seconds: i32, now: Timestamp) -> bool {
    match ready_since(pod) {
        None => false,
        Some(_) if min_ready_seconds <= 0 => true,
        Some(None) => false,
        Some(Some(since)) => since
            .checked_add(SignedDuration::from_secs(i64::from(min_ready_seconds)))
            .is_ok_and(|available_at| available_at <= now),
    }
}

/// Container restarts, summed (used to prefer deleting crash-looping pods).
pub fn restarts(pod: &Pod) -> i64 {
    pod.status
        .as_ref()
        .and_then(|status| status.container_statuses.as_ref())
        .map_or(0, |statuses| {
            statuses
                .iter()
                .map(|status| i64::from(status.restart_count))
                .sum()
        })
}

/// Bound to a node.
pub fn is_scheduled(pod: &Pod) -> bool {
    pod.spec
        .as_ref()
        .and_then(|spec| spec.node_name.as_deref())
        .is_some_and(|node| !node.is_empty())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodCondition, PodSpec, PodStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use kube::api::ObjectMeta;

    /// A pod for tests, built up with the methods below.
    pub(crate) fn pod(name: &str) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                namespace: Some("default".to_owned()),
                uid: Some(format!("uid-{name}")),
                ..ObjectMeta::default()
            },
            spec: Some(PodSpec::default()),
            status: Some(PodStatus::default()),
        }
    }

    pub(crate) fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(seconds).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    pub(crate) trait PodBuilder {
        fn phase(self, phase: &str) -> Self;
        fn ready_at(self, seconds: i64) -> Self;
        fn not_ready(self) -> Self;
        fn on(self, node: &str) -> Self;
        fn created_at(self, seconds: i64) -> Self;
        fn deleting(self) -> Self;
    }

    impl PodBuilder for Pod {
        fn phase(mut self, phase: &str) -> Self {
            self.status.get_or_insert_with(PodStatus::default).phase = Some(phase.to_owned());
            self
        }
        fn ready_at(mut self, seconds: i64) -> Self {
            self.status
                .get_or_insert_with(PodStatus::default)
                .conditions = Some(vec![PodCondition {
                type_: "Ready".to_owned(),
                status: "True".to_owned(),
                last_transition_time: Some(Time(at(seconds))),
                ..PodCondition::default()
            }]);
            self
        }
        fn not_ready(mut self) -> Self {
            self.status
                .get_or_insert_with(PodStatus::default)
                .conditions = Some(vec![PodCondition {
                type_: "Ready".to_owned(),
                status: "False".to_owned(),
                ..PodCondition::default()
            }]);
            self
        }
        fn on(mut self, node: &str) -> Self {
            self.spec.get_or_insert_with(PodSpec::default).node_name = Some(node.to_owned());
            self
        }
        fn created_at(mut self, seconds: i64) -> Self {
            self.metadata.creation_timestamp = Some(Time(at(seconds)));
            self
        }
        fn deleting(mut self) -> Self {
            self.metadata.deletion_timestamp = Some(Time(at(0)));
            self
        }
    }

    #[test]
    fn availability_needs_readiness_held_for_min_ready_seconds() {
        let cases = [
            ("not ready", pod("p").not_ready(), 0, false),
            ("no condition", pod("p"), 0, false),
            ("ready, no min", pod("p").ready_at(100), 0, true),
            ("ready long enough", pod("p").ready_at(100), 10, true),
            ("ready too briefly", pod("p").ready_at(105), 10, false),
        ];
        for (name, pod, min_ready, want) in cases {
            assert_eq!(is_available(&pod, min_ready, at(110)), want, "{name}");
        }
    }

    #[test]
    fn finished_and_deleting_pods_are_not_active() {
        let cases = [
            ("pending", pod("p"), true),
            ("running", pod("p").phase("Running"), true),
            ("succeeded", pod("p").phase("Succeeded"), false),
            ("failed", pod("p").phase("Failed"), false),
            ("deleting", pod("p").phase("Running").deleting(), false),
        ];
        for (name, pod, want) in cases {
            assert_eq!(is_active(&pod), want, "{name}");
        }
    }
}
