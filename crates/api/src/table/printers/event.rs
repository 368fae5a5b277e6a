//! `kubectl get events`: LAST SEEN TYPE REASON OBJECT MESSAGE, wide
//! SUBOBJECT SOURCE FIRST SEEN COUNT NAME (`printEvent`). Events have no
//! leading name column.

use std::time::SystemTime;

use serde_json::Value;

use crate::json_path::{count_at, get, str_at};
use crate::kinds::event_conversion::{convert_event, EventVersion};
use crate::table::{age_since, Column, Printer};

/// Prints core/v1 events.
#[derive(Debug, Clone, Copy, Default)]
pub struct EventPrinter;

/// Prints events.k8s.io/v1 events: upstream converts them to the core
/// shape and prints them with the same table.
#[derive(Debug, Clone, Copy, Default)]
pub struct EventsV1Printer;

impl Printer for EventsV1Printer {
    fn columns(&self) -> Vec<Column> {
        EventPrinter.columns()
    }

    fn cells(&self, obj: &Value, now: SystemTime) -> Vec<Value> {
        EventPrinter.cells(&convert_event(obj, EventVersion::Core), now)
    }
}

fn first_non_empty<'a>(a: &'a str, b: &'a str) -> &'a str {
    if a.is_empty() {
        b
    } else {
        a
    }
}

/// `component, host` (`formatEventSource`).
fn source(ev: &Value) -> String {
    let component = first_non_empty(
        str_at(ev, &["source", "component"]),
        str_at(ev, &["reportingComponent"]),
    );
    let instance = first_non_empty(
        str_at(ev, &["source", "host"]),
        str_at(ev, &["reportingInstance"]),
    );
    if instance.is_empty() {
        component.to_owned()
    } else {
        format!("{component}, {instance}")
    }
}

impl Printer for EventPrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            Column::string("Last Seen", "The time at which the most recent occurrence of this event was recorded."),
            Column::string("Type", "Type of this event (Normal, Warning), new types could be added in the future."),
            Column::string("Reason", "This should be a short, machine understandable string that gives the reason for the transition into the object's current status."),
            Column::string("Object", "The object that this event is about."),
            Column::string("Subobject", "The subobject that this event is about.").wide(),
            Column::string("Source", "The component reporting this event. Should be a short machine understandable string.").wide(),
            Column::string("Message", "A human-readable description of the status of this operation."),
            Column::string("First Seen", "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)").wide(),
            Column::string("Count", "The number of times this event has occurred.").wide(),
            Column {
                format: "name",
                ..Column::string("Name", "Name must be unique within a namespace.").wide()
            },
        ]
    }

    fn cells(&self, obj: &Value, now: SystemTime) -> Vec<Value> {
        let ts = |key: &str| Some(str_at(obj, &[key])).filter(|s| !s.is_empty());
        let first = age_since(ts("firstTimestamp").or(ts("eventTime")), now);
        let mut last = match ts("lastTimestamp") {
            Some(t) => age_since(Some(t), now),
            None => first.clone(),
        };
        let mut count = count_at(obj, &["count"]);
        if get(obj, &["series"]).is_some_and(Value::is_object) {
            last = age_since(Some(str_at(obj, &["series", "lastObservedTime"])), now);
            count = count_at(obj, &["series", "count"]);
        } else if count == 0 {
            count = 1;
        }
        let kind = str_at(obj, &["involvedObject", "kind"]).to_ascii_lowercase();
        let name = str_at(obj, &["involvedObject", "name"]);
        let target = if name.is_empty() {
            kind
        } else {
            format!("{kind}/{name}")
        };
        vec![
            Value::from(last),
            Value::from(str_at(obj, &["type"])),
            Value::from(str_at(obj, &["reason"])),
            Value::from(target),
            Value::from(str_at(obj, &["involvedObject", "fieldPath"])),
            Value::from(source(obj)),
            Value::from(str_at(obj, &["message"]).trim()),
            Value::from(first),
            Value::from(count),
            Value::from(str_at(obj, &["metadata", "name"])),
        ]
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::table::parse_timestamp;

    #[test]
    fn prints_like_kubectl_get_events() {
        let now = parse_timestamp("2024-01-01T00:10:00Z").unwrap_or(SystemTime::UNIX_EPOCH);
        let ev = json!({"metadata": {"name": "web.17a"}, "type": "Normal", "reason": "Scheduled", "message": " Successfully assigned default/web to n1 ",
            "involvedObject": {"kind": "Pod", "name": "web"}, "source": {"component": "default-scheduler"},
            "firstTimestamp": "2024-01-01T00:05:00Z", "lastTimestamp": "2024-01-01T00:08:00Z", "count": 2});
        assert_eq!(
            EventPrinter.cells(&ev, now),
            vec![
                json!("2m"),
                json!("Normal"),
                json!("Scheduled"),
                json!("pod/web"),
                json!(""),
                json!("default-scheduler"),
                json!("Successfully assigned default/web to n1"),
                json!("5m"),
                json!(2),
                json!("web.17a")
            ]
        );
        let series = json!({"eventTime": "2024-01-01T00:00:00.000000Z", "series": {"count": 5, "lastObservedTime": "2024-01-01T00:09:00.000000Z"},
            "involvedObject": {"kind": "Node"}, "reportingComponent": "kubelet", "reportingInstance": "n1"});
        let cells = EventPrinter.cells(&series, now);
        assert_eq!(
            [&cells[0], &cells[3], &cells[5], &cells[7], &cells[8]],
            [
                &json!("60s"),
                &json!("node"),
                &json!("kubelet, n1"),
                &json!("10m"),
                &json!(5)
            ]
        );
        assert_eq!(cells.len(), EventPrinter.columns().len());
    }

    #[test]
    fn events_v1_print_like_core_events() {
        let now = parse_timestamp("2024-01-01T00:10:00Z").unwrap_or(SystemTime::UNIX_EPOCH);
        let ev = json!({"metadata": {"name": "web.1"}, "type": "Normal", "reason": "Scheduled", "note": "assigned",
            "regarding": {"kind": "Pod", "name": "web"}, "reportingController": "default-scheduler",
            "eventTime": "2024-01-01T00:05:00.000000Z"});
        let cells = EventsV1Printer.cells(&ev, now);
        assert_eq!(
            [&cells[0], &cells[3], &cells[5], &cells[6], &cells[8]],
            [
                &json!("5m"),
                &json!("pod/web"),
                &json!("default-scheduler"),
                &json!("assigned"),
                &json!(1)
            ]
        );
    }
}
