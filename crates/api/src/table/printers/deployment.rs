//! `kubectl get deployments`: NAME READY UP-TO-DATE AVAILABLE AGE, wide
//! CONTAINERS IMAGES SELECTOR (`printDeployment`).

use std::time::SystemTime;

use serde_json::Value;

use super::count;
use super::workload::{
    ready_over_desired, WideSelector, WorkloadPrinter, READY_OVER_DESIRED_COLUMN,
};
use crate::table::Column;

/// Prints deployments.
#[derive(Debug, Clone, Copy, Default)]
pub struct DeploymentPrinter;

impl WorkloadPrinter for DeploymentPrinter {
    const SELECTOR: WideSelector = WideSelector::LabelSelectorOrInvalid;

    fn status_columns(&self) -> Vec<Column> {
        vec![
            READY_OVER_DESIRED_COLUMN,
            Column::string("Up-to-date", "Total number of non-terminated pods targeted by this deployment that have the desired template spec."),
            Column::string("Available", "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment."),
        ]
    }

    fn status_cells(&self, obj: &Value, _now: SystemTime) -> Vec<Value> {
        vec![
            ready_over_desired(obj),
            count(obj, &["status", "updatedReplicas"]),
            count(obj, &["status", "availableReplicas"]),
        ]
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::table::Printer;

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
