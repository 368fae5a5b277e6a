//! The read queries over the schema in `schema.rs`, shared by the read pool,
//! the writer's compare-and-swap checks and watch replay.

use rusqlite::{Connection, OptionalExtension, Row};

use super::schema::read_meta;
use crate::{Error, Event, EventKind, KeyRange, KeyValue, PrevKv, RangeRequest, RangeResponse};
use crate::{Result, Revision};

/// The key as it is now, if it exists.
pub(super) fn current_kv(conn: &Connection, key: &[u8]) -> rusqlite::Result<Option<KeyValue>> {
    conn.prepare_cached(
        "SELECT l.key, l.value, l.create_revision, l.revision
         FROM live AS k JOIN log AS l ON l.revision = k.revision WHERE k.key = ?1",
    )?
    .query_row([key], kv_from_row)
    .optional()
}

/// Serves a range read inside one read transaction, so the data and the
/// revision it is reported at agree.
pub(super) fn range(conn: &mut Connection, request: &RangeRequest) -> Result<RangeResponse> {
    let tx = conn.transaction()?;
    let meta = read_meta(&tx)?;
    let revision = match request.revision {
        None => meta.revision,
        // etcd reads "now" for any revision <= 0.
        Some(r) if r <= 0 => meta.revision,
        Some(r) if r > meta.revision => {
            return Err(Error::FutureRevision {
                requested: r,
                current: meta.revision,
            })
        }
        Some(r) if r < meta.compacted => {
            return Err(Error::Compacted {
                requested: r,
                compacted: meta.compacted,
            })
        }
        Some(r) => r,
    };
    let limit = request.limit.filter(|&l| l > 0);
    // One extra row tells whether the limit cut the answer short.
    let sql_limit = limit.map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX - 1) + 1);
    let end = request.range.end();
    let upper = if end.is_some() { "AND k.key < ?4" } else { "" };
    // ?2 (the revision) is bound for both statements and unused by the first.
    let sql = if revision == meta.revision {
        format!(
            "SELECT l.key, l.value, l.create_revision, l.revision
             FROM live AS k JOIN log AS l ON l.revision = k.revision
             WHERE k.key >= ?1 {upper}
             ORDER BY k.key LIMIT ?3"
        )
    } else {
        // The latest row of each key at or below the revision, unless it is
        // a tombstone.
        format!(
            "SELECT k.key, k.value, k.create_revision, k.revision FROM log AS k
             WHERE k.key >= ?1 {upper} AND k.revision <= ?2 AND k.tombstone = 0
               AND NOT EXISTS (SELECT 1 FROM log AS n
                               WHERE n.key = k.key AND n.revision > k.revision
                                 AND n.revision <= ?2)
             ORDER BY k.key LIMIT ?3"
        )
    };
    let mut kvs = {
        let mut stmt = tx.prepare_cached(&sql)?;
        let start = request.range.start();
        let rows = match &end {
            Some(end) => stmt.query_map(
                rusqlite::params![start, revision, sql_limit, end],
                kv_from_row,
            )?,
            None => stmt.query_map(rusqlite::params![start, revision, sql_limit], kv_from_row)?,
        };
        rows.collect::<rusqlite::Result<Vec<_>>>()?
    };
    let more = limit.is_some_and(|l| kvs.len() > l);
    if let Some(l) = limit {
        kvs.truncate(l);
    }
    Ok(RangeResponse {
        kvs,
        more,
        revision,
    })
}

/// Counts the keys of a range now.
pub(super) fn count(conn: &mut Connection, range: &KeyRange) -> Result<(usize, Revision)> {
    let tx = conn.transaction()?;
    let meta = read_meta(&tx)?;
    let n: i64 = match range.end() {
        Some(end) => tx
            .prepare_cached("SELECT COUNT(*) FROM live WHERE key >= ?1 AND key < ?2")?
            .query_row(rusqlite::params![range.start(), end], |r| r.get(0))?,
        None => tx
            .prepare_cached("SELECT COUNT(*) FROM live WHERE key >= ?1")?
            .query_row([range.start()], |r| r.get(0))?,
    };
    Ok((usize::try_from(n).unwrap_or(0), meta.revision))
}

/// Up to `page` events of `range` with revisions in `from..=to`, in revision
/// order, read in one transaction. Fails with [`Error::Compacted`] when
/// `from` is below the compacted revision (rows from there on are complete).
pub(super) fn history(
    conn: &mut Connection,
    range: &KeyRange,
    from: Revision,
    to: Revision,
    page: usize,
    prev_kv: PrevKv,
) -> Result<Vec<Event>> {
    let tx = conn.transaction()?;
    let meta = read_meta(&tx)?;
    if from < meta.compacted {
        return Err(Error::Compacted {
            requested: from,
            compacted: meta.compacted,
        });
    }
    let end = range.end();
    let upper = if end.is_some() { "AND key < ?5" } else { "" };
    let sql = format!(
        "SELECT key, value, create_revision, revision, tombstone FROM log
         WHERE revision >= ?1 AND revision <= ?2 AND key >= ?3 {upper}
         ORDER BY revision LIMIT ?4"
    );
    let page = i64::try_from(page).unwrap_or(i64::MAX);
    let rows: Vec<(KeyValue, bool)> = {
        let mut stmt = tx.prepare_cached(&sql)?;
        let decode = |row: &Row<'_>| Ok((kv_from_row(row)?, row.get::<_, bool>(4)?));
        let rows = match &end {
            Some(end) => stmt.query_map(
                rusqlite::params![from, to, range.start(), page, end],
                decode,
            )?,
            None => stmt.query_map(rusqlite::params![from, to, range.start(), page], decode)?,
        };
        rows.collect::<rusqlite::Result<_>>()?
    };
    rows.into_iter()
        .map(|(kv, tombstone)| {
            let prev_kv = match prev_kv {
                PrevKv::Omit => None,
                PrevKv::Include => previous_kv(&tx, &kv.key, kv.mod_revision)?,
            };
            let kind = if tombstone {
                EventKind::Delete
            } else {
                EventKind::Put
            };
            Ok(Event { kind, kv, prev_kv })
        })
        .collect()
}

/// The key as it was just before `revision`, if it existed then.
fn previous_kv(conn: &Connection, key: &[u8], revision: Revision) -> Result<Option<KeyValue>> {
    let row = conn
        .prepare_cached(
            "SELECT key, value, create_revision, revision, tombstone FROM log
             WHERE key = ?1 AND revision < ?2 ORDER BY revision DESC LIMIT 1",
        )?
        .query_row(rusqlite::params![key, revision], |row| {
            Ok((kv_from_row(row)?, row.get::<_, bool>(4)?))
        })
        .optional()?;
    Ok(row.and_then(|(kv, tombstone)| (!tombstone).then_some(kv)))
}

/// Decodes the columns `key, value, create_revision, revision`.
fn kv_from_row(row: &Row<'_>) -> rusqlite::Result<KeyValue> {
    Ok(KeyValue {
        key: row.get(0)?,
        value: row.get(1)?,
        create_revision: row.get(2)?,
        mod_revision: row.get(3)?,
    })
}
