//! Fixtures for unit tests: catalog rows without per-kind behaviour.

use std::sync::Arc;
use std::time::SystemTime;

use rkube_api::{Column, DefaultStrategy, Printer, ResourceDef, Scope};
use serde_json::Value;

struct NamePrinter;

impl Printer for NamePrinter {
    fn columns(&self) -> Vec<Column> {
        vec![Column {
            name: "Name",
            type_: "string",
            format: "name",
            description: "",
            priority: 0,
        }]
    }

    fn cells(&self, obj: &Value, _now: SystemTime) -> Vec<Value> {
        vec![obj["metadata"]["name"].clone()]
    }
}

/// A row with the default strategy.
pub fn def(group: &str, version: &str, kind: &str, plural: &str, scope: Scope) -> ResourceDef {
    ResourceDef {
        group: group.into(),
        version: version.into(),
        kind: kind.into(),
        plural: plural.into(),
        singular: kind.to_lowercase(),
        scope,
        short_names: Vec::new(),
        categories: Vec::new(),
        subresources: Vec::new(),
        strategy: Arc::new(DefaultStrategy),
        printer: Arc::new(NamePrinter),
    }
}
