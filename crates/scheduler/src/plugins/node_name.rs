//! NodeName: a pod that names its node (`spec.nodeName`) fits only there
//! (upstream plugins/nodename).

use crate::framework::{ClusterEvent, CycleState, Filter, NodeInfo, Plugin, PodInfo, Status};

/// The plugin's configuration name.
pub const NAME: &str = "NodeName";

/// Upstream's reason string.
pub const REASON: &str = "node(s) didn't match the requested node name";

/// The NodeName plugin.
#[derive(Debug, Default)]
pub struct NodeName;

impl Plugin for NodeName {
    fn name(&self) -> &'static str {
        NAME
    }
    fn as_filter(&self) -> Option<&dyn Filter> {
        Some(self)
    }
    fn events_to_register(&self) -> &'static [ClusterEvent] {
        &[ClusterEvent::NodeAdded]
    }
}

impl Filter for NodeName {
    fn filter(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        match pod.pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) {
            None | Some("") => Status::Success,
            Some(wanted) if wanted == node.name() => Status::Success,
            Some(_) => Status::unresolvable(REASON),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{filter_all, node, pod, snapshot};

    #[test]
    fn only_the_named_node_fits() {
        let s = snapshot(vec![node("a").build(), node("b").build()], vec![]);
        let cases = [
            (
                "no name fits everywhere",
                pod("p").info(),
                vec![Status::Success, Status::Success],
            ),
            (
                "a name fits only there",
                pod("p").node_name("b").info(),
                vec![Status::unresolvable(REASON), Status::Success],
            ),
        ];
        for (name, p, want) in cases {
            assert_eq!(filter_all(&NodeName, &p, &s), want, "{name}");
        }
    }
}
