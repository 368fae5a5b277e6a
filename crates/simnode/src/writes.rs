//! The one path every API write of the simulator takes: at most
//! `write_concurrency` in flight across all nodes, retried with backoff on
//! transient errors, and counted (for the writes/s figure).

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

/// Attempts per write before giving up on it (the next heartbeat or pod
/// event writes again).
const ATTEMPTS: u32 = 5;
/// The first retry waits this long, each next one twice as long.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// How a write ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// The server accepted it.
    Done,
    /// The object is gone (404) or is not the one we meant (409 on a
    /// precondition): nothing left to do.
    Gone,
}

/// The shared write gate.
#[derive(Clone)]
pub struct Writes {
    client: kube::Client,
    permits: Arc<Semaphore>,
    total: Arc<AtomicU64>,
}

impl Writes {
    /// A gate letting `concurrency` writes through at once.
    pub fn new(client: kube::Client, concurrency: usize) -> Self {
        Writes {
            client,
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            total: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The client, for reads and watches.
    pub fn client(&self) -> &kube::Client {
        &self.client
    }

    /// How many write requests were sent so far.
    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    /// Sends `op` until it succeeds, the object is
    /// gone, it fails for a reason a retry cannot fix, or attempts run out.
    pub async fn send<T, F, Fut>(&self, op: F) -> Result<Written, kube::Error>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, kube::Error>>,
    {
        let mut backoff = FIRST_BACKOFF;
        let mut attempt = 1;
        loop {
            let result = {
                // The semaphore is never closed; without a permit we still write.
                let _permit = self.permits.acquire().await.ok();
                self.total.fetch_add(1, Ordering::Relaxed);
                op().await
            };
            match result {
                Ok(_) => return Ok(Written::Done),
                Err(e) if is_gone(&e) => return Ok(Written::Gone),
                Err(e) if attempt >= ATTEMPTS || !is_transient(&e) => return Err(e),
                Err(_) => {
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                    attempt += 1;
                }
            }
        }
    }
}

/// 404, or a 409 from a uid precondition (the name now belongs to another
/// object).
fn is_gone(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404 || (s.code == 409 && s.message.contains("Precondition")))
}

/// Worth retrying: the connection, a timeout, throttling, a server error.
pub fn is_transient(e: &kube::Error) -> bool {
    match e {
        kube::Error::Api(s) => s.code == 429 || s.code >= 500,
        _ => true,
    }
}

/// True when the error is the server saying the object exists already.
pub fn is_already_exists(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 409 && s.reason == "AlreadyExists")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    fn api_error(code: u16, reason: &str, message: &str) -> kube::Error {
        kube::Error::Api(
            kube::core::Status::failure(message, reason)
                .with_code(code)
                .boxed(),
        )
    }

    #[test]
    fn errors_are_sorted_by_what_to_do_about_them() {
        let cases = [
            (
                api_error(404, "NotFound", "pods \"a\" not found"),
                true,
                false,
                false,
            ),
            (
                api_error(
                    409,
                    "Conflict",
                    "Precondition failed: UID in precondition: x",
                ),
                true,
                false,
                false,
            ),
            (
                api_error(409, "AlreadyExists", "exists"),
                false,
                false,
                true,
            ),
            (
                api_error(429, "TooManyRequests", "slow down"),
                false,
                true,
                false,
            ),
            (
                api_error(503, "ServiceUnavailable", "later"),
                false,
                true,
                false,
            ),
            (api_error(422, "Invalid", "bad"), false, false, false),
        ];
        for (e, gone, transient, exists) in cases {
            assert_eq!(
                (is_gone(&e), is_transient(&e), is_already_exists(&e)),
                (gone, transient, exists),
                "{e}"
            );
        }
    }
}
