//! Small accessors for walking and defaulting JSON objects by path, and
//! Go-style renderings of values, shared by the kind strategies and
//! printers.

use serde_json::{Map, Value};

/// The value at `path`, if every step is an object key.
pub(crate) fn get<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, k| v.get(*k))
}

/// The string at `path`, or `""`.
pub(crate) fn str_at<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    get(v, path).and_then(Value::as_str).unwrap_or_default()
}

/// The integer at `path`.
pub(crate) fn i64_at(v: &Value, path: &[&str]) -> Option<i64> {
    get(v, path).and_then(Value::as_i64)
}

/// The integer at `path`, or 0 (Go's zero value for unset status counts).
pub(crate) fn count_at(v: &Value, path: &[&str]) -> i64 {
    i64_at(v, path).unwrap_or_default()
}

/// The boolean at `path`, or false.
pub(crate) fn bool_at(v: &Value, path: &[&str]) -> bool {
    get(v, path).and_then(Value::as_bool).unwrap_or_default()
}

/// The array at `path`, or an empty slice.
pub(crate) fn array_at<'a>(v: &'a Value, path: &[&str]) -> &'a [Value] {
    get(v, path)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// The object at `path`, creating missing (or null) steps. `None` when a
/// step exists but is not an object: defaulting leaves such input to
/// validation.
pub(crate) fn object_mut<'a>(
    v: &'a mut Value,
    path: &[&str],
) -> Option<&'a mut Map<String, Value>> {
    let mut cur = v;
    for key in path {
        let map = cur.as_object_mut()?;
        let slot = map.entry(*key).or_insert(Value::Null);
        if slot.is_null() {
            *slot = Value::Object(Map::new());
        }
        cur = slot;
    }
    cur.as_object_mut()
}

/// The existing object at `path`, without creating anything.
pub(crate) fn existing_mut<'a>(
    v: &'a mut Value,
    path: &[&str],
) -> Option<&'a mut Map<String, Value>> {
    path.iter()
        .try_fold(v, |v, k| v.get_mut(*k))
        .and_then(Value::as_object_mut)
}

/// Every object element of the array `key` of `map`.
pub(crate) fn items_mut<'a>(
    map: &'a mut Map<String, Value>,
    key: &str,
) -> impl Iterator<Item = &'a mut Map<String, Value>> {
    map.get_mut(key)
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object_mut)
}

/// Sets `key` unless it already holds a non-null value.
pub(crate) fn default(map: &mut Map<String, Value>, key: &str, value: Value) {
    let slot = map.entry(key).or_insert(Value::Null);
    if slot.is_null() {
        *slot = value;
    }
}

/// A string-to-string map rendered like Go's `%#v`, as upstream prints
/// label maps in error values: `map[string]string{"app":"web"}`.
pub(crate) fn go_string_map(v: Option<&Value>) -> String {
    let Some(map) = v.and_then(Value::as_object) else {
        return "map[string]string(nil)".to_owned();
    };
    let mut pairs: Vec<(&String, &str)> = map
        .iter()
        .map(|(k, v)| (k, v.as_str().unwrap_or_default()))
        .collect();
    pairs.sort();
    let body: Vec<String> = pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{}:{}",
                crate::field_error::quote(k),
                crate::field_error::quote(v)
            )
        })
        .collect();
    format!("map[string]string{{{}}}", body.join(", "))
}

/// A `metav1.LabelSelector` rendered like Go's `%#v`, as upstream prints
/// selectors in error values.
pub(crate) fn go_label_selector(v: Option<&Value>) -> String {
    let Some(sel) = v.filter(|v| v.is_object()) else {
        return "null".to_owned();
    };
    let labels = match sel.get("matchLabels") {
        Some(m) if m.is_object() => go_string_map(Some(m)),
        _ => "map[string]string(nil)".to_owned(),
    };
    let exprs = match sel.get("matchExpressions").and_then(Value::as_array) {
        Some(list) => {
            let items: Vec<String> = list
                .iter()
                .map(|e| {
                    let values = match e.get("values").and_then(Value::as_array) {
                        Some(vs) => format!(
                            "[]string{{{}}}",
                            vs.iter()
                                .map(|v| crate::field_error::quote(v.as_str().unwrap_or_default()))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                        None => "[]string(nil)".to_owned(),
                    };
                    format!(
                        "v1.LabelSelectorRequirement{{Key:{}, Operator:{}, Values:{values}}}",
                        crate::field_error::quote(str_at(e, &["key"])),
                        crate::field_error::quote(str_at(e, &["operator"])),
                    )
                })
                .collect();
            format!("[]v1.LabelSelectorRequirement{{{}}}", items.join(", "))
        }
        None => "[]v1.LabelSelectorRequirement(nil)".to_owned(),
    };
    format!("v1.LabelSelector{{MatchLabels:{labels}, MatchExpressions:{exprs}}}")
}

/// An int-or-string rendered like Go's `%#v` of `intstr.IntOrString`.
pub(crate) fn go_int_or_string(v: &Value) -> String {
    match v {
        Value::String(s) => format!(
            "intstr.IntOrString{{Type:1, IntVal:0, StrVal:{}}}",
            crate::field_error::quote(s)
        ),
        other => format!(
            "intstr.IntOrString{{Type:0, IntVal:{}, StrVal:\"\"}}",
            other.as_i64().unwrap_or_default()
        ),
    }
}

/// `k=v,k2=v2` sorted by key, or `<none>` (upstream's `labels.FormatLabels`).
pub(crate) fn format_labels(v: Option<&Value>) -> String {
    let mut pairs: Vec<String> = v
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
        .collect();
    if pairs.is_empty() {
        return "<none>".to_owned();
    }
    pairs.sort();
    pairs.join(",")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn paths_read_and_create() {
        let mut v = json!({"spec": {"a": 1, "s": "x", "list": [1]}});
        assert_eq!(i64_at(&v, &["spec", "a"]), Some(1));
        assert_eq!(str_at(&v, &["spec", "s"]), "x");
        assert_eq!(str_at(&v, &["spec", "missing"]), "");
        assert_eq!(array_at(&v, &["spec", "list"]).len(), 1);
        assert!(object_mut(&mut v, &["spec", "a"]).is_none());
        if let Some(m) = object_mut(&mut v, &["spec", "strategy", "rollingUpdate"]) {
            default(m, "maxSurge", json!("25%"));
            default(m, "maxSurge", json!("50%"));
        }
        assert_eq!(
            v["spec"]["strategy"]["rollingUpdate"]["maxSurge"],
            json!("25%")
        );
    }

    #[test]
    fn go_renderings() {
        assert_eq!(
            go_string_map(Some(&json!({"b": "2", "a": "1"}))),
            "map[string]string{\"a\":\"1\", \"b\":\"2\"}"
        );
        assert_eq!(go_string_map(None), "map[string]string(nil)");
        assert_eq!(format_labels(Some(&json!({"b": "2", "a": "1"}))), "a=1,b=2");
        assert_eq!(format_labels(None), "<none>");
        assert_eq!(
            go_label_selector(Some(&json!({"matchLabels": {"app": "web"}}))),
            "v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"web\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}"
        );
        assert_eq!(
            go_int_or_string(&json!("25%")),
            "intstr.IntOrString{Type:1, IntVal:0, StrVal:\"25%\"}"
        );
        assert_eq!(
            go_int_or_string(&json!(0)),
            "intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}"
        );
    }
}
