//! The writer thread: the only connection that writes, with group commit.
//!
//! Every write is queued to one thread. It takes everything queued, applies
//! it in one transaction (each write its own revision, compare-and-swap
//! checks inside the transaction so later writes see earlier ones), commits
//! once, publishes the events to watchers and only then replies. With
//! `synchronous = FULL` the commit is one fsync, so concurrent writers share
//! it: 256 writers waiting together cost a handful of fsyncs, not 256.
//!
//! Compaction is logical first: it records the compacted revision, after
//! which reads and watches below it are refused and the rows it made garbage
//! are invisible. The rows are then deleted a window of revisions at a time,
//! inside later write transactions or, when no write waits, on their own, so
//! compacting a long history never stalls writers.

use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::Arc;

use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::oneshot;

use super::queries::current_kv;
use super::schema::Meta;
use super::watch_hub::WatchHub;
use crate::{Error, Event, EventKind, KeyValue, Result, Revision};

/// Stop adding writes to a batch past this many value bytes, so one batch of
/// huge values does not hold every other writer behind it.
const MAX_BATCH_BYTES: usize = 32 * 1024 * 1024;

/// Revisions whose garbage one transaction collects: small enough that the
/// writes sharing the transaction hardly wait for it.
const COLLECT_WINDOW: Revision = 256;

/// One write, as queued to the writer thread.
#[derive(Debug)]
pub(super) enum WriteOp {
    /// Create if absent.
    Create { key: Vec<u8>, value: Vec<u8> },
    /// Replace if the key's `mod_revision` is `expected`.
    Update {
        key: Vec<u8>,
        value: Vec<u8>,
        expected: Revision,
    },
    /// Delete, if `expected` is given only at that `mod_revision`.
    Delete {
        key: Vec<u8>,
        expected: Option<Revision>,
    },
    /// Drop history before `revision`.
    Compact { revision: Revision },
}

impl WriteOp {
    fn value_bytes(&self) -> usize {
        match self {
            WriteOp::Create { value, .. } | WriteOp::Update { value, .. } => value.len(),
            WriteOp::Delete { .. } | WriteOp::Compact { .. } => 0,
        }
    }
}

/// What a successful write did.
#[derive(Debug)]
pub(super) enum Outcome {
    /// The key now holds this.
    Put(KeyValue),
    /// The key held this and was deleted at the revision.
    Deleted(KeyValue, Revision),
    /// History was dropped.
    Compacted,
}

/// A queued write and where its answer goes.
#[derive(Debug)]
pub(super) struct WriteRequest {
    pub(super) op: WriteOp,
    pub(super) reply: oneshot::Sender<Result<Outcome>>,
}

/// The writer thread's state.
pub(super) struct Writer {
    conn: Connection,
    hub: Arc<WatchHub>,
    meta: Meta,
    max_batch: usize,
    /// Set when collecting garbage failed: retried after the next reopen
    /// rather than failing every write meanwhile.
    collection_paused: bool,
}

impl Writer {
    /// A writer continuing from the stored revisions.
    pub(super) fn new(conn: Connection, hub: Arc<WatchHub>, meta: Meta, max_batch: usize) -> Self {
        Writer {
            conn,
            hub,
            meta,
            max_batch: max_batch.max(1),
            collection_paused: false,
        }
    }

    fn garbage_pending(&self) -> bool {
        !self.collection_paused && self.meta.collected < self.meta.compacted
    }

    /// Serves writes until every sender is gone, then ends every watch.
    pub(super) fn run(mut self, queue: Receiver<WriteRequest>) {
        loop {
            let first = if self.garbage_pending() {
                // Nothing waiting: an empty batch collects a window of garbage.
                match queue.try_recv() {
                    Ok(first) => Some(first),
                    Err(TryRecvError::Empty) => None,
                    Err(TryRecvError::Disconnected) => break,
                }
            } else {
                match queue.recv() {
                    Ok(first) => Some(first),
                    Err(_) => break,
                }
            };
            let mut batch = Vec::new();
            let mut bytes = 0;
            if let Some(first) = first {
                bytes += first.op.value_bytes();
                batch.push(first);
            }
            while !batch.is_empty() && batch.len() < self.max_batch && bytes < MAX_BATCH_BYTES {
                match queue.try_recv() {
                    Ok(next) => {
                        bytes += next.op.value_bytes();
                        batch.push(next);
                    }
                    Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
                }
            }
            self.commit_batch(batch);
        }
        self.hub.close();
    }

    /// Applies a batch in one transaction and answers every write in it.
    fn commit_batch(&mut self, batch: Vec<WriteRequest>) {
        let mut events = Vec::new();
        match self.apply_batch(&batch, &mut events) {
            Ok(outcomes) => {
                if !events.is_empty() {
                    self.hub.publish(events, self.meta.revision);
                }
                for (request, outcome) in batch.into_iter().zip(outcomes) {
                    // A caller that stopped waiting is no error: its write stands.
                    let _ = request.reply.send(outcome);
                }
            }
            Err(e) => {
                // The transaction rolled back: nothing of the batch was written.
                if batch.is_empty() {
                    self.pause_collection(&e);
                }
                for request in batch {
                    let _ = request.reply.send(Err(Error::Sqlite(replicate(&e))));
                }
            }
        }
    }

    fn pause_collection(&mut self, e: &rusqlite::Error) {
        tracing::warn!(error = %e, "collecting compacted history failed; paused until reopen");
        self.collection_paused = true;
    }

    /// Runs the batch's writes, and a window of garbage collection, in one
    /// transaction. The outer error (the database failed) aborts the batch;
    /// inner errors reject one write.
    fn apply_batch(
        &mut self,
        batch: &[WriteRequest],
        events: &mut Vec<Event>,
    ) -> rusqlite::Result<Vec<Result<Outcome>>> {
        let collect = self.garbage_pending();
        let mut tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut meta = self.meta;
        let mut outcomes = Vec::with_capacity(batch.len());
        for request in batch {
            let outcome = match &request.op {
                WriteOp::Create { key, value } => create(&tx, key, value, &mut meta, events)?,
                WriteOp::Update {
                    key,
                    value,
                    expected,
                } => update(&tx, key, value, *expected, &mut meta, events)?,
                WriteOp::Delete { key, expected } => {
                    delete(&tx, key, *expected, &mut meta, events)?
                }
                WriteOp::Compact { revision: at } => compact(&tx, *at, &mut meta)?,
            };
            outcomes.push(outcome);
        }
        if meta.revision != self.meta.revision {
            tx.prepare_cached("UPDATE meta SET value = ?1 WHERE name = 'revision'")?
                .execute([meta.revision])?;
        }
        let mut collect_failure = None;
        if collect {
            if batch.is_empty() {
                meta.collected = collect_garbage(&tx, meta, COLLECT_WINDOW)?;
            } else {
                // A failure to collect must not fail the batch's writes.
                let savepoint = tx.savepoint()?;
                match collect_garbage(&savepoint, meta, COLLECT_WINDOW) {
                    Ok(collected) => {
                        savepoint.commit()?;
                        meta.collected = collected;
                    }
                    Err(e) => collect_failure = Some(e),
                }
            }
        }
        tx.commit()?;
        self.meta = meta;
        if let Some(e) = collect_failure {
            self.pause_collection(&e);
        }
        Ok(outcomes)
    }
}

fn create(
    tx: &Connection,
    key: &[u8],
    value: &[u8],
    meta: &mut Meta,
    events: &mut Vec<Event>,
) -> rusqlite::Result<Result<Outcome>> {
    if let Some(current) = current_kv(tx, key)? {
        return Ok(Err(Error::AlreadyExists {
            current: Box::new(current),
        }));
    }
    let next = meta.revision + 1;
    let kv = put(tx, key, value, next, next)?;
    meta.revision = next;
    events.push(Event {
        kind: EventKind::Put,
        kv: kv.clone(),
        prev_kv: None,
    });
    Ok(Ok(Outcome::Put(kv)))
}

fn update(
    tx: &Connection,
    key: &[u8],
    value: &[u8],
    expected: Revision,
    meta: &mut Meta,
    events: &mut Vec<Event>,
) -> rusqlite::Result<Result<Outcome>> {
    let current = match checked_current(tx, key, Some(expected))? {
        Ok(current) => current,
        Err(e) => return Ok(Err(e)),
    };
    let next = meta.revision + 1;
    let kv = put(tx, key, value, current.create_revision, next)?;
    meta.revision = next;
    events.push(Event {
        kind: EventKind::Put,
        kv: kv.clone(),
        prev_kv: Some(current),
    });
    Ok(Ok(Outcome::Put(kv)))
}

fn delete(
    tx: &Connection,
    key: &[u8],
    expected: Option<Revision>,
    meta: &mut Meta,
    events: &mut Vec<Event>,
) -> rusqlite::Result<Result<Outcome>> {
    let current = match checked_current(tx, key, expected)? {
        Ok(current) => current,
        Err(e) => return Ok(Err(e)),
    };
    let next = meta.revision + 1;
    tx.prepare_cached(
        "INSERT INTO log (revision, key, value, create_revision, tombstone)
         VALUES (?1, ?2, x'', 0, 1)",
    )?
    .execute(rusqlite::params![next, key])?;
    tx.prepare_cached("DELETE FROM live WHERE key = ?1")?
        .execute([key])?;
    meta.revision = next;
    // As etcd: a delete event's key-value has only the key and the revision.
    events.push(Event {
        kind: EventKind::Delete,
        kv: KeyValue {
            key: key.to_vec(),
            value: Vec::new(),
            create_revision: 0,
            mod_revision: next,
        },
        prev_kv: Some(current.clone()),
    });
    Ok(Ok(Outcome::Deleted(current, next)))
}

/// The key's current state, if it exists and (when `expected` is given) was
/// last written at `expected`.
fn checked_current(
    tx: &Connection,
    key: &[u8],
    expected: Option<Revision>,
) -> rusqlite::Result<Result<KeyValue>> {
    Ok(match current_kv(tx, key)? {
        None => Err(Error::NotFound),
        Some(current) => match expected {
            Some(expected) if expected != current.mod_revision => Err(Error::Conflict {
                expected,
                current: Box::new(current),
            }),
            _ => Ok(current),
        },
    })
}

/// Writes a new state of `key` at `revision`.
fn put(
    tx: &Connection,
    key: &[u8],
    value: &[u8],
    create_revision: Revision,
    revision: Revision,
) -> rusqlite::Result<KeyValue> {
    tx.prepare_cached(
        "INSERT INTO log (revision, key, value, create_revision, tombstone)
         VALUES (?1, ?2, ?3, ?4, 0)",
    )?
    .execute(rusqlite::params![revision, key, value, create_revision])?;
    tx.prepare_cached(
        "INSERT INTO live (key, revision) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET revision = excluded.revision",
    )?
    .execute(rusqlite::params![key, revision])?;
    Ok(KeyValue {
        key: key.to_vec(),
        value: value.to_vec(),
        create_revision,
        mod_revision: revision,
    })
}

/// Compacts at `at`: from now on reads and watches below it are refused.
/// The rows no read at or after `at` can see are deleted later, by
/// [`collect_garbage`].
fn compact(tx: &Connection, at: Revision, meta: &mut Meta) -> rusqlite::Result<Result<Outcome>> {
    // etcd refuses compacting at or below the last compaction, or ahead.
    if at <= meta.compacted {
        return Ok(Err(Error::Compacted {
            requested: at,
            compacted: meta.compacted,
        }));
    }
    if at > meta.revision {
        return Ok(Err(Error::FutureRevision {
            requested: at,
            current: meta.revision,
        }));
    }
    tx.prepare_cached("UPDATE meta SET value = ?1 WHERE name = 'compacted'")?
        .execute([at])?;
    meta.compacted = at;
    Ok(Ok(Outcome::Compacted))
}

/// Deletes the garbage of one window of revisions, `[meta.collected, end)`,
/// and returns where the next window starts.
///
/// Garbage is every row below the compacted revision that is superseded by
/// a newer row at or below it, and every tombstone below it (a tombstone at
/// the compacted revision stays, so a watch from there still sees it). A
/// window deletes the rows superseded by its own rows, then its tombstones;
/// rows superseded before the window were collected with earlier windows.
/// The last window ends at the compacted revision itself, whose row is
/// looked at again by the next compaction's first window.
fn collect_garbage(tx: &Connection, meta: Meta, window: Revision) -> rusqlite::Result<Revision> {
    let (from, target) = (meta.collected, meta.compacted);
    // A window never ends at the target itself: `collected == target` must
    // mean the target's row was looked at.
    let end = match from.saturating_add(window.max(1)) {
        end if end >= target => target + 1,
        end => end,
    };
    tx.prepare_cached(
        "DELETE FROM log WHERE revision IN (
             SELECT old.revision FROM log AS new
             JOIN log AS old ON old.key = new.key AND old.revision < new.revision
             WHERE new.revision >= ?1 AND new.revision < ?2)",
    )?
    .execute([from, end])?;
    tx.prepare_cached(
        "DELETE FROM log
         WHERE revision >= ?1 AND revision < ?2 AND revision < ?3 AND tombstone = 1",
    )?
    .execute([from, end, target])?;
    let collected = if end > target { target } else { end };
    tx.prepare_cached("UPDATE meta SET value = ?1 WHERE name = 'collected'")?
        .execute([collected])?;
    Ok(collected)
}

/// A copy of a batch's failure for each of its writes (`rusqlite::Error` is
/// not `Clone`).
fn replicate(e: &rusqlite::Error) -> rusqlite::Error {
    match e {
        rusqlite::Error::SqliteFailure(code, message) => {
            rusqlite::Error::SqliteFailure(*code, message.clone())
        }
        other => rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ERROR),
            Some(other.to_string()),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::super::schema::{open_writer, read_meta};
    use super::super::Durability;
    use super::*;
    use crate::KeyRange;

    /// Queues `ops` before the writer starts, runs it to the end and returns
    /// each write's answer and the batches watchers saw.
    fn run_queued(ops: Vec<WriteOp>) -> (Vec<Result<Outcome>>, Vec<Vec<Revision>>) {
        let dir = tempfile::tempdir().expect("temp dir");
        let conn = open_writer(&dir.path().join("db"), Durability::SyncEveryCommit).expect("open");
        let meta = read_meta(&conn).expect("meta");
        let hub = Arc::new(WatchHub::new(meta.revision, 1024));
        let mut watch = hub.subscribe(KeyRange::prefix("/"));
        let (queue, requests) = std::sync::mpsc::channel();
        let answers: Vec<_> = ops
            .into_iter()
            .map(|op| {
                let (reply, answer) = oneshot::channel();
                queue.send(WriteRequest { op, reply }).expect("queue");
                answer
            })
            .collect();
        drop(queue);
        Writer::new(conn, hub, meta, 1024).run(requests);
        let outcomes = answers
            .into_iter()
            .map(|mut a| a.try_recv().expect("every write is answered"))
            .collect();
        let mut batches = Vec::new();
        while let Ok(batch) = watch.batches.try_recv() {
            batches.push(batch.iter().map(Event::revision).collect());
        }
        (outcomes, batches)
    }

    fn create(key: &str) -> WriteOp {
        WriteOp::Create {
            key: key.as_bytes().to_vec(),
            value: b"v".to_vec(),
        }
    }

    fn revision_of(outcome: &Result<Outcome>) -> Option<Revision> {
        match outcome {
            Ok(Outcome::Put(kv)) => Some(kv.mod_revision),
            Ok(Outcome::Deleted(_, revision)) => Some(*revision),
            _ => None,
        }
    }

    #[test]
    fn queued_writes_share_one_commit_with_a_revision_each() {
        let ops = (0..100).map(|i| create(&format!("/k{i}"))).collect();
        let (outcomes, batches) = run_queued(ops);
        let revisions: Vec<_> = outcomes.iter().filter_map(revision_of).collect();
        assert_eq!(revisions, (1..=100).collect::<Vec<_>>());
        assert_eq!(
            batches,
            vec![(1..=100).collect::<Vec<_>>()],
            "one transaction, one batch"
        );
    }

    #[test]
    fn a_refused_write_in_a_batch_leaves_the_others_committed() {
        let ops = vec![
            create("/a"),
            create("/a"),
            WriteOp::Update {
                key: b"/a".to_vec(),
                value: b"w".to_vec(),
                expected: 7,
            },
            WriteOp::Delete {
                key: b"/missing".to_vec(),
                expected: None,
            },
            WriteOp::Update {
                key: b"/a".to_vec(),
                value: b"w".to_vec(),
                expected: 1,
            },
            WriteOp::Compact { revision: 5 },
            WriteOp::Delete {
                key: b"/a".to_vec(),
                expected: Some(2),
            },
        ];
        let (outcomes, batches) = run_queued(ops);
        let table: Vec<(&str, bool)> = vec![
            ("create", matches!(outcomes[0], Ok(Outcome::Put(_)))),
            (
                "duplicate create",
                matches!(outcomes[1], Err(Error::AlreadyExists { .. })),
            ),
            (
                "stale update",
                matches!(outcomes[2], Err(Error::Conflict { expected: 7, .. })),
            ),
            (
                "delete of a missing key",
                matches!(outcomes[3], Err(Error::NotFound)),
            ),
            (
                "update seeing the batch's create",
                revision_of(&outcomes[4]) == Some(2),
            ),
            (
                "compact ahead",
                matches!(outcomes[5], Err(Error::FutureRevision { .. })),
            ),
            (
                "delete seeing the batch's update",
                revision_of(&outcomes[6]) == Some(3),
            ),
        ];
        for (what, ok) in table {
            assert!(ok, "{what}: {outcomes:?}");
        }
        assert_eq!(batches, vec![vec![1, 2, 3]]);
    }

    #[test]
    fn compaction_garbage_is_collected_window_by_window() {
        fn log(conn: &Connection) -> Vec<Revision> {
            let mut stmt = conn
                .prepare("SELECT revision FROM log ORDER BY revision")
                .expect("prepare");
            let rows = stmt.query_map([], |r| r.get(0)).expect("query");
            rows.collect::<rusqlite::Result<_>>().expect("rows")
        }
        for window in [1, 2, 1000] {
            let dir = tempfile::tempdir().expect("temp dir");
            let conn =
                open_writer(&dir.path().join("db"), Durability::SyncEveryCommit).expect("open");
            let mut meta = read_meta(&conn).expect("meta");
            let mut events = Vec::new();
            let compact_and_collect = |conn: &Connection, meta: &mut Meta, at| {
                compact(conn, at, meta).expect("sql").expect("compact");
                while meta.collected < meta.compacted {
                    meta.collected = collect_garbage(conn, *meta, window).expect("collect");
                }
            };
            // a: put 1, put 2; b: put 3, delete 4; c: put 5, delete 6.
            for (key, op) in [
                ("a", 'c'),
                ("a", 'u'),
                ("b", 'c'),
                ("b", 'd'),
                ("c", 'c'),
                ("c", 'd'),
            ] {
                let outcome = match op {
                    'c' => super::create(&conn, key.as_bytes(), b"v", &mut meta, &mut events),
                    'u' => super::update(&conn, key.as_bytes(), b"v", 1, &mut meta, &mut events),
                    _ => super::delete(&conn, key.as_bytes(), None, &mut meta, &mut events),
                };
                assert!(outcome.expect("sql").is_ok(), "{key} {op}");
            }
            compact_and_collect(&conn, &mut meta, 5);
            assert_eq!(
                log(&conn),
                [2, 5, 6],
                "window {window}: each key's state at 5, and later rows"
            );
            compact_and_collect(&conn, &mut meta, 6);
            assert_eq!(
                log(&conn),
                [2, 6],
                "window {window}: a tombstone at the compacted revision stays"
            );
            assert!(super::create(&conn, b"c", b"v", &mut meta, &mut events)
                .expect("sql")
                .is_ok());
            compact_and_collect(&conn, &mut meta, 7);
            assert_eq!(
                log(&conn),
                [2, 7],
                "window {window}: and goes with the next compaction"
            );
            assert_eq!(read_meta(&conn).expect("meta").collected, 7);
        }
    }

    #[test]
    fn a_failure_is_copied_for_every_write_of_the_batch() {
        let busy = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            Some("busy".to_owned()),
        );
        assert_eq!(replicate(&busy).to_string(), busy.to_string());
        let other = rusqlite::Error::InvalidQuery;
        assert!(replicate(&other).to_string().contains(&other.to_string()));
    }
}
