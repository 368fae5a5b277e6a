//! `kubectl get storageclasses`: NAME PROVISIONER RECLAIMPOLICY
//! VOLUMEBINDINGMODE ALLOWVOLUMEEXPANSION AGE, the default class marked
//! `(default)` (`printStorageClass`).

use std::time::SystemTime;

use serde_json::Value;

use crate::json_path::{bool_at, str_at};
use crate::table::{age_cell, Column, Printer};

/// Prints storage classes.
#[derive(Debug, Clone, Copy, Default)]
pub struct StorageClassPrinter;

/// The annotations that make a class the default (GA and beta).
const DEFAULT_ANNOTATIONS: [&str; 2] = [
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
];

fn or_default<'a>(v: &'a str, default: &'a str) -> &'a str {
    if v.is_empty() {
        default
    } else {
        v
    }
}

impl Printer for StorageClassPrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            Column::name(),
            Column::string("Provisioner", "provisioner indicates the type of the provisioner."),
            Column::string("ReclaimPolicy", "reclaimPolicy controls the reclaimPolicy for dynamically provisioned PersistentVolumes of this storage class."),
            Column::string("VolumeBindingMode", "volumeBindingMode indicates how PersistentVolumeClaims should be provisioned and bound."),
            Column::string("AllowVolumeExpansion", "allowVolumeExpansion shows whether the storage class allow volume expand."),
            Column::age(),
        ]
    }

    fn cells(&self, obj: &Value, now: SystemTime) -> Vec<Value> {
        let is_default = DEFAULT_ANNOTATIONS
            .iter()
            .any(|a| str_at(obj, &["metadata", "annotations", a]) == "true");
        let name = str_at(obj, &["metadata", "name"]);
        let name = if is_default {
            format!("{name} (default)")
        } else {
            name.to_owned()
        };
        vec![
            Value::from(name),
            Value::from(str_at(obj, &["provisioner"])),
            Value::from(or_default(str_at(obj, &["reclaimPolicy"]), "Delete")),
            Value::from(or_default(str_at(obj, &["volumeBindingMode"]), "Immediate")),
            Value::from(bool_at(obj, &["allowVolumeExpansion"])),
            age_cell(obj, now),
        ]
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn marks_the_default_class() {
        let sc = json!({"metadata": {"name": "local-path", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
            "provisioner": "rancher.io/local-path", "volumeBindingMode": "WaitForFirstConsumer"});
        let cells = StorageClassPrinter.cells(&sc, SystemTime::UNIX_EPOCH);
        assert_eq!(
            cells[..5],
            [
                json!("local-path (default)"),
                json!("rancher.io/local-path"),
                json!("Delete"),
                json!("WaitForFirstConsumer"),
                json!(false)
            ]
        );
    }
}
