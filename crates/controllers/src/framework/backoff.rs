//! Per-key exponential backoff after failed syncs (upstream's
//! `ItemExponentialFailureRateLimiter` in client-go `util/workqueue/default_rate_limiters.go`).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// Upstream's `DefaultControllerRateLimiter` starts at 5 ms and doubles per failure.
pub const BASE_DELAY: Duration = Duration::from_millis(5);
/// ... up to 1000 s.
pub const MAX_DELAY: Duration = Duration::from_secs(1000);

/// Counts consecutive failures per key; a success (`forget`) resets the count.
#[derive(Debug)]
pub struct FailureBackoff<Key> {
    base: Duration,
    max: Duration,
    failures: Mutex<HashMap<Key, u32>>,
}

impl<Key: Eq + Hash> Default for FailureBackoff<Key> {
    fn default() -> Self {
        Self::new(BASE_DELAY, MAX_DELAY)
    }
}

impl<Key: Eq + Hash> FailureBackoff<Key> {
    /// A backoff of `base * 2^failures`, capped at `max`.
    pub fn new(base: Duration, max: Duration) -> Self {
        FailureBackoff {
            base,
            max,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Records one more failure of `key` and returns how long to wait before retrying it.
    pub fn failed(&self, key: Key) -> Duration {
        let mut failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        let count = failures.entry(key).or_insert(0);
        let exponent = *count;
        *count = count.saturating_add(1);
        let factor = 2u32.checked_pow(exponent).unwrap_or(u32::MAX);
        self.base
            .checked_mul(factor)
            .map_or(self.max, |delay| delay.min(self.max))
    }

    /// Forgets the failures of `key` after it synced successfully.
    pub fn forget(&self, key: &Key) {
        self.failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_per_failure_up_to_the_cap_and_reset_on_success() {
        let backoff = FailureBackoff::default();
        let cases = [("a", 5), ("a", 10), ("a", 20), ("b", 5), ("a", 40)];
        for (key, want_ms) in cases {
            assert_eq!(backoff.failed(key), Duration::from_millis(want_ms), "{key}");
        }
        backoff.forget(&"a");
        assert_eq!(backoff.failed("a"), Duration::from_millis(5));
        for _ in 0..40 {
            backoff.failed("c");
        }
        assert_eq!(backoff.failed("c"), MAX_DELAY);
    }
}
