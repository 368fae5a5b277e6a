//! `kubectl get secrets`: NAME TYPE DATA AGE (`printSecret`).

use std::time::SystemTime;

use serde_json::Value;

use crate::json_path::str_at;
use crate::table::{age_cell, name_cell, Column, Printer};

/// Prints secrets.
#[derive(Debug, Clone, Copy, Default)]
pub struct SecretPrinter;

impl Printer for SecretPrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            Column::name(),
            Column::string("Type", "The type of the secret"),
            Column::string("Data", "The number of entries in the secret"),
            Column::age(),
        ]
    }

    fn cells(&self, obj: &Value, now: SystemTime) -> Vec<Value> {
        let data = obj
            .get("data")
            .and_then(Value::as_object)
            .map_or(0, |m| m.len());
        vec![
            name_cell(obj),
            Value::from(str_at(obj, &["type"])),
            Value::from(data),
            age_cell(obj, now),
        ]
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn prints_type_and_count() {
        let obj = json!({"metadata": {"name": "tls"}, "type": "kubernetes.io/tls", "data": {"tls.crt": "", "tls.key": ""}});
        assert_eq!(
            SecretPrinter.cells(&obj, SystemTime::UNIX_EPOCH)[..3],
            [json!("tls"), json!("kubernetes.io/tls"), json!(2)]
        );
    }
}
