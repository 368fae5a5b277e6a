//! `kubectl get serviceaccounts`: NAME SECRETS AGE
//! (`printServiceAccount`).

use std::time::SystemTime;

use serde_json::Value;

use crate::json_path::array_at;
use crate::table::{age_cell, name_cell, Column, Printer};

/// Prints service accounts.
#[derive(Debug, Clone, Copy, Default)]
pub struct ServiceAccountPrinter;

impl Printer for ServiceAccountPrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            Column::name(),
            Column::string("Secrets", "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use."),
            Column::age(),
        ]
    }

    fn cells(&self, obj: &Value, now: SystemTime) -> Vec<Value> {
        vec![
            name_cell(obj),
            Value::from(array_at(obj, &["secrets"]).len()),
            age_cell(obj, now),
        ]
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn counts_secrets() {
        let obj = json!({"metadata": {"name": "default"}, "secrets": [{"name": "t"}]});
        assert_eq!(
            ServiceAccountPrinter.cells(&obj, SystemTime::UNIX_EPOCH)[1],
            json!(1)
        );
    }
}
