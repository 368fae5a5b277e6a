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
    Random(StdRng),
}

impl TieBreak {
    /// Random tie-breaking seeded from `seed`.
    pub fn seeded(seed: u64) -> Self {
        TieBreak::Random(StdRng::seed_from_u64(seed))
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
    pub fn schedule(&mut self, pod: &PodInfo, snapshot: &Snapshot) -> Result<ScheduleResult, ScheduleError> {
        let nodes = snapshot.nodes();
        if nodes.is_empty() {
            return Err(ScheduleError::NoNodesAvailable);
        }
        let mut state = CycleState::new();
        let mut diagnosis = Diagnosis::default();
        let skip_filter = self.run_pre_filter(&mut state, pod, snapshot, &mut diagnosis)?;
        if let Some(msg) = diagnosis.pre_filter_msg.as_ref() {
            let status = Status::unresolvable(msg.clone());
            for n in nodes {
                diagnosis.node_to_status.insert(n.name().to_string(), status.clone());
            }
            return Err(self.fit_error(nodes.len(), diagnosis));
        }
        let (feasible, evaluated) = self.find_feasible(&state, pod, nodes, &skip_filter, &mut diagnosis)?;
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

    /// Runs PreFilter; returns the plugins whose Filter is skipped.
    fn run_pre_filter(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
        diagnosis: &mut Diagnosis,
    ) -> Result<BTreeSet<&'static str>, ScheduleError> {
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
                rejection => {
                    diagnosis.unschedulable_plugins.insert(plugin.name());
                    diagnosis.pre_filter_msg = Some(rejection.reasons().join(", "));
                    return Ok(skip);
                }
            }
        }
        Ok(skip)
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
                        return Err(ScheduleError::Plugin { plugin: name, message })
                    }
                    rejection => {
                        diagnosis.unschedulable_plugins.insert(name);
                        diagnosis.node_to_status.insert(node.name().to_string(), rejection);
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
                name: n.name().to_string(),
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
        best.map(|b| b.name.clone()).unwrap_or_default()
    }
}
