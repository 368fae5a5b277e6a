//! The time controllers act on, injectable (upstream passes a `clock.Clock` to controllers
//! that schedule by time, such as the CronJob controller, so tests can move it).

use std::fmt::Debug;
use std::time::Duration;

use k8s_openapi::jiff::{SignedDuration, Timestamp};

/// A source of "now" for controllers that act at given times.
pub trait Clock: Debug + Send + Sync {
    /// The current time.
    fn now(&self) -> Timestamp;

    /// How long to really wait for `span` of this clock's time to pass (a test clock that
    /// runs faster than real time waits less). Negative spans wait nothing.
    fn real_wait(&self, span: SignedDuration) -> Duration {
        Duration::try_from(span).unwrap_or(Duration::ZERO)
    }
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}
