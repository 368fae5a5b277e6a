//! The scheduler's Prometheus metrics, under upstream's names
//! (pkg/scheduler/metrics/metrics.go), rendered in the text exposition
//! format, and a minimal HTTP endpoint that serves them on `/metrics`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::queue::PendingCounts;

/// Upstream's buckets for `scheduler_scheduling_attempt_duration_seconds`:
/// 1 ms doubling 15 times.
const DURATION_BUCKETS: usize = 15;
const FIRST_BUCKET_SECONDS: f64 = 0.001;

#[derive(Debug, Clone, Default)]
struct Histogram {
    /// Per bucket (not cumulative); the last slot is +Inf.
    counts: [u64; DURATION_BUCKETS + 1],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        let bucket = (0..DURATION_BUCKETS)
            .find(|i| seconds <= bucket_bound(*i))
            .unwrap_or(DURATION_BUCKETS);
        if let Some(slot) = self.counts.get_mut(bucket) {
            *slot += 1;
        }
        self.sum += seconds;
        self.count += 1;
    }
}

fn bucket_bound(i: usize) -> f64 {
    FIRST_BUCKET_SECONDS * f64::from(1u32 << i)
}

/// Label values of one attempt series: (result, profile).
type AttemptLabels = (&'static str, String);

/// The scheduler's metrics, shared between the scheduling loop and the
/// `/metrics` endpoint.
#[derive(Debug, Default)]
pub struct Metrics {
    attempts: Mutex<BTreeMap<AttemptLabels, Histogram>>,
    pending_active: AtomicUsize,
    pending_backoff: AtomicUsize,
    pending_unschedulable: AtomicUsize,
}

impl Metrics {
    /// No observations yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one scheduling attempt of `profile` that ended in `result`
    /// (scheduled / unschedulable / error) and took `duration`.
    pub fn observe_attempt(&self, result: &'static str, profile: &str, duration: Duration) {
        if let Ok(mut attempts) = self.attempts.lock() {
            attempts
                .entry((result, profile.to_string()))
                .or_default()
                .observe(duration.as_secs_f64());
        }
    }

    /// Sets the pending pods per sub-queue.
    pub fn set_pending(&self, pending: PendingCounts) {
        self.pending_active.store(pending.active, Ordering::Relaxed);
        self.pending_backoff
            .store(pending.backoff, Ordering::Relaxed);
        self.pending_unschedulable
            .store(pending.unschedulable, Ordering::Relaxed);
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let attempts = self.attempts.lock().map(|a| a.clone()).unwrap_or_default();
        let mut out = String::new();
        out.push_str("# HELP scheduler_schedule_attempts_total Number of attempts to schedule pods, by the result. 'unschedulable' means a pod could not be scheduled, while 'error' means an internal scheduler problem.\n");
        out.push_str("# TYPE scheduler_schedule_attempts_total counter\n");
        for ((result, profile), h) in &attempts {
            let _ = writeln!(
                out,
                "scheduler_schedule_attempts_total{{profile=\"{profile}\",result=\"{result}\"}} {}",
                h.count
            );
        }
        out.push_str("# HELP scheduler_scheduling_attempt_duration_seconds Scheduling attempt latency in seconds (scheduling algorithm + binding)\n");
        out.push_str("# TYPE scheduler_scheduling_attempt_duration_seconds histogram\n");
        for ((result, profile), h) in &attempts {
            let labels = format!("profile=\"{profile}\",result=\"{result}\"");
            let mut cumulative = 0;
            for (i, count) in h.counts.iter().enumerate().take(DURATION_BUCKETS) {
                cumulative += count;
                let _ = writeln!(
                    out,
                    "scheduler_scheduling_attempt_duration_seconds_bucket{{{labels},le=\"{}\"}} {cumulative}",
                    bucket_bound(i)
                );
            }
            let _ = writeln!(
                out,
                "scheduler_scheduling_attempt_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "scheduler_scheduling_attempt_duration_seconds_sum{{{labels}}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "scheduler_scheduling_attempt_duration_seconds_count{{{labels}}} {}",
                h.count
            );
        }
        out.push_str("# HELP scheduler_pending_pods Number of pending pods, by the queue type. 'active' means number of pods in activeQ; 'backoff' means number of pods in backoffQ; 'unschedulable' means number of pods in unschedulablePods.\n");
        out.push_str("# TYPE scheduler_pending_pods gauge\n");
        for (queue, gauge) in [
            ("active", &self.pending_active),
            ("backoff", &self.pending_backoff),
            ("unschedulable", &self.pending_unschedulable),
        ] {
            let _ = writeln!(
                out,
                "scheduler_pending_pods{{queue=\"{queue}\"}} {}",
                gauge.load(Ordering::Relaxed)
            );
        }
        out
    }
}

/// The largest request head the endpoint reads.
const MAX_REQUEST: usize = 8 * 1024;

/// Serves `GET /metrics` (and `/healthz`) over plain HTTP/1.1 on
/// `listener` until `shutdown` completes; one response per connection.
pub async fn serve(
    listener: TcpListener,
    metrics: std::sync::Arc<Metrics>,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (mut stream, _) = tokio::select! {
            _ = &mut shutdown => return Ok(()),
            accepted = listener.accept() => accepted?,
        };
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; MAX_REQUEST];
            let mut read = 0;
            while read < buf.len() {
                match stream.read(buf.get_mut(read..).unwrap_or_default()).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => read += n,
                }
                if buf
                    .get(..read)
                    .is_some_and(|b| b.windows(4).any(|w| w == b"\r\n\r\n"))
                {
                    break;
                }
            }
            let head = String::from_utf8_lossy(buf.get(..read).unwrap_or_default());
            let path = head.split_whitespace().nth(1).unwrap_or_default();
            let (status, body) = match path {
                "/metrics" => ("200 OK", metrics.render()),
                "/healthz" | "/livez" | "/readyz" => ("200 OK", "ok".to_string()),
                _ => ("404 Not Found", "not found\n".to_string()),
            };
            let response = format!(
                "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes()).await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_are_counted_and_bucketed_per_result_and_profile() {
        let m = Metrics::new();
        m.observe_attempt("scheduled", "default-scheduler", Duration::from_micros(500));
        m.observe_attempt("scheduled", "default-scheduler", Duration::from_millis(3));
        m.observe_attempt("unschedulable", "other", Duration::from_secs(100));
        m.set_pending(PendingCounts {
            active: 1,
            backoff: 2,
            unschedulable: 3,
        });
        let text = m.render();
        let want = [
            "scheduler_schedule_attempts_total{profile=\"default-scheduler\",result=\"scheduled\"} 2",
            "scheduler_schedule_attempts_total{profile=\"other\",result=\"unschedulable\"} 1",
            "scheduler_scheduling_attempt_duration_seconds_bucket{profile=\"default-scheduler\",result=\"scheduled\",le=\"0.001\"} 1",
            "scheduler_scheduling_attempt_duration_seconds_bucket{profile=\"default-scheduler\",result=\"scheduled\",le=\"0.004\"} 2",
            "scheduler_scheduling_attempt_duration_seconds_bucket{profile=\"other\",result=\"unschedulable\",le=\"16.384\"} 0",
            "scheduler_scheduling_attempt_duration_seconds_bucket{profile=\"other\",result=\"unschedulable\",le=\"+Inf\"} 1",
            "scheduler_pending_pods{queue=\"active\"} 1",
            "scheduler_pending_pods{queue=\"backoff\"} 2",
            "scheduler_pending_pods{queue=\"unschedulable\"} 3",
        ];
        for line in want {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
    }

    #[tokio::test]
    async fn the_endpoint_serves_the_metrics() {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
        let metrics = std::sync::Arc::new(Metrics::new());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, metrics, async {
            let _ = stopped.await;
        }));
        let mut stream = tokio::net::TcpStream::connect(addr)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let mut response = String::new();
        stream
            .read_to_string(&mut response)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
        assert!(
            response.contains("scheduler_pending_pods{queue=\"active\"} 0"),
            "{response}"
        );
        let _ = stop.send(());
        let served = server.await.unwrap_or_else(|e| panic!("{e}"));
        assert!(served.is_ok());
    }
}
