//! `kubectl get runtimeclasses`: NAME HANDLER AGE (`printRuntimeClass`).

use std::time::SystemTime;

use serde_json::Value;

use crate::json_path::str_at;
use crate::table::{age_cell, name_cell, Column, Printer};

/// Prints runtime classes.
#[derive(Debug, Clone, Copy, Default)]
pub struct RuntimeClassPrinter;

impl Printer for RuntimeClassPrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            Column::name(),
            Column::string("Handler", "handler specifies the underlying runtime and configuration that the CRI implementation will use."),
            Column::age(),
        ]
    }

    fn cells(&self, obj: &Value, now: SystemTime) -> Vec<Value> {
        vec![
            name_cell(obj),
            Value::from(str_at(obj, &["handler"])),
            age_cell(obj, now),
        ]
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn prints_the_handler() {
        let rc = json!({"metadata": {"name": "gvisor"}, "handler": "runsc"});
        assert_eq!(
            RuntimeClassPrinter.cells(&rc, SystemTime::UNIX_EPOCH)[1],
            json!("runsc")
        );
    }
}
