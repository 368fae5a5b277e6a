//! Informers (upstream's shared informers in pkg/scheduler/eventhandlers.go):
//! kube-rs watchers for every kind the scheduler reads, and a [`Mirror`] per
//! kind that turns the watch stream into added / updated / deleted deltas
//! with the previous version at hand, as upstream's `Update(old, new)`
//! handlers need.
//!
//! Watch streams relist after an expired resource version; the mirror diffs
//! the relist against what it held so objects deleted meanwhile still show
//! up as deletions.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::scheduling::v1::PriorityClass;
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::{Api, Resource};
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

/// One watch event of one of the watched kinds.
// Each change is moved once through a channel; boxing would only add an
// allocation per event.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub(crate) enum Change {
    /// A pod (pending or bound, any scheduler's).
    Pod(Event<Pod>),
    /// A node.
    Node(Event<Node>),
    /// A namespace (its labels feed affinity `namespaceSelector`).
    Namespace(Event<Namespace>),
    /// A PodDisruptionBudget (preemption respects them).
    Pdb(Event<PodDisruptionBudget>),
    /// A PriorityClass (resolves pods' `priorityClassName`).
    PriorityClass(Event<PriorityClass>),
}

/// Starts one watcher per kind, each sending its events to `changes`. The
/// tasks retry with backoff on errors and stop when the set is dropped or
/// the receiver goes away.
pub(crate) fn spawn(client: &kube::Client, changes: mpsc::Sender<Change>) -> JoinSet<()> {
    let mut set = JoinSet::new();
    set.spawn(forward(
        Api::<Pod>::all(client.clone()),
        changes.clone(),
        Change::Pod,
    ));
    set.spawn(forward(
        Api::<Node>::all(client.clone()),
        changes.clone(),
        Change::Node,
    ));
    set.spawn(forward(
        Api::<Namespace>::all(client.clone()),
        changes.clone(),
        Change::Namespace,
    ));
    set.spawn(forward(
        Api::<PodDisruptionBudget>::all(client.clone()),
        changes.clone(),
        Change::Pdb,
    ));
    set.spawn(forward(
        Api::<PriorityClass>::all(client.clone()),
        changes,
        Change::PriorityClass,
    ));
    set
}

async fn forward<K>(api: Api<K>, changes: mpsc::Sender<Change>, wrap: fn(Event<K>) -> Change)
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug + Send + 'static,
    K::DynamicType: Default,
{
    // Lists come from the apiserver's watch cache (resourceVersion=0), as
    // upstream's reflectors do.
    let config = watcher::Config::default().any_semantic();
    let mut stream = std::pin::pin!(watcher::watcher(api, config).default_backoff());
    while let Some(event) = stream.next().await {
        match event {
            Ok(event) => {
                if changes.send(wrap(event)).await.is_err() {
                    return;
                }
            }
            Err(error) => {
                tracing::warn!(kind = K::kind(&Default::default()).as_ref(), %error, "watch failed; retrying");
            }
        }
    }
}

/// What a watch event meant for one object.
#[derive(Debug, Clone)]
pub(crate) enum Delta<K> {
    /// First seen.
    Added(Arc<K>),
    /// Changed from the first to the second.
    Updated(Arc<K>, Arc<K>),
    /// Gone; the last version seen.
    Deleted(Arc<K>),
}

/// The last seen version of every object of one kind.
#[derive(Debug)]
pub(crate) struct Mirror<K> {
    objects: HashMap<String, Arc<K>>,
    /// Keys seen in the relist under way.
    relisting: Option<HashSet<String>>,
    synced: bool,
}

impl<K> Default for Mirror<K> {
    fn default() -> Self {
        Mirror {
            objects: HashMap::new(),
            relisting: None,
            synced: false,
        }
    }
}

/// `namespace/name`, or `name` for cluster-scoped objects.
pub(crate) fn object_key<K: Resource>(object: &K) -> String {
    let meta = object.meta();
    let name = meta.name.as_deref().unwrap_or_default();
    match meta.namespace.as_deref() {
        Some(ns) if !ns.is_empty() => format!("{ns}/{name}"),
        _ => name.to_string(),
    }
}

impl<K: Resource> Mirror<K> {
    /// Applies a watch event; returns what changed.
    pub(crate) fn apply(&mut self, event: Event<K>) -> Vec<Delta<K>> {
        match event {
            Event::Init => {
                self.relisting = Some(HashSet::new());
                Vec::new()
            }
            Event::InitApply(object) => {
                if let Some(seen) = &mut self.relisting {
                    seen.insert(object_key(&object));
                }
                self.upsert(object).into_iter().collect()
            }
            Event::InitDone => {
                self.synced = true;
                let Some(seen) = self.relisting.take() else {
                    return Vec::new();
                };
                let gone: Vec<String> = self
                    .objects
                    .keys()
                    .filter(|k| !seen.contains(*k))
                    .cloned()
                    .collect();
                gone.into_iter()
                    .filter_map(|k| self.objects.remove(&k))
                    .map(Delta::Deleted)
                    .collect()
            }
            Event::Apply(object) => self.upsert(object).into_iter().collect(),
            Event::Delete(object) => {
                let key = object_key(&object);
                let last = self
                    .objects
                    .remove(&key)
                    .unwrap_or_else(|| Arc::new(object));
                vec![Delta::Deleted(last)]
            }
        }
    }

    fn upsert(&mut self, object: K) -> Option<Delta<K>> {
        let key = object_key(&object);
        let new = Arc::new(object);
        match self.objects.insert(key, new.clone()) {
            None => Some(Delta::Added(new)),
            Some(old) if old.meta().resource_version == new.meta().resource_version => None,
            Some(old) => Some(Delta::Updated(old, new)),
        }
    }

    /// True once the first full list arrived.
    pub(crate) fn synced(&self) -> bool {
        self.synced
    }

    /// The object stored under `key`.
    pub(crate) fn get(&self, key: &str) -> Option<&Arc<K>> {
        self.objects.get(key)
    }

    /// Every object.
    pub(crate) fn values(&self) -> impl Iterator<Item = &Arc<K>> {
        self.objects.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn node(name: &str, rv: &str) -> Node {
        Node {
            metadata: ObjectMeta {
                name: Some(name.into()),
                resource_version: Some(rv.into()),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn describe(deltas: &[Delta<Node>]) -> Vec<String> {
        deltas
            .iter()
            .map(|d| match d {
                Delta::Added(n) => format!("added {}", object_key(n.as_ref())),
                Delta::Updated(o, n) => format!(
                    "updated {} {}->{}",
                    object_key(n.as_ref()),
                    o.metadata.resource_version.as_deref().unwrap_or_default(),
                    n.metadata.resource_version.as_deref().unwrap_or_default()
                ),
                Delta::Deleted(n) => format!("deleted {}", object_key(n.as_ref())),
            })
            .collect()
    }

    #[test]
    fn events_become_deltas_with_the_previous_version() {
        type Case = (&'static str, Vec<Event<Node>>, Vec<&'static str>);
        let cases: Vec<Case> = vec![
            (
                "an apply of a new object adds it",
                vec![Event::Apply(node("a", "1"))],
                vec!["added a"],
            ),
            (
                "a second apply updates it, naming both versions",
                vec![Event::Apply(node("a", "1")), Event::Apply(node("a", "2"))],
                vec!["added a", "updated a 1->2"],
            ),
            (
                "an apply at the same resource version is no change",
                vec![Event::Apply(node("a", "1")), Event::Apply(node("a", "1"))],
                vec!["added a"],
            ),
            (
                "a relist deletes what it no longer lists",
                vec![
                    Event::Apply(node("a", "1")),
                    Event::Apply(node("b", "1")),
                    Event::Init,
                    Event::InitApply(node("b", "3")),
                    Event::InitDone,
                ],
                vec!["added a", "added b", "updated b 1->3", "deleted a"],
            ),
            (
                "a delete reports the last version held",
                vec![Event::Apply(node("a", "1")), Event::Delete(node("a", "9"))],
                vec!["added a", "deleted a"],
            ),
        ];
        for (name, events, want) in cases {
            let mut mirror = Mirror::default();
            let deltas: Vec<Delta<Node>> =
                events.into_iter().flat_map(|e| mirror.apply(e)).collect();
            assert_eq!(describe(&deltas), want, "{name}");
        }
    }

    #[test]
    fn a_mirror_is_synced_after_its_first_list() {
        let mut mirror: Mirror<Node> = Mirror::default();
        assert!(!mirror.synced());
        mirror.apply(Event::Init);
        mirror.apply(Event::InitApply(node("a", "1")));
        assert!(!mirror.synced());
        mirror.apply(Event::InitDone);
        assert!(mirror.synced());
        assert!(mirror.get("a").is_some());
    }
}
