//! The revisioned key-value store that every rkube object lives in.
//!
//! The [`Store`] trait has etcd v3's semantics, because the apiserver's
//! `resourceVersion`, optimistic concurrency and watch resumption are defined
//! in terms of them:
//!
//! - one global, strictly increasing [`Revision`]; every successful write
//!   (create, update, delete) takes the next one;
//! - reads at the current revision or at any older, not yet compacted one;
//! - create only if the key is absent, update and delete only if the key's
//!   `mod_revision` is the one the caller read (compare-and-swap);
//! - watch a key range from a revision: every event exactly once, in revision
//!   order, optionally with the previous value;
//! - compaction, after which reads and watches before the compacted revision
//!   fail with [`Error::Compacted`].
//!
//! Backends: [`embedded`] (SQLite, the default, no set-up) and [`etcd`] (an
//! external etcd v3 cluster, for HA control planes). Both store the same keys,
//! so an etcd-backed cluster can be inspected with `etcdctl`.

use std::pin::Pin;

use futures::Stream;

pub mod embedded;
mod error;
pub mod etcd;
mod key_range;

pub use error::{Error, Result};
pub use key_range::KeyRange;

/// A store revision: etcd's global counter, surfaced to clients as
/// `metadata.resourceVersion`. The first write of a fresh store gets revision 1.
pub type Revision = i64;

/// The largest value a single key may hold, as etcd's default
/// `--max-request-bytes` (1.5 MiB).
pub const MAX_VALUE_BYTES: usize = 1536 * 1024;

/// One key with its value and the revisions that describe its history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    /// The key.
    pub key: Vec<u8>,
    /// The value as stored.
    pub value: Vec<u8>,
    /// The revision at which this key was (last) created.
    pub create_revision: Revision,
    /// The revision of the last write to this key.
    pub mod_revision: Revision,
}

/// A request to read several keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeRequest {
    /// Which keys to read.
    pub range: KeyRange,
    /// Read as of this revision; `None` reads the current state.
    pub revision: Option<Revision>,
    /// Return at most this many keys (`None` or 0: no limit). The response's
    /// `more` tells whether keys were left out.
    pub limit: Option<usize>,
}

/// The answer to a [`RangeRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeResponse {
    /// The keys found, in ascending key order.
    pub kvs: Vec<KeyValue>,
    /// True when `limit` cut the answer short: continue from the last key
    /// (exclusive) at the same `revision` for a consistent snapshot.
    pub more: bool,
    /// The revision the read was served at (the current one when the request
    /// named none).
    pub revision: Revision,
}

/// What happened to a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// The key was created or updated.
    Put,
    /// The key was deleted.
    Delete,
}

/// One change seen by a watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Put or delete.
    pub kind: EventKind,
    /// The key after the change. For a delete, `value` is empty and
    /// `mod_revision` is the revision of the delete.
    pub kv: KeyValue,
    /// The key before the change, when the watch asked for it and there was one.
    pub prev_kv: Option<KeyValue>,
}

impl Event {
    /// The revision at which this event happened.
    pub fn revision(&self) -> Revision {
        self.kv.mod_revision
    }
}

/// Whether a watch's events carry the previous value of the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PrevKv {
    /// Events carry only the new state.
    #[default]
    Omit,
    /// Updates and deletes also carry the value before the change.
    Include,
}

/// A request to watch a key range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchRequest {
    /// Which keys to watch.
    pub range: KeyRange,
    /// Deliver every event with a revision `>= start_revision`; `None` starts
    /// after the current revision (only future events).
    pub start_revision: Option<Revision>,
    /// Whether events carry the previous value.
    pub prev_kv: PrevKv,
}

/// The events of a watch, in revision order. Events of one transaction come
/// as one batch. The stream ends with an error if the watch can no longer be
/// served (e.g. it fell behind compaction); it never skips an event.
pub type WatchStream = Pin<Box<dyn Stream<Item = Result<Vec<Event>>> + Send>>;

/// etcd v3's key-value semantics, implemented by every backend.
///
/// Every method validates its input first and returns a typed [`Error`]
/// (empty key, oversized value, inverted range …) without touching state.
#[async_trait::async_trait]
pub trait Store: Send + Sync + 'static {
    /// The latest revision (0 for a store that has never been written).
    async fn current_revision(&self) -> Result<Revision>;

    /// Reads one key at the given revision (`None`: now).
    async fn get(&self, key: &[u8], revision: Option<Revision>) -> Result<Option<KeyValue>>;

    /// Reads a key range.
    async fn range(&self, request: RangeRequest) -> Result<RangeResponse>;

    /// Counts the keys in a range now, and returns the revision it counted at.
    async fn count(&self, range: KeyRange) -> Result<(usize, Revision)>;

    /// Creates `key` if it does not exist. Fails with [`Error::AlreadyExists`]
    /// otherwise. Returns the new key-value.
    async fn create(&self, key: &[u8], value: Vec<u8>) -> Result<KeyValue>;

    /// Replaces `key`'s value if its `mod_revision` is `expected`. Fails with
    /// [`Error::NotFound`] if the key is absent and with [`Error::Conflict`]
    /// (carrying the current state) if it changed since.
    async fn update(&self, key: &[u8], value: Vec<u8>, expected: Revision) -> Result<KeyValue>;

    /// Deletes `key`, if `expected` is given only when its `mod_revision` is
    /// that one. Returns the deleted key-value and the revision of the delete.
    async fn delete(&self, key: &[u8], expected: Option<Revision>) -> Result<(KeyValue, Revision)>;

    /// Watches a key range. See [`WatchRequest`] and [`WatchStream`].
    async fn watch(&self, request: WatchRequest) -> Result<WatchStream>;

    /// Drops the history before `revision`: reads and watches at older
    /// revisions fail with [`Error::Compacted`] from then on. The current
    /// value of every key is kept.
    async fn compact(&self, revision: Revision) -> Result<()>;

    /// The revision the store was last compacted at (0: never).
    async fn compacted_revision(&self) -> Result<Revision>;
}

/// Checks what every write must satisfy, before any backend work.
pub(crate) fn check_write(key: &[u8], value: &[u8]) -> Result<()> {
    if key.is_empty() {
        return Err(Error::EmptyKey);
    }
    if value.len() > MAX_VALUE_BYTES {
        return Err(Error::ValueTooLarge {
            size: value.len(),
            limit: MAX_VALUE_BYTES,
        });
    }
    Ok(())
}
