//! One watch: replay from the log, then live events, without gap or repeat.
//!
//! The watch subscribes to the hub first and only then reads the log up to
//! the revision the hub had published at that moment; every later event
//! arrives through the subscription. If the subscription is cut off because
//! the consumer fell behind, the watch subscribes again and replays from the
//! log what it missed. Only compaction of that history ends it, with
//! [`Error::Compacted`]; it never skips an event.

use std::sync::Arc;

use tokio::sync::mpsc;

use super::queries;
use super::readers::Readers;
use super::watch_hub::{Subscription, WatchHub};
use crate::{Error, Event, KeyRange, PrevKv, Result, Revision, WatchRequest};

/// Events read from the log per query while replaying.
const REPLAY_PAGE: usize = 1000;

/// A running watch, feeding `out` until the consumer drops it.
pub(super) struct Watcher {
    pub(super) readers: Arc<Readers>,
    pub(super) hub: Arc<WatchHub>,
    pub(super) request: WatchRequest,
    pub(super) out: mpsc::Sender<Result<Vec<Event>>>,
}

impl Watcher {
    /// Delivers every event from `next` on, starting with `subscription`.
    pub(super) async fn run(self, mut subscription: Subscription, mut next: Revision) {
        loop {
            next = match self.replay(next, subscription.published).await {
                Ok(next) => next,
                Err(e) => return self.finish(e).await,
            };
            loop {
                // A consumer that drops the stream ends the watch now, not at
                // the next event it would have been sent.
                let batch = tokio::select! {
                    batch = subscription.batches.recv() => batch,
                    () = self.out.closed() => return,
                };
                let Some(batch) = batch else { break };
                let events: Vec<Event> = batch
                    .iter()
                    .filter(|e| e.revision() >= next && self.request.range.contains(&e.kv.key))
                    .map(|e| self.shaped(e))
                    .collect();
                if let Some(last) = batch.last() {
                    next = next.max(last.revision() + 1);
                }
                if !events.is_empty() && self.out.send(Ok(events)).await.is_err() {
                    return;
                }
            }
            if self.hub.is_closed() {
                return self.finish(Error::Closed).await;
            }
            tracing::debug!(next, "watch fell behind; resuming from the log");
            subscription = self.hub.subscribe(self.request.range.clone());
        }
    }

    /// Sends the logged events from `next` to `until`; returns the next
    /// revision to deliver.
    async fn replay(&self, mut next: Revision, until: Revision) -> Result<Revision> {
        while next <= until {
            let range: KeyRange = self.request.range.clone();
            let prev_kv = self.request.prev_kv;
            let page = self
                .readers
                .run(move |conn| queries::history(conn, &range, next, until, REPLAY_PAGE, prev_kv))
                .await?;
            let full = page.len() == REPLAY_PAGE;
            next = match page.last() {
                Some(last) if full => last.revision() + 1,
                _ => until + 1,
            };
            if !page.is_empty() && self.out.send(Ok(page)).await.is_err() {
                // The consumer is gone; stop quietly.
                return Err(Error::Closed);
            }
        }
        Ok(next)
    }

    fn shaped(&self, event: &Event) -> Event {
        match self.request.prev_kv {
            PrevKv::Include => event.clone(),
            PrevKv::Omit => Event {
                kind: event.kind,
                kv: event.kv.clone(),
                prev_kv: None,
            },
        }
    }

    async fn finish(&self, error: Error) {
        // The consumer may be gone already; then nobody needs the reason.
        let _ = self.out.send(Err(error)).await;
    }
}
