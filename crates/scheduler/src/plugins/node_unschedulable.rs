//! NodeUnschedulable: cordoned nodes (`spec.unschedulable`) take only pods
//! that tolerate the `node.kubernetes.io/unschedulable:NoSchedule` taint
//! (upstream plugins/nodeunschedulable).

use k8s_openapi::api::core::v1::Taint;

use crate::framework::{ClusterEvent, CycleState, Filter, NodeInfo, Plugin, PodInfo, Status};
use crate::plugins::taint_toleration::{pod_tolerations, tolerates};

/// The plugin's configuration name.
pub const NAME: &str = "NodeUnschedulable";

/// Upstream's reason string.
pub const REASON: &str = "node(s) were unschedulable";

/// The NodeUnschedulable plugin.
#[derive(Debug, Default)]
pub struct NodeUnschedulable;

impl Plugin for NodeUnschedulable {
    fn name(&self) -> &'static str {
        NAME
    }
    fn as_filter(&self) -> Option<&dyn Filter> {
        Some(self)
    }
    fn events_to_register(&self) -> &'static [ClusterEvent] {
        &[ClusterEvent::NodeAdded, ClusterEvent::NodeTaintsChanged]
    }
}

impl Filter for NodeUnschedulable {
    fn filter(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let cordoned = node.node().spec.as_ref().and_then(|s| s.unschedulable) == Some(true);
        if !cordoned {
            return Status::Success;
        }
        let taint = Taint {
            key: "node.kubernetes.io/unschedulable".into(),
            effect: "NoSchedule".into(),
            ..Default::default()
        };
        if pod_tolerations(pod).iter().any(|t| tolerates(t, &taint)) {
            Status::Success
        } else {
            Status::unresolvable(REASON)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{filter_all, node, pod, snapshot};

    #[test]
    fn cordoned_nodes_take_only_tolerating_pods() {
        let cases = [
            (
                "a schedulable node passes",
                node("n").build(),
                pod("p").build(),
                Status::Success,
            ),
            (
                "a cordoned node rejects",
                node("n").unschedulable().build(),
                pod("p").build(),
                Status::unresolvable(REASON),
            ),
            (
                "a tolerating pod passes a cordoned node",
                node("n").unschedulable().build(),
                pod("p")
                    .toleration(
                        "node.kubernetes.io/unschedulable",
                        "Exists",
                        "",
                        "NoSchedule",
                    )
                    .build(),
                Status::Success,
            ),
        ];
        for (name, n, p, want) in cases {
            let got = filter_all(
                &NodeUnschedulable,
                &PodInfo::new(p.into()),
                &snapshot(vec![n], vec![]),
            );
            assert_eq!(got, vec![want], "{name}");
        }
    }
}
