//! The table of kinds without their own printer: upstream's
//! `DefaultTableConvertor` (apiserver/pkg/registry/rest/table.go) prints the
//! name and the creation time as an RFC 3339 date (`kubectl get
//! clusterroles` shows `NAME  CREATED AT`).

use std::time::SystemTime;

use serde_json::Value;

use super::{Column, Printer};

/// `Name` and `Created At`.
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultPrinter;

impl Printer for DefaultPrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            Column::name(),
            Column {
                name: "Created At",
                type_: "date",
                format: "",
                description: "CreationTimestamp is a timestamp representing the server time when this object was created.",
                priority: 0,
            },
        ]
    }

    fn cells(&self, obj: &Value, _now: SystemTime) -> Vec<Value> {
        // Go prints a missing time as its zero value.
        let created = obj
            .pointer("/metadata/creationTimestamp")
            .cloned()
            .unwrap_or_else(|| Value::from("0001-01-01T00:00:00Z"));
        vec![super::name_cell(obj), created]
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn prints_name_and_creation_time() {
        let obj =
            json!({"metadata": {"name": "admin", "creationTimestamp": "2024-01-01T00:00:00Z"}});
        let cells = DefaultPrinter.cells(&obj, SystemTime::UNIX_EPOCH);
        assert_eq!(cells, vec![json!("admin"), json!("2024-01-01T00:00:00Z")]);
        assert_eq!(DefaultPrinter.columns().len(), cells.len());
    }
}
