//! What one StatefulSet sync does to its pods (upstream `updateStatefulSet` in
//! `stateful_set_control.go`), as a pure function of what exists:
//!
//! 1. every ordinal in `[start, start+replicas)` gets a pod, lowest first; a failed pod is
//!    deleted to be recreated. With OrderedReady, a step waits until every lower ordinal is
//!    Running and Ready (and available), and a sync does one thing at a time;
//! 2. pods beyond the range are condemned and deleted highest ordinal first (OrderedReady:
//!    one at a time, each only once it is the last unhealthy one);
//! 3. RollingUpdate: from the highest ordinal down to the partition, the first pod not at
//!    the update revision is deleted (it comes back at the update revision), waiting for
//!    each updated pod to be healthy.
//!
//! Parallel does 1 and 2 for all pods at once; rolling updates are one pod at a time in
//! both modes.

use std::collections::BTreeMap;

/// A pod of the set as the plan sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodView {
    /// Its ordinal.
    pub ordinal: i32,
    /// Its name.
    pub name: String,
    /// Its `controller-revision-hash` label.
    pub revision: Option<String>,
    /// Being deleted.
    pub terminating: bool,
    /// Succeeded or Failed: it will not run again.
    pub finished: bool,
    /// Running, Ready and available.
    pub healthy: bool,
}

/// What a sync sees.
#[derive(Clone, Debug)]
pub struct Input<'a> {
    /// The first ordinal (`spec.ordinals.start`, 0 by default).
    pub start: i32,
    /// `spec.replicas`.
    pub replicas: i32,
    /// Pods with valid ordinals.
    pub pods: &'a [PodView],
    /// `podManagementPolicy: Parallel`.
    pub parallel: bool,
    /// `updateStrategy: RollingUpdate` (else OnDelete).
    pub rolling: bool,
    /// Ordinals below `start + partition` keep the current revision.
    pub partition: i32,
    /// The update revision's name.
    pub update_revision: &'a str,
}

/// One action.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Create the pod with this ordinal.
    Create(i32),
    /// Delete the pod with this name.
    Delete(String),
}

/// The actions of one sync, in order.
pub fn plan(input: &Input<'_>) -> Vec<Step> {
    let end = input.start.saturating_add(input.replicas.max(0));
    let monotonic = !input.parallel;
    let by_ordinal: BTreeMap<i32, &PodView> =
        input.pods.iter().map(|pod| (pod.ordinal, pod)).collect();
    let mut steps = Vec::new();
    for ordinal in input.start..end {
        match by_ordinal.get(&ordinal) {
            None => steps.push(Step::Create(ordinal)),
            Some(pod) if pod.finished && !pod.terminating => {
                steps.push(Step::Delete(pod.name.clone()))
            }
            Some(pod) if pod.healthy && !pod.terminating => continue,
            Some(_) => {}
        }
        // Created, deleted, or waiting for this one to become healthy.
        if monotonic {
            return steps;
        }
    }
    let condemned: Vec<&PodView> = by_ordinal
        .range(end..)
        .rev()
        .map(|(_, pod)| *pod)
        .chain(by_ordinal.range(..input.start).rev().map(|(_, pod)| *pod))
        .collect();
    for (index, pod) in condemned.iter().enumerate() {
        if pod.terminating {
            if monotonic {
                return steps;
            }
            continue;
        }
        let lower_unhealthy = condemned
            .iter()
            .skip(index + 1)
            .any(|other| !other.healthy || other.terminating);
        if monotonic && pod.healthy && lower_unhealthy {
            return steps;
        }
        steps.push(Step::Delete(pod.name.clone()));
        if monotonic {
            return steps;
        }
    }
    if !steps.is_empty() || !input.rolling {
        return steps;
    }
    let update_from = input.start.saturating_add(input.partition.max(0));
    for ordinal in (update_from..end).rev() {
        let Some(pod) = by_ordinal.get(&ordinal) else {
            return steps;
        };
        if pod.revision.as_deref() != Some(input.update_revision) && !pod.terminating {
            steps.push(Step::Delete(pod.name.clone()));
            return steps;
        }
        if !pod.healthy || pod.terminating {
            return steps;
        }
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(ordinal: i32, revision: &str, healthy: bool) -> PodView {
        PodView {
            ordinal,
            name: format!("web-{ordinal}"),
            revision: Some(revision.to_owned()),
            terminating: false,
            finished: false,
            healthy,
        }
    }

    fn terminating(mut pod: PodView) -> PodView {
        pod.terminating = true;
        pod
    }

    fn finished(mut pod: PodView) -> PodView {
        pod.finished = true;
        pod.healthy = false;
        pod
    }

    fn delete(name: &str) -> Step {
        Step::Delete(name.to_owned())
    }

    #[test]
    fn steps_follow_ordinals_readiness_and_the_partition() {
        // (name, replicas, pods, parallel, rolling, partition, want)
        let cases = [
            (
                "the first pod comes first",
                3,
                vec![],
                false,
                true,
                0,
                vec![Step::Create(0)],
            ),
            (
                "the next pod waits for the previous to be ready",
                3,
                vec![pod(0, "v1", false)],
                false,
                true,
                0,
                vec![],
            ),
            (
                "the next pod follows a ready one",
                3,
                vec![pod(0, "v1", true)],
                false,
                true,
                0,
                vec![Step::Create(1)],
            ),
            (
                "parallel creates all at once",
                3,
                vec![pod(0, "v1", false)],
                true,
                true,
                0,
                vec![Step::Create(1), Step::Create(2)],
            ),
            (
                "a failed pod is deleted to be recreated",
                2,
                vec![finished(pod(0, "v1", true)), pod(1, "v1", true)],
                false,
                true,
                0,
                vec![delete("web-0")],
            ),
            (
                "scale down removes the highest ordinal first",
                1,
                vec![pod(0, "v1", true), pod(1, "v1", true), pod(2, "v1", true)],
                false,
                true,
                0,
                vec![delete("web-2")],
            ),
            (
                "scale down waits for a terminating pod",
                1,
                vec![
                    pod(0, "v1", true),
                    pod(1, "v1", true),
                    terminating(pod(2, "v1", true)),
                ],
                false,
                true,
                0,
                vec![],
            ),
            (
                "parallel scale down removes all at once",
                1,
                vec![pod(0, "v1", true), pod(1, "v1", true), pod(2, "v1", true)],
                true,
                true,
                0,
                vec![delete("web-2"), delete("web-1")],
            ),
            (
                "a healthy condemned pod waits while a lower one is unhealthy",
                1,
                vec![pod(0, "v1", true), pod(1, "v1", false), pod(2, "v1", true)],
                false,
                true,
                0,
                vec![],
            ),
            (
                "rolling update starts at the highest ordinal",
                3,
                vec![pod(0, "v1", true), pod(1, "v1", true), pod(2, "v1", true)],
                false,
                true,
                0,
                vec![delete("web-2")],
            ),
            (
                "rolling update continues downwards",
                3,
                vec![pod(0, "v1", true), pod(1, "v1", true), pod(2, "v2", true)],
                false,
                true,
                0,
                vec![delete("web-1")],
            ),
            (
                "rolling update waits for the updated pod",
                3,
                vec![pod(0, "v1", true), pod(1, "v1", true), pod(2, "v2", false)],
                true,
                true,
                0,
                vec![],
            ),
            (
                "the partition keeps lower ordinals",
                3,
                vec![pod(0, "v1", true), pod(1, "v2", true), pod(2, "v2", true)],
                false,
                true,
                1,
                vec![],
            ),
            (
                "OnDelete never deletes for an update",
                3,
                vec![pod(0, "v1", true), pod(1, "v1", true), pod(2, "v1", true)],
                false,
                false,
                0,
                vec![],
            ),
        ];
        for (name, replicas, pods, parallel, rolling, partition, want) in cases {
            let input = Input {
                start: 0,
                replicas,
                pods: &pods,
                parallel,
                rolling,
                partition,
                update_revision: "v2",
            };
            let got = plan(&input);
            assert_eq!(got, want, "{name}");
        }
    }
}
