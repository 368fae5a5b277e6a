//! The store against a real etcd (Debian's `etcd-server`, started per test on
//! free loopback ports with its own temp dir): the shared conformance suite,
//! then what is particular to etcd.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

#[macro_use]
mod conformance;

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use rkube_store::etcd::EtcdStore;
use rkube_store::{Error, EventKind, KeyRange, PrevKv, Store, WatchRequest, WatchStream};
use rkube_testkit::EtcdProcess;

/// How long a test waits for a watch item that must come.
const EVENT_DEADLINE: Duration = Duration::from_secs(60);

/// A fresh etcd and a store connected to it; the guard keeps etcd alive.
async fn fixture() -> (Arc<dyn Store>, Box<dyn Any + Send>) {
    let (store, etcd) = etcd_store().await;
    (Arc::new(store), Box::new(etcd))
}

store_conformance!();

async fn etcd_store() -> (EtcdStore, EtcdProcess) {
    let etcd = tokio::task::spawn_blocking(EtcdProcess::start)
        .await
        .unwrap()
        .unwrap();
    let store = EtcdStore::connect(&[etcd.endpoint()]).await.unwrap();
    (store, etcd)
}

/// A plain etcd client, to look at what the store wrote or act behind its back.
async fn raw_client(etcd: &EtcdProcess) -> etcd_client::Client {
    etcd_client::Client::connect([etcd.endpoint()], None)
        .await
        .unwrap()
}

async fn next_item(
    watch: &mut WatchStream,
) -> Option<rkube_store::Result<Vec<rkube_store::Event>>> {
    tokio::time::timeout(EVENT_DEADLINE, watch.next())
        .await
        .expect("nothing from the watch before the deadline")
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_are_stored_as_given_so_etcdctl_sees_them() {
    let (store, etcd) = etcd_store().await;
    let created = store
        .create(b"/registry/pods/default/web", b"{}".to_vec())
        .await
        .unwrap();

    let mut raw = raw_client(&etcd).await;
    let response = raw.get("/registry/pods/default/web", None).await.unwrap();
    let kv = &response.kvs()[0];
    assert_eq!(kv.value(), b"{}");
    assert_eq!(kv.mod_revision(), created.mod_revision);
    assert_eq!(kv.create_revision(), created.create_revision);
}

/// etcd compares an absent key as if its mod_revision were 0, so a guard of
/// `mod_revision == 0` alone would let an update create the key.
#[tokio::test(flavor = "multi_thread")]
async fn writes_guarded_by_revision_0_do_not_touch_a_missing_key() {
    let (store, _etcd) = etcd_store().await;
    let before = store.current_revision().await.unwrap();
    let update = store.update(b"/none", b"x".to_vec(), 0).await;
    assert!(matches!(update, Err(Error::NotFound)), "{update:?}");
    let delete = store.delete(b"/none", Some(0)).await;
    assert!(matches!(delete, Err(Error::NotFound)), "{delete:?}");
    assert!(store.get(b"/none", None).await.unwrap().is_none());
    assert_eq!(store.current_revision().await.unwrap(), before);
}

/// A watch catching up from history gets responses that pack several
/// revisions; the store hands them out one revision per batch.
#[tokio::test(flavor = "multi_thread")]
async fn a_watch_from_history_gets_one_batch_per_revision() {
    let (store, _etcd) = etcd_store().await;
    let a = store.create(b"/w/a", b"1".to_vec()).await.unwrap();
    let b = store
        .update(b"/w/a", b"2".to_vec(), a.mod_revision)
        .await
        .unwrap();
    let (_, deleted_at) = store.delete(b"/w/a", None).await.unwrap();

    let mut watch = store
        .watch(WatchRequest {
            range: KeyRange::prefix("/w/"),
            start_revision: Some(a.mod_revision),
            prev_kv: PrevKv::Include,
        })
        .await
        .unwrap();
    let mut events = Vec::new();
    while events.len() < 3 {
        let batch = next_item(&mut watch).await.unwrap().unwrap();
        assert_eq!(batch.len(), 1, "one revision per batch: {batch:?}");
        events.extend(batch);
    }
    let seen: Vec<_> = events.iter().map(|e| (e.kind, e.revision())).collect();
    assert_eq!(
        seen,
        [
            (EventKind::Put, a.mod_revision),
            (EventKind::Put, b.mod_revision),
            (EventKind::Delete, deleted_at)
        ]
    );
    assert_eq!(events[2].prev_kv.as_ref(), Some(&b));
}

/// etcd has no call for its compacted revision; the store must find one made
/// by another client too.
#[tokio::test(flavor = "multi_thread")]
async fn a_compaction_by_another_client_is_found() {
    let (store, etcd) = etcd_store().await;
    assert_eq!(store.compacted_revision().await.unwrap(), 0);
    let a = store.create(b"/c/a", vec![]).await.unwrap();
    let b = store.create(b"/c/b", vec![]).await.unwrap();

    let mut raw = raw_client(&etcd).await;
    raw.compact(b.mod_revision, None).await.unwrap();
    assert_eq!(store.compacted_revision().await.unwrap(), b.mod_revision);
    let read = store.get(b"/c/a", Some(a.mod_revision)).await;
    assert!(
        matches!(read, Err(Error::Compacted { requested, compacted }) if requested == a.mod_revision && compacted == b.mod_revision),
        "{read:?}"
    );
}

/// A watch must not look like a quiet key range when etcd is gone: it ends
/// with an error.
#[tokio::test(flavor = "multi_thread")]
async fn a_watch_ends_with_an_error_when_etcd_dies() {
    let (store, etcd) = etcd_store().await;
    let mut watch = store
        .watch(WatchRequest {
            range: KeyRange::prefix("/"),
            start_revision: None,
            prev_kv: PrevKv::Omit,
        })
        .await
        .unwrap();
    drop(etcd);
    let item = next_item(&mut watch).await;
    assert!(matches!(item, Some(Err(Error::Etcd(_)))), "{item:?}");
    assert!(next_item(&mut watch).await.is_none());
}
