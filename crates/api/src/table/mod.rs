//! Server-side printing: the columns `kubectl get` shows for a kind
//! (upstream's `pkg/printers/internalversion/printers.go`), served as a
//! `meta.k8s.io/v1` Table.

mod age;
mod default;
pub mod printers;

use std::time::SystemTime;

use serde_json::Value;

pub use age::{age_since, human_duration, human_since, parse_timestamp};
pub use default::DefaultPrinter;

/// One column of a Table (`metav1.TableColumnDefinition`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// Header, e.g. `Name`, `Ready`, `Status`.
    pub name: &'static str,
    /// OpenAPI type: `string`, `integer`, `date`, …
    pub type_: &'static str,
    /// OpenAPI format, e.g. `name` for the name column; empty for none.
    pub format: &'static str,
    /// Help text shown by `kubectl explain`-like tools.
    pub description: &'static str,
    /// 0 for the default columns; higher for `-o wide` only.
    pub priority: i32,
}

impl Column {
    /// The `Name` column every printer starts with.
    pub const fn name() -> Column {
        Column {
            name: "Name",
            type_: "string",
            format: "name",
            description: "Name must be unique within a namespace.",
            priority: 0,
        }
    }

    /// A default string column.
    pub const fn string(name: &'static str, description: &'static str) -> Column {
        Column {
            name,
            type_: "string",
            format: "",
            description,
            priority: 0,
        }
    }

    /// A default integer column.
    pub const fn integer(name: &'static str, description: &'static str) -> Column {
        Column {
            name,
            type_: "integer",
            format: "",
            description,
            priority: 0,
        }
    }

    /// The `Age` column (a string rendered by [`age_since`]).
    pub const fn age() -> Column {
        Column::string(
            "Age",
            "CreationTimestamp is a timestamp representing the server time when this object was created.",
        )
    }

    /// The same column shown only with `-o wide`.
    pub const fn wide(self) -> Column {
        Column {
            priority: 1,
            ..self
        }
    }
}

/// The `Name` cell of an object.
pub fn name_cell(obj: &Value) -> Value {
    obj.pointer("/metadata/name")
        .cloned()
        .unwrap_or_else(|| Value::from(""))
}

/// The `Age` cell of an object at `now`.
pub fn age_cell(obj: &Value, now: SystemTime) -> Value {
    let created = obj
        .pointer("/metadata/creationTimestamp")
        .and_then(Value::as_str);
    Value::from(age_since(created, now))
}

/// How a kind prints as table rows.
pub trait Printer: Send + Sync {
    /// The columns, default ones first.
    fn columns(&self) -> Vec<Column>;

    /// The cells of one object's row, one per column, as JSON values
    /// (strings, numbers). `now` renders ages (`5m`, `2d3h`) like upstream.
    fn cells(&self, obj: &Value, now: SystemTime) -> Vec<Value>;

    /// The row's conditions (`metav1.TableRowCondition` JSON), e.g.
    /// `Completed` for pods that finished; none for most kinds.
    fn conditions(&self, obj: &Value) -> Vec<Value> {
        let _ = obj;
        Vec::new()
    }
}
