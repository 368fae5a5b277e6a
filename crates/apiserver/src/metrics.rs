//! Prometheus metrics with upstream's names: `apiserver_request_total`
//! (labels code, component, group, resource, scope, subresource, verb,
//! version) and the `apiserver_request_duration_seconds` histogram (same
//! labels without code, upstream's buckets).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

/// Upstream's buckets for request durations.
const BUCKETS: [f64; 23] = [
    0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0,
    10.0, 15.0, 20.0, 30.0, 45.0, 60.0,
];

/// What a request was about, as metric labels.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct RequestLabels {
    /// `GET`, `LIST`, `WATCH`, `POST`, `PUT`, `PATCH`, `APPLY`, `DELETE`, `DELETECOLLECTION`.
    pub verb: String,
    /// API group.
    pub group: String,
    /// API version.
    pub version: String,
    /// Plural resource, empty for non-resource paths.
    pub resource: String,
    /// Subresource.
    pub subresource: String,
    /// `resource`, `namespace` or `cluster` (upstream's scope label).
    pub scope: String,
}

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

#[derive(Default)]
struct Inner {
    totals: BTreeMap<(RequestLabels, u16), u64>,
    durations: BTreeMap<RequestLabels, Histogram>,
}

/// The apiserver's request metrics.
#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// Records one finished request.
    pub fn observe(&self, labels: RequestLabels, code: u16, elapsed: Duration) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        *inner.totals.entry((labels.clone(), code)).or_default() += 1;
        let h = inner.durations.entry(labels).or_default();
        let secs = elapsed.as_secs_f64();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                h.counts[i] += 1;
            }
        }
        h.sum += secs;
        h.count += 1;
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = String::new();
        out.push_str("# HELP apiserver_request_total Counter of apiserver requests broken out for each verb, dry run value, group, version, resource, scope, component, and HTTP response code.\n");
        out.push_str("# TYPE apiserver_request_total counter\n");
        for ((labels, code), n) in &inner.totals {
            let _ = writeln!(
                out,
                "apiserver_request_total{{code=\"{code}\",{}}} {n}",
                label_text(labels)
            );
        }
        out.push_str("# HELP apiserver_request_duration_seconds Response latency distribution in seconds for each verb, dry run value, group, version, resource, subresource, scope and component.\n");
        out.push_str("# TYPE apiserver_request_duration_seconds histogram\n");
        for (labels, h) in &inner.durations {
            let l = label_text(labels);
            for (bound, count) in BUCKETS.iter().zip(h.counts.iter()) {
                let _ = writeln!(
                    out,
                    "apiserver_request_duration_seconds_bucket{{{l},le=\"{bound}\"}} {count}"
                );
            }
            let _ = writeln!(
                out,
                "apiserver_request_duration_seconds_bucket{{{l},le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "apiserver_request_duration_seconds_sum{{{l}}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "apiserver_request_duration_seconds_count{{{l}}} {}",
                h.count
            );
        }
        out
    }
}

fn label_text(l: &RequestLabels) -> String {
    format!(
        "component=\"apiserver\",group=\"{}\",resource=\"{}\",scope=\"{}\",subresource=\"{}\",verb=\"{}\",version=\"{}\"",
        escape(&l.group),
        escape(&l.resource),
        escape(&l.scope),
        escape(&l.subresource),
        escape(&l.verb),
        escape(&l.version)
    )
}

/// Label values escape backslash, quote and newline.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_by_code_and_timed_in_buckets() {
        let m = Metrics::default();
        let labels = RequestLabels {
            verb: "GET".into(),
            version: "v1".into(),
            resource: "pods".into(),
            scope: "resource".into(),
            ..Default::default()
        };
        m.observe(labels.clone(), 200, Duration::from_millis(3));
        m.observe(labels.clone(), 200, Duration::from_millis(30));
        m.observe(labels, 404, Duration::from_millis(3));
        let text = m.render();
        assert!(text.contains("apiserver_request_total{code=\"200\",component=\"apiserver\",group=\"\",resource=\"pods\",scope=\"resource\",subresource=\"\",verb=\"GET\",version=\"v1\"} 2"), "{text}");
        assert!(text.contains("le=\"0.005\"} 2"), "{text}");
        assert!(text.contains("le=\"0.05\"} 3"), "{text}");
        assert!(text.contains("apiserver_request_duration_seconds_count{"));
    }
}
