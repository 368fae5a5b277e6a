//! `kubectl get configmaps`: NAME DATA AGE (`printConfigMap`).

use std::time::SystemTime;

use serde_json::Value;

use crate::table::{age_cell, name_cell, Column, Printer};

/// Prints config maps.
#[derive(Debug, Clone, Copy, Default)]
pub struct ConfigMapPrinter;

fn entries(obj: &Value, key: &str) -> usize {
    obj.get(key)
        .and_then(Value::as_object)
        .map_or(0, |m| m.len())
}

impl Printer for ConfigMapPrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            Column::name(),
            Column::string("Data", "Data contains the configuration data."),
            Column::age(),
        ]
    }

    fn cells(&self, obj: &Value, now: SystemTime) -> Vec<Value> {
        let data = entries(obj, "data") + entries(obj, "binaryData");
        vec![name_cell(obj), Value::from(data), age_cell(obj, now)]
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn counts_text_and_binary_keys() {
        let obj = json!({"metadata": {"name": "cfg"}, "data": {"a": "1", "b": "2"}, "binaryData": {"c": "eA=="}});
        assert_eq!(
            ConfigMapPrinter.cells(&obj, SystemTime::UNIX_EPOCH)[1],
            json!(3)
        );
    }
}
