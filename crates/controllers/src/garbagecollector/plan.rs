//! What the collector does with one object, decided purely (upstream `garbagecollector.go`
//! `attemptToDeleteItem`, `classifyReferences`, `processDeletingDependentsItem`).

use kube::api::PropagationPolicy;

use super::graph::{Node, FOREGROUND, ORPHAN};

/// The state of one owner of a dependent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OwnerState {
    /// Exists and is not being deleted in the foreground.
    Solid,
    /// Does not exist (or a different object has its name now).
    Dangling,
    /// Being deleted in the foreground: waits for its dependents.
    WaitingForDependents,
}

/// What to do with a dependent.
#[derive(Clone, Debug, PartialEq)]
pub enum DependentStep {
    /// It still has a solid owner, and no references to drop.
    Keep,
    /// It has a solid owner: drop the references (by uid) to absent or deleting owners.
    DropReferences(Vec<String>),
    /// No owner keeps it: delete it with this propagation.
    Delete(PropagationPolicy),
}

/// Decides for a dependent whose owners are `owners` (uid, state).
pub fn plan_dependent(
    node: &Node,
    owners: &[(String, OwnerState)],
    has_dependents: bool,
) -> DependentStep {
    let solid = owners.iter().any(|(_, state)| *state == OwnerState::Solid);
    if solid {
        let drop: Vec<String> = owners
            .iter()
            .filter(|(_, state)| *state != OwnerState::Solid)
            .map(|(uid, _)| uid.clone())
            .collect();
        return if drop.is_empty() {
            DependentStep::Keep
        } else {
            DependentStep::DropReferences(drop)
        };
    }
    let waiting = owners
        .iter()
        .any(|(_, state)| *state == OwnerState::WaitingForDependents);
    // A dependent of a foreground-deleting owner is itself deleted in the foreground when it
    // has dependents, so the whole chain goes bottom-up.
    if waiting && has_dependents {
        return DependentStep::Delete(PropagationPolicy::Foreground);
    }
    DependentStep::Delete(if node.has_finalizer(ORPHAN) {
        PropagationPolicy::Orphan
    } else if node.has_finalizer(FOREGROUND) {
        PropagationPolicy::Foreground
    } else {
        PropagationPolicy::Background
    })
}

/// What to do with an owner being deleted that carries a collector finalizer.
#[derive(Clone, Debug, PartialEq)]
pub enum OwnerStep {
    /// Remove our reference from these dependents (uids), then the `orphan` finalizer.
    Orphan(Vec<String>),
    /// Dependents that block deletion remain: make sure these (not yet deleting) are deleted.
    AwaitDependents(Vec<String>),
    /// Nothing blocks any more: remove the `foregroundDeletion` finalizer.
    FinishForeground,
    /// Not ours to handle.
    Nothing,
}

/// Decides for a deleting owner with its `dependents` in the graph.
pub fn plan_owner(owner: &Node, dependents: &[&Node]) -> OwnerStep {
    if !owner.deleting {
        return OwnerStep::Nothing;
    }
    if owner.has_finalizer(ORPHAN) {
        return OwnerStep::Orphan(
            dependents
                .iter()
                .map(|dependent| dependent.uid.clone())
                .collect(),
        );
    }
    if !owner.has_finalizer(FOREGROUND) {
        return OwnerStep::Nothing;
    }
    let blocking: Vec<&&Node> = dependents
        .iter()
        .filter(|dependent| {
            dependent.owners.iter().any(|reference| {
                reference.uid == owner.uid && reference.block_owner_deletion == Some(true)
            })
        })
        .collect();
    if blocking.is_empty() {
        return OwnerStep::FinishForeground;
    }
    OwnerStep::AwaitDependents(
        dependents
            .iter()
            .filter(|dependent| !dependent.deleting)
            .map(|dependent| dependent.uid.clone())
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::garbagecollector::graph::tests::node;

    #[test]
    fn a_dependent_goes_only_when_no_owner_keeps_it() {
        use OwnerState::{Dangling, Solid, WaitingForDependents};
        let plain = node("d", &[]);
        let mut orphaning = node("d", &[]);
        orphaning.finalizers = vec![ORPHAN.to_owned()];
        let cases = [
            (
                "solid owner",
                &plain,
                vec![Solid],
                false,
                DependentStep::Keep,
            ),
            (
                "solid and dangling",
                &plain,
                vec![Solid, Dangling],
                false,
                DependentStep::DropReferences(vec!["o1".to_owned()]),
            ),
            (
                "all dangling",
                &plain,
                vec![Dangling],
                false,
                DependentStep::Delete(PropagationPolicy::Background),
            ),
            (
                "owner in foreground, leaf",
                &plain,
                vec![WaitingForDependents],
                false,
                DependentStep::Delete(PropagationPolicy::Background),
            ),
            (
                "owner in foreground, with dependents",
                &plain,
                vec![WaitingForDependents],
                true,
                DependentStep::Delete(PropagationPolicy::Foreground),
            ),
            (
                "dangling, asked to orphan",
                &orphaning,
                vec![Dangling],
                false,
                DependentStep::Delete(PropagationPolicy::Orphan),
            ),
        ];
        for (name, dependent, states, has_dependents, want) in cases {
            let owners: Vec<(String, OwnerState)> = states
                .into_iter()
                .enumerate()
                .map(|(i, state)| (format!("o{i}"), state))
                .collect();
            let got = plan_dependent(dependent, &owners, has_dependents);
            assert_eq!(format!("{got:?}"), format!("{want:?}"), "{name}");
        }
    }

    #[test]
    fn a_foreground_owner_waits_for_blocking_dependents_only() {
        let mut owner = node("o", &[]);
        owner.deleting = true;
        owner.finalizers = vec![FOREGROUND.to_owned()];
        let blocking = node("b", &[("o", true)]);
        let mut blocking_deleting = node("bd", &[("o", true)]);
        blocking_deleting.deleting = true;
        let not_blocking = node("n", &[("o", false)]);
        assert_eq!(
            plan_owner(&owner, &[&not_blocking]),
            OwnerStep::FinishForeground
        );
        assert_eq!(plan_owner(&owner, &[]), OwnerStep::FinishForeground);
        assert_eq!(
            plan_owner(&owner, &[&blocking, &blocking_deleting, &not_blocking]),
            OwnerStep::AwaitDependents(vec!["b".to_owned(), "n".to_owned()])
        );
        owner.finalizers = vec![ORPHAN.to_owned()];
        assert_eq!(
            plan_owner(&owner, &[&blocking]),
            OwnerStep::Orphan(vec!["b".to_owned()])
        );
        owner.deleting = false;
        assert_eq!(plan_owner(&owner, &[&blocking]), OwnerStep::Nothing);
    }
}
