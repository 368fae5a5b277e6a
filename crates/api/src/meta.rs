//! Reading and writing `metadata` fields of objects kept as JSON, so the
//! registry and strategies never hand-write JSON pointers.
//!
//! Readers return `None` (or empty) when a field is missing or has the
//! wrong type; writers create `metadata` when the object has none, and do
//! nothing on a non-object value.

use serde_json::{Map, Value};

/// `metadata` as a map, if present.
pub fn metadata(obj: &Value) -> Option<&Map<String, Value>> {
    obj.get("metadata").and_then(Value::as_object)
}

/// `metadata` as a mutable map, created when missing (or replaced when it
/// is not an object). `None` only when `obj` itself is not an object.
pub fn metadata_mut(obj: &mut Value) -> Option<&mut Map<String, Value>> {
    let map = obj.as_object_mut()?;
    let meta = map
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if !meta.is_object() {
        *meta = Value::Object(Map::new());
    }
    meta.as_object_mut()
}

fn str_field<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    metadata(obj)?.get(key).and_then(Value::as_str)
}

fn set_field(obj: &mut Value, key: &str, value: Option<Value>) {
    if let Some(meta) = metadata_mut(obj) {
        match value {
            Some(v) => {
                meta.insert(key.to_owned(), v);
            }
            None => {
                meta.remove(key);
            }
        }
    }
}

/// `metadata.name`
pub fn name(obj: &Value) -> Option<&str> {
    str_field(obj, "name")
}

/// Sets `metadata.name`.
pub fn set_name(obj: &mut Value, name: &str) {
    set_field(obj, "name", Some(Value::from(name)));
}

/// `metadata.generateName`
pub fn generate_name(obj: &Value) -> Option<&str> {
    str_field(obj, "generateName")
}

/// `metadata.namespace`
pub fn namespace(obj: &Value) -> Option<&str> {
    str_field(obj, "namespace")
}

/// Sets `metadata.namespace`, or removes it with `None` (cluster-scoped).
pub fn set_namespace(obj: &mut Value, namespace: Option<&str>) {
    set_field(obj, "namespace", namespace.map(Value::from));
}

/// `metadata.uid`
pub fn uid(obj: &Value) -> Option<&str> {
    str_field(obj, "uid")
}

/// Sets `metadata.uid`.
pub fn set_uid(obj: &mut Value, uid: &str) {
    set_field(obj, "uid", Some(Value::from(uid)));
}

/// `metadata.resourceVersion`
pub fn resource_version(obj: &Value) -> Option<&str> {
    str_field(obj, "resourceVersion")
}

/// Sets `metadata.resourceVersion`, or removes it with `None`.
pub fn set_resource_version(obj: &mut Value, rv: Option<&str>) {
    set_field(obj, "resourceVersion", rv.map(Value::from));
}

/// `metadata.generation`
pub fn generation(obj: &Value) -> Option<i64> {
    metadata(obj)?.get("generation").and_then(Value::as_i64)
}

/// Sets `metadata.generation`.
pub fn set_generation(obj: &mut Value, generation: i64) {
    set_field(obj, "generation", Some(Value::from(generation)));
}

/// `metadata.creationTimestamp`
pub fn creation_timestamp(obj: &Value) -> Option<&str> {
    str_field(obj, "creationTimestamp")
}

/// Sets `metadata.creationTimestamp` (RFC 3339).
pub fn set_creation_timestamp(obj: &mut Value, ts: &str) {
    set_field(obj, "creationTimestamp", Some(Value::from(ts)));
}

/// `metadata.deletionTimestamp`
pub fn deletion_timestamp(obj: &Value) -> Option<&str> {
    str_field(obj, "deletionTimestamp")
}

/// Sets or clears `metadata.deletionTimestamp` (RFC 3339).
pub fn set_deletion_timestamp(obj: &mut Value, ts: Option<&str>) {
    set_field(obj, "deletionTimestamp", ts.map(Value::from));
}

/// `metadata.labels`, if any.
pub fn labels(obj: &Value) -> Option<&Map<String, Value>> {
    metadata(obj)?.get("labels").and_then(Value::as_object)
}

/// `metadata.labels` for writing, created when missing.
pub fn labels_mut(obj: &mut Value) -> Option<&mut Map<String, Value>> {
    map_mut(obj, "labels")
}

/// `metadata.annotations`, if any.
pub fn annotations(obj: &Value) -> Option<&Map<String, Value>> {
    metadata(obj)?.get("annotations").and_then(Value::as_object)
}

/// `metadata.annotations` for writing, created when missing.
pub fn annotations_mut(obj: &mut Value) -> Option<&mut Map<String, Value>> {
    map_mut(obj, "annotations")
}

fn map_mut<'a>(obj: &'a mut Value, key: &str) -> Option<&'a mut Map<String, Value>> {
    let slot = metadata_mut(obj)?
        .entry(key)
        .or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut()
}

/// `metadata.finalizers`, in order.
pub fn finalizers(obj: &Value) -> Vec<&str> {
    metadata(obj)
        .and_then(|m| m.get("finalizers"))
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// Replaces `metadata.finalizers`; an empty list removes the field, as
/// upstream omits empty lists.
pub fn set_finalizers(obj: &mut Value, finalizers: &[&str]) {
    let value = (!finalizers.is_empty())
        .then(|| Value::Array(finalizers.iter().map(|f| Value::from(*f)).collect()));
    set_field(obj, "finalizers", value);
}

/// Adds a finalizer unless present; true if it was added.
pub fn add_finalizer(obj: &mut Value, finalizer: &str) -> bool {
    let mut list: Vec<String> = finalizers(obj).into_iter().map(str::to_owned).collect();
    if list.iter().any(|f| f == finalizer) {
        return false;
    }
    list.push(finalizer.to_owned());
    let refs: Vec<&str> = list.iter().map(String::as_str).collect();
    set_finalizers(obj, &refs);
    true
}

/// Removes a finalizer; true if it was present.
pub fn remove_finalizer(obj: &mut Value, finalizer: &str) -> bool {
    let list: Vec<String> = finalizers(obj).into_iter().map(str::to_owned).collect();
    if !list.iter().any(|f| f == finalizer) {
        return false;
    }
    let kept: Vec<&str> = list
        .iter()
        .map(String::as_str)
        .filter(|f| *f != finalizer)
        .collect();
    set_finalizers(obj, &kept);
    true
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn readers_tolerate_missing_and_mistyped_fields() {
        let cases = [
            json!({}),
            json!({"metadata": 5}),
            json!({"metadata": {"name": 3}}),
            json!(null),
        ];
        for obj in cases {
            assert_eq!(name(&obj), None, "{obj}");
            assert!(finalizers(&obj).is_empty());
            assert!(labels(&obj).is_none());
        }
    }

    #[test]
    fn writers_create_metadata() {
        let mut obj = json!({"kind": "Pod", "metadata": "junk"});
        set_name(&mut obj, "web");
        set_namespace(&mut obj, Some("default"));
        set_uid(&mut obj, "u1");
        set_resource_version(&mut obj, Some("7"));
        set_generation(&mut obj, 2);
        set_deletion_timestamp(&mut obj, Some("2024-01-01T00:00:00Z"));
        if let Some(l) = labels_mut(&mut obj) {
            l.insert("app".into(), json!("web"));
        }
        if let Some(a) = annotations_mut(&mut obj) {
            a.insert("note".into(), json!("x"));
        }
        assert_eq!(name(&obj), Some("web"));
        assert_eq!(namespace(&obj), Some("default"));
        assert_eq!(uid(&obj), Some("u1"));
        assert_eq!(resource_version(&obj), Some("7"));
        assert_eq!(generation(&obj), Some(2));
        assert_eq!(deletion_timestamp(&obj), Some("2024-01-01T00:00:00Z"));
        assert_eq!(labels(&obj).and_then(|l| l.get("app")), Some(&json!("web")));
        assert_eq!(
            annotations(&obj).and_then(|a| a.get("note")),
            Some(&json!("x"))
        );
        set_namespace(&mut obj, None);
        set_resource_version(&mut obj, None);
        assert_eq!(namespace(&obj), None);
        assert_eq!(resource_version(&obj), None);
    }

    #[test]
    fn finalizers_add_and_remove_once() {
        let mut obj = json!({"metadata": {}});
        assert!(add_finalizer(&mut obj, "kubernetes"));
        assert!(!add_finalizer(&mut obj, "kubernetes"));
        assert!(add_finalizer(&mut obj, "example.com/x"));
        assert_eq!(finalizers(&obj), ["kubernetes", "example.com/x"]);
        assert!(remove_finalizer(&mut obj, "kubernetes"));
        assert!(!remove_finalizer(&mut obj, "kubernetes"));
        assert!(remove_finalizer(&mut obj, "example.com/x"));
        assert_eq!(obj, json!({"metadata": {}}));
    }

    #[test]
    fn writers_ignore_non_objects() {
        let mut obj = json!([1, 2]);
        set_name(&mut obj, "x");
        assert_eq!(obj, json!([1, 2]));
    }
}
