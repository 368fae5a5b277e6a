//! Runs one controller: its trigger streams feed kube-runtime's work queue
//! ([`applier`](kube::runtime::controller::applier): per-key deduplication, one sync per key at
//! a time, N concurrent workers), and failed syncs retry with per-key exponential backoff.

use std::convert::Infallible;
use std::error::Error as StdError;
use std::future::Future;
use std::sync::Arc;

use futures::{FutureExt, StreamExt};
use kube::runtime::controller::{self, applier, Action};
use kube::runtime::reflector::ObjectRef;

use super::backoff::FailureBackoff;
use super::informer::{Informer, Watchable};
use super::triggers::Triggers;
use super::Context;

/// Runs `sync` for every key `triggers` enqueue until the manager shuts down, reading `K`
/// from `primary`'s cache (a key no longer cached is skipped: the object is gone). `state` is
/// whatever the controller's sync needs (caches, recorder, expectations).
///
/// Returns once shutdown has been requested and in-flight syncs have finished.
pub async fn run_controller<K, S, F, Fut, E>(
    ctx: &Context,
    name: &'static str,
    primary: &Informer<K>,
    triggers: Triggers<K>,
    state: Arc<S>,
    sync: F,
) where
    K: Watchable,
    S: Send + Sync + 'static,
    F: Fn(Arc<K>, Arc<S>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Action, E>> + Send + 'static,
    E: StdError + Send + Sync + 'static,
{
    let Triggers { streams, synced } = triggers;
    tokio::select! {
        () = ctx.shutdown().cancelled() => return,
        _ = futures::future::join_all(synced) => {}
    }
    tracing::info!(controller = name, "caches synced; starting workers");
    let queue = futures::stream::select_all(streams)
        .map(Ok::<_, Infallible>)
        .take_until(ctx.shutdown().clone().cancelled_owned());
    let backoff = Arc::new(FailureBackoff::<ObjectRef<K>>::default());
    let on_success = Arc::clone(&backoff);
    let reconcile = move |obj: Arc<K>, state: Arc<S>| {
        let key = ObjectRef::from_obj(&*obj);
        let backoff = Arc::clone(&on_success);
        let fut = sync(obj, state);
        async move {
            let action = fut.await?;
            backoff.forget(&key);
            Ok::<_, E>(action)
        }
        .boxed()
    };
    let error_policy = move |obj: Arc<K>, error: &E, _: Arc<S>| {
        let key = ObjectRef::from_obj(&*obj);
        let delay = backoff.failed(key.clone());
        tracing::warn!(controller = name, object = %key, error = %ErrorChain(error), ?delay, "sync failed; retrying");
        Action::requeue(delay)
    };
    let config = controller::Config::default().concurrency(ctx.workers());
    applier(
        reconcile,
        error_policy,
        state,
        primary.store(),
        queue,
        config,
    )
    .for_each(|result| async move {
        match result {
            Ok(_) | Err(controller::Error::ReconcilerFailed(..)) => {}
            Err(controller::Error::ObjectNotFound(key)) => {
                tracing::debug!(controller = name, object = %key, "object gone before its sync");
            }
            Err(error) => tracing::warn!(controller = name, %error, "work queue error"),
        }
    })
    .await;
    tracing::info!(controller = name, "stopped");
}

/// Displays an error with its sources, `a: b: c`.
pub struct ErrorChain<'a>(pub &'a (dyn StdError + 'static));

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}
