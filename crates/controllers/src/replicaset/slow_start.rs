//! Slow-start batches (upstream `slowStartBatch` in `replica_set.go`): create 1, then 2, 4, …
//! at a time, stopping at the first batch with a failure, so a pod spec that the apiserver
//! rejects (quota, admission) costs one failed call instead of hundreds.

use std::future::Future;

/// Upstream's `SlowStartInitialBatchSize`.
pub const INITIAL_BATCH: usize = 1;

/// The outcome of a slow start: what succeeded, and the first error if a batch failed
/// (calls after that batch were never made).
#[derive(Debug)]
pub struct Started<T, E> {
    /// Results of the calls that succeeded, in call order.
    pub done: Vec<T>,
    /// The first error, if any.
    pub error: Option<E>,
    /// How many calls were skipped after a failed batch.
    pub skipped: usize,
}

/// Runs `call` `count` times in batches of doubling size, each batch concurrently.
pub async fn slow_start<T, E, F, Fut>(count: usize, initial: usize, mut call: F) -> Started<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut started = Started {
        done: Vec::with_capacity(count),
        error: None,
        skipped: 0,
    };
    let mut remaining = count;
    let mut batch = initial.max(1).min(remaining);
    while batch > 0 {
        let results = futures::future::join_all((0..batch).map(|_| call())).await;
        remaining -= batch;
        for result in results {
            match result {
                Ok(value) => started.done.push(value),
                Err(error) => {
                    started.error.get_or_insert(error);
                }
            }
        }
        if started.error.is_some() {
            started.skipped = remaining;
            break;
        }
        batch = batch.saturating_mul(2).min(remaining);
    }
    started
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[tokio::test]
    async fn batches_double_and_stop_after_the_first_failing_batch() {
        // (count, index of the first failing call, calls made, skipped)
        let cases = [
            (0, None, 0, 0),
            (1, None, 1, 0),
            (10, None, 10, 0),
            (10, Some(0), 1, 9),
            (10, Some(1), 3, 7),
            (10, Some(4), 7, 3),
            (10, Some(8), 10, 0),
        ];
        for (count, failing, want_calls, want_skipped) in cases {
            let calls = Cell::new(0usize);
            let started = slow_start(count, INITIAL_BATCH, || {
                let index = calls.get();
                calls.set(index + 1);
                async move {
                    if Some(index) == failing {
                        Err("rejected")
                    } else {
                        Ok(index)
                    }
                }
            })
            .await;
            assert_eq!(calls.get(), want_calls, "count {count} failing {failing:?}");
            assert_eq!(
                started.skipped, want_skipped,
                "count {count} failing {failing:?}"
            );
            assert_eq!(
                started.error.is_some(),
                failing.is_some_and(|index| index < count)
            );
        }
    }
}
