//! `kubectl get replicationcontrollers`: NAME DESIRED CURRENT READY AGE,
//! wide CONTAINERS IMAGES SELECTOR (`printReplicationController`).

use std::time::SystemTime;

use serde_json::Value;

use super::workload::{replica_cells, replica_columns, WideSelector, WorkloadPrinter};
use crate::table::Column;

/// Prints replication controllers.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReplicationControllerPrinter;

impl WorkloadPrinter for ReplicationControllerPrinter {
    const SELECTOR: WideSelector = WideSelector::LabelMap;

    fn status_columns(&self) -> Vec<Column> {
        replica_columns("The number of ready replicas for this replication controller.")
    }

    fn status_cells(&self, obj: &Value, _now: SystemTime) -> Vec<Value> {
        replica_cells(obj)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::table::Printer;

    #[test]
    fn prints_the_map_selector() {
        let obj = json!({"metadata": {"name": "web"}, "spec": {"replicas": 2, "selector": {"app": "web"}}, "status": {"replicas": 1}});
        let cells = ReplicationControllerPrinter.cells(&obj, SystemTime::UNIX_EPOCH);
        assert_eq!(cells[..4], [json!("web"), json!(2), json!(1), json!(0)]);
        assert_eq!(cells[7], json!("app=web"));
    }
}
