//! NodeResourcesBalancedAllocation: prefer nodes whose resource usage stays
//! balanced across resources once the pod is placed: the score is
//! `(1 - standard deviation of the usage fractions) * 100` (upstream
//! plugins/noderesources/balanced_allocation.go).

use std::sync::Arc;

use serde::Deserialize;

use crate::framework::{
    ClusterEvent, CycleState, NodeInfo, Plugin, PodInfo, PreScore, Score, Snapshot, Status,
    MAX_NODE_SCORE,
};
use crate::plugins::resource_allocation::{default_resources, usage, Requests, ResourceSpec};

/// The plugin's configuration name.
pub const NAME: &str = "NodeResourcesBalancedAllocation";

/// `NodeResourcesBalancedAllocationArgs` from the scheduler configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BalancedAllocationArgs {
    /// Resources to balance.
    #[serde(default = "default_resources")]
    pub resources: Vec<ResourceSpec>,
}

impl Default for BalancedAllocationArgs {
    fn default() -> Self {
        BalancedAllocationArgs {
            resources: default_resources(),
        }
    }
}

/// The NodeResourcesBalancedAllocation plugin.
#[derive(Debug, Default)]
pub struct BalancedAllocation {
    args: BalancedAllocationArgs,
}

impl BalancedAllocation {
    /// The plugin with its arguments.
    pub fn new(args: BalancedAllocationArgs) -> Self {
        BalancedAllocation { args }
    }
}

impl Plugin for BalancedAllocation {
    fn name(&self) -> &'static str {
        NAME
    }
    fn as_pre_score(&self) -> Option<&dyn PreScore> {
        Some(self)
    }
    fn as_score(&self) -> Option<&dyn Score> {
        Some(self)
    }
    fn events_to_register(&self) -> &'static [ClusterEvent] {
        &[]
    }
}

impl PreScore for BalancedAllocation {
    /// A pod that requests none of the balanced resources cannot change the
    /// balance; upstream skips scoring it.
    fn pre_score(
        &self,
        _: &mut CycleState,
        pod: &PodInfo,
        _: &Snapshot,
        _: &[Arc<NodeInfo>],
    ) -> Status {
        if self
            .args
            .resources
            .iter()
            .all(|r| pod.request.get(&r.name) == 0)
        {
            Status::Skip
        } else {
            Status::Success
        }
    }
}

impl Score for BalancedAllocation {
    fn score(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Result<i64, String> {
        let fractions: Vec<f64> = usage(node, pod, &self.args.resources, Requests::Actual)
            .into_iter()
            .flatten()
            .map(|u| (u.requested as f64 / u.allocatable as f64).min(1.0))
            .collect();
        let std = match fractions.as_slice() {
            [] | [_] => 0.0,
            [a, b] => ((a - b) / 2.0).abs(),
            many => {
                let n = many.len() as f64;
                let mean = many.iter().sum::<f64>() / n;
                (many.iter().map(|f| (f - mean) * (f - mean)).sum::<f64>() / n).sqrt()
            }
        };
        Ok(((1.0 - std) * MAX_NODE_SCORE as f64) as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{node, pod, score_all, snapshot};

    #[test]
    fn balanced_nodes_score_higher() {
        let nodes = vec![
            node("balanced").cpu("4").memory("4Gi").build(),
            node("skewed").cpu("4").memory("4Gi").build(),
        ];
        let existing = vec![pod("e").cpu("2").node_name("skewed").build()];
        let p = pod("p").cpu("1").memory("1Gi").info();
        // balanced: 1/4 cpu, 1/4 memory → 100; skewed: 3/4 cpu, 1/4 memory → std 0.25 → 75.
        assert_eq!(
            score_all(
                &BalancedAllocation::default(),
                &p,
                &snapshot(nodes, existing)
            ),
            vec![100, 75]
        );
    }

    #[test]
    fn pods_without_requests_are_skipped() {
        let s = snapshot(vec![node("n").cpu("4").memory("4Gi").build()], vec![]);
        assert_eq!(
            score_all(&BalancedAllocation::default(), &pod("p").info(), &s),
            vec![0]
        );
    }
}
