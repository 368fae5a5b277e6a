//! The shared machinery of resource-based scoring (upstream
//! plugins/noderesources/resource_allocation.go): for each configured resource,
//! what the node would have requested with the pod and what it can allocate,
//! then a strategy turning those into a 0–100 score.

use serde::Deserialize;

use crate::framework::{NodeInfo, PodInfo, MAX_NODE_SCORE};
use crate::resources::{CPU, MEMORY};

/// A resource and its weight in a score.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ResourceSpec {
    /// The resource name (`cpu`, `memory`, an extended resource…).
    pub name: String,
    /// Its weight; upstream defaults a missing weight to 1.
    #[serde(default = "default_weight")]
    pub weight: i64,
}

fn default_weight() -> i64 {
    1
}

/// Upstream's default scored resources: CPU and memory, weight 1 each.
pub fn default_resources() -> Vec<ResourceSpec> {
    [CPU, MEMORY]
        .into_iter()
        .map(|name| ResourceSpec {
            name: name.to_string(),
            weight: 1,
        })
        .collect()
}

/// Which requests a scorer counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requests {
    /// The pods' actual requests (BalancedAllocation).
    Actual,
    /// Requests with CPU/memory defaults for containers without any
    /// (LeastAllocated / MostAllocated), so best-effort pods still spread.
    NonZero,
}

/// Requested (including `pod`) and allocatable amounts of one resource on a
/// node; `None` when the node offers none of it (upstream skips those).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// Already requested on the node plus the pod's request.
    pub requested: i64,
    /// The node's allocatable amount.
    pub allocatable: i64,
}

/// The usage of each resource in `resources`, in order.
pub fn usage(
    node: &NodeInfo,
    pod: &PodInfo,
    resources: &[ResourceSpec],
    requests: Requests,
) -> Vec<Option<Usage>> {
    let (node_requested, pod_request) = match requests {
        Requests::Actual => (node.requested(), &pod.request),
        Requests::NonZero => (node.non_zero_requested(), &pod.non_zero_request),
    };
    resources
        .iter()
        .map(|r| {
            let allocatable = node.allocatable().get(&r.name);
            (allocatable != 0).then(|| Usage {
                requested: node_requested
                    .get(&r.name)
                    .saturating_add(pod_request.get(&r.name)),
                allocatable,
            })
        })
        .collect()
}

/// How NodeResourcesFit turns usage into a score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum ScoringStrategyType {
    /// Prefer emptier nodes (spreading). Upstream's default.
    #[default]
    LeastAllocated,
    /// Prefer fuller nodes (bin packing).
    MostAllocated,
}

impl ScoringStrategyType {
    /// The weighted average over resources the node offers.
    pub fn score(self, usage: &[Option<Usage>], resources: &[ResourceSpec]) -> i64 {
        let mut total = 0i64;
        let mut weights = 0i64;
        for (u, spec) in usage.iter().zip(resources) {
            let Some(u) = u else { continue };
            let per_resource = match self {
                ScoringStrategyType::LeastAllocated => least_allocated(*u),
                ScoringStrategyType::MostAllocated => most_allocated(*u),
            };
            total = total.saturating_add(per_resource.saturating_mul(spec.weight));
            weights = weights.saturating_add(spec.weight);
        }
        if weights == 0 {
            0
        } else {
            total / weights
        }
    }
}

/// `(allocatable - requested) / allocatable`, 0 when over-committed.
fn least_allocated(u: Usage) -> i64 {
    if u.requested > u.allocatable {
        return 0;
    }
    scale(u.allocatable - u.requested, u.allocatable)
}

/// `requested / allocatable`, capped at full.
fn most_allocated(u: Usage) -> i64 {
    scale(u.requested.min(u.allocatable), u.allocatable)
}

/// `MAX_NODE_SCORE * part / whole` without overflowing on big byte counts.
fn scale(part: i64, whole: i64) -> i64 {
    if whole <= 0 {
        return 0;
    }
    i64::try_from(i128::from(part) * i128::from(MAX_NODE_SCORE) / i128::from(whole)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(requested: i64, allocatable: i64) -> Option<Usage> {
        Some(Usage {
            requested,
            allocatable,
        })
    }

    #[test]
    fn strategies_score_as_upstream() {
        let res = default_resources();
        let cases = [
            (
                "least: empty node",
                ScoringStrategyType::LeastAllocated,
                vec![u(0, 4000), u(0, 8)],
                100,
            ),
            (
                "least: half and quarter",
                ScoringStrategyType::LeastAllocated,
                vec![u(2000, 4000), u(2, 8)],
                62,
            ),
            (
                "least: over-committed is zero",
                ScoringStrategyType::LeastAllocated,
                vec![u(5000, 4000), u(8, 8)],
                0,
            ),
            (
                "most: half and quarter",
                ScoringStrategyType::MostAllocated,
                vec![u(2000, 4000), u(2, 8)],
                37,
            ),
            (
                "most: over-committed is capped",
                ScoringStrategyType::MostAllocated,
                vec![u(5000, 4000), u(8, 8)],
                100,
            ),
            (
                "missing resources are skipped",
                ScoringStrategyType::LeastAllocated,
                vec![u(1000, 4000), None],
                75,
            ),
            (
                "nothing offered scores zero",
                ScoringStrategyType::LeastAllocated,
                vec![None, None],
                0,
            ),
        ];
        for (name, strategy, usage, want) in cases {
            assert_eq!(strategy.score(&usage, &res), want, "{name}");
        }
    }
}
