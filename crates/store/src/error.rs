//! The store's errors: what a caller can act on, each its own variant.

use crate::{KeyValue, Revision};

/// A store result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a store operation failed. Nothing was written when an error is returned.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A create found the key already present.
    #[error("key already exists")]
    AlreadyExists {
        /// The key as it is now.
        current: Box<KeyValue>,
    },
    /// An update or delete named a key that does not exist.
    #[error("key not found")]
    NotFound,
    /// An update or delete expected another `mod_revision`.
    #[error("revision conflict: expected mod_revision {expected}, found {}", current.mod_revision)]
    Conflict {
        /// The revision the caller expected.
        expected: Revision,
        /// The key as it is now.
        current: Box<KeyValue>,
    },
    /// A read or watch asked for history that compaction already dropped.
    #[error("required revision {requested} has been compacted (compacted at {compacted})")]
    Compacted {
        /// The revision asked for.
        requested: Revision,
        /// The revision the store is compacted at.
        compacted: Revision,
    },
    /// A read asked for a revision that does not exist yet.
    #[error("required revision {requested} is a future revision (current is {current})")]
    FutureRevision {
        /// The revision asked for.
        requested: Revision,
        /// The current revision.
        current: Revision,
    },
    /// Keys must not be empty.
    #[error("empty key")]
    EmptyKey,
    /// A value is over [`crate::MAX_VALUE_BYTES`].
    #[error("value of {size} bytes is over the limit of {limit} bytes")]
    ValueTooLarge {
        /// The value's size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// An interval whose end is not after its start.
    #[error("invalid range: end {end:?} is not after start {start:?}")]
    InvalidRange {
        /// Start key.
        start: Vec<u8>,
        /// End key.
        end: Vec<u8>,
    },
    /// The embedded database failed.
    #[error("embedded store: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The etcd cluster failed or could not be reached.
    #[error("etcd: {0}")]
    Etcd(#[from] etcd_client::Error),
    /// The backend answered something its protocol does not allow (a bug in
    /// it or in us). Like a lost connection, it leaves unknown whether a write
    /// took effect.
    #[error("unexpected answer from the backend: {0}")]
    UnexpectedResponse(String),
    /// The store is shut down or its writer thread is gone.
    #[error("store is closed")]
    Closed,
    /// An I/O error outside the database (e.g. writing a snapshot).
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}
