//! The conformance suite every [`Store`] backend must pass: etcd v3's
//! semantics as rkube relies on them.
//!
//! A backend's test file defines
//! `async fn fixture() -> (Arc<dyn Store>, Box<dyn Any + Send>)`, returning a
//! fresh, empty store of its own and a guard kept alive for the test (a temp
//! dir, an etcd process …), then expands the suite:
//!
//! ```text
//! #[macro_use]
//! mod conformance;
//! store_conformance!();
//! ```
//!
//! Checks compare revisions only with revisions the store returned, never
//! with fixed numbers, and wait for events under a deadline, never on a timer.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, ensure, Context};
use futures::StreamExt;
use rkube_store::{
    Error, Event, EventKind, KeyRange, KeyValue, PrevKv, RangeRequest, Revision, Store,
    WatchRequest, WatchStream, MAX_VALUE_BYTES,
};

/// How long a check waits for something that should happen promptly.
const WAIT: Duration = Duration::from_secs(60);

/// Expands to one `#[tokio::test]` per conformance check, each calling the
/// file's `fixture()` for a fresh store.
#[allow(unused_macros)]
macro_rules! store_conformance {
    () => {
        store_conformance!(@checks
            revisions_increase_with_every_write,
            concurrent_writes_get_distinct_increasing_revisions,
            create_refuses_an_existing_key,
            update_and_delete_conflict_on_a_stale_revision,
            update_and_delete_of_a_missing_key_are_not_found,
            reads_at_old_revisions_see_the_state_of_then,
            limited_ranges_report_more_and_count_counts,
            paged_list_at_a_revision_is_a_snapshot_while_writes_happen,
            watch_delivers_every_write_once_in_revision_order,
            watch_resumes_from_a_past_revision_then_goes_live,
            watch_carries_previous_values_only_when_asked,
            prefix_ending_in_slash_excludes_longer_names,
            compaction_refuses_older_reads_and_watches,
            future_revisions_are_refused,
            racing_creates_have_one_winner,
            racing_updates_from_one_revision_have_one_winner,
            racing_writers_on_one_key_win_once_per_revision,
            values_at_the_limit_are_kept_and_larger_ones_refused,
            empty_keys_and_inverted_ranges_are_refused,
        );
    };
    (@checks $($check:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread")]
            async fn $check() -> anyhow::Result<()> {
                let (store, _guard) = fixture().await;
                crate::conformance::$check(store).await
            }
        )*
    };
}

/// A store under test.
pub type Shared = Arc<dyn Store>;

pub async fn revisions_increase_with_every_write(store: Shared) -> anyhow::Result<()> {
    let start = store.current_revision().await?;
    let created = store.create(b"/rev/a", b"1".to_vec()).await?;
    ensure!(
        created.mod_revision > start,
        "create did not advance the revision"
    );
    ensure!(created.create_revision == created.mod_revision);
    ensure!(store.current_revision().await? == created.mod_revision);
    let updated = store
        .update(b"/rev/a", b"2".to_vec(), created.mod_revision)
        .await?;
    ensure!(updated.mod_revision > created.mod_revision);
    ensure!(
        updated.create_revision == created.create_revision,
        "an update keeps the create revision"
    );
    let (deleted, at) = store.delete(b"/rev/a", None).await?;
    ensure!(deleted == updated, "delete returns the deleted state");
    ensure!(at > updated.mod_revision);
    ensure!(store.current_revision().await? == at);
    // A refused write takes no revision.
    let refused = store.update(b"/rev/a", b"3".to_vec(), at).await;
    ensure!(matches!(refused, Err(Error::NotFound)), "{refused:?}");
    ensure!(store.current_revision().await? == at);
    Ok(())
}

pub async fn concurrent_writes_get_distinct_increasing_revisions(
    store: Shared,
) -> anyhow::Result<()> {
    let start = store.current_revision().await?;
    let writers = (0..16).map(|w| {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            let mut revisions = Vec::new();
            for i in 0..20 {
                let kv = store
                    .create(format!("/conc/{w}/{i}").as_bytes(), b"x".to_vec())
                    .await?;
                revisions.push(kv.mod_revision);
            }
            anyhow::Ok(revisions)
        })
    });
    let mut all = BTreeSet::new();
    for writer in futures::future::join_all(writers).await {
        let revisions = writer??;
        ensure!(
            revisions.windows(2).all(|w| w[0] < w[1]),
            "one writer's revisions went backwards: {revisions:?}"
        );
        all.extend(revisions);
    }
    ensure!(all.len() == 320, "revisions were shared between writes");
    ensure!(all.first().is_some_and(|&first| first > start));
    ensure!(store.current_revision().await? >= all.last().copied().unwrap_or(0));
    Ok(())
}

pub async fn create_refuses_an_existing_key(store: Shared) -> anyhow::Result<()> {
    let first = store.create(b"/create/a", b"1".to_vec()).await?;
    match store.create(b"/create/a", b"2".to_vec()).await {
        Err(Error::AlreadyExists { current }) => ensure!(*current == first, "{current:?}"),
        other => bail!("second create: {other:?}"),
    }
    ensure!(store.get(b"/create/a", None).await? == Some(first.clone()));
    let (_, deleted_at) = store.delete(b"/create/a", None).await?;
    let again = store.create(b"/create/a", b"3".to_vec()).await?;
    ensure!(
        again.create_revision > deleted_at,
        "a re-created key gets a new create revision"
    );
    Ok(())
}

pub async fn update_and_delete_conflict_on_a_stale_revision(store: Shared) -> anyhow::Result<()> {
    let first = store.create(b"/cas/a", b"1".to_vec()).await?;
    let second = store
        .update(b"/cas/a", b"2".to_vec(), first.mod_revision)
        .await?;
    match store
        .update(b"/cas/a", b"3".to_vec(), first.mod_revision)
        .await
    {
        Err(Error::Conflict { expected, current }) => {
            ensure!(expected == first.mod_revision);
            ensure!(*current == second, "conflict carries the current state");
        }
        other => bail!("stale update: {other:?}"),
    }
    match store.delete(b"/cas/a", Some(first.mod_revision)).await {
        Err(Error::Conflict { current, .. }) => ensure!(*current == second),
        other => bail!("stale delete: {other:?}"),
    }
    ensure!(store.get(b"/cas/a", None).await? == Some(second.clone()));
    let (deleted, _) = store.delete(b"/cas/a", Some(second.mod_revision)).await?;
    ensure!(deleted == second);
    ensure!(store.get(b"/cas/a", None).await?.is_none());
    Ok(())
}

pub async fn update_and_delete_of_a_missing_key_are_not_found(store: Shared) -> anyhow::Result<()> {
    let before = store.current_revision().await?;
    let update = store.update(b"/missing/a", b"1".to_vec(), 1).await;
    ensure!(matches!(update, Err(Error::NotFound)), "{update:?}");
    let delete = store.delete(b"/missing/a", None).await;
    ensure!(matches!(delete, Err(Error::NotFound)), "{delete:?}");
    let guarded = store.delete(b"/missing/a", Some(1)).await;
    ensure!(matches!(guarded, Err(Error::NotFound)), "{guarded:?}");
    ensure!(store.get(b"/missing/a", None).await?.is_none());
    ensure!(store.current_revision().await? == before);
    Ok(())
}

pub async fn reads_at_old_revisions_see_the_state_of_then(store: Shared) -> anyhow::Result<()> {
    let v1 = store.create(b"/old/a", b"1".to_vec()).await?;
    let other = store.create(b"/old/b", b"b".to_vec()).await?;
    let v2 = store
        .update(b"/old/a", b"2".to_vec(), v1.mod_revision)
        .await?;
    let (_, deleted_at) = store.delete(b"/old/a", None).await?;
    ensure!(store.get(b"/old/a", Some(v1.mod_revision)).await? == Some(v1.clone()));
    ensure!(store.get(b"/old/a", Some(v2.mod_revision)).await? == Some(v2.clone()));
    ensure!(store.get(b"/old/a", Some(deleted_at)).await?.is_none());
    ensure!(store.get(b"/old/a", None).await?.is_none());
    let at_v1 = store
        .range(RangeRequest {
            range: KeyRange::prefix("/old/"),
            revision: Some(v1.mod_revision),
            limit: None,
        })
        .await?;
    ensure!(at_v1.revision == v1.mod_revision);
    ensure!(at_v1.kvs == vec![v1.clone()], "{:?}", at_v1.kvs);
    let at_v2 = store
        .range(RangeRequest {
            range: KeyRange::prefix("/old/"),
            revision: Some(v2.mod_revision),
            limit: None,
        })
        .await?;
    ensure!(at_v2.kvs == vec![v2, other.clone()], "{:?}", at_v2.kvs);
    let now = store
        .range(RangeRequest {
            range: KeyRange::prefix("/old/"),
            revision: None,
            limit: None,
        })
        .await?;
    ensure!(now.kvs == vec![other]);
    ensure!(now.revision == store.current_revision().await?);
    Ok(())
}

pub async fn limited_ranges_report_more_and_count_counts(store: Shared) -> anyhow::Result<()> {
    for i in 0..5 {
        store
            .create(format!("/lim/{i}").as_bytes(), b"x".to_vec())
            .await?;
    }
    store.create(b"/limit", b"outside".to_vec()).await?;
    let cut = store
        .range(RangeRequest {
            range: KeyRange::prefix("/lim/"),
            revision: None,
            limit: Some(3),
        })
        .await?;
    ensure!(cut.kvs.len() == 3 && cut.more, "{cut:?}");
    let exact = store
        .range(RangeRequest {
            range: KeyRange::prefix("/lim/"),
            revision: None,
            limit: Some(5),
        })
        .await?;
    ensure!(exact.kvs.len() == 5 && !exact.more, "{exact:?}");
    let unlimited = store
        .range(RangeRequest {
            range: KeyRange::prefix("/lim/"),
            revision: None,
            limit: Some(0),
        })
        .await?;
    ensure!(unlimited.kvs.len() == 5 && !unlimited.more);
    let interval = store
        .range(RangeRequest {
            range: KeyRange::interval("/lim/1", "/lim/3"),
            revision: None,
            limit: None,
        })
        .await?;
    let keys: Vec<&[u8]> = interval.kvs.iter().map(|kv| kv.key.as_slice()).collect();
    ensure!(keys == [b"/lim/1".as_slice(), b"/lim/2"], "{keys:?}");
    let (count, at) = store.count(KeyRange::prefix("/lim/")).await?;
    ensure!(count == 5);
    ensure!(at == store.current_revision().await?);
    Ok(())
}

pub async fn paged_list_at_a_revision_is_a_snapshot_while_writes_happen(
    store: Shared,
) -> anyhow::Result<()> {
    let mut expected = Vec::new();
    for i in 0..40 {
        let key = format!("/page/k{i:02}");
        expected.push(
            store
                .create(key.as_bytes(), format!("v0-{i}").into_bytes())
                .await?,
        );
    }
    let snapshot = store.current_revision().await?;
    // A writer changes every key while we page; it reports each write so
    // pages and writes interleave for sure.
    let (progress, mut writes) = tokio::sync::mpsc::unbounded_channel();
    let writer = {
        let store = Arc::clone(&store);
        let originals = expected.clone();
        tokio::spawn(async move {
            for (i, kv) in originals.iter().enumerate() {
                if i % 3 == 0 {
                    store.delete(&kv.key, None).await?;
                } else {
                    store
                        .update(&kv.key, format!("v1-{i}").into_bytes(), kv.mod_revision)
                        .await?;
                }
                store
                    .create(format!("/page/n{i:02}").as_bytes(), b"new".to_vec())
                    .await?;
                // The reader may be done already.
                let _ = progress.send(());
            }
            anyhow::Ok(())
        })
    };
    let end = KeyRange::prefix("/page/")
        .end()
        .context("prefix has an end")?;
    let mut range = KeyRange::prefix("/page/");
    let mut seen = Vec::new();
    loop {
        writes.recv().await;
        let page = store
            .range(RangeRequest {
                range: range.clone(),
                revision: Some(snapshot),
                limit: Some(7),
            })
            .await?;
        ensure!(page.revision == snapshot);
        seen.extend(page.kvs.iter().cloned());
        let Some(last) = page.kvs.last() else { break };
        if !page.more {
            break;
        }
        let mut next = last.key.clone();
        next.push(0);
        range = KeyRange::interval(next, end.clone());
    }
    writer.await??;
    ensure!(
        seen == expected,
        "paged list at {snapshot} differs from the state then: got {} keys",
        seen.len()
    );
    Ok(())
}

pub async fn watch_delivers_every_write_once_in_revision_order(
    store: Shared,
) -> anyhow::Result<()> {
    let start = store.current_revision().await? + 1;
    let mut watch = store
        .watch(WatchRequest {
            range: KeyRange::prefix("/order/"),
            start_revision: Some(start),
            prev_kv: PrevKv::Omit,
        })
        .await?;
    let writers = (0..8).map(|w| {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            let key = format!("/order/{w}");
            let mut acked = Vec::new();
            let mut kv = store.create(key.as_bytes(), b"0".to_vec()).await?;
            acked.push((kv.mod_revision, "put", kv.value.clone()));
            for i in 1..20 {
                kv = store
                    .update(key.as_bytes(), format!("{i}").into_bytes(), kv.mod_revision)
                    .await?;
                acked.push((kv.mod_revision, "put", kv.value.clone()));
            }
            let (_, at) = store.delete(key.as_bytes(), None).await?;
            acked.push((at, "delete", Vec::new()));
            anyhow::Ok(acked)
        })
    });
    let mut acked = BTreeSet::new();
    for writer in futures::future::join_all(writers).await {
        acked.extend(writer??);
    }
    let events = take_events(&mut watch, acked.len()).await?;
    ensure_increasing(&events)?;
    let seen: BTreeSet<_> = events
        .iter()
        .map(|e| {
            let kind = match e.kind {
                EventKind::Put => "put",
                EventKind::Delete => "delete",
            };
            (e.revision(), kind, e.kv.value.clone())
        })
        .collect();
    ensure!(
        seen == acked,
        "watched events differ from acknowledged writes"
    );
    Ok(())
}

pub async fn watch_resumes_from_a_past_revision_then_goes_live(
    store: Shared,
) -> anyhow::Result<()> {
    let mut written = Vec::new();
    for i in 0..10 {
        written.push(
            store
                .create(format!("/resume/{i}").as_bytes(), b"x".to_vec())
                .await?,
        );
    }
    let from = written[4].mod_revision;
    let mut watch = store
        .watch(WatchRequest {
            range: KeyRange::prefix("/resume/"),
            start_revision: Some(from),
            prev_kv: PrevKv::Omit,
        })
        .await?;
    let replayed = take_events(&mut watch, 6).await?;
    let replayed_kvs: Vec<KeyValue> = replayed.iter().map(|e| e.kv.clone()).collect();
    ensure!(replayed_kvs == written[4..], "{replayed_kvs:?}");
    let mut live = Vec::new();
    for i in 10..13 {
        live.push(
            store
                .create(format!("/resume/{i}").as_bytes(), b"y".to_vec())
                .await?,
        );
    }
    let mut events = replayed;
    events.extend(take_events(&mut watch, 3).await?);
    ensure_increasing(&events)?;
    let live_kvs: Vec<KeyValue> = events[6..].iter().map(|e| e.kv.clone()).collect();
    ensure!(live_kvs == live, "{live_kvs:?}");
    Ok(())
}

pub async fn watch_carries_previous_values_only_when_asked(store: Shared) -> anyhow::Result<()> {
    let start = store.current_revision().await? + 1;
    let created = store.create(b"/prev/a", b"1".to_vec()).await?;
    let updated = store
        .update(b"/prev/a", b"2".to_vec(), created.mod_revision)
        .await?;
    let (_, deleted_at) = store.delete(b"/prev/a", None).await?;
    let with = take_events(
        &mut watch_from(&store, "/prev/", start, PrevKv::Include).await?,
        3,
    )
    .await?;
    ensure!(with.len() == 3, "{with:?}");
    ensure!(with[0].kind == EventKind::Put && with[0].prev_kv.is_none());
    ensure!(with[1].kind == EventKind::Put && with[1].prev_kv == Some(created.clone()));
    ensure!(with[2].kind == EventKind::Delete && with[2].prev_kv == Some(updated.clone()));
    ensure!(with[2].kv.key == b"/prev/a" && with[2].revision() == deleted_at);
    let without = take_events(
        &mut watch_from(&store, "/prev/", start, PrevKv::Omit).await?,
        3,
    )
    .await?;
    ensure!(without.iter().all(|e| e.prev_kv.is_none()), "{without:?}");
    // Live events too.
    let mut live = store
        .watch(WatchRequest {
            range: KeyRange::prefix("/prev/"),
            start_revision: None,
            prev_kv: PrevKv::Include,
        })
        .await?;
    let again = store.create(b"/prev/a", b"3".to_vec()).await?;
    let fourth = store
        .update(b"/prev/a", b"4".to_vec(), again.mod_revision)
        .await?;
    let live_events = take_events(&mut live, 2).await?;
    ensure!(live_events[0].prev_kv.is_none(), "{live_events:?}");
    ensure!(live_events[1].prev_kv == Some(again));
    ensure!(live_events[1].kv == fourth);
    Ok(())
}

pub async fn prefix_ending_in_slash_excludes_longer_names(store: Shared) -> anyhow::Result<()> {
    let start = store.current_revision().await? + 1;
    let mut watch = watch_from(&store, "/iso/a/", start, PrevKv::Omit).await?;
    let inside = store.create(b"/iso/a/x", b"1".to_vec()).await?;
    store.create(b"/iso/ab", b"2".to_vec()).await?;
    store.create(b"/iso/ab/x", b"3".to_vec()).await?;
    store.create(b"/iso/a", b"4".to_vec()).await?;
    let sentinel = store.create(b"/iso/a/y", b"5".to_vec()).await?;
    let events = take_events(&mut watch, 2).await?;
    let kvs: Vec<KeyValue> = events.into_iter().map(|e| e.kv).collect();
    ensure!(kvs == vec![inside.clone(), sentinel.clone()], "{kvs:?}");
    let listed = store
        .range(RangeRequest {
            range: KeyRange::prefix("/iso/a/"),
            revision: None,
            limit: None,
        })
        .await?;
    ensure!(listed.kvs == vec![inside, sentinel], "{:?}", listed.kvs);
    let (count, _) = store.count(KeyRange::prefix("/iso/a")).await?;
    ensure!(count == 5, "a prefix without slash covers longer names");
    Ok(())
}

pub async fn compaction_refuses_older_reads_and_watches(store: Shared) -> anyhow::Result<()> {
    let v1 = store.create(b"/compact/a", b"1".to_vec()).await?;
    let v2 = store
        .update(b"/compact/a", b"2".to_vec(), v1.mod_revision)
        .await?;
    let gone = store.create(b"/compact/gone", b"g".to_vec()).await?;
    store.delete(b"/compact/gone", None).await?;
    let v3 = store
        .update(b"/compact/a", b"3".to_vec(), v2.mod_revision)
        .await?;
    let later = store.create(b"/compact/b", b"b".to_vec()).await?;
    let at = v3.mod_revision;
    store.compact(at).await?;
    ensure!(store.compacted_revision().await? == at);
    for old in [v1.mod_revision, v2.mod_revision, gone.mod_revision] {
        let get = store.get(b"/compact/a", Some(old)).await;
        ensure!(
            matches!(get, Err(Error::Compacted { requested, compacted }) if requested == old && compacted == at),
            "get at {old}: {get:?}"
        );
        let range = store
            .range(RangeRequest {
                range: KeyRange::prefix("/compact/"),
                revision: Some(old),
                limit: None,
            })
            .await;
        ensure!(
            matches!(range, Err(Error::Compacted { .. })),
            "range at {old}: {range:?}"
        );
        ensure!(
            watch_is_compacted(&store, old).await?,
            "a watch from {old} must fail as compacted"
        );
    }
    // The compacted revision itself and everything after stay readable.
    ensure!(store.get(b"/compact/a", Some(at)).await? == Some(v3.clone()));
    ensure!(store.get(b"/compact/gone", Some(at)).await?.is_none());
    ensure!(store.get(b"/compact/a", None).await? == Some(v3.clone()));
    let events = take_events(
        &mut watch_from(&store, "/compact/", at, PrevKv::Omit).await?,
        2,
    )
    .await?;
    let kvs: Vec<KeyValue> = events.into_iter().map(|e| e.kv).collect();
    ensure!(kvs == vec![v3, later], "{kvs:?}");
    let again = store.compact(v2.mod_revision).await;
    ensure!(matches!(again, Err(Error::Compacted { .. })), "{again:?}");
    Ok(())
}

pub async fn future_revisions_are_refused(store: Shared) -> anyhow::Result<()> {
    store.create(b"/future/a", b"1".to_vec()).await?;
    let now = store.current_revision().await?;
    let get = store.get(b"/future/a", Some(now + 1)).await;
    ensure!(
        matches!(get, Err(Error::FutureRevision { requested, current }) if requested == now + 1 && current == now),
        "{get:?}"
    );
    let range = store
        .range(RangeRequest {
            range: KeyRange::prefix("/future/"),
            revision: Some(now + 1000),
            limit: None,
        })
        .await;
    ensure!(
        matches!(range, Err(Error::FutureRevision { .. })),
        "{range:?}"
    );
    let compact = store.compact(now + 1).await;
    ensure!(
        matches!(compact, Err(Error::FutureRevision { .. })),
        "{compact:?}"
    );
    Ok(())
}

pub async fn racing_creates_have_one_winner(store: Shared) -> anyhow::Result<()> {
    let racers = (0..256).map(|i| {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            store
                .create(b"/race/create", format!("{i}").into_bytes())
                .await
        })
    });
    let mut winners = Vec::new();
    let mut losers = 0;
    for racer in futures::future::join_all(racers).await {
        match racer? {
            Ok(kv) => winners.push(kv),
            Err(Error::AlreadyExists { .. }) => losers += 1,
            Err(e) => bail!("create failed: {e}"),
        }
    }
    ensure!(
        winners.len() == 1 && losers == 255,
        "{} winners",
        winners.len()
    );
    ensure!(store.get(b"/race/create", None).await?.as_ref() == winners.first());
    Ok(())
}

pub async fn racing_updates_from_one_revision_have_one_winner(store: Shared) -> anyhow::Result<()> {
    let base = store.create(b"/race/update", b"base".to_vec()).await?;
    let racers = (0..256).map(|i| {
        let store = Arc::clone(&store);
        let expected = base.mod_revision;
        tokio::spawn(async move {
            store
                .update(b"/race/update", format!("{i}").into_bytes(), expected)
                .await
        })
    });
    let mut winners = Vec::new();
    let mut conflicts = Vec::new();
    for racer in futures::future::join_all(racers).await {
        match racer? {
            Ok(kv) => winners.push(kv),
            Err(Error::Conflict { current, .. }) => conflicts.push(*current),
            Err(e) => bail!("update failed: {e}"),
        }
    }
    ensure!(winners.len() == 1, "{} winners", winners.len());
    ensure!(
        conflicts.iter().all(|c| Some(c) == winners.first()),
        "every loser sees the winner's write"
    );
    Ok(())
}

pub async fn racing_writers_on_one_key_win_once_per_revision(store: Shared) -> anyhow::Result<()> {
    const WRITERS: usize = 256;
    let base = store.create(b"/race/chain", b"base".to_vec()).await?;
    let racers = (0..WRITERS).map(|i| {
        let store = Arc::clone(&store);
        let mut current = base.clone();
        tokio::spawn(async move {
            loop {
                let value = format!("{i}").into_bytes();
                match store
                    .update(b"/race/chain", value, current.mod_revision)
                    .await
                {
                    Ok(kv) => return anyhow::Ok((current.mod_revision, kv)),
                    Err(Error::Conflict { current: now, .. }) => current = *now,
                    Err(e) => bail!("writer {i}: {e}"),
                }
            }
        })
    });
    let mut wins: Vec<(Revision, KeyValue)> = Vec::new();
    for racer in futures::future::join_all(racers).await {
        wins.push(racer??);
    }
    wins.sort_by_key(|(_, kv)| kv.mod_revision);
    let mut expected = base.mod_revision;
    for (read, kv) in &wins {
        ensure!(
            *read == expected,
            "a write based on {read} won, but the key was at {expected}"
        );
        expected = kv.mod_revision;
    }
    let last = wins.last().map(|(_, kv)| kv.clone());
    ensure!(store.get(b"/race/chain", None).await? == last);
    Ok(())
}

pub async fn values_at_the_limit_are_kept_and_larger_ones_refused(
    store: Shared,
) -> anyhow::Result<()> {
    let big: Vec<u8> = (0..MAX_VALUE_BYTES).map(|i| (i % 251) as u8).collect();
    let kept = store.create(b"/big/a", big.clone()).await?;
    ensure!(store.get(b"/big/a", None).await?.map(|kv| kv.value) == Some(big));
    let before = store.current_revision().await?;
    let too_big = vec![7u8; MAX_VALUE_BYTES + 1];
    let create = store.create(b"/big/b", too_big.clone()).await;
    ensure!(
        matches!(create, Err(Error::ValueTooLarge { size, limit }) if size == MAX_VALUE_BYTES + 1 && limit == MAX_VALUE_BYTES),
        "{create:?}"
    );
    let update = store.update(b"/big/a", too_big, kept.mod_revision).await;
    ensure!(
        matches!(update, Err(Error::ValueTooLarge { .. })),
        "{update:?}"
    );
    ensure!(store.get(b"/big/b", None).await?.is_none());
    ensure!(store.get(b"/big/a", None).await? == Some(kept));
    ensure!(
        store.current_revision().await? == before,
        "a refused write took a revision"
    );
    Ok(())
}

pub async fn empty_keys_and_inverted_ranges_are_refused(store: Shared) -> anyhow::Result<()> {
    let before = store.current_revision().await?;
    let empty: [Result<(), Error>; 5] = [
        store.create(b"", b"x".to_vec()).await.map(drop),
        store.update(b"", b"x".to_vec(), 1).await.map(drop),
        store.delete(b"", None).await.map(drop),
        store.get(b"", None).await.map(drop),
        store.count(KeyRange::prefix("")).await.map(drop),
    ];
    for result in empty {
        ensure!(matches!(result, Err(Error::EmptyKey)), "{result:?}");
    }
    let inverted = store
        .range(RangeRequest {
            range: KeyRange::interval("/b", "/a"),
            revision: None,
            limit: None,
        })
        .await;
    ensure!(
        matches!(inverted, Err(Error::InvalidRange { .. })),
        "{inverted:?}"
    );
    let watch = store
        .watch(WatchRequest {
            range: KeyRange::interval("/b", "/a"),
            start_revision: None,
            prev_kv: PrevKv::Omit,
        })
        .await;
    ensure!(
        matches!(watch, Err(Error::InvalidRange { .. })),
        "inverted watch accepted"
    );
    ensure!(store.current_revision().await? == before);
    Ok(())
}

/// Watches `prefix` from `start`.
pub async fn watch_from(
    store: &Shared,
    prefix: &str,
    start: Revision,
    prev_kv: PrevKv,
) -> anyhow::Result<WatchStream> {
    Ok(store
        .watch(WatchRequest {
            range: KeyRange::prefix(prefix),
            start_revision: Some(start),
            prev_kv,
        })
        .await?)
}

/// Whether a watch from `start` fails as compacted, either at once or as the
/// first item of its stream (etcd reports it on the stream).
pub async fn watch_is_compacted(store: &Shared, start: Revision) -> anyhow::Result<bool> {
    let mut stream = match watch_from(store, "/", start, PrevKv::Omit).await {
        Err(e) => {
            return Ok(matches!(
                e.downcast_ref::<Error>(),
                Some(Error::Compacted { .. })
            ))
        }
        Ok(stream) => stream,
    };
    match tokio::time::timeout(WAIT, stream.next()).await {
        Err(_) => bail!("watch from {start} neither failed nor delivered within {WAIT:?}"),
        Ok(item) => Ok(matches!(item, Some(Err(Error::Compacted { .. })))),
    }
}

/// Reads events until at least `n` arrived, failing on a deadline, an error
/// or the end of the stream.
pub async fn take_events(stream: &mut WatchStream, n: usize) -> anyhow::Result<Vec<Event>> {
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut events = Vec::new();
    while events.len() < n {
        match tokio::time::timeout_at(deadline, stream.next()).await {
            Err(_) => bail!(
                "only {} of {n} events arrived within {WAIT:?} (is the watch stuck?), the last at {:?}",
                events.len(),
                events.last().map(Event::revision)
            ),
            Ok(None) => bail!("watch ended after {} of {n} events", events.len()),
            Ok(Some(Err(e))) => bail!("watch failed after {} of {n} events: {e}", events.len()),
            Ok(Some(Ok(batch))) => events.extend(batch),
        }
    }
    Ok(events)
}

/// Fails unless the events' revisions strictly increase.
pub fn ensure_increasing(events: &[Event]) -> anyhow::Result<()> {
    for pair in events.windows(2) {
        ensure!(
            pair[0].revision() < pair[1].revision(),
            "event at {} after event at {}",
            pair[1].revision(),
            pair[0].revision()
        );
    }
    Ok(())
}
