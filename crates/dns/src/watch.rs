//! Keeping the index current: one kube-rs watcher per resource (Namespaces,
//! Services, EndpointSlices) applying each change as it arrives, and
//! replacing a resource's entries whole after every (re)list.

use std::fmt::Debug;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::runtime::watcher::{self, watcher, Event};
use kube::runtime::WatchStreamExt;
use kube::{Api, Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;

use crate::index::{ClusterIndex, ObjectKey, ServiceRecord, SliceRecord};
use crate::objects::{service_record, slice_record};

/// A resource the index keeps, and how.
trait Indexed:
    Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static
{
    /// What the index keeps of one object.
    type Record: Send;
    /// The record, or `None` when DNS answers nothing for the object.
    fn record(&self) -> Option<Self::Record>;
    /// Stores (or with `None` removes) one object's record.
    fn put(index: &mut ClusterIndex, key: ObjectKey, record: Option<Self::Record>);
    /// Replaces every record of this resource.
    fn replace(index: &mut ClusterIndex, all: Vec<(ObjectKey, Self::Record)>);
}

impl Indexed for Namespace {
    type Record = ();
    fn record(&self) -> Option<()> {
        Some(())
    }
    fn put(index: &mut ClusterIndex, key: ObjectKey, record: Option<()>) {
        index.put_namespace(&key.name, record);
    }
    fn replace(index: &mut ClusterIndex, all: Vec<(ObjectKey, ())>) {
        index.replace_namespaces(all.into_iter().map(|(key, ())| key.name));
    }
}

impl Indexed for Service {
    type Record = ServiceRecord;
    fn record(&self) -> Option<ServiceRecord> {
        service_record(self)
    }
    fn put(index: &mut ClusterIndex, key: ObjectKey, record: Option<ServiceRecord>) {
        index.put_service(key, record);
    }
    fn replace(index: &mut ClusterIndex, all: Vec<(ObjectKey, ServiceRecord)>) {
        index.replace_services(all);
    }
}

impl Indexed for EndpointSlice {
    type Record = SliceRecord;
    fn record(&self) -> Option<SliceRecord> {
        slice_record(self)
    }
    fn put(index: &mut ClusterIndex, key: ObjectKey, record: Option<SliceRecord>) {
        index.put_slice(key, record);
    }
    fn replace(index: &mut ClusterIndex, all: Vec<(ObjectKey, SliceRecord)>) {
        index.replace_slices(all);
    }
}

/// Counts the watchers that have not listed yet, and raises `synced` when
/// the last one has.
struct Readiness {
    pending: AtomicUsize,
    synced: Arc<AtomicBool>,
}

impl Readiness {
    fn listed(&self) {
        if self.pending.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.synced.store(true, Ordering::Release);
            tracing::info!("cluster DNS has listed namespaces, services and endpoint slices");
        }
    }
}

/// Runs the watchers until dropped (they retry with backoff on errors).
///
/// Every change is announced on `changes` as the index's new SOA serial.
pub async fn watch_cluster(
    client: Client,
    index: Arc<RwLock<ClusterIndex>>,
    synced: Arc<AtomicBool>,
    changes: Arc<tokio::sync::watch::Sender<u32>>,
) {
    let shared = Shared {
        index,
        readiness: Readiness {
            pending: AtomicUsize::new(3),
            synced,
        },
        changes,
    };
    let shared = Arc::new(shared);
    tokio::join!(
        watch(Api::<Namespace>::all(client.clone()), shared.clone()),
        watch(Api::<Service>::all(client.clone()), shared.clone()),
        watch(Api::<EndpointSlice>::all(client), shared),
    );
}

/// What every watcher writes to.
struct Shared {
    index: Arc<RwLock<ClusterIndex>>,
    readiness: Readiness,
    changes: Arc<tokio::sync::watch::Sender<u32>>,
}

impl Shared {
    fn update(&self, change: impl FnOnce(&mut ClusterIndex)) {
        let serial = {
            // A poisoned lock means a writer panicked mid-change; the data
            // is a cache that the next relist replaces, so keep serving it.
            let mut index = self
                .index
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            change(&mut index);
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|elapsed| u32::try_from(elapsed.as_secs()).unwrap_or(u32::MAX))
                .unwrap_or_default();
            index.mark_modified(now);
            index.serial()
        };
        self.changes.send_replace(serial);
    }
}

async fn watch<K: Indexed>(api: Api<K>, shared: Arc<Shared>) {
    let mut events = watcher(api, watcher::Config::default())
        .default_backoff()
        .boxed();
    let mut listing: Option<Vec<(ObjectKey, K::Record)>> = None;
    let mut listed_once = false;
    while let Some(event) = events.next().await {
        let event = match event {
            Ok(event) => event,
            Err(error) => {
                tracing::warn!(kind = %K::kind(&()), %error, "watch failed; retrying with backoff");
                continue;
            }
        };
        match event {
            Event::Init => listing = Some(Vec::new()),
            Event::InitApply(object) => {
                if let (Some(listing), Some(record)) = (listing.as_mut(), object.record()) {
                    listing.push((key_of(&object), record));
                }
            }
            Event::InitDone => {
                let all = listing.take().unwrap_or_default();
                shared.update(|index| K::replace(index, all));
                if !listed_once {
                    listed_once = true;
                    shared.readiness.listed();
                }
            }
            Event::Apply(object) => {
                let record = object.record();
                shared.update(|index| K::put(index, key_of(&object), record));
            }
            Event::Delete(object) => shared.update(|index| K::put(index, key_of(&object), None)),
        }
    }
}

fn key_of<K: Resource>(object: &K) -> ObjectKey {
    ObjectKey::new(object.namespace().unwrap_or_default(), object.name_any())
}
