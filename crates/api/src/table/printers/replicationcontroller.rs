//! `kubectl get replicationcontrollers`: NAME DESIRED CURRENT READY AGE,
//! wide CONTAINERS IMAGES SELECTOR (`printReplicationController`).

use std::time::SystemTime;

use serde_json::Value;

use super::{container_cells, count, CONTAINER_COLUMNS, SELECTOR_COLUMN};
use crate::json_path::{format_labels, get};
use crate::table::{age_cell, name_cell, Column, Printer};

/// Prints replication controllers.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReplicationControllerPrinter;

impl Printer for ReplicationControllerPrinter {
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
                "The number of ready replicas for this replication controller.",
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
            Value::from(format_labels(get(obj, &["spec", "selector"]))),
        ]
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn prints_the_map_selector() {
        let obj = json!({"metadata": {"name": "web"}, "spec": {"replicas": 2, "selector": {"app": "web"}}, "status": {"replicas": 1}});
        let cells = ReplicationControllerPrinter.cells(&obj, SystemTime::UNIX_EPOCH);
        assert_eq!(cells[..4], [json!("web"), json!(2), json!(1), json!(0)]);
        assert_eq!(cells[7], json!("app=web"));
    }
}
