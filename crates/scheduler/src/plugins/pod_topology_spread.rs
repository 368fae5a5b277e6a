//! PodTopologySpread: keep matching pods evenly spread across topology
//! domains. `DoNotSchedule` constraints filter nodes whose domain would
//! exceed `maxSkew` over the least-loaded domain (with `minDomains`);
//! `ScheduleAnyway` constraints score emptier domains higher (upstream
//! plugins/podtopologyspread).
//!
//! Upstream's system default constraints (used for pods without any) derive
//! their selector from the Services and ReplicaSets owning the pod; this
//! pure library has no such listers, so pods without constraints are not
//! spread by this plugin.

use std::collections::HashSet;
use std::sync::Arc;

use k8s_openapi::api::core::v1::TopologySpreadConstraint;

use crate::framework::{
    ClusterEvent, CycleState, Filter, NodeInfo, NodeScore, NormalizeScore, Plugin, PodInfo,
    PreFilter, PreScore, Score, Snapshot, Status, MAX_NODE_SCORE,
};
use crate::plugins::node_affinity::RequiredNodeAffinity;
use crate::plugins::taint_toleration::{first_untolerated, node_taints, pod_tolerations};
use crate::plugins::topology_counts::TopologyCounts;
use crate::selector::{LabelRelation, Selector};

/// The plugin's configuration name.
pub const NAME: &str = "PodTopologySpread";

/// Upstream's reason when the skew would be too large.
pub const REASON_CONSTRAINTS: &str = "node(s) didn't match pod topology spread constraints";
/// Upstream's reason when the node lacks a constraint's topology key.
pub const REASON_MISSING_LABEL: &str =
    "node(s) didn't match pod topology spread constraints (missing required label)";

const HOSTNAME_KEY: &str = "kubernetes.io/hostname";

/// Whether a node-inclusion policy is applied when counting domains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InclusionPolicy {
    Honor,
    Ignore,
}

impl InclusionPolicy {
    fn parse(value: Option<&str>, default: InclusionPolicy) -> Self {
        match value {
            Some("Honor") => InclusionPolicy::Honor,
            Some("Ignore") => InclusionPolicy::Ignore,
            _ => default,
        }
    }
}

/// Which constraints a phase looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WhenUnsatisfiable {
    DoNotSchedule,
    ScheduleAnyway,
}

impl WhenUnsatisfiable {
    fn as_str(self) -> &'static str {
        match self {
            WhenUnsatisfiable::DoNotSchedule => "DoNotSchedule",
            WhenUnsatisfiable::ScheduleAnyway => "ScheduleAnyway",
        }
    }
}

/// A compiled constraint.
#[derive(Debug, Clone)]
struct Constraint {
    max_skew: i64,
    topology_key: String,
    selector: Selector,
    min_domains: usize,
    node_affinity_policy: InclusionPolicy,
    node_taints_policy: InclusionPolicy,
}

impl Constraint {
    fn compile(c: &TopologySpreadConstraint, pod: &PodInfo) -> Result<Self, String> {
        let mut selector =
            Selector::from_label_selector(c.label_selector.as_ref()).map_err(|e| e.to_string())?;
        // matchLabelKeys: only pods sharing the incoming pod's values count
        // (the apiserver may already have merged them; adding them twice is harmless).
        for key in c.match_label_keys.iter().flatten() {
            if let Some(v) = pod.labels().and_then(|l| l.get(key)) {
                selector = selector.with_label(key, v, LabelRelation::Same);
            }
        }
        Ok(Constraint {
            max_skew: i64::from(c.max_skew),
            topology_key: c.topology_key.clone(),
            selector,
            min_domains: c.min_domains.map_or(1, |m| m.max(1) as usize),
            node_affinity_policy: InclusionPolicy::parse(
                c.node_affinity_policy.as_deref(),
                InclusionPolicy::Honor,
            ),
            node_taints_policy: InclusionPolicy::parse(
                c.node_taints_policy.as_deref(),
                InclusionPolicy::Ignore,
            ),
        })
    }

    /// Whether the node counts as a domain member under the inclusion policies.
    fn includes(&self, pod: &PodInfo, node: &NodeInfo, required: &RequiredNodeAffinity) -> bool {
        if self.node_affinity_policy == InclusionPolicy::Honor && !required.matches(node) {
            return false;
        }
        if self.node_taints_policy == InclusionPolicy::Honor {
            let blocking = |e: &str| e == "NoSchedule" || e == "NoExecute";
            if first_untolerated(node_taints(node), pod_tolerations(pod), blocking).is_some() {
                return false;
            }
        }
        true
    }

    /// Pods on the node this constraint counts: same namespace, matching
    /// the selector, not terminating.
    fn count(&self, node: &NodeInfo, namespace: &str) -> i64 {
        node.pods()
            .iter()
            .filter(|p| {
                !p.is_terminating()
                    && p.namespace() == namespace
                    && self.selector.matches(p.labels())
            })
            .count() as i64
    }
}

fn constraints(pod: &PodInfo, when: WhenUnsatisfiable) -> Result<Vec<Constraint>, String> {
    pod.pod
        .spec
        .iter()
        .flat_map(|s| s.topology_spread_constraints.iter().flatten())
        .filter(|c| c.when_unsatisfiable == when.as_str())
        .map(|c| Constraint::compile(c, pod))
        .collect()
}

fn has_all_keys(node: &NodeInfo, constraints: &[Constraint]) -> bool {
    constraints
        .iter()
        .all(|c| node.label(&c.topology_key).is_some())
}

/// PreFilter state: matching pods per domain, per topology key.
#[derive(Debug)]
struct PreFilterState {
    constraints: Vec<Constraint>,
    /// Matching pods per domain.
    counts: TopologyCounts,
}

impl PreFilterState {
    /// The smallest count among the key's domains, or 0 when there are
    /// fewer domains than `min_domains` (upstream `minMatchNum`).
    fn min_match(&self, key: &str, min_domains: usize) -> i64 {
        let Some(domains) = self.counts.domains(key) else {
            return 0;
        };
        if domains.len() < min_domains {
            return 0;
        }
        domains.values().copied().min().unwrap_or(0)
    }
}

/// PreScore state.
#[derive(Debug)]
struct PreScoreState {
    constraints: Vec<Constraint>,
    ignored: HashSet<String>,
    /// Matching pods for the domains of feasible nodes (hostname domains
    /// are counted per node in Score).
    counts: TopologyCounts,
    /// Per constraint: `ln(number of domains + 2)`, so constraints over
    /// many small domains do not drown out those over few big ones.
    weights: Vec<f64>,
}

/// The PodTopologySpread plugin.
#[derive(Debug, Default)]
pub struct PodTopologySpread;

impl Plugin for PodTopologySpread {
    fn name(&self) -> &'static str {
        NAME
    }
    fn as_pre_filter(&self) -> Option<&dyn PreFilter> {
        Some(self)
    }
    fn as_filter(&self) -> Option<&dyn Filter> {
        Some(self)
    }
    fn as_pre_score(&self) -> Option<&dyn PreScore> {
        Some(self)
    }
    fn as_score(&self) -> Option<&dyn Score> {
        Some(self)
    }
    fn events_to_register(&self) -> &'static [ClusterEvent] {
        &[
            ClusterEvent::NodeAdded,
            ClusterEvent::NodeDeleted,
            ClusterEvent::NodeLabelsChanged,
            ClusterEvent::NodeTaintsChanged,
            ClusterEvent::AssignedPodAdded,
            ClusterEvent::AssignedPodLabelsChanged,
            ClusterEvent::AssignedPodDeleted,
        ]
    }
}

impl PreFilter for PodTopologySpread {
    fn pre_filter(&self, state: &mut CycleState, pod: &PodInfo, snapshot: &Snapshot) -> Status {
        let constraints = match constraints(pod, WhenUnsatisfiable::DoNotSchedule) {
            Ok(c) if c.is_empty() => return Status::Skip,
            Ok(c) => c,
            Err(e) => return Status::Error(e),
        };
        let required = match RequiredNodeAffinity::from_pod(pod) {
            Ok(r) => r,
            Err(e) => return Status::Error(e.to_string()),
        };
        let mut counts = TopologyCounts::default();
        for node in snapshot.nodes() {
            if !has_all_keys(node, &constraints) {
                continue;
            }
            for c in &constraints {
                if !c.includes(pod, node, &required) {
                    continue;
                }
                let Some(value) = node.label(&c.topology_key) else {
                    continue;
                };
                counts.add(&c.topology_key, value, c.count(node, pod.namespace()));
            }
        }
        state.write(PreFilterState {
            constraints,
            counts,
        });
        Status::Success
    }
}

impl Filter for PodTopologySpread {
    fn filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let Some(s) = state.read::<PreFilterState>() else {
            return Status::Success;
        };
        for c in &s.constraints {
            let Some(value) = node.label(&c.topology_key) else {
                return Status::unresolvable(REASON_MISSING_LABEL);
            };
            let self_match = i64::from(c.selector.matches(pod.labels()));
            let matching = s.counts.get(&c.topology_key, value).unwrap_or(0);
            let skew = matching + self_match - s.min_match(&c.topology_key, c.min_domains);
            if skew > c.max_skew {
                return Status::unschedulable(REASON_CONSTRAINTS);
            }
        }
        Status::Success
    }
}

impl PreScore for PodTopologySpread {
    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
        feasible: &[Arc<NodeInfo>],
    ) -> Status {
        let constraints = match constraints(pod, WhenUnsatisfiable::ScheduleAnyway) {
            Ok(c) if c.is_empty() => return Status::Skip,
            Ok(c) => c,
            Err(e) => return Status::Error(e),
        };
        if feasible.is_empty() {
            return Status::Skip;
        }
        let required = match RequiredNodeAffinity::from_pod(pod) {
            Ok(r) => r,
            Err(e) => return Status::Error(e.to_string()),
        };
        let mut ignored = HashSet::new();
        let mut counts = TopologyCounts::default();
        let mut domains = vec![0usize; constraints.len()];
        for node in feasible {
            if !has_all_keys(node, &constraints) {
                ignored.insert(node.name().to_string());
                continue;
            }
            for (i, c) in constraints.iter().enumerate() {
                if c.topology_key == HOSTNAME_KEY {
                    continue;
                }
                let Some(value) = node.label(&c.topology_key) else {
                    continue;
                };
                if counts.get(&c.topology_key, value).is_none() {
                    counts.add(&c.topology_key, value, 0);
                    if let Some(d) = domains.get_mut(i) {
                        *d += 1;
                    }
                }
            }
        }
        // Count matching pods on every node, but only into domains that
        // some feasible node belongs to.
        for node in snapshot.nodes() {
            if !has_all_keys(node, &constraints) {
                continue;
            }
            for c in &constraints {
                if c.topology_key == HOSTNAME_KEY || !c.includes(pod, node, &required) {
                    continue;
                }
                let Some(value) = node.label(&c.topology_key) else {
                    continue;
                };
                if let Some(slot) = counts.get_mut(&c.topology_key, value) {
                    *slot += c.count(node, pod.namespace());
                }
            }
        }
        let weights = constraints
            .iter()
            .zip(&domains)
            .map(|(c, &n)| {
                let size = if c.topology_key == HOSTNAME_KEY {
                    feasible.len() - ignored.len()
                } else {
                    n
                };
                ((size + 2) as f64).ln()
            })
            .collect();
        state.write(PreScoreState {
            constraints,
            ignored,
            counts,
            weights,
        });
        Status::Success
    }
}

impl Score for PodTopologySpread {
    /// More matching pods in the node's domains, higher raw score (inverted
    /// by normalization).
    fn score(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Result<i64, String> {
        let Some(s) = state.read::<PreScoreState>() else {
            return Ok(0);
        };
        if s.ignored.contains(node.name()) {
            return Ok(0);
        }
        let mut score = 0.0;
        for (c, weight) in s.constraints.iter().zip(&s.weights) {
            let Some(value) = node.label(&c.topology_key) else {
                continue;
            };
            let count = if c.topology_key == HOSTNAME_KEY {
                c.count(node, pod.namespace())
            } else {
                s.counts.get(&c.topology_key, value).unwrap_or(0)
            };
            score += count as f64 * weight + (c.max_skew - 1) as f64;
        }
        Ok(score.round() as i64)
    }

    fn normalizer(&self) -> Option<&dyn NormalizeScore> {
        Some(self)
    }
}

impl NormalizeScore for PodTopologySpread {
    /// `100 * (max + min - score) / max` over the scored nodes; ignored nodes
    /// get 0 and, when every count is 0, every node gets 100.
    fn normalize(&self, state: &CycleState, _: &PodInfo, scores: &mut [NodeScore]) -> Status {
        let Some(s) = state.read::<PreScoreState>() else {
            return Status::Success;
        };
        let counted = || {
            scores
                .iter()
                .filter(|n| !s.ignored.contains(n.name.as_ref()))
                .map(|n| n.score)
        };
        let min = counted().min().unwrap_or(0);
        let max = counted().max().unwrap_or(0);
        for n in scores.iter_mut() {
            n.score = if s.ignored.contains(n.name.as_ref()) {
                0
            } else if max == 0 {
                MAX_NODE_SCORE
            } else {
                MAX_NODE_SCORE * (max + min - n.score) / max
            };
        }
        Status::Success
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{filter_all, node, pod, req, score_all, snapshot};

    const ZONE: &str = "topology.kubernetes.io/zone";

    fn zoned() -> Vec<k8s_openapi::api::core::v1::Node> {
        vec![
            node("a1").zone("a").build(),
            node("a2").zone("a").build(),
            node("b1").zone("b").build(),
            node("c1").zone("c").build(),
        ]
    }

    fn web(name: &str, on: &str) -> k8s_openapi::api::core::v1::Pod {
        pod(name).label("app", "web").node_name(on).build()
    }

    #[test]
    fn do_not_schedule_limits_skew() {
        let ok = Status::Success;
        let skew = Status::unschedulable(REASON_CONSTRAINTS);
        let p = |max_skew| {
            pod("p")
                .label("app", "web")
                .spread(max_skew, ZONE, "DoNotSchedule", &[("app", "web")])
        };
        let cases = [
            (
                "empty domains all fit",
                vec![],
                p(1).info(),
                vec![ok.clone(), ok.clone(), ok.clone(), ok.clone()],
            ),
            (
                "a loaded zone is rejected at maxSkew 1",
                vec![web("w1", "a1")],
                p(1).info(),
                vec![skew.clone(), skew.clone(), ok.clone(), ok.clone()],
            ),
            (
                "maxSkew 2 tolerates one extra",
                vec![web("w1", "a1")],
                p(2).info(),
                vec![ok.clone(), ok.clone(), ok.clone(), ok.clone()],
            ),
            (
                "terminating pods do not count",
                vec![pod("w1")
                    .label("app", "web")
                    .node_name("a1")
                    .terminating()
                    .build()],
                p(1).info(),
                vec![ok.clone(), ok.clone(), ok.clone(), ok.clone()],
            ),
            (
                "pods of other namespaces do not count",
                vec![pod("w1")
                    .namespace("x")
                    .label("app", "web")
                    .node_name("a1")
                    .build()],
                p(1).info(),
                vec![ok.clone(), ok.clone(), ok.clone(), ok.clone()],
            ),
            (
                "minDomains above the domain count treats the minimum as 0",
                vec![web("w1", "a1"), web("w2", "b1"), web("w3", "c1")],
                p(1).min_domains(4).info(),
                vec![skew.clone(), skew.clone(), skew.clone(), skew.clone()],
            ),
            (
                "nodes excluded by node affinity do not form domains",
                vec![web("w1", "a1"), web("w2", "b1")],
                p(1).required_node_affinity(vec![vec![req(ZONE, "In", &["a", "b"])]])
                    .info(),
                vec![ok.clone(), ok.clone(), ok.clone(), ok],
            ),
        ];
        for (name, existing, p, want) in cases {
            let got = filter_all(&PodTopologySpread, &p, &snapshot(zoned(), existing));
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn nodes_without_the_topology_key_are_unresolvable() {
        let s = snapshot(vec![node("bare").build()], vec![]);
        let p = pod("p")
            .spread(1, ZONE, "DoNotSchedule", &[("app", "web")])
            .info();
        assert_eq!(
            filter_all(&PodTopologySpread, &p, &s),
            vec![Status::unresolvable(REASON_MISSING_LABEL)]
        );
    }

    #[test]
    fn schedule_anyway_prefers_emptier_domains() {
        let existing = vec![web("w1", "a1"), web("w2", "a2"), web("w3", "b1")];
        let p = pod("p")
            .label("app", "web")
            .spread(1, ZONE, "ScheduleAnyway", &[("app", "web")])
            .info();
        // zone counts a=2, b=1, c=0; weight ln(5); raw = round(count*1.609):
        // a→3, b→2, c→0; normalized 100*(3+0-s)/3.
        assert_eq!(
            score_all(&PodTopologySpread, &p, &snapshot(zoned(), existing)),
            vec![0, 0, 33, 100]
        );
    }

    #[test]
    fn schedule_anyway_on_hostname_counts_per_node() {
        let existing = vec![web("w1", "a1"), web("w2", "a1")];
        let p = pod("p")
            .label("app", "web")
            .spread(1, HOSTNAME_KEY, "ScheduleAnyway", &[("app", "web")])
            .info();
        // 4 domains: weight ln(6) ≈ 1.79; a1 raw round(3.58) = 4, others 0.
        assert_eq!(
            score_all(&PodTopologySpread, &p, &snapshot(zoned(), existing)),
            vec![0, 100, 100, 100]
        );
    }
}
