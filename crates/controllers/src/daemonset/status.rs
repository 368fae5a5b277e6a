//! A DaemonSet's status (upstream `updateDaemonSetStatus`): per node that should run a
//! daemon pod, whether it has one, and whether its oldest one is ready, available and of the
//! current template; pods on nodes that should not run one are misscheduled.

use std::sync::Arc;

use k8s_openapi::api::apps::v1::DaemonSetStatus;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;

use crate::history::hash_label;
use crate::pod_state;

/// One node as the status sees it.
pub struct NodeView<'a> {
    /// A daemon pod should run there.
    pub should_run: bool,
    /// Its daemon pods, oldest first.
    pub pods: &'a [Arc<Pod>],
}

/// The status for `nodes`, the current template `hash` and the DaemonSet's generation.
pub fn calculate(
    nodes: &[NodeView<'_>],
    hash: &str,
    min_ready_seconds: i32,
    generation: i64,
    collision_count: i32,
    now: Timestamp,
) -> DaemonSetStatus {
    let mut status = DaemonSetStatus::default();
    let (mut available, mut updated) = (0, 0);
    for node in nodes {
        match (node.should_run, node.pods.first()) {
            (true, first) => {
                status.desired_number_scheduled += 1;
                let Some(pod) = first else { continue };
                status.current_number_scheduled += 1;
                if pod_state::is_ready(pod) {
                    status.number_ready += 1;
                }
                if pod_state::is_available(pod, min_ready_seconds, now) {
                    available += 1;
                }
                if hash_label(&**pod) == Some(hash) {
                    updated += 1;
                }
            }
            (false, Some(_)) => status.number_misscheduled += 1,
            (false, None) => {}
        }
    }
    status.number_available = Some(available);
    status.number_unavailable = Some(status.desired_number_scheduled - available);
    status.updated_number_scheduled = Some(updated);
    status.observed_generation = Some(generation);
    status.collision_count = (collision_count > 0).then_some(collision_count);
    status
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::CONTROLLER_REVISION_HASH;
    use crate::pod_state::tests::{at, pod, PodBuilder};

    fn with_hash(pod: Pod, hash: &str) -> Arc<Pod> {
        let mut pod = pod;
        pod.metadata.labels = Some([(CONTROLLER_REVISION_HASH.to_owned(), hash.to_owned())].into());
        Arc::new(pod)
    }

    #[test]
    fn status_counts_nodes_not_pods() {
        let ready_new = [with_hash(pod("a").phase("Running").ready_at(0), "new")];
        let starting_old = [with_hash(pod("b").phase("Running").not_ready(), "old")];
        let stray = [with_hash(pod("c"), "new")];
        let nodes = [
            NodeView {
                should_run: true,
                pods: &ready_new,
            },
            NodeView {
                should_run: true,
                pods: &starting_old,
            },
            NodeView {
                should_run: true,
                pods: &[],
            },
            NodeView {
                should_run: false,
                pods: &stray,
            },
            NodeView {
                should_run: false,
                pods: &[],
            },
        ];
        let status = calculate(&nodes, "new", 0, 4, 0, at(100));
        assert_eq!(
            (
                status.desired_number_scheduled,
                status.current_number_scheduled,
                status.number_ready,
                status.number_available,
                status.updated_number_scheduled,
                status.number_misscheduled,
                status.number_unavailable,
                status.observed_generation,
            ),
            (3, 2, 1, Some(1), Some(1), 1, Some(2), Some(4))
        );
    }
}
