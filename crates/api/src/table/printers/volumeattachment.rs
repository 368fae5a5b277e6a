//! `kubectl get volumeattachments`: NAME ATTACHER PV NODE ATTACHED AGE
//! (`printVolumeAttachment`).

use std::time::SystemTime;

use serde_json::Value;

use crate::json_path::{bool_at, str_at};
use crate::table::{age_cell, name_cell, Column, Printer};

/// Prints volume attachments.
#[derive(Debug, Clone, Copy, Default)]
pub struct VolumeAttachmentPrinter;

impl Printer for VolumeAttachmentPrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            Column::name(),
            Column {
                format: "name",
                ..Column::string("Attacher", "attacher indicates the name of the volume driver that MUST handle this request.")
            },
            Column::string("PV", "persistentVolumeName represents the name of the persistent volume to attach."),
            Column::string("Node", "nodeName represents the node that the volume should be attached to."),
            Column {
                type_: "boolean",
                ..Column::string("Attached", "attached indicates the volume is successfully attached.")
            },
            Column::age(),
        ]
    }

    fn cells(&self, obj: &Value, now: SystemTime) -> Vec<Value> {
        vec![
            name_cell(obj),
            Value::from(str_at(obj, &["spec", "attacher"])),
            Value::from(str_at(obj, &["spec", "source", "persistentVolumeName"])),
            Value::from(str_at(obj, &["spec", "nodeName"])),
            Value::from(bool_at(obj, &["status", "attached"])),
            age_cell(obj, now),
        ]
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn prints_the_attachment() {
        let va = json!({"metadata": {"name": "csi-1"}, "spec": {"attacher": "ebs.csi", "nodeName": "n1", "source": {"persistentVolumeName": "pv1"}}, "status": {"attached": true}});
        assert_eq!(
            VolumeAttachmentPrinter.cells(&va, SystemTime::UNIX_EPOCH)[1..5],
            [json!("ebs.csi"), json!("pv1"), json!("n1"), json!(true)]
        );
    }
}
