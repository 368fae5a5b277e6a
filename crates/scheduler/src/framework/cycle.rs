//! One scheduling cycle: PreFilter, Filter over the nodes, PreScore, Score,
//! NormalizeScore, weights, and the pick of a host (upstream
//! pkg/scheduler/schedule_one.go: `schedulePod`, `findNodesThatFitPod`,
//! `prioritizeNodes`, `selectHost`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::framework::cycle_state::CycleState;
use crate::framework::interface::{NodeScore, MAX_NODE_SCORE};
use crate::framework::node_info::NodeInfo;
use crate::framework::pod_info::PodInfo;
use crate::framework::profile::Profile;
use crate::framework::snapshot::Snapshot;
use crate::framework::status::Status;

/// Upstream never looks for fewer feasible nodes than this
/// (`minFeasibleNodesToFind`).
const MIN_FEASIBLE_NODES_TO_FIND: usize = 100;
/// Nor for less than this percentage of nodes (`minFeasibleNodesPercentageToFind`).
const MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND: usize = 5;

/// How to choose among nodes with the same best score.
#[derive(Debug)]
pub enum TieBreak {
    /// The node that comes first by name: reproducible decisions.
    FirstByName,
    /// Uniformly at random by reservoir sampling, as upstream's `selectHost`.
    Random(Box<StdRng>),
}

impl TieBreak {
    /// Random tie-breaking seeded from `seed`.
    pub fn seeded(seed: u64) -> Self {
        TieBreak::Random(Box::new(StdRng::seed_from_u64(seed)))
    }
}

/// Where a pod should go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleResult {
    /// The chosen node.
    pub suggested_host: String,
    /// Nodes run through Filter.
    pub evaluated_nodes: usize,
    /// Nodes that passed Filter.
    pub feasible_nodes: usize,
}

/// Why a cycle found no node, with the per-node reasons.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnosis {
    /// The status of each rejected node.
    pub node_to_status: BTreeMap<String, Status>,
    /// Plugins that rejected the pod somewhere.
    pub unschedulable_plugins: BTreeSet<&'static str>,
    /// A PreFilter plugin's rejection, which applies to all nodes.
    pub pre_filter_msg: Option<String>,
    /// What PostFilter (preemption) concluded, appended to the message.
    pub post_filter_msg: Option<String>,
}

/// No node fits the pod (upstream `framework.FitError`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FitError {
    /// Number of nodes in the snapshot.
    pub num_all_nodes: usize,
    /// The per-node reasons.
    pub diagnosis: Diagnosis,
}

impl std::fmt::Display for FitError {
    /// Upstream's FailedScheduling message: "0/N nodes are available:" then
    /// either the PreFilter message or the sorted "count reason" histogram,
    /// then the PostFilter message, each ending with a period.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "0/{} nodes are available:", self.num_all_nodes)?;
        if let Some(msg) = &self.diagnosis.pre_filter_msg {
            write!(f, " {msg}.")?;
        } else {
            let mut histogram: BTreeMap<&str, usize> = BTreeMap::new();
            for status in self.diagnosis.node_to_status.values() {
                for reason in status.reasons() {
                    *histogram.entry(reason).or_insert(0) += 1;
                }
            }
            let mut lines: Vec<String> = histogram
                .into_iter()
                .map(|(reason, count)| format!("{count} {reason}"))
                .collect();
            lines.sort();
            if !lines.is_empty() {
                write!(f, " {}.", lines.join(", "))?;
            }
        }
        if let Some(msg) = &self.diagnosis.post_filter_msg {
            write!(f, " {msg}.")?;
        }
        Ok(())
    }
}

/// Why a cycle did not produce a host.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// The snapshot has no nodes at all.
    #[error("no nodes available to schedule pods")]
    NoNodesAvailable,
    /// No node fits.
    #[error("{0}")]
    Unschedulable(FitError),
    /// A plugin failed for a reason other than the pod's fit.
    #[error("running {plugin}: {message}")]
    Plugin {
        /// The failing plugin.
        plugin: &'static str,
        /// Its message.
        message: String,
    },
}

/// What PreFilter concluded.
enum PreFilterOutcome {
    /// Go on filtering, skipping these plugins' Filter.
    Passed(BTreeSet<&'static str>),
    /// A plugin rejected the pod for every node.
    Rejected(&'static str, Status),
}

/// Runs scheduling cycles for one profile, remembering where the last
/// partial node search stopped so successive pods start elsewhere.
#[derive(Debug)]
pub struct Algorithm {
    profile: Profile,
    tie_break: TieBreak,
    next_start_node_index: usize,
    /// The global `percentageOfNodesToScore` when the profile sets none.
    default_percentage: u32,
}

impl Algorithm {
    /// Runs `profile`, breaking ties as `tie_break` says.
    pub fn new(profile: Profile, tie_break: TieBreak) -> Self {
        Algorithm {
            profile,
            tie_break,
            next_start_node_index: 0,
            default_percentage: 0,
        }
    }

    /// Sets the configuration-wide `percentageOfNodesToScore`.
    pub fn with_default_percentage(mut self, percentage: u32) -> Self {
        self.default_percentage = percentage;
        self
    }

    /// The profile being run.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// How many feasible nodes to look for before stopping
    /// (upstream `numFeasibleNodesToFind`).
    pub fn num_feasible_nodes_to_find(&self, num_all_nodes: usize) -> usize {
        if num_all_nodes < MIN_FEASIBLE_NODES_TO_FIND {
            return num_all_nodes;
        }
        let configured = self
            .profile
            .percentage_of_nodes_to_score()
            .unwrap_or(self.default_percentage) as usize;
        let percentage = if configured == 0 {
            50usize
                .saturating_sub(num_all_nodes / 125)
                .max(MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND)
        } else {
            configured.min(100)
        };
        (num_all_nodes * percentage / 100).max(MIN_FEASIBLE_NODES_TO_FIND)
    }

    /// Finds a node for `pod` in `snapshot`.
    pub fn schedule(
        &mut self,
        pod: &PodInfo,
        snapshot: &Snapshot,
    ) -> Result<ScheduleResult, ScheduleError> {
        let nodes = snapshot.nodes();
        if nodes.is_empty() {
            return Err(ScheduleError::NoNodesAvailable);
        }
        let mut state = CycleState::new();
        let mut diagnosis = Diagnosis::default();
        let skip_filter = match self.run_pre_filter(&mut state, pod, snapshot)? {
            PreFilterOutcome::Passed(skip) => skip,
            PreFilterOutcome::Rejected(plugin, status) => {
                // The rejection stands for every node, with its own code so
                // preemption knows whether evicting could help.
                diagnosis.unschedulable_plugins.insert(plugin);
                diagnosis.pre_filter_msg = Some(status.reasons().join(", "));
                for n in nodes {
                    diagnosis
                        .node_to_status
                        .insert(n.name().to_string(), status.clone());
                }
                return Err(self.fit_error(nodes.len(), diagnosis));
            }
        };
        let (feasible, evaluated) =
            self.find_feasible(&state, pod, nodes, &skip_filter, &mut diagnosis)?;
        if feasible.is_empty() {
            return Err(self.fit_error(nodes.len(), diagnosis));
        }
        if let [only] = feasible.as_slice() {
            return Ok(ScheduleResult {
                suggested_host: only.name().to_string(),
                evaluated_nodes: evaluated,
                feasible_nodes: 1,
            });
        }
        let totals = self.prioritize(&mut state, pod, snapshot, &feasible)?;
        Ok(ScheduleResult {
            suggested_host: self.select_host(&totals),
            evaluated_nodes: evaluated,
            feasible_nodes: feasible.len(),
        })
    }

    fn fit_error(&self, num_all_nodes: usize, diagnosis: Diagnosis) -> ScheduleError {
        ScheduleError::Unschedulable(FitError {
            num_all_nodes,
            diagnosis,
        })
    }

    /// Runs PreFilter and Filter for one node, as preemption needs to after
    /// removing pods from it (`snapshot` holds the modified node).
    pub fn evaluate_node(
        &self,
        pod: &PodInfo,
        snapshot: &Snapshot,
        node: &NodeInfo,
    ) -> Result<Status, ScheduleError> {
        let mut state = CycleState::new();
        let skip = match self.run_pre_filter(&mut state, pod, snapshot)? {
            PreFilterOutcome::Passed(skip) => skip,
            PreFilterOutcome::Rejected(_, status) => return Ok(status),
        };
        for plugin in self.profile.filter_plugins() {
            let Some(filter) = plugin.as_filter().filter(|_| !skip.contains(plugin.name())) else {
                continue;
            };
            match filter.filter(&state, pod, node) {
                Status::Success | Status::Skip => {}
                Status::Error(message) => {
                    return Err(ScheduleError::Plugin {
                        plugin: plugin.name(),
                        message,
                    })
                }
                rejection => return Ok(rejection),
            }
        }
        Ok(Status::Success)
    }

    /// Runs PreFilter; on success returns the plugins whose Filter is skipped.
    fn run_pre_filter(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
    ) -> Result<PreFilterOutcome, ScheduleError> {
        let mut skip = BTreeSet::new();
        for plugin in self.profile.pre_filter_plugins() {
            let Some(pre_filter) = plugin.as_pre_filter() else {
                continue;
            };
            match pre_filter.pre_filter(state, pod, snapshot) {
                Status::Success => {}
                Status::Skip => {
                    skip.insert(plugin.name());
                }
                Status::Error(message) => {
                    return Err(ScheduleError::Plugin {
                        plugin: plugin.name(),
                        message,
                    })
                }
                rejection => return Ok(PreFilterOutcome::Rejected(plugin.name(), rejection)),
            }
        }
        Ok(PreFilterOutcome::Passed(skip))
    }

    /// Runs Filter over the nodes, starting where the previous cycle stopped
    /// and stopping once enough feasible nodes are found.
    fn find_feasible(
        &mut self,
        state: &CycleState,
        pod: &PodInfo,
        nodes: &[Arc<NodeInfo>],
        skip: &BTreeSet<&'static str>,
        diagnosis: &mut Diagnosis,
    ) -> Result<(Vec<Arc<NodeInfo>>, usize), ScheduleError> {
        let want = self.num_feasible_nodes_to_find(nodes.len());
        let filters: Vec<_> = self
            .profile
            .filter_plugins()
            .iter()
            .filter(|p| !skip.contains(p.name()))
            .filter_map(|p| p.as_filter().map(|f| (p.name(), f)))
            .collect();
        let start = self.next_start_node_index % nodes.len();
        let mut feasible = Vec::with_capacity(want.min(nodes.len()));
        let mut processed = 0;
        for offset in 0..nodes.len() {
            if feasible.len() >= want {
                break;
            }
            let Some(node) = nodes.get((start + offset) % nodes.len()) else {
                continue;
            };
            processed += 1;
            let mut passed = true;
            for (name, filter) in &filters {
                match filter.filter(state, pod, node) {
                    Status::Success | Status::Skip => {}
                    Status::Error(message) => {
                        return Err(ScheduleError::Plugin {
                            plugin: name,
                            message,
                        })
                    }
                    rejection => {
                        diagnosis.unschedulable_plugins.insert(name);
                        diagnosis
                            .node_to_status
                            .insert(node.name().to_string(), rejection);
                        passed = false;
                        break;
                    }
                }
            }
            if passed {
                feasible.push(node.clone());
            }
        }
        self.next_start_node_index = (start + processed) % nodes.len();
        Ok((feasible, processed))
    }

    /// Runs PreScore, Score, NormalizeScore and weights; returns each
    /// feasible node's total, in the order of `feasible`.
    fn prioritize(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
        feasible: &[Arc<NodeInfo>],
    ) -> Result<Vec<NodeScore>, ScheduleError> {
        let mut skip = BTreeSet::new();
        for plugin in self.profile.pre_score_plugins() {
            let Some(pre_score) = plugin.as_pre_score() else {
                continue;
            };
            match pre_score.pre_score(state, pod, snapshot, feasible) {
                Status::Success => {}
                Status::Skip => {
                    skip.insert(plugin.name());
                }
                other => {
                    return Err(ScheduleError::Plugin {
                        plugin: plugin.name(),
                        message: format!("PreScore: {other:?}"),
                    })
                }
            }
        }
        let mut totals: Vec<NodeScore> = feasible
            .iter()
            .map(|n| NodeScore {
                name: n.shared_name().clone(),
                score: 0,
            })
            .collect();
        let mut scores = totals.clone();
        for weighted in self.profile.score_plugins() {
            let plugin = &weighted.plugin;
            let Some(score) = plugin.as_score().filter(|_| !skip.contains(plugin.name())) else {
                continue;
            };
            let error = |message: String| ScheduleError::Plugin {
                plugin: plugin.name(),
                message,
            };
            for (slot, node) in scores.iter_mut().zip(feasible) {
                slot.score = score.score(state, pod, node).map_err(error)?;
            }
            if let Some(normalizer) = score.normalizer() {
                match normalizer.normalize(state, pod, &mut scores) {
                    Status::Success => {}
                    other => return Err(error(format!("NormalizeScore: {other:?}"))),
                }
            }
            for (total, s) in totals.iter_mut().zip(&scores) {
                if !(0..=MAX_NODE_SCORE).contains(&s.score) {
                    return Err(error(format!(
                        "score {} for node {} is outside 0..={MAX_NODE_SCORE}",
                        s.score, s.name
                    )));
                }
                total.score += s.score * weighted.weight;
            }
        }
        Ok(totals)
    }

    /// Picks a node with the highest total.
    fn select_host(&mut self, totals: &[NodeScore]) -> String {
        let mut best: Option<&NodeScore> = None;
        let mut ties = 0u32;
        for candidate in totals {
            let replace = match best {
                None => true,
                Some(b) if candidate.score > b.score => {
                    ties = 0;
                    true
                }
                Some(b) if candidate.score == b.score => match &mut self.tie_break {
                    TieBreak::FirstByName => candidate.name < b.name,
                    // Reservoir sampling: the k-th tie replaces the pick
                    // with probability 1/k, so each tie is equally likely.
                    TieBreak::Random(rng) => rng.random_range(0..=ties) == 0,
                },
                Some(_) => false,
            };
            if best.is_none_or(|b| candidate.score >= b.score) {
                ties += 1;
            }
            if replace {
                best = Some(candidate);
            }
        }
        best.map(|b| b.name.to_string()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Configuration;
    use crate::framework::{ExtensionPoint, Filter, Plugin, PreFilter, Score};
    use crate::plugins::Registry;
    use crate::testing::{node, pod, snapshot};

    fn default_algorithm() -> Algorithm {
        let config =
            Configuration::defaults(&Registry::default()).unwrap_or_else(|e| panic!("{e}"));
        Algorithm::new(config.profiles[0].clone(), TieBreak::FirstByName)
    }

    /// Rejects in PreFilter, or scores `score` on the node named `node`, or
    /// fails, depending on its mode.
    enum Fake {
        RejectAll,
        Prefer { node: &'static str, score: i64 },
        Broken,
    }

    impl Plugin for Fake {
        fn name(&self) -> &'static str {
            match self {
                Fake::RejectAll => "RejectAll",
                Fake::Prefer { node, .. } => node,
                Fake::Broken => "Broken",
            }
        }
        fn as_pre_filter(&self) -> Option<&dyn PreFilter> {
            Some(self)
        }
        fn as_filter(&self) -> Option<&dyn Filter> {
            Some(self)
        }
        fn as_score(&self) -> Option<&dyn Score> {
            Some(self)
        }
    }

    impl PreFilter for Fake {
        fn pre_filter(&self, _: &mut CycleState, _: &PodInfo, _: &Snapshot) -> Status {
            match self {
                Fake::RejectAll => Status::unschedulable("the pod is cursed"),
                _ => Status::Success,
            }
        }
    }

    impl Filter for Fake {
        fn filter(&self, _: &CycleState, _: &PodInfo, _: &NodeInfo) -> Status {
            match self {
                Fake::Broken => Status::Error("disk on fire".into()),
                _ => Status::Success,
            }
        }
    }

    impl Score for Fake {
        fn score(&self, _: &CycleState, _: &PodInfo, n: &NodeInfo) -> Result<i64, String> {
            match self {
                Fake::Prefer { node, score } if n.name() == *node => Ok(*score),
                _ => Ok(0),
            }
        }
    }

    fn fake_profile(plugins: Vec<(ExtensionPoint, Fake, i64)>) -> Profile {
        plugins
            .into_iter()
            .fold(Profile::new("fake"), |p, (point, plugin, weight)| {
                p.with(point, Arc::new(plugin), weight)
                    .unwrap_or_else(|e| panic!("{e}"))
            })
    }

    #[test]
    fn failed_scheduling_message_has_upstream_shape() {
        let s = snapshot(
            vec![
                node("cp")
                    .cpu("8")
                    .taint("node-role.kubernetes.io/control-plane", "", "NoSchedule")
                    .build(),
                node("w1").cpu("1").build(),
                node("w2").cpu("1").build(),
            ],
            vec![],
        );
        let err = default_algorithm().schedule(&pod("p").cpu("2").info(), &s);
        let ScheduleError::Unschedulable(mut fit) = err.unwrap_err_or_panic() else {
            panic!("expected a fit error");
        };
        assert_eq!(
            fit.to_string(),
            "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 2 Insufficient cpu."
        );
        assert_eq!(
            fit.diagnosis.unschedulable_plugins,
            BTreeSet::from(["NodeResourcesFit", "TaintToleration"])
        );
        fit.diagnosis.post_filter_msg = Some(
            "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling"
                .into(),
        );
        assert!(fit.to_string().ends_with(
            "2 Insufficient cpu. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
        ));
    }

    #[test]
    fn every_reason_of_a_node_is_counted() {
        let s = snapshot(vec![node("n").cpu("1").memory("1Gi").build()], vec![]);
        let err = default_algorithm().schedule(&pod("p").cpu("2").memory("2Gi").info(), &s);
        assert_eq!(
            err.unwrap_err_or_panic().to_string(),
            "0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory."
        );
    }

    #[test]
    fn pre_filter_rejection_speaks_for_all_nodes() {
        let s = snapshot(vec![node("a").build(), node("b").build()], vec![]);
        let mut alg = Algorithm::new(
            fake_profile(vec![(ExtensionPoint::PreFilter, Fake::RejectAll, 1)]),
            TieBreak::FirstByName,
        );
        let err = alg.schedule(&pod("p").info(), &s).unwrap_err_or_panic();
        assert_eq!(
            err.to_string(),
            "0/2 nodes are available: the pod is cursed."
        );
    }

    #[test]
    fn errors_are_not_fit_failures() {
        let s = snapshot(vec![node("a").build(), node("b").build()], vec![]);
        let mut broken = Algorithm::new(
            fake_profile(vec![(ExtensionPoint::Filter, Fake::Broken, 1)]),
            TieBreak::FirstByName,
        );
        assert_eq!(
            broken.schedule(&pod("p").info(), &s),
            Err(ScheduleError::Plugin {
                plugin: "Broken",
                message: "disk on fire".into()
            })
        );
        let mut out_of_range = Algorithm::new(
            fake_profile(vec![(
                ExtensionPoint::Score,
                Fake::Prefer {
                    node: "a",
                    score: 101,
                },
                1,
            )]),
            TieBreak::FirstByName,
        );
        assert!(matches!(
            out_of_range.schedule(&pod("p").info(), &s),
            Err(ScheduleError::Plugin { plugin: "a", .. })
        ));
        assert_eq!(
            default_algorithm().schedule(&pod("p").info(), &snapshot(vec![], vec![])),
            Err(ScheduleError::NoNodesAvailable)
        );
    }

    #[test]
    fn weights_decide_between_plugins() {
        let s = snapshot(
            vec![node("a").build(), node("b").build(), node("c").build()],
            vec![],
        );
        let profile = fake_profile(vec![
            (
                ExtensionPoint::Score,
                Fake::Prefer {
                    node: "a",
                    score: 100,
                },
                1,
            ),
            (
                ExtensionPoint::Score,
                Fake::Prefer {
                    node: "b",
                    score: 40,
                },
                3,
            ),
        ]);
        let got = Algorithm::new(profile, TieBreak::FirstByName).schedule(&pod("p").info(), &s);
        assert_eq!(
            got.map(|r| (r.suggested_host, r.feasible_nodes)),
            Ok(("b".to_string(), 3))
        );
    }

    #[test]
    fn default_profile_spreads_onto_the_emptiest_node() {
        let s = snapshot(
            vec![
                node("busy").cpu("4").memory("8Gi").build(),
                node("idle").cpu("4").memory("8Gi").build(),
            ],
            vec![pod("e").cpu("3").memory("6Gi").node_name("busy").build()],
        );
        let got = default_algorithm().schedule(&pod("p").cpu("500m").memory("1Gi").info(), &s);
        assert_eq!(got.map(|r| r.suggested_host), Ok("idle".to_string()));
    }

    #[test]
    fn random_tie_breaking_reaches_every_tied_node() {
        let s = snapshot(
            vec![node("a").build(), node("b").build(), node("c").build()],
            vec![],
        );
        let mut alg = Algorithm::new(fake_profile(vec![]), TieBreak::seeded(7));
        let mut seen = BTreeSet::new();
        for _ in 0..200 {
            if let Ok(r) = alg.schedule(&pod("p").info(), &s) {
                seen.insert(r.suggested_host);
            }
        }
        assert_eq!(seen.len(), 3, "{seen:?}");
        let mut first = Algorithm::new(fake_profile(vec![]), TieBreak::FirstByName);
        assert_eq!(
            first
                .schedule(&pod("p").info(), &s)
                .map(|r| r.suggested_host),
            Ok("a".to_string())
        );
    }

    #[test]
    fn feasible_node_search_is_sized_as_upstream() {
        let alg = default_algorithm();
        let cases = [
            (50, 50),
            (100, 100),
            (1000, 420),
            (5000, 500),
            (10000, 500),
            (200, 100),
        ];
        for (nodes, want) in cases {
            assert_eq!(alg.num_feasible_nodes_to_find(nodes), want, "{nodes} nodes");
        }
        let configured = Algorithm::new(
            Profile::new("p").with_percentage_of_nodes_to_score(Some(30)),
            TieBreak::FirstByName,
        );
        assert_eq!(configured.num_feasible_nodes_to_find(1000), 300);
        let global =
            Algorithm::new(Profile::new("p"), TieBreak::FirstByName).with_default_percentage(100);
        assert_eq!(global.num_feasible_nodes_to_find(1000), 1000);
    }

    #[test]
    fn partial_searches_resume_where_the_last_one_stopped() {
        let nodes = (0..200)
            .map(|i| node(&format!("n{i:03}")).build())
            .collect();
        let s = snapshot(nodes, vec![]);
        let mut alg = Algorithm::new(
            Profile::new("p").with_percentage_of_nodes_to_score(Some(50)),
            TieBreak::FirstByName,
        );
        let first = alg.schedule(&pod("p").info(), &s);
        let second = alg.schedule(&pod("p").info(), &s);
        assert_eq!(
            first.map(|r| (r.suggested_host, r.evaluated_nodes)),
            Ok(("n000".to_string(), 100))
        );
        assert_eq!(second.map(|r| r.suggested_host), Ok("n100".to_string()));
    }

    trait UnwrapErr {
        fn unwrap_err_or_panic(self) -> ScheduleError;
    }

    impl UnwrapErr for Result<ScheduleResult, ScheduleError> {
        fn unwrap_err_or_panic(self) -> ScheduleError {
            match self {
                Ok(r) => panic!("expected an error, got {r:?}"),
                Err(e) => e,
            }
        }
    }
}
