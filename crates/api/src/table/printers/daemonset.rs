//! `kubectl get daemonsets`: NAME DESIRED CURRENT READY UP-TO-DATE
//! AVAILABLE NODE SELECTOR AGE, wide CONTAINERS IMAGES SELECTOR
//! (`printDaemonSet`).

use std::time::SystemTime;

use serde_json::Value;

use super::{container_cells, count, format_label_selector, CONTAINER_COLUMNS, SELECTOR_COLUMN};
use crate::json_path::{format_labels, get};
use crate::table::{age_cell, name_cell, Column, Printer};

/// Prints daemon sets.
#[derive(Debug, Clone, Copy, Default)]
pub struct DaemonSetPrinter;

impl Printer for DaemonSetPrinter {
    fn columns(&self) -> Vec<Column> {
        let mut cols = vec![
            Column::name(),
            Column::integer("Desired", "The total number of nodes that should be running the daemon pod (including nodes correctly running the daemon pod)."),
            Column::integer("Current", "The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod."),
            Column::integer("Ready", "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and ready."),
            Column::integer("Up-to-date", "The total number of nodes that are running updated daemon pod"),
            Column::integer("Available", "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available (ready for at least spec.minReadySeconds)"),
            Column::string("Node Selector", "NodeSelector is a selector which must be true for the pod to fit on a node."),
            Column::age(),
        ];
        cols.extend(CONTAINER_COLUMNS);
        cols.push(SELECTOR_COLUMN);
        cols
    }

    fn cells(&self, obj: &Value, now: SystemTime) -> Vec<Value> {
        let pod_spec = get(obj, &["spec", "template", "spec"]).unwrap_or(&Value::Null);
        let [names, images] = container_cells(pod_spec);
        vec![
            name_cell(obj),
            count(obj, &["status", "desiredNumberScheduled"]),
            count(obj, &["status", "currentNumberScheduled"]),
            count(obj, &["status", "numberReady"]),
            count(obj, &["status", "updatedNumberScheduled"]),
            count(obj, &["status", "numberAvailable"]),
            Value::from(format_labels(get(pod_spec, &["nodeSelector"]))),
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
    fn prints_node_selector() {
        let obj = json!({"metadata": {"name": "agent"}, "spec": {"template": {"spec": {"nodeSelector": {"kubernetes.io/os": "linux"}}}}, "status": {"desiredNumberScheduled": 2}});
        let cells = DaemonSetPrinter.cells(&obj, SystemTime::UNIX_EPOCH);
        assert_eq!(cells[1], json!(2));
        assert_eq!(cells[6], json!("kubernetes.io/os=linux"));
        assert_eq!(cells.len(), DaemonSetPrinter.columns().len());
    }
}
