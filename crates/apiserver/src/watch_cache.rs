//! The watch cache of one resource (upstream's `cacher` +
//! `watch_cache.go`): the current objects in memory plus a ring of recent
//! events, fed by ONE store watch. Every WATCH and each LIST/GET with
//! `resourceVersion=0` is served from here, so N watchers cost one store
//! watch, and each event is serialised once, not once per watcher.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, OnceLock, RwLock};

use bytes::Bytes;
use futures::StreamExt;
use rkube_api::ResourceDef;
use rkube_store::{EventKind, KeyRange, RangeRequest, Revision, Store, WatchRequest};
use serde_json::Value;
use tokio::sync::broadcast;

use crate::registry::meta;

/// How many recent events a cache keeps for watches that resume from an
/// older resourceVersion (upstream sizes its ring dynamically from 100 up;
/// a fixed ring keeps the memory bound obvious).
const RING_CAPACITY: usize = 4096;

/// How many events a slow watcher may fall behind before it is dropped (it
/// then re-lists, as upstream terminates watchers that block the cacher).
const WATCHER_BACKLOG: usize = 1024;

/// The `type` of a watch event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// The object appeared (or started matching the watcher's selector).
    Added,
    /// The object changed.
    Modified,
    /// The object went away (or stopped matching).
    Deleted,
    /// A progress marker carrying only a resourceVersion.
    Bookmark,
    /// An error Status; the watch ends after it.
    Error,
}

impl EventType {
    /// The wire string.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
            EventType::Bookmark => "BOOKMARK",
            EventType::Error => "ERROR",
        }
    }
}

/// One change of one object, shared by every watcher.
#[derive(Debug)]
pub struct CacheEvent {
    /// What happened.
    pub kind: EventType,
    /// The store key.
    pub key: String,
    /// The object after the change (for deletes: its last state, with the
    /// delete's resourceVersion, as upstream).
    pub object: Arc<Value>,
    /// The object before the change, for updates and deletes.
    pub prev: Option<Arc<Value>>,
    /// The revision of the change.
    pub revision: Revision,
    frame: OnceLock<Bytes>,
}

impl CacheEvent {
    fn new(
        kind: EventType,
        key: String,
        object: Arc<Value>,
        prev: Option<Arc<Value>>,
        revision: Revision,
    ) -> Self {
        CacheEvent {
            kind,
            key,
            object,
            prev,
            revision,
            frame: OnceLock::new(),
        }
    }

    /// An event for unit tests elsewhere in the crate.
    #[cfg(test)]
    pub fn for_test(kind: EventType, key: &str, object: Value, prev: Option<Value>) -> Self {
        CacheEvent::new(
            kind,
            key.to_string(),
            Arc::new(object),
            prev.map(Arc::new),
            1,
        )
    }

    /// The event as one line of a JSON watch stream, serialised once.
    pub fn frame(&self) -> Bytes {
        self.frame
            .get_or_init(|| encode_frame(self.kind, &self.object))
            .clone()
    }
}

/// `{"type":"ADDED","object":{…}}` and a newline.
pub fn encode_frame(kind: EventType, object: &Value) -> Bytes {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(b"{\"type\":\"");
    out.extend_from_slice(kind.as_str().as_bytes());
    out.extend_from_slice(b"\",\"object\":");
    // Writing a Value into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut out, object);
    out.extend_from_slice(b"}\n");
    Bytes::from(out)
}

struct State {
    objects: BTreeMap<String, Arc<Value>>,
    /// The revision the cache reflects.
    revision: Revision,
    /// Recent events, oldest first.
    ring: VecDeque<Arc<CacheEvent>>,
    /// Watches may resume from any revision `>= oldest`.
    oldest: Revision,
    events: broadcast::Sender<Arc<CacheEvent>>,
}

/// A consistent starting point for a watcher: the events after its
/// resourceVersion that are already known, and a subscription for the rest.
pub struct Subscription {
    /// Known events after the requested revision, in order.
    pub backlog: Vec<Arc<CacheEvent>>,
    /// Later events.
    pub live: broadcast::Receiver<Arc<CacheEvent>>,
    /// The cache's revision when subscribing.
    pub revision: Revision,
}

/// Why a cache read failed.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// The watcher asked for a revision older than the ring holds.
    #[error("too old resource version: {requested} ({oldest})")]
    TooOld {
        /// Asked for.
        requested: Revision,
        /// Oldest servable.
        oldest: Revision,
    },
    /// Filling the cache failed.
    #[error(transparent)]
    Store(#[from] rkube_store::Error),
    /// A stored object is not JSON.
    #[error("stored object {key} is not JSON: {source}")]
    Corrupt {
        /// The key.
        key: String,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
}

/// The cache of one resource.
pub struct WatchCache {
    def: Arc<ResourceDef>,
    state: RwLock<State>,
}

impl std::fmt::Debug for WatchCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchCache")
            .field("resource", &self.def.plural)
            .finish_non_exhaustive()
    }
}

impl WatchCache {
    /// Lists the resource from the store and starts following it. Returns
    /// once the initial state is loaded.
    pub async fn start(
        store: Arc<dyn Store>,
        def: Arc<ResourceDef>,
    ) -> Result<Arc<Self>, CacheError> {
        let (objects, revision) = load(store.as_ref(), &def).await?;
        let (events, _) = broadcast::channel(WATCHER_BACKLOG);
        let cache = Arc::new(WatchCache {
            def,
            state: RwLock::new(State {
                objects,
                revision,
                ring: VecDeque::new(),
                oldest: revision,
                events,
            }),
        });
        tokio::spawn(follow(Arc::downgrade(&cache), store, revision));
        Ok(cache)
    }

    /// The resource this cache holds.
    pub fn def(&self) -> &Arc<ResourceDef> {
        &self.def
    }

    /// The current objects under `prefix` (a key prefix), and the revision.
    pub fn list(&self, prefix: &str) -> (Vec<Arc<Value>>, Revision) {
        let state = self.read();
        let items = state
            .objects
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(_, v)| v.clone())
            .collect();
        (items, state.revision)
    }

    /// One object by key.
    pub fn get(&self, key: &str) -> (Option<Arc<Value>>, Revision) {
        let state = self.read();
        (state.objects.get(key).cloned(), state.revision)
    }

    /// Subscribes from `from` (exclusive); `None`: from now.
    pub fn subscribe(&self, from: Option<Revision>) -> Result<Subscription, CacheError> {
        let state = self.read();
        let live = state.events.subscribe();
        let backlog = match from {
            None => Vec::new(),
            Some(rv) if rv < state.oldest => {
                return Err(CacheError::TooOld {
                    requested: rv,
                    oldest: state.oldest,
                })
            }
            Some(rv) => state
                .ring
                .iter()
                .filter(|e| e.revision > rv)
                .cloned()
                .collect(),
        };
        Ok(Subscription {
            backlog,
            live,
            revision: state.revision,
        })
    }

    /// The current objects and a subscription for what follows them, taken
    /// atomically (a watch without resourceVersion starts with ADDED events
    /// for the current state).
    pub fn snapshot_and_subscribe(&self) -> (Vec<Arc<Value>>, Subscription) {
        let state = self.read();
        let live = state.events.subscribe();
        let objects = state.objects.values().cloned().collect();
        (
            objects,
            Subscription {
                backlog: Vec::new(),
                live,
                revision: state.revision,
            },
        )
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        // A poisoned lock means a panic while applying an event; the state is
        // still the last consistent one, so keep serving it.
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }

    fn apply(&self, event: rkube_store::Event) {
        let key = String::from_utf8_lossy(&event.kv.key).into_owned();
        let revision = event.revision();
        let mut state = self.write();
        let prev = state.objects.get(&key).cloned();
        let cache_event = match event.kind {
            EventKind::Put => {
                let Ok(mut obj) = serde_json::from_slice::<Value>(&event.kv.value) else {
                    tracing::warn!(key, "skipping a stored object that is not JSON");
                    return;
                };
                meta::set_resource_version(&mut obj, event.kv.mod_revision);
                let obj = Arc::new(obj);
                state.objects.insert(key.clone(), obj.clone());
                let kind = if prev.is_some() {
                    EventType::Modified
                } else {
                    EventType::Added
                };
                CacheEvent::new(kind, key, obj, prev, revision)
            }
            EventKind::Delete => {
                let Some(last) = state.objects.remove(&key) else {
                    return;
                };
                let mut obj = (*last).clone();
                meta::set_resource_version(&mut obj, revision);
                CacheEvent::new(EventType::Deleted, key, Arc::new(obj), Some(last), revision)
            }
        };
        let cache_event = Arc::new(cache_event);
        state.revision = revision;
        if state.ring.len() >= RING_CAPACITY {
            if let Some(dropped) = state.ring.pop_front() {
                state.oldest = dropped.revision;
            }
        }
        state.ring.push_back(cache_event.clone());
        // No receivers is fine: nobody is watching.
        let _ = state.events.send(cache_event);
    }

    /// After the store watch broke: reload everything and end every current
    /// watch (their clients re-list), as upstream's cacher does.
    fn reset(&self, objects: BTreeMap<String, Arc<Value>>, revision: Revision) {
        let mut state = self.write();
        let (events, _) = broadcast::channel(WATCHER_BACKLOG);
        state.objects = objects;
        state.revision = revision;
        state.ring.clear();
        state.oldest = revision;
        state.events = events;
    }
}

async fn load(
    store: &dyn Store,
    def: &ResourceDef,
) -> Result<(BTreeMap<String, Arc<Value>>, Revision), CacheError> {
    let response = store
        .range(RangeRequest {
            range: KeyRange::prefix(def.key_prefix()),
            revision: None,
            limit: None,
        })
        .await?;
    let mut objects = BTreeMap::new();
    for kv in response.kvs {
        let key = String::from_utf8_lossy(&kv.key).into_owned();
        let mut obj: Value =
            serde_json::from_slice(&kv.value).map_err(|source| CacheError::Corrupt {
                key: key.clone(),
                source,
            })?;
        meta::set_resource_version(&mut obj, kv.mod_revision);
        objects.insert(key, Arc::new(obj));
    }
    Ok((objects, response.revision))
}

/// Follows the store from `revision`, re-listing when the watch breaks,
/// until the cache is dropped.
async fn follow(cache: std::sync::Weak<WatchCache>, store: Arc<dyn Store>, mut revision: Revision) {
    loop {
        let Some(def) = cache.upgrade().map(|c| c.def.clone()) else {
            return;
        };
        let watch = store
            .watch(WatchRequest {
                range: KeyRange::prefix(def.key_prefix()),
                start_revision: Some(revision + 1),
                prev_kv: rkube_store::PrevKv::Omit,
            })
            .await;
        if let Ok(mut stream) = watch {
            while let Some(batch) = stream.next().await {
                let Some(cache) = cache.upgrade() else {
                    return;
                };
                match batch {
                    Ok(events) => {
                        for event in events {
                            revision = revision.max(event.revision());
                            cache.apply(event);
                        }
                    }
                    Err(error) => {
                        tracing::warn!(resource = %def.plural, %error, "watch cache lost its store watch; re-listing");
                        break;
                    }
                }
            }
        }
        // The stream ended or could not start: re-list (retrying until the
        // store answers) and start over from the new revision.
        loop {
            if cache.strong_count() == 0 {
                return;
            }
            match load(store.as_ref(), &def).await {
                Ok((objects, rev)) => {
                    if let Some(cache) = cache.upgrade() {
                        cache.reset(objects, rev);
                    }
                    revision = rev;
                    break;
                }
                Err(error) => {
                    tracing::warn!(resource = %def.plural, %error, "watch cache re-list failed");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rkube_api::Scope;
    use rkube_store::embedded::{EmbeddedOptions, EmbeddedStore};
    use std::time::Duration;

    async fn next(live: &mut broadcast::Receiver<Arc<CacheEvent>>) -> Arc<CacheEvent> {
        tokio::time::timeout(Duration::from_secs(10), live.recv())
            .await
            .expect("the cache should see the write within 10s")
            .expect("an event")
    }

    #[tokio::test]
    async fn the_cache_follows_writes_and_replays_from_a_revision() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store: Arc<dyn Store> =
            Arc::new(EmbeddedStore::open(dir.path(), EmbeddedOptions::default()).expect("store"));
        let def = Arc::new(crate::testing::def(
            "",
            "v1",
            "ConfigMap",
            "configmaps",
            Scope::Namespaced,
        ));
        let before = store
            .create(
                b"/registry/configmaps/a/old",
                br#"{"metadata":{"name":"old"}}"#.to_vec(),
            )
            .await
            .expect("create");
        let cache = WatchCache::start(store.clone(), def).await.expect("cache");
        let (items, rev) = cache.list("/registry/configmaps/a/");
        assert_eq!(items.len(), 1);
        assert_eq!(rev, before.mod_revision);
        let mut live = cache.subscribe(None).expect("subscribe").live;

        let key = b"/registry/configmaps/a/x";
        let created = store
            .create(key, br#"{"metadata":{"name":"x"}}"#.to_vec())
            .await
            .expect("create");
        let added = next(&mut live).await;
        assert_eq!(added.kind, EventType::Added);
        assert_eq!(
            added.object["metadata"]["resourceVersion"],
            created.mod_revision.to_string()
        );
        let updated = store
            .update(
                key,
                br#"{"metadata":{"name":"x","labels":{"a":"b"}}}"#.to_vec(),
                created.mod_revision,
            )
            .await
            .expect("update");
        let modified = next(&mut live).await;
        assert_eq!(modified.kind, EventType::Modified);
        assert!(modified.prev.is_some());
        store
            .delete(key, Some(updated.mod_revision))
            .await
            .expect("delete");
        let deleted = next(&mut live).await;
        assert_eq!(deleted.kind, EventType::Deleted);
        assert_eq!(deleted.object["metadata"]["labels"]["a"], "b");

        let replay = cache.subscribe(Some(created.mod_revision)).expect("replay");
        let kinds: Vec<EventType> = replay.backlog.iter().map(|e| e.kind).collect();
        assert_eq!(kinds, vec![EventType::Modified, EventType::Deleted]);
        assert!(matches!(
            cache.subscribe(Some(before.mod_revision - 1)),
            Err(CacheError::TooOld { .. })
        ));
        assert_eq!(
            &deleted.frame()[..],
            encode_frame(EventType::Deleted, &deleted.object).as_ref()
        );
    }
}
