//! The RollingUpdate budget (upstream `rollingUpdate` in `pkg/controller/daemon/update.go`):
//! without surge, old pods are deleted while fewer than maxUnavailable nodes lack an
//! available daemon pod (the next sync creates their replacements); with surge, new pods
//! start next to old ones on at most maxSurge nodes and each old pod goes once its
//! replacement is available. Unavailable old pods are always replaced at once.

use k8s_openapi::api::apps::v1::DaemonSetUpdateStrategy;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::deployment::fenceposts::scaled;

/// One daemon pod as the rolling update sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// The pod's name.
    pub name: String,
    /// Ready for at least minReadySeconds.
    pub available: bool,
}

/// The daemon pods of one node that should run one, split by revision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OnNode {
    /// The node's name.
    pub node: String,
    /// Its pod of the current template, if any.
    pub new: Option<Candidate>,
    /// Its pod of an older template, if any.
    pub old: Option<Candidate>,
    /// False when the node has duplicates; pod management fixes it first.
    pub settled: bool,
}

/// What one rolling-update step does.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Step {
    /// Old pods to delete.
    pub delete: Vec<String>,
    /// Nodes to start a surge pod on.
    pub create_on: Vec<String>,
}

/// (maxSurge, maxUnavailable) as node counts for `desired` nodes; percentages round up, and
/// both 0 would never progress, so maxUnavailable becomes 1 (upstream
/// `updatedDesiredNodeCounts`). Defaults: maxUnavailable 1, maxSurge 0.
pub fn budgets(strategy: Option<&DaemonSetUpdateStrategy>, desired: i32) -> (i32, i32) {
    let rolling = strategy.and_then(|strategy| strategy.rolling_update.as_ref());
    let surge = rolling
        .and_then(|r| r.max_surge.as_ref())
        .map_or(0, |value| scaled(value, desired, true));
    let unavailable = scaled(
        rolling
            .and_then(|r| r.max_unavailable.as_ref())
            .unwrap_or(&IntOrString::Int(1)),
        desired,
        true,
    );
    if surge <= 0 && unavailable <= 0 {
        (0, 1)
    } else {
        (surge.max(0), unavailable.max(0))
    }
}

/// The step for `nodes` under the budgets.
pub fn plan(nodes: &[OnNode], max_surge: i32, max_unavailable: i32) -> Step {
    if max_surge == 0 {
        without_surge(nodes, max_unavailable)
    } else {
        with_surge(nodes, max_surge)
    }
}

fn without_surge(nodes: &[OnNode], max_unavailable: i32) -> Step {
    let mut unavailable = 0;
    let mut replace_now = Vec::new();
    let mut candidates = Vec::new();
    for node in nodes {
        match (&node.new, &node.old) {
            _ if !node.settled => unavailable += 1,
            (None, None) | (Some(_), Some(_)) => unavailable += 1,
            (Some(new), None) => {
                if !new.available {
                    unavailable += 1;
                }
            }
            (None, Some(old)) if !old.available => replace_now.push(old.name.clone()),
            (None, Some(old)) => candidates.push(old.name.clone()),
        }
    }
    let room = usize::try_from(max_unavailable - unavailable).unwrap_or(0);
    candidates.truncate(room);
    replace_now.extend(candidates);
    Step {
        delete: replace_now,
        create_on: Vec::new(),
    }
}

fn with_surge(nodes: &[OnNode], max_surge: i32) -> Step {
    let mut surging = 0;
    let mut step = Step::default();
    let mut candidates = Vec::new();
    for node in nodes.iter().filter(|node| node.settled) {
        match (&node.new, &node.old) {
            (_, None) => {}
            (None, Some(old)) if !old.available => step.create_on.push(node.node.clone()),
            (None, Some(_)) => candidates.push(node.node.clone()),
            (Some(new), Some(_)) if !new.available => surging += 1,
            (Some(_), Some(old)) => step.delete.push(old.name.clone()),
        }
    }
    let room = usize::try_from(max_surge - surging).unwrap_or(0);
    candidates.truncate(room);
    step.create_on.extend(candidates);
    step
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::RollingUpdateDaemonSet;

    fn pod(name: &str, available: bool) -> Option<Candidate> {
        Some(Candidate {
            name: name.to_owned(),
            available,
        })
    }

    fn on(node: &str, new: Option<Candidate>, old: Option<Candidate>) -> OnNode {
        OnNode {
            node: node.to_owned(),
            new,
            old,
            settled: true,
        }
    }

    #[test]
    fn budgets_resolve_counts_and_percentages() {
        let strategy = |surge: Option<IntOrString>, unavailable: Option<IntOrString>| {
            DaemonSetUpdateStrategy {
                type_: Some("RollingUpdate".to_owned()),
                rolling_update: Some(RollingUpdateDaemonSet {
                    max_surge: surge,
                    max_unavailable: unavailable,
                }),
            }
        };
        let pct = |text: &str| Some(IntOrString::String(text.to_owned()));
        let cases = [
            ("defaults", None, 10, (0, 1)),
            (
                "two unavailable",
                Some(strategy(None, Some(IntOrString::Int(2)))),
                10,
                (0, 2),
            ),
            (
                "percent rounds up",
                Some(strategy(None, pct("25%"))),
                10,
                (0, 3),
            ),
            (
                "surge only",
                Some(strategy(pct("10%"), Some(IntOrString::Int(0)))),
                10,
                (1, 0),
            ),
            (
                "both zero",
                Some(strategy(
                    Some(IntOrString::Int(0)),
                    Some(IntOrString::Int(0)),
                )),
                10,
                (0, 1),
            ),
        ];
        for (name, strategy, desired, want) in cases {
            assert_eq!(budgets(strategy.as_ref(), desired), want, "{name}");
        }
    }

    #[test]
    fn rolling_steps_respect_the_budgets() {
        let names = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        // (name, nodes, surge, unavailable, delete, create on)
        let cases = [
            (
                "one at a time",
                vec![
                    on("a", None, pod("a-old", true)),
                    on("b", None, pod("b-old", true)),
                ],
                0,
                1,
                names(&["a-old"]),
                names(&[]),
            ),
            (
                "a replacement still starting uses the budget",
                vec![
                    on("a", pod("a-new", false), None),
                    on("b", None, pod("b-old", true)),
                ],
                0,
                1,
                names(&[]),
                names(&[]),
            ),
            (
                "a node without a pod uses the budget",
                vec![on("a", None, None), on("b", None, pod("b-old", true))],
                0,
                1,
                names(&[]),
                names(&[]),
            ),
            (
                "unavailable old pods are replaced at once",
                vec![
                    on("a", pod("a-new", false), None),
                    on("b", None, pod("b-old", false)),
                ],
                0,
                1,
                names(&["b-old"]),
                names(&[]),
            ),
            (
                "two unavailable allowed",
                vec![
                    on("a", None, pod("a-old", true)),
                    on("b", None, pod("b-old", true)),
                    on("c", pod("c-new", true), None),
                ],
                0,
                2,
                names(&["a-old", "b-old"]),
                names(&[]),
            ),
            (
                "surge starts new pods beside old ones",
                vec![
                    on("a", None, pod("a-old", true)),
                    on("b", None, pod("b-old", true)),
                ],
                1,
                0,
                names(&[]),
                names(&["a"]),
            ),
            (
                "surge deletes the old pod once the new one is available",
                vec![
                    on("a", pod("a-new", true), pod("a-old", true)),
                    on("b", None, pod("b-old", true)),
                ],
                1,
                0,
                names(&["a-old"]),
                names(&["b"]),
            ),
            (
                "surge waits for a starting pod",
                vec![
                    on("a", pod("a-new", false), pod("a-old", true)),
                    on("b", None, pod("b-old", true)),
                ],
                1,
                0,
                names(&[]),
                names(&[]),
            ),
        ];
        for (name, nodes, surge, unavailable, delete, create_on) in cases {
            assert_eq!(
                plan(&nodes, surge, unavailable),
                Step { delete, create_on },
                "{name}"
            );
        }
    }
}
