//! A deduplicating FIFO of uids for the collector's worker: a uid queued twice before it is
//! processed is processed once (upstream's work queue property).

use std::collections::{HashSet, VecDeque};
use std::sync::{Mutex, PoisonError};

use tokio::sync::Notify;

/// The queue.
#[derive(Debug, Default)]
pub struct UidQueue {
    pending: Mutex<(VecDeque<String>, HashSet<String>)>,
    ready: Notify,
}

impl UidQueue {
    /// Queues `uid` unless it is already queued.
    pub fn push(&self, uid: String) {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        if pending.1.insert(uid.clone()) {
            pending.0.push_back(uid);
            self.ready.notify_one();
        }
    }

    /// Takes the oldest uid, waiting for one.
    pub async fn pop(&self) -> String {
        loop {
            if let Some(uid) = self.try_pop() {
                return uid;
            }
            self.ready.notified().await;
        }
    }

    fn try_pop(&self) -> Option<String> {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        let uid = pending.0.pop_front()?;
        pending.1.remove(&uid);
        Some(uid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_uid_queued_twice_is_taken_once_in_order() {
        let queue = UidQueue::default();
        for uid in ["a", "b", "a", "c", "b"] {
            queue.push(uid.to_owned());
        }
        let mut taken = Vec::new();
        for _ in 0..3 {
            taken.push(queue.pop().await);
        }
        assert_eq!(taken, ["a", "b", "c"]);
        assert_eq!(queue.try_pop(), None);
    }
}
