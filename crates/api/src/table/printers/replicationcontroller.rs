//! `kubectl get replicationcontrollers`: NAME DESIRED CURRENT READY AGE,
//! wide CONTAINERS IMAGES SELECTOR (`printReplicationController`).

use std::time::SystemTime;

use serde_json::Value;

use super::workload::{
    replica_cells, replica_columns, spec_of, workload_cells, workload_columns, WideSelector,
};
use crate::table::{Column, Printer};

/// Prints replication controllers.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReplicationControllerPrinter;

impl Printer for ReplicationControllerPrinter {
    fn columns(&self) -> Vec<Column> {
        workload_columns(
            replica_columns("The number of ready replicas for this replication controller."),
            WideSelector::LabelMap,
        )
    }

    fn cells(&self, obj: &Value, now: SystemTime) -> Vec<Value> {
        workload_cells(
            obj,
            spec_of(obj),
            now,
            replica_cells(obj),
            WideSelector::LabelMap,
        )
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
