//! `kubectl get namespaces`: NAME STATUS AGE (`printNamespace`).

use std::time::SystemTime;

use serde_json::Value;

use crate::json_path::str_at;
use crate::table::{age_cell, name_cell, Column, Printer};

/// Prints namespaces.
#[derive(Debug, Clone, Copy, Default)]
pub struct NamespacePrinter;

impl Printer for NamespacePrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            Column::name(),
            Column::string("Status", "The status of the namespace"),
            Column::age(),
        ]
    }

    fn cells(&self, obj: &Value, now: SystemTime) -> Vec<Value> {
        vec![
            name_cell(obj),
            Value::from(str_at(obj, &["status", "phase"])),
            age_cell(obj, now),
        ]
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn prints_the_phase() {
        let obj = json!({"metadata": {"name": "default"}, "status": {"phase": "Terminating"}});
        assert_eq!(
            NamespacePrinter.cells(&obj, SystemTime::UNIX_EPOCH)[..2],
            [json!("default"), json!("Terminating")]
        );
    }
}
