//! `kubectl get pvc`: NAME STATUS VOLUME CAPACITY ACCESS MODES STORAGECLASS
//! VOLUMEATTRIBUTESCLASS AGE, wide VOLUMEMODE (`printPersistentVolumeClaim`).

use std::time::SystemTime;

use serde_json::Value;

use super::storage_helpers::{modes_at, quantity, storage_class, unset_or};
use crate::json_path::str_at;
use crate::table::{age_cell, name_cell, Column, Printer};

/// Prints persistent volume claims.
#[derive(Debug, Clone, Copy, Default)]
pub struct PersistentVolumeClaimPrinter;

impl Printer for PersistentVolumeClaimPrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            Column::name(),
            Column::string(
                "Status",
                "phase represents the current phase of PersistentVolumeClaim.",
            ),
            Column::string(
                "Volume",
                "volumeName is the binding reference to the PersistentVolume backing this claim.",
            ),
            Column::string(
                "Capacity",
                "capacity represents the actual resources of the underlying volume.",
            ),
            Column::string(
                "Access Modes",
                "accessModes contains the actual access modes the volume backing the PVC has.",
            ),
            Column::string("StorageClass", "StorageClass of the pvc"),
            Column::string("VolumeAttributesClass", "VolumeAttributesClass of the pvc"),
            Column::age(),
            Column::string(
                "VolumeMode",
                "volumeMode defines what type of volume is required by the claim.",
            )
            .wide(),
        ]
    }

    fn cells(&self, obj: &Value, now: SystemTime) -> Vec<Value> {
        let deleting = !str_at(obj, &["metadata", "deletionTimestamp"]).is_empty();
        let phase = if deleting {
            "Terminating"
        } else {
            str_at(obj, &["status", "phase"])
        };
        let volume = str_at(obj, &["spec", "volumeName"]);
        // Capacity and modes are the bound volume's, so only once bound.
        let (capacity, modes) = if volume.is_empty() {
            (String::new(), String::new())
        } else {
            (
                quantity(obj, &["status", "capacity", "storage"]),
                modes_at(obj, &["status", "accessModes"]),
            )
        };
        vec![
            name_cell(obj),
            Value::from(phase),
            Value::from(volume),
            Value::from(capacity),
            Value::from(modes),
            Value::from(storage_class(obj)),
            unset_or(obj, "volumeAttributesClassName"),
            age_cell(obj, now),
            unset_or(obj, "volumeMode"),
        ]
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn pending_and_bound_claims() {
        let pending = json!({"metadata": {"name": "data"}, "spec": {"storageClassName": "local", "accessModes": ["ReadWriteOnce"]}, "status": {"phase": "Pending"}});
        let cells = PersistentVolumeClaimPrinter.cells(&pending, SystemTime::UNIX_EPOCH);
        assert_eq!(
            cells[1..6],
            [
                json!("Pending"),
                json!(""),
                json!(""),
                json!(""),
                json!("local")
            ]
        );
        let bound = json!({"metadata": {"name": "data"}, "spec": {"volumeName": "pv1", "volumeMode": "Filesystem"},
            "status": {"phase": "Bound", "capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"]}});
        let cells = PersistentVolumeClaimPrinter.cells(&bound, SystemTime::UNIX_EPOCH);
        assert_eq!(
            cells[1..5],
            [json!("Bound"), json!("pv1"), json!("1Gi"), json!("RWO")]
        );
        assert_eq!(cells[8], json!("Filesystem"));
        assert_eq!(cells.len(), PersistentVolumeClaimPrinter.columns().len());
    }
}
