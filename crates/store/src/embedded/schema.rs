//! The on-disk layout of the embedded store and how its connections are opened.
//!
//! Three tables:
//! - `log`: one row per write, keyed by its revision. A delete is a
//!   tombstone row. Reads at an old revision take, per key, the latest row at
//!   or below that revision; watches replay it in revision order.
//! - `live`: the current state, one row per existing key pointing at its
//!   latest `log` row, so reads at the current revision and compare-and-swap
//!   checks never scan history.
//! - `meta`: the current and the compacted revision, and how far garbage
//!   collection after compaction got.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::Durability;
use crate::{Result, Revision};

/// Created on open when absent; every statement is idempotent.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS log (
    revision INTEGER PRIMARY KEY,
    key BLOB NOT NULL,
    value BLOB NOT NULL,
    create_revision INTEGER NOT NULL,
    tombstone INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS log_by_key ON log (key, revision);
CREATE TABLE IF NOT EXISTS live (
    key BLOB PRIMARY KEY,
    revision INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT OR IGNORE INTO meta (name, value) VALUES ('revision', 0), ('compacted', 0), ('collected', 0);
";

/// How long a connection waits for a lock before failing. Only a checkpoint
/// or a second process opening the same file ever holds one for long.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Opens the connection that owns all writes, creating the database and its
/// schema if needed.
pub(super) fn open_writer(path: &Path, durability: Durability) -> Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // WAL: readers see a consistent snapshot and never block the writer.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", durability.sqlite_synchronous())?;
    conn.execute_batch(SCHEMA)?;
    Ok(conn)
}

/// Opens one more read connection on an existing database.
pub(super) fn open_reader(path: &Path) -> Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    Ok(conn)
}

/// The store-wide revisions, as seen by `conn`'s transaction.
pub(super) fn read_meta(conn: &Connection) -> Result<Meta> {
    let mut stmt = conn.prepare_cached("SELECT name, value FROM meta")?;
    let mut meta = Meta::default();
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let name: String = row.get(0)?;
        let value: Revision = row.get(1)?;
        match name.as_str() {
            "revision" => meta.revision = value,
            "compacted" => meta.compacted = value,
            "collected" => meta.collected = value,
            _ => {}
        }
    }
    Ok(meta)
}

/// The store-wide revisions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Meta {
    /// The latest revision written.
    pub(super) revision: Revision,
    /// The revision the store is compacted at.
    pub(super) compacted: Revision,
    /// Rows made garbage by compaction are deleted below this revision.
    pub(super) collected: Revision,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_writer_runs_in_wal_mode_with_the_chosen_sync_level() {
        // SQLite reports synchronous as a number: NORMAL is 1, FULL is 2.
        let table = [
            (Durability::SyncEveryCommit, 2),
            (Durability::SyncAtCheckpoint, 1),
        ];
        for (durability, synchronous) in table {
            let dir = tempfile::tempdir().expect("temp dir");
            let conn = open_writer(&dir.path().join("db"), durability).expect("open");
            let mode: String = conn
                .pragma_query_value(None, "journal_mode", |r| r.get(0))
                .expect("journal_mode");
            let level: i64 = conn
                .pragma_query_value(None, "synchronous", |r| r.get(0))
                .expect("synchronous");
            assert_eq!(mode, "wal");
            assert_eq!(level, synchronous, "{durability:?}");
        }
    }

    #[test]
    fn a_new_database_starts_at_revision_zero_and_reopening_keeps_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("db");
        let conn = open_writer(&path, Durability::SyncEveryCommit).expect("open");
        assert_eq!(read_meta(&conn).expect("meta"), Meta::default());
        conn.execute("UPDATE meta SET value = 7 WHERE name = 'revision'", [])
            .expect("update");
        drop(conn);
        let conn = open_writer(&path, Durability::SyncEveryCommit).expect("reopen");
        assert_eq!(read_meta(&conn).expect("meta").revision, 7);
    }
}
