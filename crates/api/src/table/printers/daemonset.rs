//! `kubectl get daemonsets`: NAME DESIRED CURRENT READY UP-TO-DATE
//! AVAILABLE NODE SELECTOR AGE, wide CONTAINERS IMAGES SELECTOR
//! (`printDaemonSet`).

use std::time::SystemTime;

use serde_json::Value;

use super::count;
use super::workload::{WideSelector, WorkloadPrinter};
use crate::json_path::{format_labels, get};
use crate::table::Column;

/// Prints daemon sets.
#[derive(Debug, Clone, Copy, Default)]
pub struct DaemonSetPrinter;

impl WorkloadPrinter for DaemonSetPrinter {
    const SELECTOR: WideSelector = WideSelector::LabelSelector;

    fn status_columns(&self) -> Vec<Column> {
        vec![
            Column::integer("Desired", "The total number of nodes that should be running the daemon pod (including nodes correctly running the daemon pod)."),
            Column::integer("Current", "The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod."),
            Column::integer("Ready", "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and ready."),
            Column::integer("Up-to-date", "The total number of nodes that are running updated daemon pod"),
            Column::integer("Available", "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available (ready for at least spec.minReadySeconds)"),
            Column::string("Node Selector", "NodeSelector is a selector which must be true for the pod to fit on a node."),
        ]
    }

    fn status_cells(&self, obj: &Value, _now: SystemTime) -> Vec<Value> {
        vec![
            count(obj, &["status", "desiredNumberScheduled"]),
            count(obj, &["status", "currentNumberScheduled"]),
            count(obj, &["status", "numberReady"]),
            count(obj, &["status", "updatedNumberScheduled"]),
            count(obj, &["status", "numberAvailable"]),
            Value::from(format_labels(get(
                obj,
                &["spec", "template", "spec", "nodeSelector"],
            ))),
        ]
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::table::Printer;

    #[test]
    fn prints_node_selector() {
        let obj = json!({"metadata": {"name": "agent"}, "spec": {"template": {"spec": {"nodeSelector": {"kubernetes.io/os": "linux"}}}}, "status": {"desiredNumberScheduled": 2}});
        let cells = DaemonSetPrinter.cells(&obj, SystemTime::UNIX_EPOCH);
        assert_eq!(cells[1], json!(2));
        assert_eq!(cells[6], json!("kubernetes.io/os=linux"));
        assert_eq!(cells.len(), DaemonSetPrinter.columns().len());
    }
}
