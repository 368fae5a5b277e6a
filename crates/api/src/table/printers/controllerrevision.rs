//! `kubectl get controllerrevisions`: NAME CONTROLLER REVISION AGE
//! (`printControllerRevision`).

use std::time::SystemTime;

use serde_json::Value;

use super::count;
use crate::json_path::{array_at, bool_at, str_at};
use crate::table::{age_cell, name_cell, Column, Printer};

/// Prints controller revisions.
#[derive(Debug, Clone, Copy, Default)]
pub struct ControllerRevisionPrinter;

/// `daemonset.apps/agent` for the controlling owner, or `<none>`.
fn controller(obj: &Value) -> String {
    let owner = array_at(obj, &["metadata", "ownerReferences"])
        .iter()
        .find(|r| bool_at(r, &["controller"]));
    let Some(owner) = owner else {
        return "<none>".to_owned();
    };
    let kind = str_at(owner, &["kind"]);
    let name = str_at(owner, &["name"]);
    let group = str_at(owner, &["apiVersion"])
        .rsplit_once('/')
        .map(|(g, _)| g)
        .unwrap_or_default();
    let group_kind = if group.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind}.{group}")
    };
    if group_kind.is_empty() {
        name.to_owned()
    } else {
        format!("{}/{name}", group_kind.to_ascii_lowercase())
    }
}

impl Printer for ControllerRevisionPrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            Column::name(),
            Column::string("Controller", "Controller of the object"),
            Column::string(
                "Revision",
                "Revision indicates the revision of the state represented by Data.",
            ),
            Column::age(),
        ]
    }

    fn cells(&self, obj: &Value, now: SystemTime) -> Vec<Value> {
        vec![
            name_cell(obj),
            Value::from(controller(obj)),
            count(obj, &["revision"]),
            age_cell(obj, now),
        ]
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn names_the_controller() {
        let cr = json!({"metadata": {"name": "agent-5d8f", "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "agent", "controller": true}]}, "revision": 3});
        let cells = ControllerRevisionPrinter.cells(&cr, SystemTime::UNIX_EPOCH);
        assert_eq!(cells[1..3], [json!("daemonset.apps/agent"), json!(3)]);
        assert_eq!(controller(&json!({})), "<none>");
    }
}
