//! `kubectl get servicecidrs`: NAME CIDRS AGE (`printServiceCIDR`).

use std::time::SystemTime;

use serde_json::Value;

use crate::json_path::array_at;
use crate::table::{age_cell, name_cell, Column, Printer};

/// Prints service CIDRs.
#[derive(Debug, Clone, Copy, Default)]
pub struct ServiceCIDRPrinter;

impl Printer for ServiceCIDRPrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            Column::name(),
            Column::string("CIDRs", "CIDRs defines the IP blocks in CIDR notation from which to assign service cluster IPs."),
            Column::age(),
        ]
    }

    fn cells(&self, obj: &Value, now: SystemTime) -> Vec<Value> {
        let cidrs: Vec<&str> = array_at(obj, &["spec", "cidrs"])
            .iter()
            .filter_map(Value::as_str)
            .collect();
        vec![
            name_cell(obj),
            Value::from(cidrs.join(",")),
            age_cell(obj, now),
        ]
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn joins_cidrs() {
        let sc = json!({"metadata": {"name": "kubernetes"}, "spec": {"cidrs": ["10.43.0.0/16", "fd00:43::/112"]}});
        assert_eq!(
            ServiceCIDRPrinter.cells(&sc, SystemTime::UNIX_EPOCH)[1],
            json!("10.43.0.0/16,fd00:43::/112")
        );
    }
}
