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
