//! NodeResourcesFit: the node must have room for the pod's requests (CPU,
//! memory, ephemeral storage, pod count, extended resources), and nodes are
//! scored by the configured strategy, LeastAllocated by default (upstream
//! plugins/noderesources/fit.go).

use std::collections::BTreeSet;

use serde::Deserialize;

use crate::framework::{
    ClusterEvent, CycleState, Filter, NodeInfo, Plugin, PodInfo, Score, Status,
};
use crate::plugins::resource_allocation::{
    default_resources, usage, Requests, ResourceSpec, ScoringStrategyType,
};
use crate::resources::{CPU, EPHEMERAL_STORAGE, MEMORY};

/// The plugin's configuration name.
pub const NAME: &str = "NodeResourcesFit";

/// `ScoringStrategy` from `NodeResourcesFitArgs`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScoringStrategy {
    /// The strategy.
    #[serde(rename = "type", default)]
    pub strategy: ScoringStrategyType,
    /// Scored resources and weights.
    #[serde(default = "default_resources")]
    pub resources: Vec<ResourceSpec>,
}

impl Default for ScoringStrategy {
    fn default() -> Self {
        ScoringStrategy {
            strategy: ScoringStrategyType::LeastAllocated,
            resources: default_resources(),
        }
    }
}

/// `NodeResourcesFitArgs` from the scheduler configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeResourcesFitArgs {
    /// Extended resources the filter does not check.
    #[serde(default)]
    pub ignored_resources: Vec<String>,
    /// Extended-resource groups (the part before `/`) the filter does not check.
    #[serde(default)]
    pub ignored_resource_groups: Vec<String>,
    /// How nodes are scored.
    #[serde(default)]
    pub scoring_strategy: ScoringStrategy,
}

/// The NodeResourcesFit plugin.
#[derive(Debug, Default)]
pub struct NodeResourcesFit {
    ignored: BTreeSet<String>,
    ignored_groups: BTreeSet<String>,
    scoring: ScoringStrategy,
}

impl NodeResourcesFit {
    /// The plugin with its arguments.
    pub fn new(args: NodeResourcesFitArgs) -> Self {
        NodeResourcesFit {
            ignored: args.ignored_resources.into_iter().collect(),
            ignored_groups: args.ignored_resource_groups.into_iter().collect(),
            scoring: args.scoring_strategy,
        }
    }

    /// Extended resources live in a domain other than `kubernetes.io`
    /// (upstream `IsExtendedResourceName`); only those may be ignored.
    fn is_ignored(&self, name: &str) -> bool {
        let Some((group, _)) = name.split_once('/') else {
            return false;
        };
        let native = group == "kubernetes.io" || group.ends_with(".kubernetes.io");
        !native && (self.ignored.contains(name) || self.ignored_groups.contains(group))
    }

    /// The reasons the pod does not fit, one per short resource
    /// (upstream `fitsRequest`).
    pub fn insufficient(&self, pod: &PodInfo, node: &NodeInfo) -> Vec<String> {
        let mut reasons = Vec::new();
        let allocatable = node.allocatable();
        let requested = node.requested();
        if node.pods().len() as i64 + 1 > allocatable.allowed_pod_number {
            reasons.push("Too many pods".to_string());
        }
        let want = &pod.request;
        if want.is_zero() {
            return reasons;
        }
        let native = [
            (
                CPU,
                want.milli_cpu,
                allocatable.milli_cpu,
                requested.milli_cpu,
            ),
            (MEMORY, want.memory, allocatable.memory, requested.memory),
            (
                EPHEMERAL_STORAGE,
                want.ephemeral_storage,
                allocatable.ephemeral_storage,
                requested.ephemeral_storage,
            ),
        ];
        for (name, amount, offered, used) in native {
            if amount > 0 && amount > offered.saturating_sub(used) {
                reasons.push(format!("Insufficient {name}"));
            }
        }
        for (name, &amount) in &want.scalar {
            if amount == 0 || self.is_ignored(name) {
                continue;
            }
            if amount > allocatable.get(name).saturating_sub(requested.get(name)) {
                reasons.push(format!("Insufficient {name}"));
            }
        }
        reasons
    }
}

impl Plugin for NodeResourcesFit {
    fn name(&self) -> &'static str {
        NAME
    }
    fn as_filter(&self) -> Option<&dyn Filter> {
        Some(self)
    }
    fn as_score(&self) -> Option<&dyn Score> {
        Some(self)
    }
    fn events_to_register(&self) -> &'static [ClusterEvent] {
        &[
            ClusterEvent::NodeAdded,
            ClusterEvent::NodeAllocatableChanged,
            ClusterEvent::AssignedPodDeleted,
            ClusterEvent::AssignedPodScaledDown,
        ]
    }
}

impl Filter for NodeResourcesFit {
    fn filter(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let reasons = self.insufficient(pod, node);
        if reasons.is_empty() {
            Status::Success
        } else {
            Status::Unschedulable(reasons)
        }
    }
}

impl Score for NodeResourcesFit {
    fn score(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Result<i64, String> {
        let resources = &self.scoring.resources;
        Ok(self
            .scoring
            .strategy
            .score(&usage(node, pod, resources, Requests::NonZero), resources))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{filter_all, node, pod, score_all, snapshot};

    #[test]
    fn filter_reports_each_short_resource() {
        let full = |n: &str| {
            node(n)
                .cpu("2")
                .memory("4Gi")
                .resource("example.com/gpu", "1")
                .resource("pods", "2")
        };
        let existing = pod("e").cpu("1").memory("1Gi").node_name("n").build();
        let cases = [
            (
                "a pod that fits passes",
                pod("p").cpu("1").memory("1Gi").info(),
                Status::Success,
            ),
            (
                "too much cpu",
                pod("p").cpu("1500m").info(),
                Status::unschedulable("Insufficient cpu"),
            ),
            (
                "cpu and memory both short",
                pod("p").cpu("2").memory("4Gi").info(),
                Status::Unschedulable(vec![
                    "Insufficient cpu".into(),
                    "Insufficient memory".into(),
                ]),
            ),
            (
                "extended resources are checked",
                pod("p").resource("example.com/gpu", "2").info(),
                Status::unschedulable("Insufficient example.com/gpu"),
            ),
            (
                "unknown extended resources are short",
                pod("p").resource("example.com/fpga", "1").info(),
                Status::unschedulable("Insufficient example.com/fpga"),
            ),
            (
                "ephemeral storage is checked",
                pod("p").resource("ephemeral-storage", "1Gi").info(),
                Status::unschedulable("Insufficient ephemeral-storage"),
            ),
            ("an empty pod fits", pod("p").info(), Status::Success),
        ];
        for (name, p, want) in cases {
            let s = snapshot(vec![full("n").build()], vec![existing.clone()]);
            assert_eq!(
                filter_all(&NodeResourcesFit::default(), &p, &s),
                vec![want],
                "{name}"
            );
        }
    }

    #[test]
    fn pod_count_is_checked_even_for_empty_pods() {
        let s = snapshot(
            vec![node("n").resource("pods", "1").build()],
            vec![pod("e").node_name("n").build()],
        );
        assert_eq!(
            filter_all(&NodeResourcesFit::default(), &pod("p").info(), &s),
            vec![Status::unschedulable("Too many pods")]
        );
    }

    #[test]
    fn ignored_extended_resources_are_not_checked() {
        let plugin = NodeResourcesFit::new(NodeResourcesFitArgs {
            ignored_resource_groups: vec!["example.com".into()],
            ..Default::default()
        });
        let s = snapshot(vec![node("n").build()], vec![]);
        assert_eq!(
            filter_all(
                &plugin,
                &pod("p").resource("example.com/gpu", "1").info(),
                &s
            ),
            vec![Status::Success]
        );
    }

    #[test]
    fn scoring_strategy_decides_spreading_or_packing() {
        let nodes = vec![
            node("empty").cpu("4").memory("8Gi").build(),
            node("busy").cpu("4").memory("8Gi").build(),
        ];
        let existing = vec![pod("e").cpu("3").memory("6Gi").node_name("busy").build()];
        let p = pod("p").cpu("1").memory("2Gi").info();
        let least = NodeResourcesFit::default();
        assert_eq!(
            score_all(&least, &p, &snapshot(nodes.clone(), existing.clone())),
            vec![75, 0]
        );
        let most = NodeResourcesFit::new(NodeResourcesFitArgs {
            scoring_strategy: ScoringStrategy {
                strategy: ScoringStrategyType::MostAllocated,
                resources: default_resources(),
            },
            ..Default::default()
        });
        assert_eq!(
            score_all(&most, &p, &snapshot(nodes, existing)),
            vec![25, 100]
        );
    }
}
