//! `kubectl get statefulsets`: NAME READY AGE, wide CONTAINERS IMAGES
//! (`printStatefulSet`).

use std::time::SystemTime;

use serde_json::Value;

use super::workload::{
    ready_over_desired, WideSelector, WorkloadPrinter, READY_OVER_DESIRED_COLUMN,
};
use crate::table::Column;

/// Prints stateful sets.
#[derive(Debug, Clone, Copy, Default)]
pub struct StatefulSetPrinter;

impl WorkloadPrinter for StatefulSetPrinter {
    const SELECTOR: WideSelector = WideSelector::Omitted;

    fn status_columns(&self) -> Vec<Column> {
        vec![READY_OVER_DESIRED_COLUMN]
    }

    fn status_cells(&self, obj: &Value, _now: SystemTime) -> Vec<Value> {
        vec![ready_over_desired(obj)]
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::table::Printer;

    #[test]
    fn prints_ready_over_desired() {
        let obj = json!({"metadata": {"name": "db"}, "spec": {"replicas": 3}, "status": {"readyReplicas": 1}});
        let cells = StatefulSetPrinter.cells(&obj, SystemTime::UNIX_EPOCH);
        assert_eq!(cells[1], json!("1/3"));
        assert_eq!(cells.len(), StatefulSetPrinter.columns().len());
    }
}
