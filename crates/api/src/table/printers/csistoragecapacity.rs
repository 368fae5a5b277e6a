//! `kubectl get csistoragecapacities`: NAME STORAGECLASSNAME CAPACITY
//! (`printCSIStorageCapacity`; no age column).

use std::time::SystemTime;

use serde_json::Value;

use crate::json_path::str_at;
use crate::table::{name_cell, Column, Printer};

/// Prints CSI storage capacities.
#[derive(Debug, Clone, Copy, Default)]
pub struct CSIStorageCapacityPrinter;

impl Printer for CSIStorageCapacityPrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            Column::name(),
            Column::string("StorageClassName", "storageClassName represents the name of the StorageClass that the reported capacity applies to."),
            Column::string("Capacity", "capacity is the value reported by the CSI driver in its GetCapacityResponse for a GetCapacityRequest with topology and parameters that match the previous fields."),
        ]
    }

    fn cells(&self, obj: &Value, _now: SystemTime) -> Vec<Value> {
        let capacity = match obj.get("capacity") {
            Some(Value::String(s)) => s.clone(),
            _ => "<unset>".to_owned(),
        };
        vec![
            name_cell(obj),
            Value::from(str_at(obj, &["storageClassName"])),
            Value::from(capacity),
        ]
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn prints_capacity_or_unset() {
        let c = json!({"metadata": {"name": "c"}, "storageClassName": "local", "capacity": "10Gi"});
        assert_eq!(
            CSIStorageCapacityPrinter.cells(&c, SystemTime::UNIX_EPOCH)[1..],
            [json!("local"), json!("10Gi")]
        );
        assert_eq!(
            CSIStorageCapacityPrinter.cells(&json!({}), SystemTime::UNIX_EPOCH)[2],
            json!("<unset>")
        );
    }
}
