//! Expectations: do not act again on a key until the cache has seen what we last did.
//!
//! Upstream's `ControllerExpectations` (`pkg/controller/controller_utils.go`) counts pending
//! creations and deletions and lowers the counts from informer handlers; a sync whose
//! expectations are unmet does not create or delete (it would double-create before the cache
//! catches up), and expectations expire after 5 minutes so a lost event cannot wedge a key.
//!
//! Here the pending items are the children themselves (the name we created, the uid we
//! deleted), and they are checked against the cache at the next sync: no handler bookkeeping,
//! and a relist can never leave a count wrong.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use kube::runtime::reflector::{ObjectRef, Store};

use super::informer::Watchable;

/// Upstream's `ExpectationsTimeout`.
pub const EXPECTATIONS_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// What one sync did to its children and is waiting to see in the cache.
#[derive(Debug)]
struct Pending<C: Watchable> {
    /// Children created and not yet seen in the cache.
    created: Vec<ObjectRef<C>>,
    /// Children deleted (with their uid) and still in the cache.
    deleted: Vec<(ObjectRef<C>, String)>,
    since: Instant,
}

/// Expectations of controllers of kind `K` about their children of kind `C`.
#[derive(Debug)]
pub struct Expectations<K: Watchable, C: Watchable> {
    pending: Mutex<HashMap<ObjectRef<K>, Pending<C>>>,
    timeout: Duration,
}

impl<K: Watchable, C: Watchable> Default for Expectations<K, C> {
    fn default() -> Self {
        Expectations {
            pending: Mutex::new(HashMap::new()),
            timeout: EXPECTATIONS_TIMEOUT,
        }
    }
}

/// What a cache shows of one child.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedChild {
    /// Its uid (a deleted child's name may be reused by a new object).
    pub uid: String,
    /// Whether it has a deletionTimestamp: upstream counts a graceful deletion as observed as
    /// soon as the timestamp is set, not when the kubelet finally removes the pod, so that a
    /// controller replaces it without waiting out the grace period.
    pub terminating: bool,
}

/// How a cache answers "is this child there": the seam that unit tests fake.
pub trait ChildLookup<C: Watchable> {
    /// The cached child, if it is cached.
    fn lookup(&self, child: &ObjectRef<C>) -> Option<CachedChild>;
}

impl<C: Watchable> ChildLookup<C> for Store<C> {
    fn lookup(&self, child: &ObjectRef<C>) -> Option<CachedChild> {
        self.get(child).map(|obj| CachedChild {
            uid: obj.meta().uid.clone().unwrap_or_default(),
            terminating: obj.meta().deletion_timestamp.is_some(),
        })
    }
}

impl<K: Watchable, C: Watchable> Expectations<K, C> {
    /// Records that `key` created `created` and deleted `deleted` (ref, uid).
    pub fn expect(
        &self,
        key: ObjectRef<K>,
        created: Vec<ObjectRef<C>>,
        deleted: Vec<(ObjectRef<C>, String)>,
    ) {
        if created.is_empty() && deleted.is_empty() {
            return;
        }
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = pending.entry(key).or_insert_with(|| Pending {
            created: Vec::new(),
            deleted: Vec::new(),
            since: Instant::now(),
        });
        entry.created.extend(created);
        entry.deleted.extend(deleted);
        entry.since = Instant::now();
    }

    /// Whether `key` may act: everything it did is visible in `cache`, or it waited longer
    /// than the timeout. Satisfied expectations are dropped.
    pub fn satisfied(&self, key: &ObjectRef<K>, cache: &impl ChildLookup<C>) -> bool {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(entry) = pending.get_mut(key) else {
            return true;
        };
        entry.created.retain(|child| cache.lookup(child).is_none());
        entry.deleted.retain(|(child, uid)| {
            cache
                .lookup(child)
                .is_some_and(|cached| cached.uid == *uid && !cached.terminating)
        });
        let done = (entry.created.is_empty() && entry.deleted.is_empty())
            || entry.since.elapsed() >= self.timeout;
        if done {
            pending.remove(key);
        }
        done
    }

    /// Drops the expectations of a deleted controller.
    pub fn forget(&self, key: &ObjectRef<K>) {
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(key);
    }
}

/// Lets plain maps stand in for a cache in tests.
impl<C: Watchable> ChildLookup<C> for HashMap<ObjectRef<C>, CachedChild>
where
    ObjectRef<C>: Hash + Eq,
{
    fn lookup(&self, child: &ObjectRef<C>) -> Option<CachedChild> {
        self.get(child).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::ReplicaSet;
    use k8s_openapi::api::core::v1::Pod;

    fn pod(name: &str) -> ObjectRef<Pod> {
        ObjectRef::new(name).within("ns")
    }

    #[test]
    fn a_key_may_act_only_once_the_cache_shows_what_it_did() {
        let rs: ObjectRef<ReplicaSet> = ObjectRef::new("rs").within("ns");
        // A cached pod: name, uid, terminating.
        type Cached<'a> = (&'a str, &'a str, bool);
        // (cache contents, satisfied?)
        let cases: &[(&[Cached], bool)] = &[
            (&[], false),                                           // created pod not seen yet
            (&[("new", "u2", false), ("old", "u1", false)], false), // deleted pod still cached
            (&[("new", "u2", false), ("old", "u1", true)], true),   // deleted pod terminating
            (&[("new", "u2", false), ("old", "u9", false)], true), // old name reused by another uid
            (&[("new", "u2", true)], true), // created pod seen, already terminating
        ];
        for (cache, want) in cases {
            let expectations = Expectations::<ReplicaSet, Pod>::default();
            expectations.expect(
                rs.clone(),
                vec![pod("new")],
                vec![(pod("old"), "u1".to_owned())],
            );
            let cache: HashMap<ObjectRef<Pod>, CachedChild> = cache
                .iter()
                .map(|(name, uid, terminating)| {
                    let cached = CachedChild {
                        uid: (*uid).to_owned(),
                        terminating: *terminating,
                    };
                    (pod(name), cached)
                })
                .collect();
            assert_eq!(expectations.satisfied(&rs, &cache), *want, "{cache:?}");
        }
    }

    #[test]
    fn a_key_without_expectations_or_past_the_timeout_may_act() {
        let rs: ObjectRef<ReplicaSet> = ObjectRef::new("rs").within("ns");
        let empty: HashMap<ObjectRef<Pod>, CachedChild> = HashMap::new();
        let mut expectations = Expectations::<ReplicaSet, Pod>::default();
        assert!(expectations.satisfied(&rs, &empty));
        expectations.timeout = Duration::ZERO;
        expectations.expect(rs.clone(), vec![pod("never")], Vec::new());
        assert!(expectations.satisfied(&rs, &empty));
    }
}
