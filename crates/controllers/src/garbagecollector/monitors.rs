//! Monitors (upstream `graph_builder.go`): one watch per deletable resource found by
//! discovery, feeding the graph; rediscovery picks up new resources (CRDs).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use kube::api::DynamicObject;
use kube::core::ApiResource;
use kube::discovery::{verbs, Discovery, Scope};
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::{Api, ResourceExt};
use tokio_util::sync::CancellationToken;

use super::graph::Node;
use super::Collector;

/// Upstream rediscovers resources every 30 s.
const REDISCOVERY: Duration = Duration::from_secs(30);

/// Resources the collector never watches: events are many, short-lived and never owners
/// (upstream `ignoredResources`).
fn ignored(resource: &ApiResource) -> bool {
    resource.plural == "events"
}

/// A resource's identity for "already monitored".
type ResourceKey = (String, String, String);

/// Runs discovery now and every [`REDISCOVERY`], starting a monitor per new resource.
pub async fn run(collector: Arc<Collector>, shutdown: CancellationToken) {
    let mut monitored: HashSet<ResourceKey> = HashSet::new();
    let mut first_round = true;
    loop {
        match Discovery::new(collector.client.clone()).run().await {
            Ok(discovery) => {
                for group in discovery.groups() {
                    for (resource, capabilities) in group.recommended_resources() {
                        let namespaced = capabilities.scope == Scope::Namespaced;
                        let resource = Arc::new(resource);
                        collector.register_kind(&resource, namespaced);
                        let deletable = [verbs::LIST, verbs::WATCH, verbs::DELETE, verbs::PATCH]
                            .iter()
                            .all(|verb| capabilities.supports_operation(verb));
                        let key = (
                            resource.group.clone(),
                            resource.version.clone(),
                            resource.plural.clone(),
                        );
                        if !deletable || ignored(&resource) || !monitored.insert(key) {
                            continue;
                        }
                        collector.unsynced.fetch_add(1, Ordering::SeqCst);
                        tokio::spawn(monitor(
                            Arc::clone(&collector),
                            resource,
                            namespaced,
                            shutdown.clone(),
                        ));
                    }
                }
                if std::mem::take(&mut first_round) {
                    // Every monitor of the first round is counted: the graph is synced
                    // once they have all listed.
                    collector.unsynced.fetch_sub(1, Ordering::SeqCst);
                    collector.synced.notify_waiters();
                }
            }
            Err(error) => tracing::warn!(%error, "garbage collector discovery failed"),
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(REDISCOVERY) => {}
        }
    }
}

/// Watches one resource into the graph.
async fn monitor(
    collector: Arc<Collector>,
    resource: Arc<ApiResource>,
    namespaced: bool,
    shutdown: CancellationToken,
) {
    let api: Api<DynamicObject> = Api::all_with(collector.client.clone(), &*resource);
    let mut events = watcher::watcher(api, watcher::Config::default())
        .default_backoff()
        .boxed();
    // Uids seen by the current list, to find objects deleted while the watch was down.
    let mut known: HashSet<String> = HashSet::new();
    let mut listing: HashSet<String> = HashSet::new();
    let mut synced = false;
    loop {
        let event = tokio::select! {
            () = shutdown.cancelled() => return,
            event = events.next() => event,
        };
        let event = match event {
            Some(Ok(event)) => event,
            Some(Err(error)) => {
                tracing::debug!(resource = %resource.plural, %error, "garbage collector watch failed; retrying");
                continue;
            }
            None => return,
        };
        match event {
            Event::Init => listing.clear(),
            Event::InitApply(obj) => {
                if let Some(node) = node_of(&obj, &resource, namespaced) {
                    listing.insert(node.uid.clone());
                    collector.upsert(node);
                }
            }
            Event::InitDone => {
                for gone in known.difference(&listing) {
                    collector.remove(gone);
                }
                known = std::mem::take(&mut listing);
                if !synced {
                    synced = true;
                    collector.unsynced.fetch_sub(1, Ordering::SeqCst);
                    collector.synced.notify_waiters();
                }
            }
            Event::Apply(obj) => {
                if let Some(node) = node_of(&obj, &resource, namespaced) {
                    known.insert(node.uid.clone());
                    collector.upsert(node);
                }
            }
            Event::Delete(obj) => {
                if let Some(uid) = obj.uid() {
                    known.remove(&uid);
                    collector.remove(&uid);
                }
            }
        }
    }
}

fn node_of(obj: &DynamicObject, resource: &Arc<ApiResource>, namespaced: bool) -> Option<Node> {
    let meta = &obj.metadata;
    Some(Node {
        resource: Arc::clone(resource),
        namespace: if namespaced {
            meta.namespace.clone()
        } else {
            None
        },
        name: meta.name.clone()?,
        uid: meta.uid.clone()?,
        resource_version: meta.resource_version.clone(),
        owners: meta.owner_references.clone().unwrap_or_default(),
        deleting: meta.deletion_timestamp.is_some(),
        finalizers: meta.finalizers.clone().unwrap_or_default(),
    })
}

/// The kinds discovery found, for looking up owners by apiVersion and kind.
#[derive(Debug, Default)]
pub struct Kinds {
    by_kind: HashMap<(String, String), (Arc<ApiResource>, bool)>,
}

impl Kinds {
    /// Records `resource`.
    pub fn insert(&mut self, resource: &Arc<ApiResource>, namespaced: bool) {
        self.by_kind.insert(
            (resource.api_version.clone(), resource.kind.clone()),
            (Arc::clone(resource), namespaced),
        );
    }

    /// The resource of `api_version`/`kind` and whether it is namespaced.
    pub fn get(&self, api_version: &str, kind: &str) -> Option<(Arc<ApiResource>, bool)> {
        self.by_kind
            .get(&(api_version.to_owned(), kind.to_owned()))
            .cloned()
    }
}

/// How many monitors have not finished their first list.
pub type Unsynced = AtomicUsize;
