//! Adopting and releasing children by selector and controller ownerReference (upstream
//! `pkg/controller/controller_ref_manager.go`): a controller owns the children its selector
//! matches that no other controller owns, and lets go of those it owns that no longer match.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Patch, PatchParams};
use kube::core::{Selector, SelectorExt};
use kube::{Api, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde_json::json;

/// What a controller does with one candidate child.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Claim {
    /// Ours and matching: manage it.
    Keep,
    /// An orphan that matches: take it (then manage it).
    Adopt,
    /// Ours but no longer matching: remove our ownerReference.
    Release,
    /// Someone else's, or not ours to touch now.
    Ignore,
}

/// The owner side of a claim.
pub struct Owner<'a> {
    /// The owner's uid.
    pub uid: &'a str,
    /// The owner is being deleted: it adopts and releases nothing.
    pub deleting: bool,
    /// Its selector.
    pub selector: &'a Selector,
}

/// Decides for one child (upstream `ClaimObject`).
pub fn decide(
    owner: &Owner<'_>,
    child_labels: &BTreeMap<String, String>,
    child_controller: Option<&OwnerReference>,
    child_deleting: bool,
) -> Claim {
    let matches = owner.selector.matches(child_labels);
    match child_controller {
        Some(controller) if controller.uid != owner.uid => Claim::Ignore,
        Some(_) if matches => Claim::Keep,
        Some(_) if owner.deleting => Claim::Ignore,
        Some(_) => Claim::Release,
        None if owner.deleting || !matches || child_deleting => Claim::Ignore,
        None => Claim::Adopt,
    }
}

/// The controller ownerReference of `meta`.
pub fn controller_of<C: Resource>(child: &C) -> Option<&OwnerReference> {
    child
        .meta()
        .owner_references
        .as_ref()?
        .iter()
        .find(|owner| owner.controller == Some(true))
}

/// The controller ownerReference a controller puts on its children: `blockOwnerDeletion` so
/// foreground deletion of the owner waits for them (upstream `NewControllerRef`).
pub fn controller_ref<O: Resource<DynamicType = ()>>(owner: &O) -> OwnerReference {
    OwnerReference {
        api_version: O::api_version(&()).into_owned(),
        kind: O::kind(&()).into_owned(),
        name: owner.name_any(),
        uid: owner.meta().uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// Claims `candidates` for `owner`: adopts matching orphans (after `can_adopt` confirms with
/// a fresh read that the owner still exists and is not being deleted) and releases children
/// that stopped matching. Returns the children now owned: kept and adopted.
pub async fn claim_children<O, C, F, Fut>(
    api: &Api<C>,
    owner: &O,
    selector: &Selector,
    candidates: Vec<Arc<C>>,
    can_adopt: F,
) -> Result<Vec<Arc<C>>, kube::Error>
where
    O: Resource<DynamicType = ()>,
    C: Resource + Clone + DeserializeOwned + Debug,
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<bool, kube::Error>>,
{
    let owner_ref = controller_ref(owner);
    let deciding = Owner {
        uid: &owner_ref.uid,
        deleting: owner.meta().deletion_timestamp.is_some(),
        selector,
    };
    let mut claimed = Vec::new();
    let mut adoptable = Vec::new();
    for child in candidates {
        match decide(
            &deciding,
            child.labels(),
            controller_of(&*child),
            child.meta().deletion_timestamp.is_some(),
        ) {
            Claim::Keep => claimed.push(child),
            Claim::Adopt => adoptable.push(child),
            Claim::Release => release(api, &*child, &owner_ref.uid).await?,
            Claim::Ignore => {}
        }
    }
    if adoptable.is_empty() || !can_adopt().await? {
        return Ok(claimed);
    }
    for child in adoptable {
        if let Some(adopted) = adopt(api, &*child, &owner_ref).await? {
            claimed.push(Arc::new(adopted));
        }
    }
    Ok(claimed)
}

/// Adds our controller reference; `None` if the child is gone or changed meanwhile (the
/// next sync sees its new state).
async fn adopt<C>(
    api: &Api<C>,
    child: &C,
    owner_ref: &OwnerReference,
) -> Result<Option<C>, kube::Error>
where
    C: Resource + Clone + DeserializeOwned + Debug,
{
    let mut references = child.meta().owner_references.clone().unwrap_or_default();
    references.push(owner_ref.clone());
    patch_owner_references(api, child, references).await
}

/// Removes our reference.
async fn release<C>(api: &Api<C>, child: &C, owner_uid: &str) -> Result<(), kube::Error>
where
    C: Resource + Clone + DeserializeOwned + Debug,
{
    let references: Vec<OwnerReference> = child
        .meta()
        .owner_references
        .iter()
        .flatten()
        .filter(|reference| reference.uid != owner_uid)
        .cloned()
        .collect();
    patch_owner_references(api, child, references)
        .await
        .map(|_| ())
}

/// Replaces the child's ownerReferences, preconditioned on the uid and resourceVersion we
/// decided from, so a concurrent adopter or a recreated namesake is never overwritten.
async fn patch_owner_references<C>(
    api: &Api<C>,
    child: &C,
    references: Vec<OwnerReference>,
) -> Result<Option<C>, kube::Error>
where
    C: Resource + Clone + DeserializeOwned + Debug,
{
    let patch = json!({
        "metadata": {
            "ownerReferences": references,
            "uid": child.meta().uid,
            "resourceVersion": child.meta().resource_version,
        }
    });
    match api
        .patch(
            &child.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
    {
        Ok(updated) => Ok(Some(updated)),
        Err(kube::Error::Api(status)) if status.code == 404 || status.code == 409 => Ok(None),
        Err(error) => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(uid: &str) -> OwnerReference {
        OwnerReference {
            uid: uid.to_owned(),
            controller: Some(true),
            ..OwnerReference::default()
        }
    }

    #[test]
    fn children_are_claimed_as_upstream_does() {
        let selector: Selector = [("app", "web")].into_iter().collect();
        let web: BTreeMap<String, String> = [("app".to_owned(), "web".to_owned())].into();
        let db: BTreeMap<String, String> = [("app".to_owned(), "db".to_owned())].into();
        let ours = reference("me");
        let theirs = reference("other");
        // (owner deleting, labels, controller, child deleting, want)
        let cases = [
            (
                "ours and matching",
                false,
                &web,
                Some(&ours),
                false,
                Claim::Keep,
            ),
            (
                "ours, no longer matching",
                false,
                &db,
                Some(&ours),
                false,
                Claim::Release,
            ),
            (
                "ours, not matching, owner deleting",
                true,
                &db,
                Some(&ours),
                false,
                Claim::Ignore,
            ),
            (
                "someone else's",
                false,
                &web,
                Some(&theirs),
                false,
                Claim::Ignore,
            ),
            ("matching orphan", false, &web, None, false, Claim::Adopt),
            (
                "orphan, owner deleting",
                true,
                &web,
                None,
                false,
                Claim::Ignore,
            ),
            (
                "orphan being deleted",
                false,
                &web,
                None,
                true,
                Claim::Ignore,
            ),
            (
                "orphan not matching",
                false,
                &db,
                None,
                false,
                Claim::Ignore,
            ),
        ];
        for (name, owner_deleting, labels, controller, child_deleting, want) in cases {
            let owner = Owner {
                uid: "me",
                deleting: owner_deleting,
                selector: &selector,
            };
            assert_eq!(
                decide(&owner, labels, controller, child_deleting),
                want,
                "{name}"
            );
        }
    }
}
