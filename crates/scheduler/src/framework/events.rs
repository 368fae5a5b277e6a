//! Cluster changes that can make an unschedulable pod schedulable
//! (upstream `framework.ClusterEvent` and the node-update classification in
//! pkg/scheduler/eventhandlers.go / framework/events.go).
//!
//! Each plugin names the events that can undo its rejections; the queue moves
//! a pod back only when one of the plugins that rejected it is interested.

use k8s_openapi::api::core::v1::{Node, Pod};

/// A kind of change in the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ClusterEvent {
    /// A node appeared.
    NodeAdded,
    /// A node went away.
    NodeDeleted,
    /// A node's labels changed.
    NodeLabelsChanged,
    /// A node's taints or `spec.unschedulable` changed.
    NodeTaintsChanged,
    /// A node's allocatable resources changed.
    NodeAllocatableChanged,
    /// A node's image list changed (or any other status detail).
    NodeOtherChanged,
    /// A pod was bound to (or assumed on) a node.
    AssignedPodAdded,
    /// A bound pod's labels changed.
    AssignedPodLabelsChanged,
    /// A bound pod's requests went down.
    AssignedPodScaledDown,
    /// A bound pod was deleted.
    AssignedPodDeleted,
}

impl ClusterEvent {
    /// What changed between two versions of a node.
    pub fn node_updated(old: &Node, new: &Node) -> Vec<ClusterEvent> {
        let mut events = Vec::new();
        if old.metadata.labels != new.metadata.labels {
            events.push(ClusterEvent::NodeLabelsChanged);
        }
        let spec = |n: &Node| n.spec.as_ref().map(|s| (s.taints.clone(), s.unschedulable));
        if spec(old) != spec(new) {
            events.push(ClusterEvent::NodeTaintsChanged);
        }
        let allocatable = |n: &Node| n.status.as_ref().and_then(|s| s.allocatable.clone());
        if allocatable(old) != allocatable(new) {
            events.push(ClusterEvent::NodeAllocatableChanged);
        }
        let images = |n: &Node| n.status.as_ref().and_then(|s| s.images.clone());
        if images(old) != images(new) {
            events.push(ClusterEvent::NodeOtherChanged);
        }
        events
    }

    /// What changed between two versions of a bound pod.
    pub fn assigned_pod_updated(old: &Pod, new: &Pod) -> Vec<ClusterEvent> {
        let mut events = Vec::new();
        if old.metadata.labels != new.metadata.labels {
            events.push(ClusterEvent::AssignedPodLabelsChanged);
        }
        let old_request =
            crate::resources::pod_request(old, crate::resources::MissingRequests::AsZero);
        let new_request =
            crate::resources::pod_request(new, crate::resources::MissingRequests::AsZero);
        let mut grown = new_request.clone();
        grown.max_with(&old_request);
        if grown == old_request && new_request != old_request {
            events.push(ClusterEvent::AssignedPodScaledDown);
        }
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{node, pod};

    #[test]
    fn node_updates_are_classified() {
        let base = node("n").cpu("2").build();
        let cases = [
            (
                "labels",
                node("n").cpu("2").label("a", "b").build(),
                vec![ClusterEvent::NodeLabelsChanged],
            ),
            (
                "taints",
                node("n").cpu("2").taint("k", "v", "NoSchedule").build(),
                vec![ClusterEvent::NodeTaintsChanged],
            ),
            (
                "cordon",
                node("n").cpu("2").unschedulable().build(),
                vec![ClusterEvent::NodeTaintsChanged],
            ),
            (
                "allocatable",
                node("n").cpu("4").build(),
                vec![ClusterEvent::NodeAllocatableChanged],
            ),
            ("nothing", node("n").cpu("2").build(), vec![]),
        ];
        for (name, updated, want) in cases {
            assert_eq!(ClusterEvent::node_updated(&base, &updated), want, "{name}");
        }
    }

    #[test]
    fn pod_updates_are_classified() {
        let base = pod("p").cpu("2").build();
        let cases = [
            (
                "labels",
                pod("p").cpu("2").label("a", "b").build(),
                vec![ClusterEvent::AssignedPodLabelsChanged],
            ),
            (
                "scale down",
                pod("p").cpu("1").build(),
                vec![ClusterEvent::AssignedPodScaledDown],
            ),
            ("scale up", pod("p").cpu("3").build(), vec![]),
        ];
        for (name, updated, want) in cases {
            assert_eq!(
                ClusterEvent::assigned_pod_updated(&base, &updated),
                want,
                "{name}"
            );
        }
    }
}
