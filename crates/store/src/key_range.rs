//! Which keys a read or watch covers.

use crate::{Error, Result};

/// A set of keys: one key, every key under a prefix, or a half-open interval.
///
/// A prefix is a plain byte prefix, as in etcd: `/a` covers `/ab` too. The
/// apiserver always asks for prefixes ending in `/` so that `/registry/pods/a/`
/// never covers `/registry/pods/ab/`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KeyRange {
    /// Exactly one key.
    Key(Vec<u8>),
    /// Every key starting with these bytes.
    Prefix(Vec<u8>),
    /// Every key `k` with `start <= k < end`.
    Interval {
        /// First key included.
        start: Vec<u8>,
        /// First key excluded.
        end: Vec<u8>,
    },
}

impl KeyRange {
    /// Every key starting with `prefix`.
    pub fn prefix(prefix: impl Into<Vec<u8>>) -> Self {
        KeyRange::Prefix(prefix.into())
    }

    /// Exactly `key`.
    pub fn key(key: impl Into<Vec<u8>>) -> Self {
        KeyRange::Key(key.into())
    }

    /// Keys from `start` (included) to `end` (excluded).
    pub fn interval(start: impl Into<Vec<u8>>, end: impl Into<Vec<u8>>) -> Self {
        KeyRange::Interval {
            start: start.into(),
            end: end.into(),
        }
    }

    /// Checks the range is well formed: no empty key or prefix, and an
    /// interval's end after its start.
    pub fn validate(&self) -> Result<()> {
        match self {
            KeyRange::Key(k) | KeyRange::Prefix(k) if k.is_empty() => Err(Error::EmptyKey),
            KeyRange::Interval { start, .. } if start.is_empty() => Err(Error::EmptyKey),
            KeyRange::Interval { start, end } if end <= start => Err(Error::InvalidRange {
                start: start.clone(),
                end: end.clone(),
            }),
            _ => Ok(()),
        }
    }

    /// The first key of the range.
    pub fn start(&self) -> &[u8] {
        match self {
            KeyRange::Key(k) | KeyRange::Prefix(k) => k,
            KeyRange::Interval { start, .. } => start,
        }
    }

    /// The first key after the range, as etcd's `range_end`: `None` when the
    /// range is unbounded above (a prefix of only `0xff` bytes).
    pub fn end(&self) -> Option<Vec<u8>> {
        match self {
            KeyRange::Key(k) => {
                let mut end = k.clone();
                end.push(0);
                Some(end)
            }
            KeyRange::Prefix(p) => prefix_end(p),
            KeyRange::Interval { end, .. } => Some(end.clone()),
        }
    }

    /// Whether `key` lies in the range.
    pub fn contains(&self, key: &[u8]) -> bool {
        match self {
            KeyRange::Key(k) => k == key,
            KeyRange::Prefix(p) => key.starts_with(p),
            KeyRange::Interval { start, end } => start.as_slice() <= key && key < end.as_slice(),
        }
    }
}

/// The smallest key greater than every key with this prefix (etcd's
/// `GetPrefixRangeEnd`): the prefix with its last non-0xff byte incremented.
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_ends_at_its_last_byte_plus_one() {
        assert_eq!(KeyRange::prefix("/a/").end(), Some(b"/a0".to_vec()));
        assert_eq!(
            KeyRange::prefix(vec![b'a', 0xff]).end(),
            Some(b"b".to_vec())
        );
        assert_eq!(KeyRange::prefix(vec![0xff, 0xff]).end(), None);
    }

    #[test]
    fn a_prefix_without_slash_covers_longer_names() {
        let r = KeyRange::prefix("/a");
        assert!(r.contains(b"/ab"));
        assert!(!KeyRange::prefix("/a/").contains(b"/ab/x"));
    }

    #[test]
    fn bad_ranges_are_refused() {
        assert!(matches!(KeyRange::key("").validate(), Err(Error::EmptyKey)));
        assert!(matches!(
            KeyRange::interval("b", "a").validate(),
            Err(Error::InvalidRange { .. })
        ));
        assert!(KeyRange::interval("a", "b").validate().is_ok());
    }
}
