//! `kubectl get replicasets`: NAME DESIRED CURRENT READY AGE, wide
//! CONTAINERS IMAGES SELECTOR (`printReplicaSet`).

use std::time::SystemTime;

use serde_json::Value;

use super::workload::{
    replica_cells, replica_columns, spec_of, workload_cells, workload_columns, WideSelector,
};
use crate::table::{Column, Printer};

/// Prints replica sets.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReplicaSetPrinter;

impl Printer for ReplicaSetPrinter {
    fn columns(&self) -> Vec<Column> {
        workload_columns(
            replica_columns("The number of ready replicas for this replica set."),
            WideSelector::LabelSelector,
        )
    }

    fn cells(&self, obj: &Value, now: SystemTime) -> Vec<Value> {
        workload_cells(
            obj,
            spec_of(obj),
            now,
            replica_cells(obj),
            WideSelector::LabelSelector,
        )
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
