//! The proxy's Prometheus metrics, with upstream kube-proxy's names where
//! it has them (`pkg/proxy/metrics/metrics.go`).

use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Upper bounds of the sync duration histogram, in seconds (upstream uses
/// exponential buckets from 1ms doubling).
const BUCKETS: [f64; 12] = [
    0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024, 2.048,
];

#[derive(Debug, Default)]
struct State {
    bucket_counts: [u64; BUCKETS.len()],
    sync_count: u64,
    sync_seconds_sum: f64,
    rules: usize,
    last_sync_unix: f64,
    sync_errors: u64,
}

/// Counters shared by the sync loop (writer) and a `/metrics` handler
/// (reader).
#[derive(Debug, Default)]
pub struct Metrics {
    state: Mutex<State>,
}

impl Metrics {
    /// Records a sync that applied `rules` rules in `took`.
    pub fn record_sync(&self, took: Duration, rules: usize) {
        let Ok(mut s) = self.state.lock() else {
            return;
        };
        let seconds = took.as_secs_f64();
        for (count, bound) in s.bucket_counts.iter_mut().zip(BUCKETS) {
            if seconds <= bound {
                *count += 1;
            }
        }
        s.sync_count += 1;
        s.sync_seconds_sum += seconds;
        s.rules = rules;
        s.last_sync_unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
    }

    /// Records a sync that nftables refused.
    pub fn record_error(&self) {
        if let Ok(mut s) = self.state.lock() {
            s.sync_errors += 1;
        }
    }

    /// How many rules the last applied ruleset held.
    pub fn rules(&self) -> usize {
        self.state.lock().map(|s| s.rules).unwrap_or(0)
    }

    /// The metrics in the Prometheus text format.
    pub fn render(&self) -> String {
        let Ok(s) = self.state.lock() else {
            return String::new();
        };
        let mut out = String::new();
        let name = "kubeproxy_sync_proxy_rules_duration_seconds";
        let _ = writeln!(out, "# HELP {name} SyncProxyRules latency in seconds");
        let _ = writeln!(out, "# TYPE {name} histogram");
        for (count, bound) in s.bucket_counts.iter().zip(BUCKETS) {
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {count}");
        }
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", s.sync_count);
        let _ = writeln!(out, "{name}_sum {}", s.sync_seconds_sum);
        let _ = writeln!(out, "{name}_count {}", s.sync_count);
        let gauges = [
            (
                "kubeproxy_sync_proxy_rules_last_timestamp_seconds",
                "gauge",
                "The last time proxy rules were successfully synced",
                s.last_sync_unix.to_string(),
            ),
            (
                "rkube_proxy_nftables_rules",
                "gauge",
                "Rules and verdict map elements in the last applied nftables table",
                s.rules.to_string(),
            ),
            (
                "rkube_proxy_sync_errors_total",
                "counter",
                "Syncs that nftables refused",
                s.sync_errors.to_string(),
            ),
        ];
        for (name, kind, help, value) in gauges {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syncs_fill_the_histogram_cumulatively_and_set_the_rule_count() {
        let metrics = Metrics::default();
        metrics.record_sync(Duration::from_millis(3), 10);
        metrics.record_sync(Duration::from_millis(100), 12);
        metrics.record_error();
        let text = metrics.render();
        for line in [
            "kubeproxy_sync_proxy_rules_duration_seconds_bucket{le=\"0.002\"} 0",
            "kubeproxy_sync_proxy_rules_duration_seconds_bucket{le=\"0.004\"} 1",
            "kubeproxy_sync_proxy_rules_duration_seconds_bucket{le=\"0.128\"} 2",
            "kubeproxy_sync_proxy_rules_duration_seconds_bucket{le=\"+Inf\"} 2",
            "kubeproxy_sync_proxy_rules_duration_seconds_count 2",
            "rkube_proxy_nftables_rules 12",
            "rkube_proxy_sync_errors_total 1",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
    }
}
