//! `kubectl get pv`: NAME CAPACITY ACCESS MODES RECLAIM POLICY STATUS CLAIM
//! STORAGECLASS VOLUMEATTRIBUTESCLASS REASON AGE, wide VOLUMEMODE
//! (`printPersistentVolume`).

use std::time::SystemTime;

use serde_json::Value;

use super::storage_helpers::{modes_at, quantity, storage_class, unset_or};
use crate::json_path::{get, str_at};
use crate::table::{age_cell, name_cell, Column, Printer};

/// Prints persistent volumes.
#[derive(Debug, Clone, Copy, Default)]
pub struct PersistentVolumePrinter;

impl Printer for PersistentVolumePrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            Column::name(),
            Column::string("Capacity", "capacity is the description of the persistent volume's resources and capacity."),
            Column::string("Access Modes", "accessModes contains all ways the volume can be mounted."),
            Column::string("Reclaim Policy", "persistentVolumeReclaimPolicy defines what happens to a persistent volume when released from its claim."),
            Column::string("Status", "phase indicates if a volume is available, bound to a claim, or released by a claim."),
            Column::string("Claim", "claimRef is part of a bi-directional binding between PersistentVolume and PersistentVolumeClaim."),
            Column::string("StorageClass", "StorageClass of the pv"),
            Column::string("VolumeAttributesClass", "VolumeAttributesClass of the pv"),
            Column::string("Reason", "reason is a brief CamelCase string that describes any failure and is meant for machine parsing and tidy display in the CLI."),
            Column::age(),
            Column::string("VolumeMode", "volumeMode defines if a volume is intended to be used with a formatted filesystem or to remain in raw block state.").wide(),
        ]
    }

    fn cells(&self, obj: &Value, now: SystemTime) -> Vec<Value> {
        let claim = match get(obj, &["spec", "claimRef"]).filter(|c| c.is_object()) {
            Some(c) => format!("{}/{}", str_at(c, &["namespace"]), str_at(c, &["name"])),
            None => String::new(),
        };
        let deleting = !str_at(obj, &["metadata", "deletionTimestamp"]).is_empty();
        let phase = if deleting {
            "Terminating"
        } else {
            str_at(obj, &["status", "phase"])
        };
        vec![
            name_cell(obj),
            Value::from(quantity(obj, &["spec", "capacity", "storage"])),
            Value::from(modes_at(obj, &["spec", "accessModes"])),
            Value::from(str_at(obj, &["spec", "persistentVolumeReclaimPolicy"])),
            Value::from(phase),
            Value::from(claim),
            Value::from(storage_class(obj)),
            unset_or(obj, "volumeAttributesClassName"),
            Value::from(str_at(obj, &["status", "reason"])),
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
    fn prints_a_bound_volume() {
        let pv = json!({"metadata": {"name": "pv1"}, "spec": {"capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Retain", "claimRef": {"namespace": "default", "name": "data"}, "storageClassName": "local", "volumeMode": "Filesystem"},
            "status": {"phase": "Bound"}});
        let cells = PersistentVolumePrinter.cells(&pv, SystemTime::UNIX_EPOCH);
        assert_eq!(
            cells,
            vec![
                json!("pv1"),
                json!("10Gi"),
                json!("RWO"),
                json!("Retain"),
                json!("Bound"),
                json!("default/data"),
                json!("local"),
                json!("<unset>"),
                json!(""),
                json!("<unknown>"),
                json!("Filesystem")
            ]
        );
        assert_eq!(cells.len(), PersistentVolumePrinter.columns().len());
    }
}
