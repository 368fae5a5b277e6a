//! Where a selector reads label values from: anything that maps keys to
//! values (an object's `metadata.labels` JSON, a `BTreeMap`).

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value};

/// A set of labels a selector can test.
pub trait Labels {
    /// The value of `key`, if the label is set.
    fn get_label(&self, key: &str) -> Option<&str>;
}

impl Labels for BTreeMap<String, String> {
    fn get_label(&self, key: &str) -> Option<&str> {
        self.get(key).map(String::as_str)
    }
}

impl Labels for HashMap<String, String> {
    fn get_label(&self, key: &str) -> Option<&str> {
        self.get(key).map(String::as_str)
    }
}

/// A JSON labels map; non-string values count as absent.
impl Labels for Map<String, Value> {
    fn get_label(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Value::as_str)
    }
}

/// An object's `metadata.labels` (none when it has no labels).
#[derive(Debug, Clone, Copy)]
pub struct ObjectLabels<'a>(pub &'a Value);

impl Labels for ObjectLabels<'_> {
    fn get_label(&self, key: &str) -> Option<&str> {
        self.0
            .pointer("/metadata/labels")
            .and_then(|l| l.get(key))
            .and_then(Value::as_str)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn every_source_reads_labels_alike() {
        let btree: BTreeMap<String, String> = [("app".to_owned(), "web".to_owned())].into();
        let hash: HashMap<String, String> = btree.clone().into_iter().collect();
        let obj = json!({"metadata": {"labels": {"app": "web", "n": 1}}});
        let map = obj["metadata"]["labels"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        assert_eq!(btree.get_label("app"), Some("web"));
        assert_eq!(hash.get_label("app"), Some("web"));
        assert_eq!(map.get_label("app"), Some("web"));
        assert_eq!(ObjectLabels(&obj).get_label("app"), Some("web"));
        assert_eq!(ObjectLabels(&obj).get_label("n"), None);
        assert_eq!(ObjectLabels(&json!({})).get_label("app"), None);
    }
}
