//! `kubectl get statefulsets`: NAME READY AGE, wide CONTAINERS IMAGES
//! (`printStatefulSet`).

use std::time::SystemTime;

use serde_json::Value;

use super::workload::{
    ready_over_desired, spec_of, workload_cells, workload_columns, WideSelector,
    READY_OVER_DESIRED_COLUMN,
};
use crate::table::{Column, Printer};

/// Prints stateful sets.
#[derive(Debug, Clone, Copy, Default)]
pub struct StatefulSetPrinter;

impl Printer for StatefulSetPrinter {
    fn columns(&self) -> Vec<Column> {
        workload_columns(vec![READY_OVER_DESIRED_COLUMN], WideSelector::Omitted)
    }

    fn cells(&self, obj: &Value, now: SystemTime) -> Vec<Value> {
        workload_cells(
            obj,
            spec_of(obj),
            now,
            vec![ready_over_desired(obj)],
            WideSelector::Omitted,
        )
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn prints_ready_over_desired() {
        let obj = json!({"metadata": {"name": "db"}, "spec": {"replicas": 3}, "status": {"readyReplicas": 1}});
        let cells = StatefulSetPrinter.cells(&obj, SystemTime::UNIX_EPOCH);
        assert_eq!(cells[1], json!("1/3"));
        assert_eq!(cells.len(), StatefulSetPrinter.columns().len());
    }
}
