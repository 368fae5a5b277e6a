//! `kubectl get pdb`: NAME MIN AVAILABLE MAX UNAVAILABLE ALLOWED
//! DISRUPTIONS AGE (`printPodDisruptionBudget`).

use std::time::SystemTime;

use serde_json::Value;

use super::count;
use crate::json_path::get;
use crate::table::{age_cell, name_cell, Column, Printer};

/// Prints pod disruption budgets.
#[derive(Debug, Clone, Copy, Default)]
pub struct PodDisruptionBudgetPrinter;

/// An int-or-string as Go's `IntOrString.String()`, or `N/A` when unset.
fn int_or_string(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => "N/A".to_owned(),
    }
}

impl Printer for PodDisruptionBudgetPrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            Column::name(),
            Column::string(
                "Min Available",
                "The minimum number of pods that must be available.",
            ),
            Column::string(
                "Max Unavailable",
                "The maximum number of pods that may be unavailable.",
            ),
            Column::integer(
                "Allowed Disruptions",
                "Calculated number of pods that may be disrupted at this time.",
            ),
            Column::age(),
        ]
    }

    fn cells(&self, obj: &Value, now: SystemTime) -> Vec<Value> {
        vec![
            name_cell(obj),
            Value::from(int_or_string(get(obj, &["spec", "minAvailable"]))),
            Value::from(int_or_string(get(obj, &["spec", "maxUnavailable"]))),
            count(obj, &["status", "disruptionsAllowed"]),
            age_cell(obj, now),
        ]
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn prints_budgets() {
        let pdb = json!({"metadata": {"name": "web"}, "spec": {"minAvailable": "50%"}, "status": {"disruptionsAllowed": 1}});
        let cells = PodDisruptionBudgetPrinter.cells(&pdb, SystemTime::UNIX_EPOCH);
        assert_eq!(
            cells[..4],
            [json!("web"), json!("50%"), json!("N/A"), json!(1)]
        );
    }
}
