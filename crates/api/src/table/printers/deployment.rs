//! `kubectl get deployments`: NAME READY UP-TO-DATE AVAILABLE AGE, wide
//! CONTAINERS IMAGES SELECTOR (`printDeployment`).

use std::time::SystemTime;

use serde_json::Value;

use super::{container_cells, count, selector_string, CONTAINER_COLUMNS, SELECTOR_COLUMN};
use crate::json_path::{count_at, get};
use crate::table::{age_cell, name_cell, Column, Printer};

/// Prints deployments.
#[derive(Debug, Clone, Copy, Default)]
pub struct DeploymentPrinter;

impl Printer for DeploymentPrinter {
    fn columns(&self) -> Vec<Column> {
        let mut cols = vec![
            Column::name(),
            Column::string("Ready", "Number of the pod with ready state"),
            Column::string("Up-to-date", "Total number of non-terminated pods targeted by this deployment that have the desired template spec."),
            Column::string("Available", "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment."),
            Column::age(),
        ];
        cols.extend(CONTAINER_COLUMNS);
        cols.push(SELECTOR_COLUMN);
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
            count(obj, &["status", "updatedReplicas"]),
            count(obj, &["status", "availableReplicas"]),
            age_cell(obj, now),
            names,
            images,
            Value::from(
                selector_string(get(obj, &["spec", "selector"]))
                    .unwrap_or_else(|| "<invalid>".to_owned()),
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn prints_readiness_and_wide_columns() {
        let obj = json!({"metadata": {"name": "web"}, "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
            "template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:1.25"}]}}},
            "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}});
        let cells = DeploymentPrinter.cells(&obj, SystemTime::UNIX_EPOCH);
        assert_eq!(
            cells,
            vec![
                json!("web"),
                json!("2/3"),
                json!(3),
                json!(2),
                json!("<unknown>"),
                json!("nginx"),
                json!("nginx:1.25"),
                json!("app=web")
            ]
        );
        assert_eq!(cells.len(), DeploymentPrinter.columns().len());
    }
}
