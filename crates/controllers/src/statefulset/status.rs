//! A StatefulSet's status (upstream `computeReplicaStatus` and `completeRollingUpdate`):
//! pods by readiness and revision, and the current revision catching up with the update
//! revision once a rolling update has updated and readied every pod.

use std::sync::Arc;

use k8s_openapi::api::apps::v1::StatefulSetStatus;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;

use crate::history::hash_label;
use crate::pod_state;

/// What the status is computed from.
pub struct Observed<'a> {
    /// Every pod the set owns.
    pub pods: &'a [Arc<Pod>],
    /// The current revision's name.
    pub current_revision: &'a str,
    /// The update revision's name.
    pub update_revision: &'a str,
    /// `spec.minReadySeconds`.
    pub min_ready_seconds: i32,
    /// `metadata.generation`.
    pub generation: i64,
    /// The hash collision count.
    pub collision_count: i32,
    /// The strategy is RollingUpdate.
    pub rolling: bool,
    /// Now.
    pub now: Timestamp,
}

/// Whether a pod is Running and Ready.
pub fn running_and_ready(pod: &Pod) -> bool {
    pod_state::phase(pod) == pod_state::Phase::Running && pod_state::is_ready(pod)
}

/// The status for `observed`.
pub fn calculate(observed: &Observed<'_>) -> StatefulSetStatus {
    let mut status = StatefulSetStatus {
        observed_generation: Some(observed.generation),
        collision_count: Some(observed.collision_count),
        current_revision: Some(observed.current_revision.to_owned()),
        update_revision: Some(observed.update_revision.to_owned()),
        ..StatefulSetStatus::default()
    };
    let (mut ready, mut available, mut current, mut updated) = (0, 0, 0, 0);
    for pod in observed.pods {
        status.replicas += 1;
        if running_and_ready(pod) {
            ready += 1;
            if pod_state::is_available(pod, observed.min_ready_seconds, observed.now) {
                available += 1;
            }
        }
        if pod.metadata.deletion_timestamp.is_none() {
            let revision = hash_label(&**pod);
            if revision == Some(observed.current_revision) {
                current += 1;
            }
            if revision == Some(observed.update_revision) {
                updated += 1;
            }
        }
    }
    status.ready_replicas = Some(ready);
    status.available_replicas = Some(available);
    status.current_replicas = Some(current);
    status.updated_replicas = Some(updated);
    if observed.rolling && updated == status.replicas && ready == status.replicas {
        status.current_revision = status.update_revision.clone();
        status.current_replicas = Some(updated);
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::CONTROLLER_REVISION_HASH;
    use crate::pod_state::tests::{at, pod, PodBuilder};

    fn at_revision(pod: Pod, revision: &str) -> Arc<Pod> {
        let mut pod = pod;
        pod.metadata.labels =
            Some([(CONTROLLER_REVISION_HASH.to_owned(), revision.to_owned())].into());
        Arc::new(pod)
    }

    fn observe(pods: &[Arc<Pod>], rolling: bool) -> StatefulSetStatus {
        calculate(&Observed {
            pods,
            current_revision: "v1",
            update_revision: "v2",
            min_ready_seconds: 0,
            generation: 2,
            collision_count: 0,
            rolling,
            now: at(100),
        })
    }

    #[test]
    fn the_current_revision_catches_up_only_when_every_pod_is_updated_and_ready() {
        let ready = |name: &str, revision: &str| {
            at_revision(pod(name).phase("Running").ready_at(0), revision)
        };
        let half = [ready("web-0", "v1"), ready("web-1", "v2")];
        let done = [ready("web-0", "v2"), ready("web-1", "v2")];
        let starting = [
            ready("web-0", "v2"),
            at_revision(pod("web-1").phase("Running").not_ready(), "v2"),
        ];
        // (name, pods, rolling, current revision, (replicas, ready, current, updated))
        let cases = [
            ("half way", &half[..], true, "v1", (2, 1 + 1, 1, 1)),
            ("all updated and ready", &done[..], true, "v2", (2, 2, 2, 2)),
            ("one not ready yet", &starting[..], true, "v1", (2, 1, 0, 2)),
            (
                "OnDelete keeps the current revision",
                &done[..],
                false,
                "v1",
                (2, 2, 0, 2),
            ),
        ];
        for (name, pods, rolling, revision, counts) in cases {
            let status = observe(pods, rolling);
            assert_eq!(status.current_revision.as_deref(), Some(revision), "{name}");
            assert_eq!(
                (
                    status.replicas,
                    status.ready_replicas.unwrap_or_default(),
                    status.current_replicas.unwrap_or_default(),
                    status.updated_replicas.unwrap_or_default()
                ),
                counts,
                "{name}"
            );
        }
    }
}
