//! Restart back-off per container (and per image pull): 10 s doubling to
//! 5 min, reset after the container ran cleanly for twice the cap
//! (pkg/kubelet/kubelet.go `backOffPeriod`, `MaxContainerBackOff`).

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

/// The first delay.
pub const INITIAL: Duration = Duration::from_secs(10);
/// The cap.
pub const MAX: Duration = Duration::from_secs(300);

/// Back-off state keyed by container (or `pull/<container>`).
#[derive(Debug, Default)]
pub struct Backoff {
    entries: HashMap<String, Entry>,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    delay: Duration,
    last: Instant,
}

impl Backoff {
    /// Time left before `key` may try again (`None`: now).
    pub fn remaining(&self, key: &str, now: Instant) -> Option<Duration> {
        let entry = self.entries.get(key)?;
        let ready_at = entry.last + entry.delay;
        (ready_at > now).then(|| ready_at - now)
    }

    /// The current delay of `key` (for messages).
    pub fn delay(&self, key: &str) -> Duration {
        self.entries.get(key).map_or(INITIAL, |e| e.delay)
    }

    /// Records a try at `now`: the first try arms `INITIAL`, each later one
    /// doubles up to `MAX`; a try long after the last resets.
    pub fn record(&mut self, key: &str, now: Instant) {
        let entry = self.entries.entry(key.to_string()).or_insert(Entry {
            delay: Duration::ZERO,
            last: now,
        });
        let quiet = now.saturating_duration_since(entry.last);
        entry.delay = if entry.delay.is_zero() || quiet > 2 * MAX {
            INITIAL
        } else {
            (entry.delay * 2).min(MAX)
        };
        entry.last = now;
    }

    /// Forgets `key` (a pull succeeded).
    pub fn clear(&mut self, key: &str) {
        self.entries.remove(key);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_from_ten_seconds_to_five_minutes() {
        let start = Instant::now();
        let mut backoff = Backoff::default();
        assert_eq!(
            backoff.remaining("c", start),
            None,
            "a first try is immediate"
        );
        let mut now = start;
        let mut seen = Vec::new();
        for _ in 0..8 {
            backoff.record("c", now);
            seen.push(backoff.delay("c").as_secs());
            now += backoff.delay("c");
        }
        assert_eq!(seen, vec![10, 20, 40, 80, 160, 300, 300, 300]);
    }

    #[test]
    fn a_try_is_held_back_until_the_delay_passes() {
        let start = Instant::now();
        let mut backoff = Backoff::default();
        backoff.record("c", start);
        assert_eq!(
            backoff.remaining("c", start + Duration::from_secs(4)),
            Some(Duration::from_secs(6))
        );
        assert_eq!(
            backoff.remaining("c", start + Duration::from_secs(10)),
            None
        );
        assert_eq!(backoff.remaining("other", start), None);
    }

    #[test]
    fn a_long_quiet_period_resets_the_delay() {
        let start = Instant::now();
        let mut backoff = Backoff::default();
        backoff.record("c", start);
        backoff.record("c", start + Duration::from_secs(10));
        assert_eq!(backoff.delay("c"), Duration::from_secs(20));
        backoff.record("c", start + Duration::from_secs(2000));
        assert_eq!(backoff.delay("c"), INITIAL);
    }
}
