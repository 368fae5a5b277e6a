//! The extension points, one small trait each (upstream
//! staging/src/k8s.io/kube-scheduler/framework/interface.go).
//!
//! A plugin is one object implementing [`Plugin`] plus the extension-point
//! traits it takes part in; [`Plugin`]'s `as_*` accessors let the framework
//! find those without a trait-object cast per call.

use std::sync::Arc;

use crate::framework::cycle_state::CycleState;
use crate::framework::events::ClusterEvent;
use crate::framework::node_info::NodeInfo;
use crate::framework::pod_info::PodInfo;
use crate::framework::snapshot::Snapshot;
use crate::framework::status::Status;

/// Highest score a Score plugin may give after normalization.
pub const MAX_NODE_SCORE: i64 = 100;

/// A node's score from one plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeScore {
    /// The node's name.
    pub name: Arc<str>,
    /// The score.
    pub score: i64,
}

/// Every plugin: a name and the extension points it implements.
pub trait Plugin: Send + Sync {
    /// The name used in configuration (e.g. `NodeResourcesFit`).
    fn name(&self) -> &'static str;

    /// The PreFilter side of the plugin, if any.
    fn as_pre_filter(&self) -> Option<&dyn PreFilter> {
        None
    }

    /// The Filter side of the plugin, if any.
    fn as_filter(&self) -> Option<&dyn Filter> {
        None
    }

    /// The PreScore side of the plugin, if any.
    fn as_pre_score(&self) -> Option<&dyn PreScore> {
        None
    }

    /// The Score side of the plugin, if any.
    fn as_score(&self) -> Option<&dyn Score> {
        None
    }

    /// Cluster changes that can make a pod this plugin rejected fit again.
    fn events_to_register(&self) -> &'static [ClusterEvent] {
        &[]
    }
}

/// Runs once per pod before filtering, usually to precompute state.
pub trait PreFilter: Send + Sync {
    /// Returns `Skip` when the plugin's Filter has nothing to check for this
    /// pod, or a rejection that applies to every node.
    fn pre_filter(&self, state: &mut CycleState, pod: &PodInfo, snapshot: &Snapshot) -> Status;
}

/// Decides whether a pod can run on one node.
pub trait Filter: Send + Sync {
    /// `Success`, or why the pod cannot run on `node`.
    fn filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status;
}

/// Runs once per pod before scoring, over the nodes that passed filtering.
pub trait PreScore: Send + Sync {
    /// Returns `Skip` when the plugin's Score has nothing to rank.
    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
        feasible: &[Arc<NodeInfo>],
    ) -> Status;
}

/// Ranks feasible nodes.
pub trait Score: Send + Sync {
    /// The node's raw score.
    fn score(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Result<i64, String>;

    /// The normalization step, if the plugin's raw scores need one.
    fn normalizer(&self) -> Option<&dyn NormalizeScore> {
        None
    }
}

/// Maps raw scores of all feasible nodes into `0..=MAX_NODE_SCORE`.
pub trait NormalizeScore: Send + Sync {
    /// Rewrites `scores` in place.
    fn normalize(&self, state: &CycleState, pod: &PodInfo, scores: &mut [NodeScore]) -> Status;
}

/// Scales scores so the highest becomes `MAX_NODE_SCORE` (or, `Reversed`, the
/// highest becomes 0), as upstream's `helper.DefaultNormalizeScore`.
pub fn default_normalize(scores: &mut [NodeScore], order: ScoreOrder) {
    let max = scores.iter().map(|s| s.score).max().unwrap_or(0);
    if max == 0 {
        if order == ScoreOrder::Reversed {
            scores.iter_mut().for_each(|s| s.score = MAX_NODE_SCORE);
        }
        return;
    }
    for s in scores.iter_mut() {
        let scaled = MAX_NODE_SCORE * s.score / max;
        s.score = match order {
            ScoreOrder::Direct => scaled,
            ScoreOrder::Reversed => MAX_NODE_SCORE - scaled,
        };
    }
}

/// Whether a higher raw score is better or worse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScoreOrder {
    /// Higher raw score, higher final score.
    Direct,
    /// Higher raw score (e.g. more intolerable taints), lower final score.
    Reversed,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scores(raw: &[i64]) -> Vec<NodeScore> {
        raw.iter()
            .enumerate()
            .map(|(i, s)| NodeScore {
                name: format!("n{i}").into(),
                score: *s,
            })
            .collect()
    }

    #[test]
    fn default_normalization_scales_to_the_maximum() {
        let cases = [
            (
                "direct",
                ScoreOrder::Direct,
                vec![0, 5, 10],
                vec![0, 50, 100],
            ),
            (
                "reversed",
                ScoreOrder::Reversed,
                vec![0, 5, 10],
                vec![100, 50, 0],
            ),
            (
                "all zero direct stays zero",
                ScoreOrder::Direct,
                vec![0, 0],
                vec![0, 0],
            ),
            (
                "all zero reversed is max",
                ScoreOrder::Reversed,
                vec![0, 0],
                vec![100, 100],
            ),
        ];
        for (name, order, raw, want) in cases {
            let mut s = scores(&raw);
            default_normalize(&mut s, order);
            assert_eq!(
                s.iter().map(|s| s.score).collect::<Vec<_>>(),
                want,
                "{name}"
            );
        }
    }
}
