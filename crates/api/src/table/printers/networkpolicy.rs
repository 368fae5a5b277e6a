//! `kubectl get networkpolicies`: NAME POD-SELECTOR AGE
//! (`printNetworkPolicy`).

use std::time::SystemTime;

use serde_json::{json, Value};

use super::format_label_selector;
use crate::json_path::get;
use crate::table::{age_cell, name_cell, Column, Printer};

/// Prints network policies.
#[derive(Debug, Clone, Copy, Default)]
pub struct NetworkPolicyPrinter;

impl Printer for NetworkPolicyPrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            Column::name(),
            Column::string(
                "Pod-Selector",
                "podSelector selects the pods to which this NetworkPolicy object applies.",
            ),
            Column::age(),
        ]
    }

    fn cells(&self, obj: &Value, now: SystemTime) -> Vec<Value> {
        // The pod selector is a value, not a pointer, upstream: absent is `{}`.
        let empty = json!({});
        let selector = get(obj, &["spec", "podSelector"])
            .filter(|s| !s.is_null())
            .unwrap_or(&empty);
        vec![
            name_cell(obj),
            Value::from(format_label_selector(Some(selector))),
            age_cell(obj, now),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_the_pod_selector() {
        let np = json!({"metadata": {"name": "deny"}, "spec": {"podSelector": {"matchLabels": {"app": "db"}}}});
        assert_eq!(
            NetworkPolicyPrinter.cells(&np, SystemTime::UNIX_EPOCH)[1],
            json!("app=db")
        );
        let all = json!({"metadata": {"name": "all"}, "spec": {}});
        assert_eq!(
            NetworkPolicyPrinter.cells(&all, SystemTime::UNIX_EPOCH)[1],
            json!("<none>")
        );
    }
}
