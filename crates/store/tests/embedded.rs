//! The embedded store against the shared conformance suite.

#[macro_use]
mod conformance;

use std::any::Any;
use std::sync::Arc;

use rkube_store::embedded::{snapshot_database, EmbeddedOptions, EmbeddedStore};
use rkube_store::Store;

async fn fixture() -> (Arc<dyn Store>, Box<dyn Any + Send>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::default()).expect("open store");
    (Arc::new(store), Box::new(dir))
}

store_conformance!();

mod model;

#[tokio::test(flavor = "multi_thread")]
async fn random_operations_match_a_btreemap_model_across_reopens() -> anyhow::Result<()> {
    // Seeds that once failed stay in this list; RKUBE_MODEL_SEED adds one.
    let mut seeds: Vec<u64> = (1..=12).collect();
    if let Ok(seed) = std::env::var("RKUBE_MODEL_SEED") {
        seeds.push(seed.parse()?);
    }
    for seed in seeds {
        model::run(seed, 400).await?;
    }
    Ok(())
}

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{ensure, Context};
use rkube_store::{Error, KeyRange, PrevKv, RangeRequest, WatchRequest};

use conformance::take_events;

/// A store in a fresh temp dir, with its dir.
fn open_fresh(options: EmbeddedOptions) -> anyhow::Result<(EmbeddedStore, tempfile::TempDir)> {
    let dir = tempfile::tempdir()?;
    Ok((EmbeddedStore::open(dir.path(), options)?, dir))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reopened_store_keeps_state_revisions_and_compaction() -> anyhow::Result<()> {
    let (store, dir) = open_fresh(EmbeddedOptions::default())?;
    let a = store.create(b"/reopen/a", b"1".to_vec()).await?;
    let a2 = store
        .update(b"/reopen/a", b"2".to_vec(), a.mod_revision)
        .await?;
    store.create(b"/reopen/b", b"b".to_vec()).await?;
    store.delete(b"/reopen/b", None).await?;
    store.compact(a2.mod_revision).await?;
    let revision = store.current_revision().await?;
    drop(store);
    let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::default())?;
    ensure!(store.current_revision().await? == revision);
    ensure!(store.compacted_revision().await? == a2.mod_revision);
    ensure!(store.get(b"/reopen/a", None).await? == Some(a2.clone()));
    ensure!(store.get(b"/reopen/b", None).await?.is_none());
    let next = store.create(b"/reopen/c", b"c".to_vec()).await?;
    ensure!(
        next.mod_revision == revision + 1,
        "revisions continue after reopen"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_store_is_open_in_one_place_at_a_time() -> anyhow::Result<()> {
    let (store, dir) = open_fresh(EmbeddedOptions::default())?;
    let second = EmbeddedStore::open(dir.path(), EmbeddedOptions::default());
    ensure!(
        matches!(second, Err(Error::Io(_))),
        "a second writer was let in"
    );
    drop(store);
    EmbeddedStore::open(dir.path(), EmbeddedOptions::default())?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_watcher_that_falls_behind_resumes_from_the_log_without_loss() -> anyhow::Result<()> {
    // A buffer of one batch: the unread watch is cut off almost at once.
    let (store, _dir) = open_fresh(EmbeddedOptions::default().watch_buffer(1))?;
    let store: Arc<dyn Store> = Arc::new(store);
    let mut slow = store
        .watch(WatchRequest {
            range: KeyRange::prefix("/slow/"),
            start_revision: None,
            prev_kv: PrevKv::Include,
        })
        .await?;
    let mut written = Vec::new();
    let mut kv = store.create(b"/slow/a", b"0".to_vec()).await?;
    written.push(kv.clone());
    for i in 1..300 {
        kv = store
            .update(b"/slow/a", format!("{i}").into_bytes(), kv.mod_revision)
            .await?;
        written.push(kv.clone());
    }
    let events = take_events(&mut slow, written.len()).await?;
    let kvs: Vec<_> = events.iter().map(|e| e.kv.clone()).collect();
    ensure!(kvs == written, "a slow watcher lost or repeated events");
    ensure!(events
        .iter()
        .skip(1)
        .zip(&written)
        .all(|(e, prev)| e.prev_kv.as_ref() == Some(prev)));
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn closing_the_store_ends_its_watches_with_closed() -> anyhow::Result<()> {
    use futures::StreamExt;
    let (store, _dir) = open_fresh(EmbeddedOptions::default())?;
    let mut watch = store
        .watch(WatchRequest {
            range: KeyRange::prefix("/"),
            start_revision: None,
            prev_kv: PrevKv::Omit,
        })
        .await?;
    drop(store);
    let end = tokio::time::timeout(Duration::from_secs(60), watch.next())
        .await
        .context("watch did not end when the store closed")?;
    ensure!(matches!(end, Some(Err(Error::Closed))), "{end:?}");
    Ok(())
}

/// Who takes a snapshot: the serving store itself, or another process
/// reading its database file (`rkube backup`).
#[derive(Clone, Copy)]
enum SnapshotTaker {
    Store,
    Reader,
}

#[tokio::test(flavor = "multi_thread")]
async fn a_snapshot_taken_while_writing_is_the_store_at_one_revision() -> anyhow::Result<()> {
    snapshot_while_writing(SnapshotTaker::Store).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_snapshot_read_from_the_file_of_a_serving_store_is_the_store_at_one_revision(
) -> anyhow::Result<()> {
    snapshot_while_writing(SnapshotTaker::Reader).await
}

async fn snapshot_while_writing(taker: SnapshotTaker) -> anyhow::Result<()> {
    let (store, dir) = open_fresh(EmbeddedOptions::default())?;
    let store = Arc::new(store);
    for i in 0..50 {
        store
            .create(format!("/snap/{i}").as_bytes(), vec![b's'; 1000])
            .await?;
    }
    store.compact(10).await?;
    // Writers keep going until the snapshot is done.
    let stop = Arc::new(AtomicBool::new(false));
    let (progress, mut writes) = tokio::sync::mpsc::unbounded_channel();
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let store = Arc::clone(&store);
            let stop = Arc::clone(&stop);
            let progress = progress.clone();
            tokio::spawn(async move {
                let mut i = 0;
                while !stop.load(Ordering::SeqCst) {
                    let key = format!("/snap/w{w}/{i}");
                    store.create(key.as_bytes(), vec![b'w'; 500]).await?;
                    let _ = progress.send(());
                    i += 1;
                }
                anyhow::Ok(())
            })
        })
        .collect();
    // Make sure writes are under way before and during the copy.
    for _ in 0..20 {
        writes.recv().await;
    }
    let copy_path = dir.path().join("snapshot.db");
    let snapshot_revision = match taker {
        SnapshotTaker::Store => store.snapshot_to(&copy_path).await?,
        SnapshotTaker::Reader => {
            let (db, copy) = (store.path().to_path_buf(), copy_path.clone());
            tokio::task::spawn_blocking(move || snapshot_database(db, copy)).await??
        }
    };
    for _ in 0..20 {
        writes.recv().await;
    }
    stop.store(true, Ordering::SeqCst);
    for writer in writers {
        writer.await??;
    }
    let after = store.current_revision().await?;
    ensure!(
        snapshot_revision < after,
        "writes went on after the snapshot"
    );
    let copy = EmbeddedStore::open(&copy_path, EmbeddedOptions::default())?;
    ensure!(copy.current_revision().await? == snapshot_revision);
    ensure!(copy.compacted_revision().await? == 10);
    let everything = |revision| RangeRequest {
        range: KeyRange::prefix("/snap/"),
        revision,
        limit: None,
    };
    let original = store.range(everything(Some(snapshot_revision))).await?;
    let copied = copy.range(everything(None)).await?;
    ensure!(
        copied == original,
        "the copy differs from the store at {snapshot_revision}"
    );
    // Its history is the store's history too.
    let old = store.range(everything(Some(30))).await?;
    ensure!(copy.range(everything(Some(30))).await? == old);
    ensure!(
        matches!(store.snapshot_to(&copy_path).await, Err(Error::Io(_))),
        "a snapshot never overwrites a file"
    );
    Ok(())
}
