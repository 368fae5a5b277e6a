//! `kubectl get deployments`: NAME READY UP-TO-DATE AVAILABLE AGE, wide
//! CONTAINERS IMAGES SELECTOR (`printDeployment`).

use std::time::SystemTime;

use serde_json::Value;

use super::count;
use super::workload::{
    ready_over_desired, spec_of, workload_cells, workload_columns, WideSelector,
    READY_OVER_DESIRED_COLUMN,
};
use crate::table::{Column, Printer};

/// Prints deployments.
#[derive(Debug, Clone, Copy, Default)]
pub struct DeploymentPrinter;

impl Printer for DeploymentPrinter {
    fn columns(&self) -> Vec<Column> {
        let status = vec![
            READY_OVER_DESIRED_COLUMN,
            Column::string("Up-to-date", "Total number of non-terminated pods targeted by this deployment that have the desired template spec."),
            Column::string("Available", "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment."),
        ];
        workload_columns(status, WideSelector::LabelSelectorOrInvalid)
    }

    fn cells(&self, obj: &Value, now: SystemTime) -> Vec<Value> {
        let status = vec![
            ready_over_desired(obj),
            count(obj, &["status", "updatedReplicas"]),
            count(obj, &["status", "availableReplicas"]),
        ];
        workload_cells(
            obj,
            spec_of(obj),
            now,
            status,
            WideSelector::LabelSelectorOrInvalid,
        )
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
