//! Preemption (upstream DefaultPreemption, pkg/scheduler/framework/
//! preemption and plugins/defaultpreemption): when no node fits a pod, find
//! a node where evicting lower-priority pods would make it fit, evicting as
//! few and as unimportant pods as possible and respecting PodDisruptionBudgets
//! where it can.
//!
//! This is the pure selection: the caller sets `status.nominatedNodeName`,
//! evicts the victims and records the outcome.

use std::cmp::Reverse;
use std::sync::Arc;

use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::jiff::Timestamp;

use crate::framework::{
    Algorithm, Diagnosis, FitError, NodeInfo, PodInfo, ScheduleError, Snapshot, Status,
};
use crate::selector::Selector;

/// Upstream looks for at least this share of nodes as candidates…
const MIN_CANDIDATE_NODES_PERCENTAGE: usize = 10;
/// …and at least this many.
const MIN_CANDIDATE_NODES_ABSOLUTE: usize = 100;

/// Status for nodes where no eviction can help.
pub const REASON_NOT_HELPFUL: &str = "Preemption is not helpful for scheduling";
/// Status for nodes without lower-priority pods.
pub const REASON_NO_VICTIMS: &str = "No preemption victims found for incoming pod";

/// A node and the pods to evict from it.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// The node to nominate.
    pub node: String,
    /// The pods to evict, most important first.
    pub victims: Vec<Arc<PodInfo>>,
    /// How many victims evicting would violate a PodDisruptionBudget.
    pub pdb_violations: usize,
}

/// What preemption concluded.
#[derive(Debug, Clone)]
pub enum Preemption {
    /// Evict these victims and nominate the node.
    Nominate(Candidate),
    /// Preemption cannot help; the message goes after the FailedScheduling
    /// reasons (upstream's PostFilter message).
    NotHelpful(String),
}

fn priority(pod: &PodInfo) -> i32 {
    pod.pod.spec.as_ref().and_then(|s| s.priority).unwrap_or(0)
}

fn start_time(pod: &PodInfo) -> Option<Timestamp> {
    pod.pod
        .status
        .as_ref()
        .and_then(|s| s.start_time.as_ref())
        .map(|t| t.0)
}

/// Upstream `MoreImportantPod`: higher priority, then started earlier.
fn importance(pod: &PodInfo) -> (Reverse<i32>, Option<Timestamp>) {
    (Reverse(priority(pod)), start_time(pod))
}

/// Splits pods (in order) into those whose eviction would exceed a matching
/// PDB's allowed disruptions and the rest (upstream `filterPodsWithPDBViolation`).
fn split_by_pdb(
    pods: Vec<Arc<PodInfo>>,
    pdbs: &[PodDisruptionBudget],
) -> (Vec<Arc<PodInfo>>, Vec<Arc<PodInfo>>) {
    let mut allowed: Vec<i32> = pdbs
        .iter()
        .map(|p| p.status.as_ref().map_or(0, |s| s.disruptions_allowed))
        .collect();
    let selectors: Vec<Option<Selector>> = pdbs
        .iter()
        .map(|p| {
            // A missing or empty selector matches nothing here.
            let sel = p.spec.as_ref().and_then(|s| s.selector.as_ref())?;
            let empty = sel.match_labels.as_ref().is_none_or(|m| m.is_empty())
                && sel.match_expressions.as_ref().is_none_or(|e| e.is_empty());
            if empty {
                None
            } else {
                Selector::from_label_selector(Some(sel)).ok()
            }
        })
        .collect();
    let (mut violating, mut ok) = (Vec::new(), Vec::new());
    for pod in pods {
        let mut violated = false;
        let name = pod.pod.metadata.name.as_deref().unwrap_or_default();
        for (i, pdb) in pdbs.iter().enumerate() {
            let same_ns = pdb.metadata.namespace.as_deref().unwrap_or_default() == pod.namespace();
            let matches = selectors
                .get(i)
                .and_then(Option::as_ref)
                .is_some_and(|s| s.matches(pod.labels()));
            if !same_ns || !matches {
                continue;
            }
            let already_disrupted = pdb
                .status
                .as_ref()
                .and_then(|s| s.disrupted_pods.as_ref())
                .is_some_and(|d| d.contains_key(name));
            if already_disrupted {
                continue;
            }
            if let Some(a) = allowed.get_mut(i) {
                *a -= 1;
                violated |= *a < 0;
            }
        }
        if violated {
            violating.push(pod);
        } else {
            ok.push(pod);
        }
    }
    (violating, ok)
}

fn fits(
    algorithm: &Algorithm,
    pod: &PodInfo,
    snapshot: &Snapshot,
    node: &NodeInfo,
) -> Result<Status, ScheduleError> {
    let shared = Arc::new(node.clone());
    algorithm.evaluate_node(pod, &snapshot.with_node_replaced(shared.clone()), &shared)
}

/// The victims on one node, or why there are none (upstream `SelectVictimsOnNode`).
fn select_victims(
    algorithm: &Algorithm,
    pod: &PodInfo,
    snapshot: &Snapshot,
    node: &NodeInfo,
    pdbs: &[PodDisruptionBudget],
) -> Result<Result<Candidate, Status>, ScheduleError> {
    let mut info = node.clone();
    let mut potential: Vec<Arc<PodInfo>> = info
        .pods()
        .iter()
        .filter(|p| priority(p) < priority(pod))
        .cloned()
        .collect();
    if potential.is_empty() {
        return Ok(Err(Status::unresolvable(REASON_NO_VICTIMS)));
    }
    for p in &potential {
        info.remove_pod(p.key());
    }
    let status = fits(algorithm, pod, snapshot, &info)?;
    if !status.is_success() {
        return Ok(Err(status));
    }
    // Put back as many pods as possible, most important first, and those
    // protected by a PDB before the others.
    potential.sort_by_key(|p| importance(p));
    let (violating, non_violating) = split_by_pdb(potential, pdbs);
    let mut victims = Vec::new();
    let mut pdb_violations = 0;
    for (group, violates) in [(violating, true), (non_violating, false)] {
        for p in group {
            info.add_pod(p.clone());
            if !fits(algorithm, pod, snapshot, &info)?.is_success() {
                info.remove_pod(p.key());
                pdb_violations += usize::from(violates);
                victims.push(p);
            }
        }
    }
    victims.sort_by_key(|p| importance(p));
    Ok(Ok(Candidate {
        node: node.name().to_string(),
        victims,
        pdb_violations,
    }))
}

/// Upstream `pickOneNodeForPreemption`: fewest PDB violations, then the
/// lowest most-important victim, then the smallest priority sum, then the
/// fewest victims, then the latest-started most-important victims.
fn pick(candidates: Vec<Candidate>) -> Option<Candidate> {
    let key = |c: &Candidate| {
        let top = c.victims.first().map_or(i32::MIN, |v| priority(v));
        // Offset each priority so the sum of negative priorities still
        // orders as upstream's (which adds MaxInt32+1 per victim).
        let sum: i64 = c
            .victims
            .iter()
            .map(|v| i64::from(priority(v)) + i64::from(i32::MAX) + 1)
            .sum();
        let earliest_top_start = c
            .victims
            .iter()
            .filter(|v| priority(v) == top)
            .filter_map(|v| start_time(v))
            .min();
        (
            c.pdb_violations,
            top,
            sum,
            c.victims.len(),
            Reverse(earliest_top_start),
        )
    };
    candidates.into_iter().min_by_key(key)
}

/// Finds where `pod` could run after evictions, given the cycle's failure.
pub fn preempt(
    algorithm: &Algorithm,
    pod: &PodInfo,
    snapshot: &Snapshot,
    failure: &FitError,
    pdbs: &[PodDisruptionBudget],
) -> Result<Preemption, ScheduleError> {
    if pod
        .pod
        .spec
        .as_ref()
        .and_then(|s| s.preemption_policy.as_deref())
        == Some("Never")
    {
        return Ok(Preemption::NotHelpful(
            "preemption: not eligible due to preemptionPolicy=Never.".into(),
        ));
    }
    let nodes = snapshot.nodes();
    let wanted = (nodes.len() * MIN_CANDIDATE_NODES_PERCENTAGE / 100)
        .max(MIN_CANDIDATE_NODES_ABSOLUTE)
        .min(nodes.len());
    let mut statuses = Diagnosis::default();
    let mut candidates = Vec::new();
    for node in nodes {
        if candidates.len() >= wanted
            && candidates.iter().any(|c: &Candidate| c.pdb_violations == 0)
        {
            break;
        }
        let name = node.name().to_string();
        if matches!(
            failure.diagnosis.node_to_status.get(&name),
            Some(Status::UnschedulableAndUnresolvable(_))
        ) {
            statuses
                .node_to_status
                .insert(name, Status::unresolvable(REASON_NOT_HELPFUL));
            continue;
        }
        match select_victims(algorithm, pod, snapshot, node, pdbs)? {
            Ok(candidate) => candidates.push(candidate),
            Err(status) => {
                statuses.node_to_status.insert(name, status);
            }
        }
    }
    match pick(candidates) {
        Some(best) => Ok(Preemption::Nominate(best)),
        None => Ok(Preemption::NotHelpful(format!(
            "preemption: {}",
            FitError {
                num_all_nodes: nodes.len(),
                diagnosis: statuses,
            }
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Configuration;
    use crate::framework::TieBreak;
    use crate::plugins::Registry;
    use crate::testing::{node, pod, selector, snapshot};
    use k8s_openapi::api::policy::v1::{PodDisruptionBudgetSpec, PodDisruptionBudgetStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn algorithm() -> Algorithm {
        let config =
            Configuration::defaults(&Registry::default()).unwrap_or_else(|e| panic!("{e}"));
        Algorithm::new(config.profiles[0].clone(), TieBreak::FirstByName)
    }

    fn run(
        nodes: Vec<k8s_openapi::api::core::v1::Node>,
        pods: Vec<k8s_openapi::api::core::v1::Pod>,
        incoming: PodInfo,
        pdbs: &[PodDisruptionBudget],
    ) -> Preemption {
        let s = snapshot(nodes, pods);
        let mut alg = algorithm();
        let failure = match alg.schedule(&incoming, &s) {
            Err(ScheduleError::Unschedulable(f)) => f,
            other => panic!("expected a fit error, got {other:?}"),
        };
        preempt(&alg, &incoming, &s, &failure, pdbs).unwrap_or_else(|e| panic!("{e}"))
    }

    fn victims(p: &Preemption) -> (String, Vec<String>) {
        match p {
            Preemption::Nominate(c) => (
                c.node.clone(),
                c.victims
                    .iter()
                    .map(|v| v.pod.metadata.name.clone().unwrap_or_default())
                    .collect(),
            ),
            Preemption::NotHelpful(msg) => panic!("expected a candidate: {msg}"),
        }
    }

    #[test]
    fn the_node_with_the_least_important_victims_is_chosen() {
        let nodes = vec![node("a").cpu("2").build(), node("b").cpu("2").build()];
        let pods = vec![
            pod("a-mid").cpu("2").priority(50).node_name("a").build(),
            pod("b-low").cpu("1").priority(10).node_name("b").build(),
            pod("b-low2").cpu("1").priority(10).node_name("b").build(),
        ];
        let got = run(nodes, pods, pod("p").cpu("2").priority(100).info(), &[]);
        // Node b's most important victim (10) is less important than a's (50).
        assert_eq!(
            victims(&got),
            (
                "b".to_string(),
                vec!["b-low".to_string(), "b-low2".to_string()]
            )
        );
    }

    #[test]
    fn only_as_many_pods_as_needed_are_evicted() {
        let nodes = vec![node("a").cpu("3").build()];
        let pods = vec![
            pod("keep").cpu("1").priority(20).node_name("a").build(),
            pod("evict").cpu("1").priority(10).node_name("a").build(),
            pod("other").cpu("1").priority(30).node_name("a").build(),
        ];
        let got = run(nodes, pods, pod("p").cpu("1").priority(100).info(), &[]);
        assert_eq!(victims(&got), ("a".to_string(), vec!["evict".to_string()]));
    }

    #[test]
    fn pdb_protected_pods_are_spared_when_possible() {
        let nodes = vec![node("a").cpu("2").build(), node("b").cpu("2").build()];
        let pods = vec![
            pod("guarded")
                .cpu("2")
                .label("app", "db")
                .priority(1)
                .node_name("a")
                .build(),
            pod("free")
                .cpu("2")
                .label("app", "web")
                .priority(5)
                .node_name("b")
                .build(),
        ];
        let pdb = PodDisruptionBudget {
            metadata: ObjectMeta {
                name: Some("db".into()),
                namespace: Some("default".into()),
                ..Default::default()
            },
            spec: Some(PodDisruptionBudgetSpec {
                selector: Some(selector(&[("app", "db")])),
                ..Default::default()
            }),
            status: Some(PodDisruptionBudgetStatus {
                disruptions_allowed: 0,
                ..Default::default()
            }),
        };
        let got = run(nodes, pods, pod("p").cpu("2").priority(100).info(), &[pdb]);
        assert_eq!(victims(&got), ("b".to_string(), vec!["free".to_string()]));
    }

    #[test]
    fn hopeless_cases_explain_themselves() {
        let nodes = vec![
            node("cp")
                .cpu("8")
                .taint("node-role.kubernetes.io/control-plane", "", "NoSchedule")
                .build(),
            node("w1").cpu("1").build(),
            node("w2").cpu("1").build(),
        ];
        let pods = vec![
            pod("high").cpu("1").priority(1000).node_name("w1").build(),
            pod("low").cpu("1").priority(1).node_name("w2").build(),
        ];
        let got = run(
            nodes.clone(),
            pods.clone(),
            pod("p").cpu("2").priority(100).info(),
            &[],
        );
        let Preemption::NotHelpful(msg) = got else {
            panic!("expected no candidate")
        };
        assert_eq!(
            msg,
            "preemption: 0/3 nodes are available: 1 Insufficient cpu, \
             1 No preemption victims found for incoming pod, 1 Preemption is not helpful for scheduling."
        );
        let mut never = pod("p").cpu("1").priority(100).build();
        if let Some(spec) = never.spec.as_mut() {
            spec.preemption_policy = Some("Never".into());
        }
        let Preemption::NotHelpful(msg) = run(nodes, pods, PodInfo::new(Arc::new(never)), &[])
        else {
            panic!("expected no candidate")
        };
        assert_eq!(
            msg,
            "preemption: not eligible due to preemptionPolicy=Never."
        );
    }
}
