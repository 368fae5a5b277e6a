//! InterPodAffinity: required pod affinity and anti-affinity filter nodes by
//! the pods already in each topology domain (and existing pods' anti-affinity
//! keeps the incoming pod away); preferred terms, in both directions, score
//! them (upstream plugins/interpodaffinity).

use std::sync::Arc;

use serde::Deserialize;

use crate::framework::{
    AffinityTerm, ClusterEvent, CycleState, Filter, NodeInfo, NodeScore, NormalizeScore, Plugin,
    PodInfo, PreFilter, PreScore, Score, Snapshot, Status, WeightedAffinityTerm, MAX_NODE_SCORE,
};
use crate::plugins::topology_counts::TopologyCounts;
use crate::selector::{Labels, Selector};

/// The plugin's configuration name.
pub const NAME: &str = "InterPodAffinity";

/// Upstream's reason when the pod's required affinity is not met.
pub const REASON_AFFINITY: &str = "node(s) didn't match pod affinity rules";
/// Upstream's reason when the pod's required anti-affinity is not met.
pub const REASON_ANTI_AFFINITY: &str = "node(s) didn't match pod anti-affinity rules";
/// Upstream's reason when an existing pod's anti-affinity rejects the pod.
pub const REASON_EXISTING_ANTI_AFFINITY: &str =
    "node(s) didn't satisfy existing pods anti-affinity rules";

/// `InterPodAffinityArgs` from the scheduler configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InterPodAffinityArgs {
    /// Score weight of an existing pod's required affinity that the incoming
    /// pod matches (0 disables it).
    #[serde(default = "default_hard_weight")]
    pub hard_pod_affinity_weight: i64,
    /// Skip existing pods' preferred terms when the incoming pod has none.
    #[serde(default)]
    pub ignore_preferred_terms_of_existing_pods: bool,
}

fn default_hard_weight() -> i64 {
    1
}

impl Default for InterPodAffinityArgs {
    fn default() -> Self {
        InterPodAffinityArgs {
            hard_pod_affinity_weight: default_hard_weight(),
            ignore_preferred_terms_of_existing_pods: false,
        }
    }
}

/// Matching-pod counts per topology domain, fed from nodes' labels.
#[derive(Debug, Default)]
struct Counts(TopologyCounts);

impl Counts {
    fn add(&mut self, node: &NodeInfo, key: &str, value: i64) {
        if let Some(v) = node.label(key) {
            self.0.add(key, v, value);
        }
    }

    fn get(&self, key: &str, value: &str) -> i64 {
        self.0.get(key, value).unwrap_or(0)
    }

    fn is_empty(&self) -> bool {
        self.0.all_zero()
    }

    /// True when any of the node's domains has a positive count.
    fn any_on(&self, node: &NodeInfo) -> bool {
        self.0.iter().any(|(key, values)| {
            node.label(key)
                .and_then(|v| values.get(v))
                .is_some_and(|c| *c > 0)
        })
    }
}

/// PreFilter state.
#[derive(Debug, Default)]
struct PreFilterState {
    /// Domains holding an existing pod whose required anti-affinity matches the incoming pod.
    existing_anti_affinity: Counts,
    /// Domains holding pods matching all of the incoming pod's affinity terms.
    affinity: Counts,
    /// Domains holding pods matching the incoming pod's anti-affinity terms.
    anti_affinity: Counts,
    /// Whether the incoming pod matches all its own affinity terms.
    matches_own_affinity: bool,
}

/// PreScore state: score per topology domain.
#[derive(Debug, Default)]
struct PreScoreState(TopologyCounts);

impl PreScoreState {
    fn add(&mut self, term: &AffinityTerm, node: &NodeInfo, weight: i64) {
        if let Some(v) = node.label(&term.topology_key) {
            self.0.add(&term.topology_key, v, weight);
        }
    }
}

/// The InterPodAffinity plugin.
#[derive(Debug, Default)]
pub struct InterPodAffinity {
    args: InterPodAffinityArgs,
}

impl InterPodAffinity {
    /// The plugin with its arguments.
    pub fn new(args: InterPodAffinityArgs) -> Self {
        InterPodAffinity { args }
    }
}

fn matches_all(terms: &[AffinityTerm], pod: &PodInfo, ns_labels: Option<&Labels>) -> bool {
    !terms.is_empty() && terms.iter().all(|t| t.matches(&pod.pod, ns_labels))
}

impl Plugin for InterPodAffinity {
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
            ClusterEvent::NodeLabelsChanged,
            ClusterEvent::AssignedPodAdded,
            ClusterEvent::AssignedPodLabelsChanged,
            ClusterEvent::AssignedPodDeleted,
        ]
    }
}

impl PreFilter for InterPodAffinity {
    fn pre_filter(&self, state: &mut CycleState, pod: &PodInfo, snapshot: &Snapshot) -> Status {
        if let Some(e) = &pod.parse_error {
            return Status::Error(format!("parsing pod affinity: {e}"));
        }
        let has_own_terms =
            !(pod.required_affinity.is_empty() && pod.required_anti_affinity.is_empty());
        let mut existing = snapshot.nodes_with_required_anti_affinity_pods().peekable();
        if !has_own_terms && existing.peek().is_none() {
            return Status::Skip;
        }
        let own_ns_labels = snapshot.namespace_labels(pod.namespace());
        // Other pods' namespace labels matter only to terms with a
        // namespace selector; skip the lookup otherwise.
        let needs_ns_labels = pod
            .required_affinity
            .iter()
            .chain(&pod.required_anti_affinity)
            .any(|t| t.namespace_selector != Selector::nothing());
        let mut s = PreFilterState::default();
        let count_existing_anti = |s: &mut PreFilterState, node: &NodeInfo, other: &PodInfo| {
            for term in &other.required_anti_affinity {
                if term.matches(&pod.pod, own_ns_labels) {
                    s.existing_anti_affinity.add(node, &term.topology_key, 1);
                }
            }
        };
        if !has_own_terms {
            for node in existing {
                for other in node.pods() {
                    count_existing_anti(&mut s, node, other);
                }
            }
        } else {
            // One pass over every pod serves both directions.
            for node in snapshot.nodes() {
                for other in node.pods() {
                    count_existing_anti(&mut s, node, other);
                    let ns_labels = if needs_ns_labels {
                        snapshot.namespace_labels(other.namespace())
                    } else {
                        None
                    };
                    if matches_all(&pod.required_affinity, other, ns_labels) {
                        for term in &pod.required_affinity {
                            s.affinity.add(node, &term.topology_key, 1);
                        }
                    }
                    for term in &pod.required_anti_affinity {
                        if term.matches(&other.pod, ns_labels) {
                            s.anti_affinity.add(node, &term.topology_key, 1);
                        }
                    }
                }
            }
        }
        s.matches_own_affinity = matches_all(&pod.required_affinity, pod, own_ns_labels);
        state.write(s);
        Status::Success
    }
}

impl Filter for InterPodAffinity {
    fn filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let Some(s) = state.read::<PreFilterState>() else {
            return Status::Error("InterPodAffinity PreFilter state missing".into());
        };
        // Every affinity term's topology key must exist on the node and its
        // domain must hold a matching pod, unless no pod anywhere matches and
        // the pod matches its own terms (the first of a group that attracts
        // itself must be able to land somewhere).
        let mut all_domains_have_pods = true;
        for term in &pod.required_affinity {
            match node.label(&term.topology_key) {
                None => return Status::unresolvable(REASON_AFFINITY),
                Some(v) => all_domains_have_pods &= s.affinity.get(&term.topology_key, v) > 0,
            }
        }
        let first_of_group = s.affinity.is_empty() && s.matches_own_affinity;
        if !(all_domains_have_pods || first_of_group) {
            return Status::unresolvable(REASON_AFFINITY);
        }
        let anti_blocked = pod.required_anti_affinity.iter().any(|term| {
            node.label(&term.topology_key)
                .is_some_and(|v| s.anti_affinity.get(&term.topology_key, v) > 0)
        });
        if anti_blocked {
            return Status::unschedulable(REASON_ANTI_AFFINITY);
        }
        if s.existing_anti_affinity.any_on(node) {
            return Status::unschedulable(REASON_EXISTING_ANTI_AFFINITY);
        }
        Status::Success
    }
}

impl InterPodAffinity {
    /// Adds what one existing pod contributes to the domain of its node
    /// (upstream `processExistingPod`).
    fn process_existing(
        &self,
        s: &mut PreScoreState,
        pod: &PodInfo,
        pod_ns_labels: Option<&Labels>,
        other: &PodInfo,
        other_ns_labels: Option<&Labels>,
        node: &NodeInfo,
    ) {
        let mut apply =
            |terms: &[WeightedAffinityTerm], target: &PodInfo, ns: Option<&Labels>, sign: i64| {
                for t in terms {
                    if t.term.matches(&target.pod, ns) {
                        s.add(&t.term, node, sign * t.weight);
                    }
                }
            };
        apply(&pod.preferred_affinity, other, other_ns_labels, 1);
        apply(&pod.preferred_anti_affinity, other, other_ns_labels, -1);
        apply(&other.preferred_affinity, pod, pod_ns_labels, 1);
        apply(&other.preferred_anti_affinity, pod, pod_ns_labels, -1);
        if self.args.hard_pod_affinity_weight > 0 {
            for term in &other.required_affinity {
                if term.matches(&pod.pod, pod_ns_labels) {
                    s.add(term, node, self.args.hard_pod_affinity_weight);
                }
            }
        }
    }
}

impl PreScore for InterPodAffinity {
    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
        _: &[Arc<NodeInfo>],
    ) -> Status {
        let has_preferences =
            !(pod.preferred_affinity.is_empty() && pod.preferred_anti_affinity.is_empty());
        if self.args.ignore_preferred_terms_of_existing_pods && !has_preferences {
            return Status::Skip;
        }
        let pod_ns_labels = snapshot.namespace_labels(pod.namespace());
        let mut s = PreScoreState::default();
        // Unless the incoming pod has preferences, only pods with affinity
        // terms of their own can contribute.
        let nodes: Box<dyn Iterator<Item = &Arc<NodeInfo>>> = if has_preferences {
            Box::new(snapshot.nodes().iter())
        } else {
            Box::new(snapshot.nodes_with_affinity_pods())
        };
        for node in nodes {
            if node.labels().is_none_or(|l| l.is_empty()) {
                continue;
            }
            for other in node.pods() {
                // Without preferences of its own, the incoming pod is only
                // scored by other pods' preferred terms and required affinity;
                // required anti-affinity alone never adds to a score.
                let scores_others = !(other.preferred_affinity.is_empty()
                    && other.preferred_anti_affinity.is_empty()
                    && (other.required_affinity.is_empty()
                        || self.args.hard_pod_affinity_weight <= 0));
                if !has_preferences && !scores_others {
                    continue;
                }
                let other_ns_labels = snapshot.namespace_labels(other.namespace());
                self.process_existing(&mut s, pod, pod_ns_labels, other, other_ns_labels, node);
            }
        }
        if s.0.iter().next().is_none() {
            return Status::Skip;
        }
        state.write(s);
        Status::Success
    }
}

impl Score for InterPodAffinity {
    fn score(&self, state: &CycleState, _: &PodInfo, node: &NodeInfo) -> Result<i64, String> {
        let Some(s) = state.read::<PreScoreState>() else {
            return Ok(0);
        };
        Ok(s.0
            .iter()
            .filter_map(|(key, values)| node.label(key).and_then(|v| values.get(v)))
            .sum())
    }

    fn normalizer(&self) -> Option<&dyn NormalizeScore> {
        Some(self)
    }
}

impl NormalizeScore for InterPodAffinity {
    /// Min-max scaling: negative raw scores (anti-affinity) are allowed.
    fn normalize(&self, state: &CycleState, _: &PodInfo, scores: &mut [NodeScore]) -> Status {
        if state.read::<PreScoreState>().is_none() {
            return Status::Success;
        }
        let min = scores.iter().map(|s| s.score).min().unwrap_or(0);
        let max = scores.iter().map(|s| s.score).max().unwrap_or(0);
        let span = max - min;
        for s in scores.iter_mut() {
            s.score = if span > 0 {
                (MAX_NODE_SCORE as f64 * ((s.score - min) as f64 / span as f64)) as i64
            } else {
                0
            };
        }
        Status::Success
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{filter_all, node, pod, score_all, snapshot, term};
    use std::collections::HashMap;

    const HOST: &str = "kubernetes.io/hostname";
    const ZONE: &str = "topology.kubernetes.io/zone";

    fn nodes() -> Vec<k8s_openapi::api::core::v1::Node> {
        vec![
            node("a").zone("z1").build(),
            node("b").zone("z1").build(),
            node("c").zone("z2").build(),
        ]
    }

    #[test]
    fn required_affinity_and_anti_affinity_filter_by_domain() {
        let ok = Status::Success;
        let aff = Status::unresolvable(REASON_AFFINITY);
        let anti = Status::unschedulable(REASON_ANTI_AFFINITY);
        let existing_anti = Status::unschedulable(REASON_EXISTING_ANTI_AFFINITY);
        let web_on_a = pod("web").label("app", "web").node_name("a").build();
        let cases = [
            (
                "affinity to a zone holding a match",
                vec![web_on_a.clone()],
                pod("p").pod_affinity(term(&[("app", "web")], ZONE)).info(),
                vec![ok.clone(), ok.clone(), aff.clone()],
            ),
            (
                "affinity with no match anywhere rejects every node",
                vec![],
                pod("p").pod_affinity(term(&[("app", "web")], ZONE)).info(),
                vec![aff.clone(), aff.clone(), aff.clone()],
            ),
            (
                "the first pod of a self-attracting group may land anywhere",
                vec![],
                pod("p")
                    .label("app", "web")
                    .pod_affinity(term(&[("app", "web")], ZONE))
                    .info(),
                vec![ok.clone(), ok.clone(), ok.clone()],
            ),
            (
                "affinity needs the topology key on the node",
                vec![web_on_a.clone()],
                pod("p")
                    .pod_affinity(term(&[("app", "web")], "rack"))
                    .info(),
                vec![aff.clone(), aff.clone(), aff],
            ),
            (
                "anti-affinity on hostname avoids only that node",
                vec![web_on_a.clone()],
                pod("p")
                    .pod_anti_affinity(term(&[("app", "web")], HOST))
                    .info(),
                vec![anti.clone(), ok.clone(), ok.clone()],
            ),
            (
                "anti-affinity on zone avoids the whole zone",
                vec![web_on_a.clone()],
                pod("p")
                    .pod_anti_affinity(term(&[("app", "web")], ZONE))
                    .info(),
                vec![anti.clone(), anti, ok.clone()],
            ),
            (
                "an existing pod's anti-affinity keeps matching pods away",
                vec![pod("e")
                    .node_name("c")
                    .pod_anti_affinity(term(&[("app", "db")], ZONE))
                    .build()],
                pod("p").label("app", "db").info(),
                vec![ok.clone(), ok.clone(), existing_anti],
            ),
            (
                "terms only look at their namespaces",
                vec![pod("web")
                    .namespace("other")
                    .label("app", "web")
                    .node_name("a")
                    .build()],
                pod("p")
                    .pod_anti_affinity(term(&[("app", "web")], HOST))
                    .info(),
                vec![ok.clone(), ok.clone(), ok],
            ),
        ];
        for (name, existing, p, want) in cases {
            let got = filter_all(
                &InterPodAffinity::default(),
                &p,
                &snapshot(nodes(), existing),
            );
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn namespace_selectors_use_namespace_labels() {
        let mut t = term(&[("app", "web")], HOST);
        t.namespace_selector = Some(crate::testing::selector(&[("team", "blue")]));
        let s = snapshot(
            nodes(),
            vec![pod("web")
                .namespace("blue-ns")
                .label("app", "web")
                .node_name("b")
                .build()],
        )
        .with_namespace_labels(HashMap::from([(
            "blue-ns".to_string(),
            Labels::from([("team".to_string(), "blue".to_string())]),
        )]));
        let got = filter_all(
            &InterPodAffinity::default(),
            &pod("p").pod_anti_affinity(t).info(),
            &s,
        );
        assert_eq!(
            got,
            vec![
                Status::Success,
                Status::unschedulable(REASON_ANTI_AFFINITY),
                Status::Success
            ]
        );
    }

    #[test]
    fn preferred_terms_score_in_both_directions() {
        let existing = vec![
            pod("web").label("app", "web").node_name("a").build(),
            pod("cache").label("app", "cache").node_name("c").build(),
        ];
        let cases = [
            (
                "preferred affinity favours the matching zone",
                pod("p")
                    .preferred_pod_affinity(10, term(&[("app", "web")], ZONE))
                    .info(),
                vec![100, 100, 0],
            ),
            (
                "preferred anti-affinity disfavours the matching zone",
                pod("p")
                    .preferred_pod_anti_affinity(10, term(&[("app", "cache")], ZONE))
                    .info(),
                vec![100, 100, 0],
            ),
            (
                "affinity and anti-affinity combine",
                pod("p")
                    .preferred_pod_affinity(10, term(&[("app", "web")], HOST))
                    .preferred_pod_anti_affinity(10, term(&[("app", "cache")], HOST))
                    .info(),
                vec![100, 50, 0],
            ),
            ("no preferences, no scores", pod("p").info(), vec![0, 0, 0]),
        ];
        for (name, p, want) in cases {
            let got = score_all(
                &InterPodAffinity::default(),
                &p,
                &snapshot(nodes(), existing.clone()),
            );
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn existing_pods_preferences_attract_the_incoming_pod() {
        let existing = vec![pod("e")
            .node_name("c")
            .preferred_pod_affinity(5, term(&[("app", "db")], ZONE))
            .build()];
        let got = score_all(
            &InterPodAffinity::default(),
            &pod("p").label("app", "db").info(),
            &snapshot(nodes(), existing),
        );
        assert_eq!(got, vec![0, 0, 100]);
    }
}
