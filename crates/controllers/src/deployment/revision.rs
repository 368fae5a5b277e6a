//! Revision bookkeeping in annotations (upstream `deployment_util.go`): each ReplicaSet
//! carries the revision it was last the new ReplicaSet at, and the deployment's size when
//! last scaled, which proportional scaling and `kubectl rollout history/undo` read.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};

/// The revision a ReplicaSet (and its deployment) is at.
pub const REVISION: &str = "deployment.kubernetes.io/revision";
/// Earlier revisions a ReplicaSet was at (after rollbacks), comma-separated.
pub const REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";
/// `spec.replicas` of the deployment when it last scaled this ReplicaSet.
pub const DESIRED_REPLICAS: &str = "deployment.kubernetes.io/desired-replicas";
/// `spec.replicas + maxSurge` at that time.
pub const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";
/// kubectl's last applied configuration: belongs to the deployment only.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";
/// The deprecated in-object rollback request.
const ROLLBACK_TO: &str = "deprecated.deployment.rollback.to";

/// Upstream caps the revision history annotation at this many characters.
const MAX_HISTORY_CHARS: usize = 2000;

/// Annotations the controller owns and never copies from the deployment to its ReplicaSets.
fn skip_copy(key: &str) -> bool {
    matches!(
        key,
        LAST_APPLIED | REVISION | REVISION_HISTORY | DESIRED_REPLICAS | MAX_REPLICAS | ROLLBACK_TO
    )
}

/// The revision number in `annotations` (0 when absent or malformed).
pub fn revision_of(annotations: Option<&BTreeMap<String, String>>) -> i64 {
    annotations
        .and_then(|annotations| annotations.get(REVISION))
        .and_then(|revision| revision.parse().ok())
        .unwrap_or(0)
}

/// The highest revision among `replica_sets`.
pub fn max_revision<'a>(replica_sets: impl IntoIterator<Item = &'a ReplicaSet>) -> i64 {
    replica_sets
        .into_iter()
        .map(|rs| revision_of(rs.metadata.annotations.as_ref()))
        .max()
        .unwrap_or(0)
}

/// Brings the new ReplicaSet's annotations up to date: the deployment's own annotations, the
/// new revision (pushing the previous one into the history), and for a ReplicaSet being
/// created the replica annotations (upstream `SetNewReplicaSetAnnotations`). Returns whether
/// anything changed.
pub fn set_new_replica_set_annotations(
    deployment: &Deployment,
    rs: &mut ReplicaSet,
    new_revision: i64,
    exists: bool,
    max_surge: i32,
) -> bool {
    let annotations = rs.metadata.annotations.get_or_insert_with(BTreeMap::new);
    let mut changed = false;
    for (key, value) in deployment.metadata.annotations.iter().flatten() {
        if skip_copy(key) || annotations.get(key) == Some(value) {
            continue;
        }
        annotations.insert(key.clone(), value.clone());
        changed = true;
    }
    let old_revision = annotations.get(REVISION).cloned();
    let old_number = old_revision
        .as_deref()
        .and_then(|revision| revision.parse::<i64>().ok())
        .unwrap_or(0);
    if old_number < new_revision {
        annotations.insert(REVISION.to_owned(), new_revision.to_string());
        changed = true;
        if let Some(old) = old_revision.filter(|old| !old.is_empty()) {
            let history = match annotations.get(REVISION_HISTORY) {
                Some(history) if !history.is_empty() => format!("{history},{old}"),
                _ => old,
            };
            annotations.insert(REVISION_HISTORY.to_owned(), trim_history(&history));
        }
    }
    if !exists {
        let desired = super::fenceposts::desired(deployment);
        changed |= set_replicas_annotations(rs, desired, desired.saturating_add(max_surge));
    }
    changed
}

/// Keeps the newest revisions of a comma-separated history within the character cap.
fn trim_history(history: &str) -> String {
    let mut kept: Vec<&str> = history.split(',').collect();
    while kept.join(",").len() > MAX_HISTORY_CHARS && kept.len() > 1 {
        kept.remove(0);
    }
    kept.join(",")
}

/// Whether the replica annotations differ from (`desired`, `max`).
pub fn replicas_annotations_need_update(rs: &ReplicaSet, desired: i32, max: i32) -> bool {
    let annotations = rs.metadata.annotations.as_ref();
    let get = |key: &str| {
        annotations
            .and_then(|annotations| annotations.get(key))
            .cloned()
    };
    get(DESIRED_REPLICAS) != Some(desired.to_string()) || get(MAX_REPLICAS) != Some(max.to_string())
}

/// Sets the replica annotations; returns whether they changed.
pub fn set_replicas_annotations(rs: &mut ReplicaSet, desired: i32, max: i32) -> bool {
    if !replicas_annotations_need_update(rs, desired, max) {
        return false;
    }
    let annotations = rs.metadata.annotations.get_or_insert_with(BTreeMap::new);
    annotations.insert(DESIRED_REPLICAS.to_owned(), desired.to_string());
    annotations.insert(MAX_REPLICAS.to_owned(), max.to_string());
    true
}

/// An integer annotation of `rs`.
pub fn int_annotation(rs: &ReplicaSet, key: &str) -> Option<i32> {
    rs.metadata.annotations.as_ref()?.get(key)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::DeploymentSpec;
    use kube::api::ObjectMeta;

    fn deployment(annotations: &[(&str, &str)]) -> Deployment {
        Deployment {
            metadata: ObjectMeta {
                annotations: Some(
                    annotations
                        .iter()
                        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                        .collect(),
                ),
                ..ObjectMeta::default()
            },
            spec: Some(DeploymentSpec {
                replicas: Some(4),
                ..DeploymentSpec::default()
            }),
            status: None,
        }
    }

    fn rs(annotations: &[(&str, &str)]) -> ReplicaSet {
        ReplicaSet {
            metadata: ObjectMeta {
                annotations: Some(
                    annotations
                        .iter()
                        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                        .collect(),
                ),
                ..ObjectMeta::default()
            },
            ..ReplicaSet::default()
        }
    }

    #[test]
    fn a_new_replica_set_gets_the_revision_and_replica_annotations() {
        let mut new = rs(&[]);
        let d = deployment(&[("team", "a"), (LAST_APPLIED, "{}"), (REVISION, "3")]);
        assert!(set_new_replica_set_annotations(&d, &mut new, 4, false, 1));
        let annotations = new.metadata.annotations.unwrap_or_default();
        assert_eq!(annotations.get("team").map(String::as_str), Some("a"));
        assert_eq!(annotations.get(REVISION).map(String::as_str), Some("4"));
        assert_eq!(
            annotations.get(DESIRED_REPLICAS).map(String::as_str),
            Some("4")
        );
        assert_eq!(annotations.get(MAX_REPLICAS).map(String::as_str), Some("5"));
        assert!(!annotations.contains_key(LAST_APPLIED));
    }

    #[test]
    fn a_rolled_back_replica_set_moves_to_the_new_revision_and_remembers_the_old() {
        let mut old = rs(&[(REVISION, "1")]);
        assert!(set_new_replica_set_annotations(
            &deployment(&[]),
            &mut old,
            3,
            true,
            1
        ));
        let annotations = old.metadata.annotations.clone().unwrap_or_default();
        assert_eq!(annotations.get(REVISION).map(String::as_str), Some("3"));
        assert_eq!(
            annotations.get(REVISION_HISTORY).map(String::as_str),
            Some("1")
        );
        assert!(
            !annotations.contains_key(DESIRED_REPLICAS),
            "existing sets keep their replica annotations"
        );
        assert!(
            !set_new_replica_set_annotations(&deployment(&[]), &mut old, 3, true, 1),
            "idempotent"
        );
    }
}
