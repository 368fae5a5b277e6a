//! `kubectl get replicasets`: NAME DESIRED CURRENT READY AGE, wide
//! CONTAINERS IMAGES SELECTOR (`printReplicaSet`).

use std::time::SystemTime;

use serde_json::Value;

use super::{container_cells, count, format_label_selector, CONTAINER_COLUMNS, SELECTOR_COLUMN};
use crate::json_path::get;
use crate::table::{age_cell, name_cell, Column, Printer};

/// Prints replica sets.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReplicaSetPrinter;

impl Printer for ReplicaSetPrinter {
    fn columns(&self) -> Vec<Column> {
        let mut cols = vec![
            Column::name(),
            Column::integer("Desired", "Replicas is the number of desired replicas."),
            Column::integer(
                "Current",
                "Replicas is the most recently observed number of replicas.",
            ),
            Column::integer(
                "Ready",
                "The number of ready replicas for this replica set.",
            ),
            Column::age(),
        ];
        cols.extend(CONTAINER_COLUMNS);
        cols.push(SELECTOR_COLUMN);
        cols
    }

    fn cells(&self, obj: &Value, now: SystemTime) -> Vec<Value> {
        let [names, images] =
            container_cells(get(obj, &["spec", "template", "spec"]).unwrap_or(&Value::Null));
        vec![
            name_cell(obj),
            count(obj, &["spec", "replicas"]),
            count(obj, &["status", "replicas"]),
            count(obj, &["status", "readyReplicas"]),
            age_cell(obj, now),
            names,
            images,
            Value::from(format_label_selector(get(obj, &["spec", "selector"]))),
        ]
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn prints_counts() {
        let obj = json!({"metadata": {"name": "web-1"}, "spec": {"replicas": 2}, "status": {"replicas": 2, "readyReplicas": 1}});
        let cells = ReplicaSetPrinter.cells(&obj, SystemTime::UNIX_EPOCH);
        assert_eq!(cells[..4], [json!("web-1"), json!(2), json!(2), json!(1)]);
        assert_eq!(cells.len(), ReplicaSetPrinter.columns().len());
    }
}
