//! ControllerRevisions: the template history DaemonSets and StatefulSets keep (upstream
//! `pkg/controller/history`). A revision stores its template as the patch that restores it
//! (`{"spec":{"template":{…,"$patch":"replace"}}}`, what `kubectl rollout undo` applies), is
//! named `<owner>-<hash>` (hash of that patch and the owner's collision count), carries the
//! hash in its `controller-revision-hash` label and a number one above the newest revision.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use k8s_openapi::api::apps::v1::ControllerRevision;
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;
use kube::api::{DeleteParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::{Api, Resource, ResourceExt};
use serde_json::{json, Value};

pub mod pod_actions;

use crate::claim::controller_ref;
use crate::deployment::template_hash::hash_bytes;

/// The label naming a revision's hash, on revisions and on the pods made from them.
pub const CONTROLLER_REVISION_HASH: &str = "controller-revision-hash";

/// Upstream's default `revisionHistoryLimit` for DaemonSets and StatefulSets.
pub const DEFAULT_HISTORY_LIMIT: i32 = 10;

/// How many names to try before giving up on hash collisions in one sync.
const MAX_COLLISION_RETRIES: i32 = 8;

/// The revision data for `template`: the strategic merge patch that puts it back.
pub fn template_patch(template: &PodTemplateSpec) -> Value {
    let mut template = serde_json::to_value(template).unwrap_or_else(|_| json!({}));
    if let Value::Object(fields) = &mut template {
        fields.insert("$patch".to_owned(), Value::String("replace".to_owned()));
    }
    json!({ "spec": { "template": template } })
}

/// The template a revision stores, if its data is one of ours.
pub fn template_of(revision: &ControllerRevision) -> Option<PodTemplateSpec> {
    let mut template = revision
        .data
        .as_ref()?
        .0
        .get("spec")?
        .get("template")?
        .clone();
    if let Value::Object(fields) = &mut template {
        fields.remove("$patch");
    }
    serde_json::from_value(template).ok()
}

/// The hash naming a revision of `data` (upstream `HashControllerRevision`).
pub fn hash(data: &Value, collision_count: i32) -> String {
    hash_bytes(
        &serde_json::to_vec(data).unwrap_or_default(),
        Some(collision_count),
    )
}

/// The hash label of a revision (or of a pod made from one).
pub fn hash_label<R: Resource>(object: &R) -> Option<&str> {
    object
        .meta()
        .labels
        .as_ref()?
        .get(CONTROLLER_REVISION_HASH)
        .map(String::as_str)
}

/// A new revision of `template` for `owner`.
pub fn build<O: Resource<DynamicType = ()>>(
    owner: &O,
    template: &PodTemplateSpec,
    number: i64,
    collision_count: i32,
) -> ControllerRevision {
    let data = template_patch(template);
    let hash = hash(&data, collision_count);
    let mut labels: BTreeMap<String, String> = template
        .metadata
        .as_ref()
        .and_then(|meta| meta.labels.clone())
        .unwrap_or_default();
    labels.insert(CONTROLLER_REVISION_HASH.to_owned(), hash.clone());
    ControllerRevision {
        metadata: ObjectMeta {
            name: Some(format!("{}-{hash}", owner.name_any())),
            namespace: owner.namespace(),
            labels: Some(labels),
            owner_references: Some(vec![controller_ref(owner)]),
            ..ObjectMeta::default()
        },
        data: Some(RawExtension(data)),
        revision: number,
    }
}

/// One above the highest revision number (1 for the first).
pub fn next_number(revisions: &[Arc<ControllerRevision>]) -> i64 {
    revisions.iter().map(|r| r.revision).max().unwrap_or(0) + 1
}

/// Revisions oldest first (revision number, then creation time, then name).
pub fn sort(revisions: &mut [Arc<ControllerRevision>]) {
    revisions.sort_by(|a, b| {
        (a.revision, &a.metadata.creation_timestamp, a.name_any()).cmp(&(
            b.revision,
            &b.metadata.creation_timestamp,
            b.name_any(),
        ))
    });
}

/// The revisions to delete so that at most `limit` revisions not in `live` remain: the
/// oldest ones (upstream `truncateHistory`).
pub fn to_truncate(
    revisions: &[Arc<ControllerRevision>],
    live: &HashSet<String>,
    limit: i32,
) -> Vec<Arc<ControllerRevision>> {
    let mut dead: Vec<Arc<ControllerRevision>> = revisions
        .iter()
        .filter(|revision| !live.contains(&revision.name_any()))
        .cloned()
        .collect();
    sort(&mut dead);
    let keep = usize::try_from(limit.max(0)).unwrap_or(0);
    let surplus = dead.len().saturating_sub(keep);
    dead.truncate(surplus);
    dead
}

/// The revision of `template` among `revisions`, made the newest: an equal revision is
/// reused (renumbered if older, as on a rollback), otherwise a new one is created, bumping
/// `collision_count` while its name is taken by different data (upstream
/// `getStatefulSetRevisions` / `constructHistory`). `revisions` is updated in place.
pub async fn ensure<O: Resource<DynamicType = ()>>(
    api: &Api<ControllerRevision>,
    owner: &O,
    template: &PodTemplateSpec,
    revisions: &mut Vec<Arc<ControllerRevision>>,
    collision_count: &mut i32,
) -> Result<Arc<ControllerRevision>, kube::Error> {
    let data = template_patch(template);
    sort(revisions);
    let next = next_number(revisions);
    let equal = revisions
        .iter()
        .enumerate()
        .rev()
        .find(|(_, revision)| revision.data.as_ref().map(|raw| &raw.0) == Some(&data))
        .map(|(index, revision)| (index, Arc::clone(revision)));
    if let Some((index, found)) = equal {
        if found.revision == next - 1 {
            return Ok(found);
        }
        let renumbered: ControllerRevision = api
            .patch(
                &found.name_any(),
                &PatchParams::default(),
                &Patch::Merge(json!({ "revision": next })),
            )
            .await?;
        let renumbered = Arc::new(renumbered);
        if let Some(slot) = revisions.get_mut(index) {
            *slot = Arc::clone(&renumbered);
        }
        return Ok(renumbered);
    }
    let mut attempts = 0;
    loop {
        let candidate = build(owner, template, next, *collision_count);
        match api.create(&PostParams::default(), &candidate).await {
            Ok(created) => {
                let created = Arc::new(created);
                revisions.push(Arc::clone(&created));
                return Ok(created);
            }
            Err(kube::Error::Api(status)) if status.code == 409 => {
                let existing = api.get(&candidate.name_any()).await?;
                let ours = crate::claim::controller_of(&existing)
                    .is_some_and(|reference| Some(&reference.uid) == owner.meta().uid.as_ref());
                if ours && existing.data.as_ref().map(|raw| &raw.0) == Some(&data) {
                    let existing = Arc::new(existing);
                    revisions.push(Arc::clone(&existing));
                    return Ok(existing);
                }
                attempts += 1;
                *collision_count = collision_count.saturating_add(1);
                if attempts >= MAX_COLLISION_RETRIES {
                    return Err(kube::Error::Api(status));
                }
            }
            Err(error) => return Err(error),
        }
    }
}

/// Deletes the revisions [`to_truncate`] picks; already-gone ones are fine.
pub async fn truncate(
    api: &Api<ControllerRevision>,
    revisions: &[Arc<ControllerRevision>],
    live: &HashSet<String>,
    limit: i32,
) -> Result<(), kube::Error> {
    for revision in to_truncate(revisions, live, limit) {
        match api
            .delete(&revision.name_any(), &DeleteParams::default())
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::StatefulSet;
    use k8s_openapi::api::core::v1::{Container, PodSpec};

    fn template(image: &str) -> PodTemplateSpec {
        PodTemplateSpec {
            metadata: Some(ObjectMeta {
                labels: Some([("app".to_owned(), "web".to_owned())].into()),
                ..ObjectMeta::default()
            }),
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "c".to_owned(),
                    image: Some(image.to_owned()),
                    ..Container::default()
                }],
                ..PodSpec::default()
            }),
        }
    }

    fn owner() -> StatefulSet {
        StatefulSet {
            metadata: ObjectMeta {
                name: Some("web".to_owned()),
                namespace: Some("default".to_owned()),
                uid: Some("set-uid".to_owned()),
                ..ObjectMeta::default()
            },
            ..StatefulSet::default()
        }
    }

    fn revision(name: &str, number: i64) -> Arc<ControllerRevision> {
        Arc::new(ControllerRevision {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                ..ObjectMeta::default()
            },
            data: None,
            revision: number,
        })
    }

    #[test]
    fn revision_hashes_follow_the_template_and_the_collision_count() {
        let a = template_patch(&template("nginx:1"));
        let cases = [
            ("same template", hash(&a, 0), true),
            (
                "other image",
                hash(&template_patch(&template("nginx:2")), 0),
                false,
            ),
            ("collision count bumped", hash(&a, 1), false),
        ];
        for (name, other, same) in cases {
            assert_eq!(hash(&a, 0) == other, same, "{name}");
        }
    }

    #[test]
    fn a_revision_names_itself_after_its_owner_and_restores_its_template() {
        let built = build(&owner(), &template("nginx:1"), 3, 0);
        let hash = hash_label(&built).unwrap_or_default().to_owned();
        assert_eq!(built.metadata.name, Some(format!("web-{hash}")));
        assert_eq!(built.revision, 3);
        assert_eq!(template_of(&built), Some(template("nginx:1")));
        let data = built.data.map(|raw| raw.0).unwrap_or_default();
        assert_eq!(data["spec"]["template"]["$patch"], "replace");
    }

    #[test]
    fn truncation_keeps_live_revisions_and_the_newest_dead_ones() {
        let revisions = vec![
            revision("r1", 1),
            revision("r2", 2),
            revision("r3", 3),
            revision("r4", 4),
        ];
        let live: HashSet<String> = ["r1".to_owned(), "r4".to_owned()].into();
        let names = |limit| -> Vec<String> {
            to_truncate(&revisions, &live, limit)
                .iter()
                .map(|r| r.name_any())
                .collect()
        };
        let cases = [
            ("limit 0 deletes every dead one", 0, vec!["r2", "r3"]),
            ("limit 1 keeps the newest dead one", 1, vec!["r2"]),
            ("limit 10 deletes nothing", 10, vec![]),
        ];
        for (name, limit, want) in cases {
            assert_eq!(names(limit), want, "{name}");
        }
        assert_eq!(next_number(&revisions), 5);
        assert_eq!(next_number(&[]), 1);
    }
}
