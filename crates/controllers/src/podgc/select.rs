//! Which pods the pod garbage collector deletes (upstream
//! `pkg/controller/podgc/gc_controller.go`): the oldest finished pods over
//! the threshold, pods bound to nodes that no longer exist, and
//! terminating pods that were never scheduled (no kubelet will confirm
//! their deletion).

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::Pod;

fn is_terminated(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded") | Some("Failed")
    )
}

fn node_name(pod: &Pod) -> Option<&str> {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .filter(|n| !n.is_empty())
}

/// Why a pod is collected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Too many finished pods; this is one of the oldest.
    TerminatedOverThreshold,
    /// Its node is gone.
    OrphanedByNode,
    /// Being deleted without ever having been scheduled.
    UnscheduledTerminating,
}

/// A pod to delete: namespace, name and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collect {
    /// The pod's namespace.
    pub namespace: String,
    /// The pod's name.
    pub name: String,
    /// Why it goes.
    pub reason: Reason,
}

fn collect(pod: &Pod, reason: Reason) -> Option<Collect> {
    Some(Collect {
        namespace: pod.metadata.namespace.clone()?,
        name: pod.metadata.name.clone()?,
        reason,
    })
}

/// The pods to delete, given every pod and the names of existing nodes
/// (`None` when nodes are not known yet, which skips orphan collection).
/// A threshold of 0 disables the terminated-pod pass, as upstream.
pub fn select(pods: &[Pod], nodes: Option<&BTreeSet<String>>, threshold: usize) -> Vec<Collect> {
    let mut chosen: Vec<Collect> = Vec::new();
    let mut terminated: Vec<&Pod> = pods
        .iter()
        .filter(|p| is_terminated(p) && p.metadata.deletion_timestamp.is_none())
        .collect();
    if threshold > 0 && terminated.len() > threshold {
        terminated.sort_by(|a, b| {
            a.metadata
                .creation_timestamp
                .cmp(&b.metadata.creation_timestamp)
                .then_with(|| a.metadata.name.cmp(&b.metadata.name))
        });
        let excess = terminated.len() - threshold;
        chosen.extend(
            terminated
                .iter()
                .take(excess)
                .filter_map(|p| collect(p, Reason::TerminatedOverThreshold)),
        );
    }
    for pod in pods {
        let reason = match (node_name(pod), nodes) {
            (Some(node), Some(nodes)) if !nodes.contains(node) => Reason::OrphanedByNode,
            (None, _) if pod.metadata.deletion_timestamp.is_some() => {
                Reason::UnscheduledTerminating
            }
            _ => continue,
        };
        if let Some(c) = collect(pod, reason) {
            if !chosen
                .iter()
                .any(|x| x.namespace == c.namespace && x.name == c.name)
            {
                chosen.push(c);
            }
        }
    }
    chosen
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodSpec, PodStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
    use k8s_openapi::jiff::Timestamp;

    fn pod(name: &str, phase: &str, node: Option<&str>, created: i64) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("default".into()),
                creation_timestamp: Some(Time(Timestamp::from_second(created).unwrap())),
                ..Default::default()
            },
            spec: Some(PodSpec {
                node_name: node.map(String::from),
                ..Default::default()
            }),
            status: Some(PodStatus {
                phase: Some(phase.into()),
                ..Default::default()
            }),
        }
    }

    fn terminating(mut p: Pod) -> Pod {
        p.metadata.deletion_timestamp = Some(Time(Timestamp::UNIX_EPOCH));
        p
    }

    fn names(c: &[Collect]) -> Vec<(&str, Reason)> {
        c.iter().map(|c| (c.name.as_str(), c.reason)).collect()
    }

    #[test]
    fn pods_are_collected_for_the_upstream_reasons() {
        let nodes: BTreeSet<String> = ["n1".to_string()].into();
        let cases = [
            (
                "finished pods under the threshold stay",
                vec![
                    pod("a", "Succeeded", Some("n1"), 1),
                    pod("b", "Failed", Some("n1"), 2),
                ],
                Some(&nodes),
                2,
                vec![],
            ),
            (
                "the oldest finished pods over the threshold go",
                vec![
                    pod("c", "Succeeded", Some("n1"), 3),
                    pod("a", "Failed", Some("n1"), 1),
                    pod("b", "Running", Some("n1"), 0),
                    pod("d", "Succeeded", Some("n1"), 2),
                ],
                Some(&nodes),
                1,
                vec![
                    ("a", Reason::TerminatedOverThreshold),
                    ("d", Reason::TerminatedOverThreshold),
                ],
            ),
            (
                "a threshold of zero keeps every finished pod",
                vec![pod("a", "Failed", Some("n1"), 1)],
                Some(&nodes),
                0,
                vec![],
            ),
            (
                "pods of a deleted node go",
                vec![
                    pod("a", "Running", Some("gone"), 1),
                    pod("b", "Running", Some("n1"), 1),
                ],
                Some(&nodes),
                10,
                vec![("a", Reason::OrphanedByNode)],
            ),
            (
                "orphans wait until nodes are known",
                vec![pod("a", "Running", Some("gone"), 1)],
                None,
                10,
                vec![],
            ),
            (
                "unscheduled terminating pods go",
                vec![
                    terminating(pod("a", "Pending", None, 1)),
                    pod("b", "Pending", None, 1),
                ],
                Some(&nodes),
                10,
                vec![("a", Reason::UnscheduledTerminating)],
            ),
        ];
        for (name, pods, nodes, threshold, want) in cases {
            assert_eq!(names(&select(&pods, nodes, threshold)), want, "{name}");
        }
    }
}
