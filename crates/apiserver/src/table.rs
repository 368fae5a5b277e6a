//! Server-side printing: lists, objects and watch events as
//! `meta.k8s.io/v1` Tables (upstream `TableConvertor`), from the catalog
//! row's printer. `includeObject` is `Metadata` by default: each row then
//! carries a `PartialObjectMetadata`.

use std::sync::Arc;
use std::time::SystemTime;

use rkube_api::ResourceDef;
use serde_json::{json, Map, Value};

use crate::status::{ApiError, ApiResult};

/// `includeObject`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IncludeObject {
    /// No object in rows.
    None,
    /// A `PartialObjectMetadata` per row (the default).
    #[default]
    Metadata,
    /// The full object per row.
    Object,
}

impl IncludeObject {
    /// From the `includeObject` query parameter.
    pub fn parse(value: Option<&str>) -> ApiResult<Self> {
        match value {
            None | Some("") | Some("Metadata") => Ok(IncludeObject::Metadata),
            Some("None") => Ok(IncludeObject::None),
            Some("Object") => Ok(IncludeObject::Object),
            Some(other) => Err(ApiError::bad_request(format!(
                "includeObject: Unsupported value: \"{other}\": supported values: \"Metadata\", \"None\", \"Object\""
            ))),
        }
    }
}

/// Whether the Table carries its column definitions (the first watch event
/// does, later ones do not, as upstream).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Headers {
    /// Include `columnDefinitions`.
    Include,
    /// `columnDefinitions: null`.
    Omit,
}

/// `PartialObjectMetadata` of an object.
pub fn partial_metadata(obj: &Value) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata").cloned().unwrap_or_else(|| json!({})),
    })
}

/// A Table of `items`; `list_meta` becomes the Table's metadata.
pub fn table(
    def: &ResourceDef,
    items: &[Arc<Value>],
    list_meta: Map<String, Value>,
    include: IncludeObject,
    headers: Headers,
) -> Value {
    let now = SystemTime::now();
    let columns: Vec<Value> = def
        .printer
        .columns()
        .iter()
        .map(|c| {
            json!({
                "name": c.name,
                "type": c.type_,
                "format": c.format,
                "description": c.description,
                "priority": c.priority,
            })
        })
        .collect();
    let rows: Vec<Value> = items
        .iter()
        .map(|obj| {
            let mut row = Map::new();
            row.insert("cells".into(), Value::Array(def.printer.cells(obj, now)));
            match include {
                IncludeObject::None => {}
                IncludeObject::Metadata => {
                    row.insert("object".into(), partial_metadata(obj));
                }
                IncludeObject::Object => {
                    row.insert("object".into(), (**obj).clone());
                }
            }
            Value::Object(row)
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta,
        "columnDefinitions": match headers {
            Headers::Include => Value::Array(columns),
            Headers::Omit => Value::Null,
        },
        "rows": rows,
    })
}
