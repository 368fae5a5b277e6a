//! Which pods to delete first when scaling down (upstream `ActivePodsWithRanks.Less` in
//! `pkg/controller/controller_utils.go`): the pods whose loss hurts least go first.

use std::cmp::{Ordering, Reverse};
use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;

use crate::pod_state::{self, Phase};

/// Orders pods deletion-first:
/// 1. unscheduled before scheduled;
/// 2. pending before unknown before running;
/// 3. not ready before ready;
/// 4. more pods of the same controller on the same node before fewer (spreads what stays);
/// 5. ready for less time before ready for longer;
/// 6. more container restarts before fewer;
/// 7. newer before older.
pub fn deletion_order(pods: &mut [Arc<Pod>]) {
    let mut per_node: HashMap<String, usize> = HashMap::new();
    for pod in pods.iter() {
        if let Some(node) = node_of(pod) {
            *per_node.entry(node.to_owned()).or_default() += 1;
        }
    }
    let rank = |pod: &Pod| {
        node_of(pod)
            .and_then(|node| per_node.get(node))
            .copied()
            .unwrap_or(0)
    };
    pods.sort_by(|a, b| compare(a, rank(a), b, rank(b)));
}

fn node_of(pod: &Pod) -> Option<&str> {
    pod.spec
        .as_ref()?
        .node_name
        .as_deref()
        .filter(|node| !node.is_empty())
}

/// `Less` means "delete `a` before `b`".
fn compare(a: &Pod, a_rank: usize, b: &Pod, b_rank: usize) -> Ordering {
    let phase_order = |pod: &Pod| match pod_state::phase(pod) {
        Phase::Pending => 0,
        Phase::Unknown => 1,
        _ => 2,
    };
    pod_state::is_scheduled(a)
        .cmp(&pod_state::is_scheduled(b))
        .then_with(|| phase_order(a).cmp(&phase_order(b)))
        .then_with(|| pod_state::is_ready(a).cmp(&pod_state::is_ready(b)))
        .then_with(|| Reverse(a_rank).cmp(&Reverse(b_rank)))
        .then_with(|| {
            // Both ready: the one ready more recently goes first (a missing time counts as
            // "just now", the least proven).
            match (pod_state::ready_since(a), pod_state::ready_since(b)) {
                (Some(a_since), Some(b_since)) => match (a_since, b_since) {
                    (Some(a_since), Some(b_since)) => Reverse(a_since).cmp(&Reverse(b_since)),
                    (None, Some(_)) => Ordering::Less,
                    (Some(_), None) => Ordering::Greater,
                    (None, None) => Ordering::Equal,
                },
                _ => Ordering::Equal,
            }
        })
        .then_with(|| Reverse(pod_state::restarts(a)).cmp(&Reverse(pod_state::restarts(b))))
        .then_with(|| {
            let created = |pod: &Pod| pod.metadata.creation_timestamp.as_ref().map(|time| time.0);
            Reverse(created(a)).cmp(&Reverse(created(b)))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pod_state::tests::{pod, PodBuilder};

    #[test]
    fn the_least_valuable_pod_is_deleted_first() {
        let cases = [
            (
                "unscheduled before scheduled",
                pod("unscheduled"),
                pod("scheduled").on("n1"),
            ),
            (
                "pending before running",
                pod("pending").on("n1").phase("Pending"),
                pod("running").on("n1").phase("Running"),
            ),
            (
                "unknown before running",
                pod("unknown").on("n1").phase("Unknown"),
                pod("running").on("n1").phase("Running"),
            ),
            (
                "not ready before ready",
                pod("not-ready").on("n1").phase("Running").not_ready(),
                pod("ready").on("n1").phase("Running").ready_at(10),
            ),
            (
                "ready recently before ready long",
                pod("recent").on("n1").phase("Running").ready_at(50),
                pod("long").on("n1").phase("Running").ready_at(10),
            ),
            (
                "newer before older",
                pod("newer")
                    .on("n1")
                    .phase("Running")
                    .ready_at(10)
                    .created_at(20),
                pod("older")
                    .on("n1")
                    .phase("Running")
                    .ready_at(10)
                    .created_at(5),
            ),
        ];
        for (name, first, second) in cases {
            let want = first.metadata.name.clone();
            let mut pods = vec![Arc::new(second), Arc::new(first)];
            deletion_order(&mut pods);
            let order: Vec<_> = pods
                .iter()
                .filter_map(|pod| pod.metadata.name.clone())
                .collect();
            assert_eq!(order.first(), want.as_ref(), "{name}: {order:?}");
        }
    }

    #[test]
    fn pods_crowded_on_one_node_go_before_a_pod_alone() {
        let mut pods = vec![
            Arc::new(
                pod("alone")
                    .on("n2")
                    .phase("Running")
                    .ready_at(10)
                    .created_at(1),
            ),
            Arc::new(
                pod("crowded-a")
                    .on("n1")
                    .phase("Running")
                    .ready_at(10)
                    .created_at(1),
            ),
            Arc::new(
                pod("crowded-b")
                    .on("n1")
                    .phase("Running")
                    .ready_at(10)
                    .created_at(1),
            ),
        ];
        deletion_order(&mut pods);
        assert_eq!(
            pods.last().and_then(|pod| pod.metadata.name.as_deref()),
            Some("alone")
        );
    }
}
