//! `kubectl get podtemplates`: NAME CONTAINERS IMAGES POD LABELS
//! (`printPodTemplate`).

use std::time::SystemTime;

use serde_json::Value;

use super::container_cells;
use crate::json_path::{format_labels, get};
use crate::table::{name_cell, Column, Printer};

/// Prints pod templates.
#[derive(Debug, Clone, Copy, Default)]
pub struct PodTemplatePrinter;

impl Printer for PodTemplatePrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            Column::name(),
            Column::string("Containers", "Names of each container in the template."),
            Column::string(
                "Images",
                "Images referenced by each container in the template.",
            ),
            Column::string("Pod Labels", "The labels for the pod template."),
        ]
    }

    fn cells(&self, obj: &Value, _now: SystemTime) -> Vec<Value> {
        let [names, images] =
            container_cells(get(obj, &["template", "spec"]).unwrap_or(&Value::Null));
        vec![
            name_cell(obj),
            names,
            images,
            Value::from(format_labels(get(obj, &["template", "metadata", "labels"]))),
        ]
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn prints_the_template() {
        let pt = json!({"metadata": {"name": "t"}, "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}});
        assert_eq!(
            PodTemplatePrinter.cells(&pt, SystemTime::UNIX_EPOCH),
            vec![json!("t"), json!("c"), json!("x"), json!("app=web")]
        );
    }
}
