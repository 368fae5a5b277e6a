//! `kubectl get replicasets`: NAME DESIRED CURRENT READY AGE, wide
//! CONTAINERS IMAGES SELECTOR (`printReplicaSet`).

use std::time::SystemTime;

use serde_json::Value;

use super::workload::{replica_cells, replica_columns, WideSelector, WorkloadPrinter};
use crate::table::Column;

/// Prints replica sets.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReplicaSetPrinter;

impl WorkloadPrinter for ReplicaSetPrinter {
    const SELECTOR: WideSelector = WideSelector::LabelSelector;

    fn status_columns(&self) -> Vec<Column> {
        replica_columns("The number of ready replicas for this replica set.")
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
    fn prints_counts() {
        let obj = json!({"metadata": {"name": "web-1"}, "spec": {"replicas": 2}, "status": {"replicas": 2, "readyReplicas": 1}});
        let cells = ReplicaSetPrinter.cells(&obj, SystemTime::UNIX_EPOCH);
        assert_eq!(cells[..4], [json!("web-1"), json!(2), json!(2), json!(1)]);
        assert_eq!(cells.len(), ReplicaSetPrinter.columns().len());
    }
}
