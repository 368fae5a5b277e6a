//! The writer thread: the only connection that writes, with group commit.
//!
//! Every write is queued to one thread. It takes everything queued, applies
//! it in one transaction (each write its own revision, compare-and-swap
//! checks inside the transaction so later writes see earlier ones), commits
//! once, publishes the events to watchers and only then replies. With
//! `synchronous = FULL` the commit is one fsync, so concurrent writers share
//! it: 256 writers waiting together cost a handful of fsyncs, not 256.

use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::Arc;

use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::oneshot;

use super::queries::current_kv;
use super::watch_hub::WatchHub;
use crate::{Error, Event, EventKind, KeyValue, Result, Revision};

/// Stop adding writes to a batch past this many value bytes, so one batch of
/// huge values does not hold every other writer behind it.
const MAX_BATCH_BYTES: usize = 32 * 1024 * 1024;

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
    revision: Revision,
    compacted: Revision,
    max_batch: usize,
}

impl Writer {
    /// A writer continuing from the stored revisions.
    pub(super) fn new(
        conn: Connection,
        hub: Arc<WatchHub>,
        revision: Revision,
        compacted: Revision,
        max_batch: usize,
    ) -> Self {
        Writer {
            conn,
            hub,
            revision,
            compacted,
            max_batch: max_batch.max(1),
        }
    }

    /// Serves writes until every sender is gone, then ends every watch.
    pub(super) fn run(mut self, queue: Receiver<WriteRequest>) {
        while let Ok(first) = queue.recv() {
            let mut bytes = first.op.value_bytes();
            let mut batch = vec![first];
            while batch.len() < self.max_batch && bytes < MAX_BATCH_BYTES {
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
        let (start_revision, start_compacted) = (self.revision, self.compacted);
        let mut events = Vec::new();
        match self.apply_batch(&batch, &mut events) {
            Ok(outcomes) => {
                if !events.is_empty() {
                    self.hub.publish(events, self.revision);
                }
                for (request, outcome) in batch.into_iter().zip(outcomes) {
                    // A caller that stopped waiting is no error: its write stands.
                    let _ = request.reply.send(outcome);
                }
            }
            Err(e) => {
                // The transaction rolled back: nothing of the batch was written.
                self.revision = start_revision;
                self.compacted = start_compacted;
                for request in batch {
                    let _ = request.reply.send(Err(Error::Sqlite(replicate(&e))));
                }
            }
        }
    }

    /// Runs the batch's writes in one transaction. The outer error (the
    /// database failed) aborts the batch; inner errors reject one write.
    fn apply_batch(
        &mut self,
        batch: &[WriteRequest],
        events: &mut Vec<Event>,
    ) -> rusqlite::Result<Vec<Result<Outcome>>> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut revision = self.revision;
        let mut compacted = self.compacted;
        let mut outcomes = Vec::with_capacity(batch.len());
        for request in batch {
            let outcome = match &request.op {
                WriteOp::Create { key, value } => create(&tx, key, value, &mut revision, events)?,
                WriteOp::Update {
                    key,
                    value,
                    expected,
                } => update(&tx, key, value, *expected, &mut revision, events)?,
                WriteOp::Delete { key, expected } => {
                    delete(&tx, key, *expected, &mut revision, events)?
                }
                WriteOp::Compact { revision: at } => compact(&tx, *at, revision, &mut compacted)?,
            };
            outcomes.push(outcome);
        }
        if revision != self.revision {
            tx.prepare_cached("UPDATE meta SET value = ?1 WHERE name = 'revision'")?
                .execute([revision])?;
        }
        tx.commit()?;
        self.revision = revision;
        self.compacted = compacted;
        Ok(outcomes)
    }
}

fn create(
    tx: &Connection,
    key: &[u8],
    value: &[u8],
    revision: &mut Revision,
    events: &mut Vec<Event>,
) -> rusqlite::Result<Result<Outcome>> {
    if let Some(current) = current_kv(tx, key)? {
        return Ok(Err(Error::AlreadyExists {
            current: Box::new(current),
        }));
    }
    let next = *revision + 1;
    let kv = put(tx, key, value, next, next)?;
    *revision = next;
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
    revision: &mut Revision,
    events: &mut Vec<Event>,
) -> rusqlite::Result<Result<Outcome>> {
    let current = match checked_current(tx, key, Some(expected))? {
        Ok(current) => current,
        Err(e) => return Ok(Err(e)),
    };
    let next = *revision + 1;
    let kv = put(tx, key, value, current.create_revision, next)?;
    *revision = next;
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
    revision: &mut Revision,
    events: &mut Vec<Event>,
) -> rusqlite::Result<Result<Outcome>> {
    let current = match checked_current(tx, key, expected)? {
        Ok(current) => current,
        Err(e) => return Ok(Err(e)),
    };
    let next = *revision + 1;
    tx.prepare_cached(
        "INSERT INTO log (revision, key, value, create_revision, tombstone)
         VALUES (?1, ?2, x'', 0, 1)",
    )?
    .execute(rusqlite::params![next, key])?;
    tx.prepare_cached("DELETE FROM live WHERE key = ?1")?
        .execute([key])?;
    *revision = next;
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

/// Drops every row no read at or after `at` can see: rows replaced by a
/// newer row at or below `at`, and tombstones below `at` (a tombstone at
/// `at` itself stays, so a watch from `at` still sees that delete).
fn compact(
    tx: &Connection,
    at: Revision,
    current: Revision,
    compacted: &mut Revision,
) -> rusqlite::Result<Result<Outcome>> {
    // etcd refuses compacting at or below the last compaction, or ahead.
    if at <= *compacted {
        return Ok(Err(Error::Compacted {
            requested: at,
            compacted: *compacted,
        }));
    }
    if at > current {
        return Ok(Err(Error::FutureRevision {
            requested: at,
            current,
        }));
    }
    tx.prepare_cached(
        "DELETE FROM log WHERE revision < ?1 AND (tombstone = 1 OR EXISTS (
             SELECT 1 FROM log AS n
             WHERE n.key = log.key AND n.revision > log.revision AND n.revision <= ?1))",
    )?
    .execute([at])?;
    tx.prepare_cached("UPDATE meta SET value = ?1 WHERE name = 'compacted'")?
        .execute([at])?;
    *compacted = at;
    Ok(Ok(Outcome::Compacted))
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
