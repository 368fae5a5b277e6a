//! `kubectl get leases`: NAME HOLDER AGE (`printLease`).

use std::time::SystemTime;

use serde_json::Value;

use crate::json_path::str_at;
use crate::table::{age_cell, name_cell, Column, Printer};

/// Prints leases.
#[derive(Debug, Clone, Copy, Default)]
pub struct LeasePrinter;

impl Printer for LeasePrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            Column::name(),
            Column::string("Holder", "The holder of the lease"),
            Column::age(),
        ]
    }

    fn cells(&self, obj: &Value, now: SystemTime) -> Vec<Value> {
        vec![
            name_cell(obj),
            Value::from(str_at(obj, &["spec", "holderIdentity"])),
            age_cell(obj, now),
        ]
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn prints_the_holder() {
        let obj = json!({"metadata": {"name": "kube-scheduler"}, "spec": {"holderIdentity": "node-1_abc"}});
        assert_eq!(
            LeasePrinter.cells(&obj, SystemTime::UNIX_EPOCH)[1],
            json!("node-1_abc")
        );
    }
}
