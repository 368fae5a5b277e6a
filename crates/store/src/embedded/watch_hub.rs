//! In-process fan-out of committed events to live watches.
//!
//! The writer publishes each committed batch once; every subscriber whose
//! range it touches gets the shared batch through a bounded channel. A
//! subscriber whose channel is full is cut off instead of blocking the
//! writer; its watch notices (its channel ends while the hub is open) and
//! resumes from the log, so no event is lost.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;

use crate::{Event, KeyRange, Revision};

/// A committed batch, shared by every subscriber.
pub(super) type Batch = Arc<Vec<Event>>;

/// Subscribers and the revision published last.
#[derive(Debug)]
pub(super) struct WatchHub {
    state: Mutex<HubState>,
    buffer: usize,
}

#[derive(Debug)]
struct HubState {
    published: Revision,
    closed: bool,
    next_id: u64,
    subscribers: HashMap<u64, Subscriber>,
}

#[derive(Debug)]
struct Subscriber {
    range: KeyRange,
    sender: mpsc::Sender<Batch>,
}

/// A live subscription: every batch published after `published`, until it
/// is dropped or cut off. Dropping it unsubscribes.
#[derive(Debug)]
pub(super) struct Subscription {
    hub: Arc<WatchHub>,
    id: u64,
    /// The last revision published before this subscription started: the
    /// log holds everything up to it, the channel everything after.
    pub(super) published: Revision,
    pub(super) batches: mpsc::Receiver<Batch>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.hub.lock().subscribers.remove(&self.id);
    }
}

impl WatchHub {
    /// A hub whose subscribers buffer up to `buffer` batches each.
    pub(super) fn new(published: Revision, buffer: usize) -> Self {
        WatchHub {
            state: Mutex::new(HubState {
                published,
                closed: false,
                next_id: 0,
                subscribers: HashMap::new(),
            }),
            buffer: buffer.max(1),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HubState> {
        // The state stays consistent even if a holder panicked: every
        // critical section is a single insert, remove or publish.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The latest revision committed and published.
    pub(super) fn published(&self) -> Revision {
        self.lock().published
    }

    /// How many subscriptions are live.
    #[cfg(test)]
    pub(super) fn subscribers(&self) -> usize {
        self.lock().subscribers.len()
    }

    /// Whether the writer is gone: no more events will come.
    pub(super) fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Starts receiving every batch published from now on that touches `range`.
    pub(super) fn subscribe(self: &Arc<Self>, range: KeyRange) -> Subscription {
        let (sender, batches) = mpsc::channel(self.buffer);
        let mut state = self.lock();
        let id = state.next_id;
        state.next_id += 1;
        if !state.closed {
            state.subscribers.insert(id, Subscriber { range, sender });
        }
        Subscription {
            hub: Arc::clone(self),
            id,
            published: state.published,
            batches,
        }
    }

    /// Hands a committed batch, whose last revision is `revision`, to every
    /// subscriber it concerns. Never blocks on a subscriber.
    pub(super) fn publish(&self, events: Vec<Event>, revision: Revision) {
        let batch: Batch = Arc::new(events);
        let mut state = self.lock();
        state.published = revision;
        state.subscribers.retain(|_, subscriber| {
            if !batch.iter().any(|e| subscriber.range.contains(&e.kv.key)) {
                return !subscriber.sender.is_closed();
            }
            match subscriber.sender.try_send(Arc::clone(&batch)) {
                Ok(()) => true,
                // Full: cut it off; the watch resumes from the log.
                Err(TrySendError::Full(_) | TrySendError::Closed(_)) => false,
            }
        });
    }

    /// Ends every subscription: the writer is gone.
    pub(super) fn close(&self) {
        let mut state = self.lock();
        state.closed = true;
        state.subscribers.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EventKind, KeyValue};

    fn put(key: &str, revision: Revision) -> Event {
        Event {
            kind: EventKind::Put,
            kv: KeyValue {
                key: key.as_bytes().to_vec(),
                value: Vec::new(),
                create_revision: revision,
                mod_revision: revision,
            },
            prev_kv: None,
        }
    }

    fn revisions(batch: Option<Batch>) -> Option<Vec<Revision>> {
        batch.map(|b| b.iter().map(Event::revision).collect())
    }

    #[test]
    fn a_full_subscriber_is_cut_off_while_others_keep_receiving() {
        let hub = Arc::new(WatchHub::new(0, 1));
        let mut slow = hub.subscribe(KeyRange::prefix("/"));
        let mut fast = hub.subscribe(KeyRange::prefix("/"));
        hub.publish(vec![put("/a", 1)], 1);
        assert_eq!(revisions(fast.batches.try_recv().ok()), Some(vec![1]));
        hub.publish(vec![put("/a", 2)], 2);
        assert_eq!(revisions(fast.batches.try_recv().ok()), Some(vec![2]));
        // The slow one keeps what it had buffered, then its channel ends.
        assert_eq!(revisions(slow.batches.try_recv().ok()), Some(vec![1]));
        assert!(matches!(
            slow.batches.try_recv(),
            Err(mpsc::error::TryRecvError::Disconnected)
        ));
        assert!(!hub.is_closed(), "a cut-off is not a close");
    }

    #[test]
    fn batches_outside_a_subscribers_range_are_not_sent() {
        let hub = Arc::new(WatchHub::new(0, 8));
        let mut a = hub.subscribe(KeyRange::prefix("/a/"));
        hub.publish(vec![put("/ab", 1)], 1);
        hub.publish(vec![put("/ab", 2), put("/a/x", 3)], 3);
        assert_eq!(revisions(a.batches.try_recv().ok()), Some(vec![2, 3]));
        assert!(a.batches.try_recv().is_err());
        assert_eq!(hub.published(), 3);
    }

    #[test]
    fn a_subscription_remembers_the_revision_published_before_it() {
        let hub = Arc::new(WatchHub::new(5, 8));
        hub.publish(vec![put("/a", 6)], 6);
        let sub = hub.subscribe(KeyRange::prefix("/"));
        assert_eq!(sub.published, 6);
    }

    #[test]
    fn closing_ends_every_subscription_and_later_ones() {
        let hub = Arc::new(WatchHub::new(0, 8));
        let mut before = hub.subscribe(KeyRange::prefix("/"));
        hub.close();
        let mut after = hub.subscribe(KeyRange::prefix("/"));
        assert!(hub.is_closed());
        for sub in [&mut before, &mut after] {
            assert!(matches!(
                sub.batches.try_recv(),
                Err(mpsc::error::TryRecvError::Disconnected)
            ));
        }
    }

    #[test]
    fn dropping_a_subscription_unsubscribes() {
        let hub = Arc::new(WatchHub::new(0, 8));
        drop(hub.subscribe(KeyRange::prefix("/")));
        assert_eq!(hub.subscribers(), 0);
    }
}
