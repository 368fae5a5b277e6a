//! The store against a real etcd (Debian's `etcd-server`, started per test on
//! free loopback ports with its own temp dir).
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use rkube_store::etcd::EtcdStore;
use rkube_store::{
    Error, EventKind, KeyRange, PrevKv, RangeRequest, Revision, Store, WatchRequest, WatchStream,
};
use rkube_testkit::EtcdProcess;

/// How long a test waits for an event that must come.
const EVENT_DEADLINE: Duration = Duration::from_secs(30);

/// A fresh etcd and a store connected to it; the guard keeps etcd alive.
async fn fixture() -> (Arc<dyn Store>, Box<dyn Any + Send>) {
    let (store, etcd) = etcd_store().await;
    (Arc::new(store), Box::new(etcd))
}

async fn etcd_store() -> (EtcdStore, EtcdProcess) {
    let etcd = tokio::task::spawn_blocking(EtcdProcess::start)
        .await
        .unwrap()
        .unwrap();
    let store = EtcdStore::connect(&[etcd.endpoint()]).await.unwrap();
    (store, etcd)
}

/// A raw etcd client, to check what the store wrote or to act behind its back.
async fn raw_client(etcd: &EtcdProcess) -> etcd_client::Client {
    etcd_client::Client::connect([etcd.endpoint()], None)
        .await
        .unwrap()
}

async fn next_batch(watch: &mut WatchStream) -> rkube_store::Result<Vec<rkube_store::Event>> {
    tokio::time::timeout(EVENT_DEADLINE, watch.next())
        .await
        .expect("no watch event before the deadline")
        .expect("watch ended")
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

#[tokio::test(flavor = "multi_thread")]
async fn writes_map_failed_compares_to_typed_errors() {
    let (store, _etcd) = fixture().await;
    let a = store.create(b"/a", b"1".to_vec()).await.unwrap();
    assert_eq!(a.create_revision, a.mod_revision);

    let exists = store.create(b"/a", b"2".to_vec()).await.unwrap_err();
    assert!(
        matches!(exists, Error::AlreadyExists { ref current } if current.value == b"1"),
        "{exists:?}"
    );

    let updated = store
        .update(b"/a", b"3".to_vec(), a.mod_revision)
        .await
        .unwrap();
    assert_eq!(updated.create_revision, a.create_revision);
    assert!(updated.mod_revision > a.mod_revision);
    assert_eq!(updated.value, b"3");

    let conflict = store
        .update(b"/a", b"4".to_vec(), a.mod_revision)
        .await
        .unwrap_err();
    assert!(
        matches!(conflict, Error::Conflict { expected, ref current } if expected == a.mod_revision && **current == updated),
        "{conflict:?}"
    );
    // etcd compares an absent key as mod_revision 0: that must not create it.
    assert!(matches!(
        store.update(b"/none", b"x".to_vec(), 0).await,
        Err(Error::NotFound)
    ));
    assert!(matches!(
        store.delete(b"/none", Some(0)).await,
        Err(Error::NotFound)
    ));
    assert!(matches!(
        store.delete(b"/none", None).await,
        Err(Error::NotFound)
    ));
    assert!(store.get(b"/none", None).await.unwrap().is_none());

    let stale = store.delete(b"/a", Some(a.mod_revision)).await.unwrap_err();
    assert!(matches!(stale, Error::Conflict { .. }), "{stale:?}");
    let (deleted, at) = store
        .delete(b"/a", Some(updated.mod_revision))
        .await
        .unwrap();
    assert_eq!(deleted, updated);
    assert_eq!(at, store.current_revision().await.unwrap());
    assert!(store.get(b"/a", None).await.unwrap().is_none());
    assert_eq!(
        store.get(b"/a", Some(updated.mod_revision)).await.unwrap(),
        Some(updated)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_is_refused_before_any_request() {
    let (store, _etcd) = fixture().await;
    let before = store.current_revision().await.unwrap();
    let too_big = vec![0; rkube_store::MAX_VALUE_BYTES + 1];
    assert!(matches!(
        store.create(b"", vec![]).await,
        Err(Error::EmptyKey)
    ));
    assert!(matches!(
        store.create(b"/big", too_big.clone()).await,
        Err(Error::ValueTooLarge { .. })
    ));
    assert!(matches!(
        store.update(b"/big", too_big, 1).await,
        Err(Error::ValueTooLarge { .. })
    ));
    assert!(matches!(
        store.delete(b"", None).await,
        Err(Error::EmptyKey)
    ));
    assert!(matches!(store.get(b"", None).await, Err(Error::EmptyKey)));
    let inverted = KeyRange::interval("/b", "/a");
    assert!(matches!(
        store.count(inverted.clone()).await,
        Err(Error::InvalidRange { .. })
    ));
    let watch = WatchRequest {
        range: inverted,
        start_revision: None,
        prev_kv: PrevKv::Omit,
    };
    assert!(matches!(
        store.watch(watch).await,
        Err(Error::InvalidRange { .. })
    ));
    assert_eq!(store.current_revision().await.unwrap(), before);

    let at_limit = vec![7; rkube_store::MAX_VALUE_BYTES];
    let kv = store.create(b"/at-limit", at_limit.clone()).await.unwrap();
    assert_eq!(
        store.get(b"/at-limit", None).await.unwrap().unwrap().value,
        at_limit
    );
    assert_eq!(kv.value.len(), rkube_store::MAX_VALUE_BYTES);
}

#[tokio::test(flavor = "multi_thread")]
async fn range_pages_through_a_snapshot_with_limit_and_more() {
    let (store, _etcd) = fixture().await;
    for name in ["a", "b", "c", "d", "e"] {
        store
            .create(format!("/p/{name}").as_bytes(), name.into())
            .await
            .unwrap();
    }
    store.create(b"/pa", b"outside".to_vec()).await.unwrap();
    let snapshot = store.current_revision().await.unwrap();
    store.create(b"/p/f", b"later".to_vec()).await.unwrap();

    let mut seen = Vec::new();
    let mut from = b"/p/".to_vec();
    loop {
        let page = store
            .range(RangeRequest {
                range: KeyRange::interval(from.clone(), "/p0"),
                revision: Some(snapshot),
                limit: Some(2),
            })
            .await
            .unwrap();
        assert_eq!(page.revision, snapshot);
        seen.extend(page.kvs.iter().map(|kv| kv.value.clone()));
        if !page.more {
            break;
        }
        from = page.kvs.last().unwrap().key.clone();
        from.push(0);
    }
    assert_eq!(seen, [b"a", b"b", b"c", b"d", b"e"]);
    assert_eq!(store.count(KeyRange::prefix("/p/")).await.unwrap().0, 6);

    let future = store
        .range(RangeRequest {
            range: KeyRange::prefix("/p/"),
            revision: Some(snapshot + 100),
            limit: None,
        })
        .await
        .unwrap_err();
    assert!(
        matches!(future, Error::FutureRevision { requested, .. } if requested == snapshot + 100),
        "{future:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_watch_from_history_gets_one_batch_per_revision_with_prev_values() {
    let (store, _etcd) = fixture().await;
    let a = store.create(b"/w/a", b"1".to_vec()).await.unwrap();
    let b = store
        .update(b"/w/a", b"2".to_vec(), a.mod_revision)
        .await
        .unwrap();
    store
        .create(b"/wx", b"not under /w/".to_vec())
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
        let batch = next_batch(&mut watch).await.unwrap();
        assert_eq!(batch.len(), 1, "one revision per batch: {batch:?}");
        events.extend(batch);
    }
    assert_eq!(events[0].kind, EventKind::Put);
    assert_eq!(events[0].kv, a);
    assert_eq!(events[0].prev_kv, None);
    assert_eq!(events[1].kv, b);
    assert_eq!(events[1].prev_kv.as_ref(), Some(&a));
    assert_eq!(events[2].kind, EventKind::Delete);
    assert_eq!(events[2].revision(), deleted_at);
    assert_eq!(events[2].prev_kv.as_ref(), Some(&b));

    // A watch from "now" sees a write acknowledged after it returned.
    let mut live = store
        .watch(WatchRequest {
            range: KeyRange::key("/w/live"),
            start_revision: None,
            prev_kv: PrevKv::Omit,
        })
        .await
        .unwrap();
    let live_kv = store.create(b"/w/live", b"x".to_vec()).await.unwrap();
    assert_eq!(next_batch(&mut live).await.unwrap()[0].kv, live_kv);
}

#[tokio::test(flavor = "multi_thread")]
async fn compaction_is_reported_to_reads_and_watches_below_it() {
    let (store, etcd) = etcd_store().await;
    assert_eq!(store.compacted_revision().await.unwrap(), 0);
    let mut last: Revision = 0;
    for i in 0..5 {
        last = store
            .create(format!("/c/{i}").as_bytes(), vec![])
            .await
            .unwrap()
            .mod_revision;
    }
    let compact_at = last - 2;
    store.compact(compact_at).await.unwrap();
    assert_eq!(store.compacted_revision().await.unwrap(), compact_at);

    let read = store.get(b"/c/0", Some(compact_at - 1)).await.unwrap_err();
    assert!(
        matches!(read, Error::Compacted { requested, compacted } if requested == compact_at - 1 && compacted == compact_at),
        "{read:?}"
    );
    assert!(store
        .get(b"/c/0", Some(compact_at))
        .await
        .unwrap()
        .is_some());
    let watch = store
        .watch(WatchRequest {
            range: KeyRange::prefix("/c/"),
            start_revision: Some(1),
            prev_kv: PrevKv::Omit,
        })
        .await;
    assert!(matches!(watch, Err(Error::Compacted { compacted, .. }) if compacted == compact_at));

    // A compaction by another client is found too.
    let mut raw = raw_client(&etcd).await;
    raw.compact(last, None).await.unwrap();
    assert_eq!(store.compacted_revision().await.unwrap(), last);
    let again = store.compact(compact_at).await.unwrap_err();
    assert!(
        matches!(again, Error::Compacted { compacted, .. } if compacted == last),
        "{again:?}"
    );
}
