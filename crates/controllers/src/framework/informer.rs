//! Shared informers: one watch and one cache per kind, shared by every controller.
//!
//! Upstream's `SharedInformerFactory` (client-go `tools/cache`) starts one list+watch per
//! resource and fans its events out to every registered handler; handlers only enqueue keys.
//! Here a [`reflector`](kube::runtime::reflector) store is the cache, and each subscriber gets
//! its own unbounded channel of [`Change`]s, so a slow controller never makes another miss an
//! event.

use std::any::{Any, TypeId};
use std::collections::{HashMap, HashSet};
use std::fmt::Debug;
use std::sync::{Arc, Mutex, PoisonError};

use futures::StreamExt;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

/// What a kind must be to have a shared informer: a built-in type known at compile time.
pub trait Watchable:
    Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static
{
}

impl<K> Watchable for K where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static
{
}

/// One change seen by an informer, as upstream's add/update (`Applied`) and delete handlers.
#[derive(Debug)]
pub enum Change<K> {
    /// The object was created or updated (or listed at start or after a relist).
    Applied(Arc<K>),
    /// The object was deleted (or vanished between two lists, upstream's
    /// `DeletedFinalStateUnknown`); this is its last known state.
    Deleted(Arc<K>),
}

impl<K> Change<K> {
    /// The object this change is about.
    pub fn object(&self) -> &Arc<K> {
        match self {
            Change::Applied(obj) | Change::Deleted(obj) => obj,
        }
    }
}

impl<K> Clone for Change<K> {
    fn clone(&self) -> Self {
        match self {
            Change::Applied(obj) => Change::Applied(Arc::clone(obj)),
            Change::Deleted(obj) => Change::Deleted(Arc::clone(obj)),
        }
    }
}

/// The subscribers of one informer.
struct Hub<K> {
    subscribers: Mutex<Vec<mpsc::UnboundedSender<Change<K>>>>,
}

impl<K> Hub<K> {
    fn publish(&self, change: &Change<K>) {
        let mut subscribers = self
            .subscribers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        subscribers.retain(|tx| tx.send(change.clone()).is_ok());
    }
}

/// A handle on the shared cache and change feed of one kind, cluster-wide.
pub struct Informer<K: Watchable> {
    store: Store<K>,
    hub: Arc<Hub<K>>,
    /// True once the first list is in the cache. (The store's own `wait_until_ready` wakes
    /// only its last waiter, and several controllers wait on one informer.)
    synced: watch::Receiver<bool>,
}

impl<K: Watchable> Clone for Informer<K> {
    fn clone(&self) -> Self {
        Informer {
            store: self.store.clone(),
            hub: Arc::clone(&self.hub),
            synced: self.synced.clone(),
        }
    }
}

impl<K: Watchable> Informer<K> {
    /// The cache (upstream's lister). Read it in `sync`; never write through it.
    pub fn store(&self) -> Store<K> {
        self.store.clone()
    }

    /// Waits until the first list has filled the cache (upstream's `WaitForCacheSync`).
    pub async fn synced(&self) {
        // The sender lives as long as the informer task; if it is gone we are shutting down
        // and there is nothing to wait for.
        let mut synced = self.synced.clone();
        let _ = synced.wait_for(|synced| *synced).await;
    }

    /// A feed of every change from now on, starting with every object already cached as
    /// `Applied`, so a late subscriber misses nothing.
    pub fn subscribe(&self) -> mpsc::UnboundedReceiver<Change<K>> {
        let (tx, rx) = mpsc::unbounded_channel();
        // Holding the hub lock while snapshotting means the pump cannot publish in between:
        // a change is either in the snapshot, or published to us after, or both.
        let mut subscribers = self
            .hub
            .subscribers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for obj in self.store.state() {
            let _ = tx.send(Change::Applied(obj));
        }
        subscribers.push(tx);
        rx
    }
}

/// The set of shared informers of one controller manager, started on first use and stopped
/// with the manager's shutdown token.
#[derive(Clone)]
pub struct SharedInformers {
    client: Client,
    shutdown: CancellationToken,
    informers: Arc<Mutex<HashMap<TypeId, Box<dyn Any + Send + Sync>>>>,
}

impl SharedInformers {
    /// Informers that watch through `client` until `shutdown` is cancelled.
    pub fn new(client: Client, shutdown: CancellationToken) -> Self {
        SharedInformers {
            client,
            shutdown,
            informers: Arc::default(),
        }
    }

    /// The informer of kind `K` (all namespaces), starting its watch if nobody did yet.
    /// Must be called inside a tokio runtime.
    pub fn get<K: Watchable>(&self) -> Informer<K> {
        let mut informers = self
            .informers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(existing) = informers
            .get(&TypeId::of::<K>())
            .and_then(|any| any.downcast_ref::<Informer<K>>())
        {
            return existing.clone();
        }
        let (store, writer) = reflector::store::<K>();
        let (synced_tx, synced) = watch::channel(false);
        let informer = Informer {
            store,
            hub: Arc::new(Hub {
                subscribers: Mutex::new(Vec::new()),
            }),
            synced,
        };
        tokio::spawn(pump(
            Api::<K>::all(self.client.clone()),
            writer,
            Arc::clone(&informer.hub),
            synced_tx,
            self.shutdown.clone(),
        ));
        informers.insert(TypeId::of::<K>(), Box::new(informer.clone()));
        informer
    }
}

/// Runs the watch of one kind: updates the cache first, then tells subscribers, so a
/// controller woken by a change always finds at least that change in the cache.
async fn pump<K: Watchable>(
    api: Api<K>,
    mut writer: reflector::store::Writer<K>,
    hub: Arc<Hub<K>>,
    synced: watch::Sender<bool>,
    shutdown: CancellationToken,
) {
    let store = writer.as_reader();
    let mut events = watcher::watcher(api, watcher::Config::default())
        .default_backoff()
        .boxed();
    // Objects listed since the last `Init`: the cache switches to them at `InitDone`.
    let mut listed: Vec<Arc<K>> = Vec::new();
    loop {
        let event = tokio::select! {
            () = shutdown.cancelled() => return,
            event = events.next() => event,
        };
        let event = match event {
            Some(Ok(event)) => event,
            Some(Err(error)) => {
                tracing::warn!(kind = %K::kind(&()), %error, "watch failed; retrying with backoff");
                continue;
            }
            None => return,
        };
        match &event {
            Event::Init => {
                listed.clear();
                writer.apply_watcher_event(&event);
            }
            Event::InitApply(obj) => {
                listed.push(Arc::new(obj.clone()));
                writer.apply_watcher_event(&event);
            }
            Event::InitDone => {
                let before = store.state();
                writer.apply_watcher_event(&event);
                let now: HashSet<ObjectRef<K>> = listed
                    .iter()
                    .map(|obj| ObjectRef::from_obj(&**obj))
                    .collect();
                for gone in vanished(before, &now) {
                    hub.publish(&Change::Deleted(gone));
                }
                for obj in listed.drain(..) {
                    hub.publish(&Change::Applied(obj));
                }
                synced.send_replace(true);
            }
            Event::Apply(obj) => {
                writer.apply_watcher_event(&event);
                hub.publish(&Change::Applied(Arc::new(obj.clone())));
            }
            Event::Delete(obj) => {
                writer.apply_watcher_event(&event);
                hub.publish(&Change::Deleted(Arc::new(obj.clone())));
            }
        }
    }
}

/// Objects cached before a relist that the relist no longer has: deletions the watch missed.
fn vanished<K: Watchable>(before: Vec<Arc<K>>, now: &HashSet<ObjectRef<K>>) -> Vec<Arc<K>> {
    before
        .into_iter()
        .filter(|obj| !now.contains(&ObjectRef::from_obj(&**obj)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Pod;
    use kube::api::ObjectMeta;

    fn pod(name: &str) -> Arc<Pod> {
        Arc::new(Pod {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                namespace: Some("default".to_owned()),
                ..ObjectMeta::default()
            },
            ..Pod::default()
        })
    }

    #[test]
    fn a_relist_reports_objects_that_vanished_while_disconnected() {
        let cases: &[(&[&str], &[&str], &[&str])] = &[
            (&["a", "b"], &["a", "b"], &[]),
            (&["a", "b"], &["a"], &["b"]),
            (&["a"], &[], &["a"]),
            (&[], &["a"], &[]),
        ];
        for (before, now, want) in cases {
            let before = before.iter().map(|name| pod(name)).collect();
            let now = now
                .iter()
                .map(|name| ObjectRef::from_obj(&*pod(name)))
                .collect();
            let got: Vec<String> = vanished(before, &now)
                .iter()
                .filter_map(|pod| pod.metadata.name.clone())
                .collect();
            assert_eq!(&got, want);
        }
    }
}
