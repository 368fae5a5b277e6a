//! Triggers: which changes enqueue which keys (upstream's event handlers, which only enqueue).

use std::sync::Arc;

use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt};
use kube::runtime::reflector::ObjectRef;
use kube::Resource;
use tokio_stream::wrappers::UnboundedReceiverStream;

use super::expectations::Expectations;
use super::informer::{Change, Informer, Watchable};

/// The keys of kind `K` to reconcile, built from informers' change feeds, plus the caches that
/// must be synced before the first `sync` runs (upstream's `WaitForCacheSync`).
pub struct Triggers<K: Watchable> {
    pub(crate) streams: Vec<BoxStream<'static, ObjectRef<K>>>,
    pub(crate) synced: Vec<BoxFuture<'static, ()>>,
}

impl<K: Watchable> Default for Triggers<K> {
    fn default() -> Self {
        Triggers {
            streams: Vec::new(),
            synced: Vec::new(),
        }
    }
}

impl<K: Watchable> Triggers<K> {
    /// No triggers yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every change of a `K` enqueues that `K` (the controller's own kind).
    pub fn primary(self, informer: &Informer<K>) -> Self {
        self.mapped(informer, |change| {
            vec![ObjectRef::from_obj(&**change.object())]
        })
    }

    /// Every change of a `C` whose controller ownerReference is a `K` enqueues that owner
    /// (upstream's `resolveControllerRef` in each handler).
    pub fn owned<C: Watchable>(self, informer: &Informer<C>) -> Self {
        self.mapped(informer, |change| {
            controller_owner::<K, C>(change.object())
                .into_iter()
                .collect()
        })
    }

    /// Every change of a `C` enqueues the keys `map` returns, e.g. all `K`s whose selector
    /// matches an orphan (upstream's `getPodReplicaSets`). Also waits for `C`'s cache.
    pub fn mapped<C: Watchable>(
        mut self,
        informer: &Informer<C>,
        map: impl Fn(&Change<C>) -> Vec<ObjectRef<K>> + Send + 'static,
    ) -> Self {
        let changes = UnboundedReceiverStream::new(informer.subscribe());
        self.streams.push(
            changes
                .flat_map(move |change| futures::stream::iter(map(&change)))
                .boxed(),
        );
        self.waits_for(informer)
    }

    /// A deleted `K` drops its expectations and enqueues nothing (upstream's delete handlers
    /// call `expectations.DeleteExpectations`).
    pub fn forgets_deleted<C: Watchable>(
        self,
        informer: &Informer<K>,
        expectations: Arc<Expectations<K, C>>,
    ) -> Self {
        self.mapped(informer, move |change| {
            if let Change::Deleted(owner) = change {
                expectations.forget(&ObjectRef::from_obj(&**owner));
            }
            Vec::new()
        })
    }

    /// Waits for `C`'s cache before the first `sync`, without enqueuing on its changes
    /// (for caches `sync` reads but whose changes do not matter to it).
    pub fn waits_for<C: Watchable>(mut self, informer: &Informer<C>) -> Self {
        let informer = informer.clone();
        self.synced
            .push(async move { informer.synced().await }.boxed());
        self
    }
}

/// The `K` that controls `child` (its ownerReference with `controller: true`), if it is a `K`.
pub fn controller_owner<K: Watchable, C: Resource>(child: &Arc<C>) -> Option<ObjectRef<K>> {
    let owner = child
        .meta()
        .owner_references
        .as_ref()?
        .iter()
        .find(|owner| owner.controller == Some(true))?;
    if owner.kind != K::kind(&()) || owner.api_version != K::api_version(&()) {
        return None;
    }
    let key = ObjectRef::new(&owner.name);
    Some(match child.meta().namespace.as_deref() {
        Some(namespace) => key.within(namespace),
        None => key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
    use k8s_openapi::api::core::v1::Pod;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
    use kube::api::ObjectMeta;

    fn pod_owned_by(api_version: &str, kind: &str, controller: Option<bool>) -> Arc<Pod> {
        Arc::new(Pod {
            metadata: ObjectMeta {
                name: Some("p".to_owned()),
                namespace: Some("ns".to_owned()),
                owner_references: Some(vec![OwnerReference {
                    api_version: api_version.to_owned(),
                    kind: kind.to_owned(),
                    name: "owner".to_owned(),
                    uid: "u".to_owned(),
                    controller,
                    ..OwnerReference::default()
                }]),
                ..ObjectMeta::default()
            },
            ..Pod::default()
        })
    }

    #[test]
    fn only_a_controller_reference_of_the_right_kind_resolves_to_an_owner() {
        let cases = [
            ("apps/v1", "ReplicaSet", Some(true), true),
            ("apps/v1", "ReplicaSet", Some(false), false),
            ("apps/v1", "ReplicaSet", None, false),
            ("apps/v1", "Deployment", Some(true), false),
            ("extensions/v1beta1", "ReplicaSet", Some(true), false),
        ];
        for (api_version, kind, controller, want) in cases {
            let got =
                controller_owner::<ReplicaSet, Pod>(&pod_owned_by(api_version, kind, controller));
            assert_eq!(
                got,
                want.then(|| ObjectRef::new("owner").within("ns")),
                "{api_version} {kind} {controller:?}"
            );
        }
        assert_eq!(
            controller_owner::<Deployment, Pod>(&pod_owned_by("apps/v1", "Deployment", Some(true))),
            Some(ObjectRef::new("owner").within("ns"))
        );
    }
}
