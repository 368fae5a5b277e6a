//! `kubectl get resourcequotas`: NAME REQUEST LIMIT AGE, each resource as
//! `name: used/hard`, `limits.*` ones in LIMIT (`printResourceQuota`).

use std::time::SystemTime;

use serde_json::Value;

use crate::json_path::get;
use crate::table::{age_cell, name_cell, Column, Printer};

/// Prints resource quotas.
#[derive(Debug, Clone, Copy, Default)]
pub struct ResourceQuotaPrinter;

fn quantity(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => "0".to_owned(),
    }
}

/// The REQUEST and LIMIT cells.
fn usage(obj: &Value) -> [String; 2] {
    let mut names: Vec<&String> = get(obj, &["status", "hard"])
        .and_then(Value::as_object)
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    names.sort();
    let mut requests = Vec::new();
    let mut limits = Vec::new();
    for name in names {
        let entry = format!(
            "{name}: {}/{}",
            quantity(get(obj, &["status", "used", name])),
            quantity(get(obj, &["status", "hard", name]))
        );
        if name.split('.').next() == Some("limits") && name.contains('.') {
            limits.push(entry);
        } else {
            requests.push(entry);
        }
    }
    [requests.join(", "), limits.join(", ")]
}

impl Printer for ResourceQuotaPrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            Column::name(),
            Column::string("Request", "Request represents a minimum amount of cpu/memory that a container may consume."),
            Column::string("Limit", "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node."),
            Column::age(),
        ]
    }

    fn cells(&self, obj: &Value, now: SystemTime) -> Vec<Value> {
        let [requests, limits] = usage(obj);
        vec![
            name_cell(obj),
            Value::from(requests),
            Value::from(limits),
            age_cell(obj, now),
        ]
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn splits_requests_and_limits() {
        let rq = json!({"status": {"hard": {"pods": "10", "requests.cpu": "2", "limits.memory": "4Gi"}, "used": {"pods": "3", "requests.cpu": "500m"}}});
        assert_eq!(
            usage(&rq),
            [
                "pods: 3/10, requests.cpu: 500m/2".to_owned(),
                "limits.memory: 0/4Gi".to_owned()
            ]
        );
    }
}
