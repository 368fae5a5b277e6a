//! `kubectl get priorityclasses`: NAME VALUE GLOBAL-DEFAULT AGE
//! PREEMPTIONPOLICY (`printPriorityClass`).

use std::time::SystemTime;

use serde_json::Value;

use super::count;
use crate::json_path::{bool_at, str_at};
use crate::table::{age_cell, name_cell, Column, Printer};

/// Prints priority classes.
#[derive(Debug, Clone, Copy, Default)]
pub struct PriorityClassPrinter;

impl Printer for PriorityClassPrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            Column::name(),
            Column::integer("Value", "value represents the integer value of this priority class."),
            Column {
                type_: "boolean",
                ..Column::string("Global-Default", "globalDefault specifies whether this PriorityClass should be considered as the default priority for pods that do not have any priority class.")
            },
            Column::age(),
            Column::string("PreemptionPolicy", "preemptionPolicy is the Policy for preempting pods with lower priority."),
        ]
    }

    fn cells(&self, obj: &Value, now: SystemTime) -> Vec<Value> {
        vec![
            name_cell(obj),
            count(obj, &["value"]),
            Value::from(bool_at(obj, &["globalDefault"])),
            age_cell(obj, now),
            Value::from(str_at(obj, &["preemptionPolicy"])),
        ]
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn prints_value_and_policy() {
        let pc = json!({"metadata": {"name": "system-node-critical"}, "value": 2000001000, "preemptionPolicy": "PreemptLowerPriority"});
        let cells = PriorityClassPrinter.cells(&pc, SystemTime::UNIX_EPOCH);
        assert_eq!(
            [&cells[1], &cells[2], &cells[4]],
            [
                &json!(2000001000),
                &json!(false),
                &json!("PreemptLowerPriority")
            ]
        );
    }
}
