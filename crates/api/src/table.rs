//! Server-side printing: the columns `kubectl get` shows for a kind
//! (upstream's `pkg/printers/internalversion/printers.go`), served as a
//! `meta.k8s.io/v1` Table.

use std::time::SystemTime;

use serde_json::Value;

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

/// How a kind prints as table rows.
pub trait Printer: Send + Sync {
    /// The columns, default ones first.
    fn columns(&self) -> Vec<Column>;

    /// The cells of one object's row, one per column, as JSON values
    /// (strings, numbers). `now` renders ages (`5m`, `2d3h`) like upstream.
    fn cells(&self, obj: &Value, now: SystemTime) -> Vec<Value>;
}
