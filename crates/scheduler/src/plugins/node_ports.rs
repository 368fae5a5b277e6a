//! NodePorts: a pod's host ports must be free on the node
//! (upstream plugins/nodeports).

use crate::framework::{ClusterEvent, CycleState, Filter, NodeInfo, Plugin, PodInfo, Status};

/// The plugin's configuration name.
pub const NAME: &str = "NodePorts";

/// Upstream's reason string.
pub const REASON: &str = "node(s) didn't have free ports for the requested pod ports";

/// The NodePorts plugin.
#[derive(Debug, Default)]
pub struct NodePorts;

impl Plugin for NodePorts {
    fn name(&self) -> &'static str {
        NAME
    }
    fn as_filter(&self) -> Option<&dyn Filter> {
        Some(self)
    }
    fn events_to_register(&self) -> &'static [ClusterEvent] {
        &[ClusterEvent::NodeAdded, ClusterEvent::AssignedPodDeleted]
    }
}

impl Filter for NodePorts {
    fn filter(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        if pod.host_ports.iter().any(|p| node.port_conflicts(p)) {
            Status::unschedulable(REASON)
        } else {
            Status::Success
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{filter_all, node, pod, snapshot};

    #[test]
    fn host_ports_conflict_as_upstream() {
        let existing = |p: crate::testing::PodBuilder| p.node_name("n").build();
        let conflict = Status::unschedulable(REASON);
        let cases = [
            (
                "no ports never conflict",
                existing(pod("e").host_port(80)),
                pod("p").info(),
                Status::Success,
            ),
            (
                "same port and protocol conflict",
                existing(pod("e").host_port(80)),
                pod("p").host_port(80).info(),
                conflict.clone(),
            ),
            (
                "another protocol does not conflict",
                existing(pod("e").host_port_on("", "UDP", 53)),
                pod("p").host_port_on("", "TCP", 53).info(),
                Status::Success,
            ),
            (
                "different specific IPs do not conflict",
                existing(pod("e").host_port_on("10.0.0.1", "TCP", 80)),
                pod("p").host_port_on("10.0.0.2", "TCP", 80).info(),
                Status::Success,
            ),
            (
                "the wildcard IP conflicts with a specific one",
                existing(pod("e").host_port_on("10.0.0.1", "TCP", 80)),
                pod("p").host_port(80).info(),
                conflict.clone(),
            ),
            (
                "a specific IP conflicts with an existing wildcard",
                existing(pod("e").host_port(80)),
                pod("p").host_port_on("10.0.0.2", "TCP", 80).info(),
                conflict,
            ),
        ];
        for (name, e, p, want) in cases {
            let s = snapshot(vec![node("n").build()], vec![e]);
            assert_eq!(filter_all(&NodePorts, &p, &s), vec![want], "{name}");
        }
    }
}
