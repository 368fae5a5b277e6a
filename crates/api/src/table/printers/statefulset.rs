//! `kubectl get statefulsets`: NAME READY AGE, wide CONTAINERS IMAGES
//! (`printStatefulSet`).

use std::time::SystemTime;

use serde_json::Value;

use super::{container_cells, CONTAINER_COLUMNS};
use crate::json_path::{count_at, get};
use crate::table::{age_cell, name_cell, Column, Printer};

/// Prints stateful sets.
#[derive(Debug, Clone, Copy, Default)]
pub struct StatefulSetPrinter;

impl Printer for StatefulSetPrinter {
    fn columns(&self) -> Vec<Column> {
        let mut cols = vec![
            Column::name(),
            Column::string("Ready", "Number of the pod with ready state"),
            Column::age(),
        ];
        cols.extend(CONTAINER_COLUMNS);
        cols
    }

    fn cells(&self, obj: &Value, now: SystemTime) -> Vec<Value> {
        let ready = format!(
            "{}/{}",
            count_at(obj, &["status", "readyReplicas"]),
            count_at(obj, &["spec", "replicas"])
        );
        let [names, images] =
            container_cells(get(obj, &["spec", "template", "spec"]).unwrap_or(&Value::Null));
        vec![
            name_cell(obj),
            Value::from(ready),
            age_cell(obj, now),
            names,
            images,
        ]
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
