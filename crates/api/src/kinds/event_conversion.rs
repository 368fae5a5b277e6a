//! Upstream serves one stored Event in two versions: core/v1 (what
//! `kubectl get events` and `kubectl describe` read) and events.k8s.io/v1
//! (what client-go's and kube-rs's event recorders write). These functions
//! convert between the two JSON shapes, field for field as upstream's
//! pkg/apis/events/v1/conversion.go, so a registry can store one and serve
//! both.

use serde_json::{Map, Value};

/// Fields whose name differs: (events.k8s.io/v1, core/v1).
const RENAMED: [(&str, &str); 7] = [
    ("regarding", "involvedObject"),
    ("note", "message"),
    ("reportingController", "reportingComponent"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
];

/// Fields with the same name and shape in both versions.
const SHARED: [&str; 8] = [
    "metadata",
    "eventTime",
    "series",
    "reportingInstance",
    "action",
    "reason",
    "related",
    "type",
];

/// Which way to convert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventVersion {
    /// `v1` `Event`.
    Core,
    /// `events.k8s.io/v1` `Event`.
    Events,
}

impl EventVersion {
    fn api_version(self) -> &'static str {
        match self {
            EventVersion::Core => "v1",
            EventVersion::Events => "events.k8s.io/v1",
        }
    }
}

/// `event` (in either version) as `target`. Unknown fields are dropped, as
/// a conversion through upstream's internal type drops them.
pub fn convert_event(event: &Value, target: EventVersion) -> Value {
    let mut out = Map::new();
    out.insert("apiVersion".into(), Value::from(target.api_version()));
    out.insert("kind".into(), Value::from("Event"));
    let Some(src) = event.as_object() else {
        return Value::Object(out);
    };
    for key in SHARED {
        if let Some(v) = src.get(key) {
            out.insert(key.into(), v.clone());
        }
    }
    for (events_name, core_name) in RENAMED {
        let (from, to) = match target {
            EventVersion::Core => (events_name, core_name),
            EventVersion::Events => (core_name, events_name),
        };
        // An object already in the target version keeps its own field.
        if let Some(v) = src.get(from).or_else(|| src.get(to)) {
            out.insert(to.into(), v.clone());
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn events_v1() -> Value {
        json!({
            "apiVersion": "events.k8s.io/v1", "kind": "Event",
            "metadata": {"name": "web.1", "namespace": "default"},
            "eventTime": "2024-01-01T00:00:00.000000Z",
            "reportingController": "default-scheduler", "reportingInstance": "rkube",
            "action": "Binding", "reason": "Scheduled", "type": "Normal",
            "regarding": {"kind": "Pod", "name": "web", "namespace": "default"},
            "note": "Successfully assigned default/web to n1",
            "deprecatedCount": 2
        })
    }

    #[test]
    fn events_v1_reads_as_core_v1() {
        let core = convert_event(&events_v1(), EventVersion::Core);
        assert_eq!(core["apiVersion"], json!("v1"));
        assert_eq!(core["involvedObject"]["name"], json!("web"));
        assert_eq!(
            core["message"],
            json!("Successfully assigned default/web to n1")
        );
        assert_eq!(core["reportingComponent"], json!("default-scheduler"));
        assert_eq!(core["count"], json!(2));
        assert!(core.get("note").is_none());
    }

    #[test]
    fn a_round_trip_keeps_every_field() {
        let there = convert_event(&events_v1(), EventVersion::Core);
        assert_eq!(convert_event(&there, EventVersion::Events), events_v1());
        assert_eq!(convert_event(&there, EventVersion::Core), there);
    }
}
