//! Paths to fields inside an object, as server-side apply tracks them:
//! upstream's `sigs.k8s.io/structured-merge-diff/fieldpath` `PathElement`,
//! with its `f:`/`k:`/`v:`/`i:` encoding in `managedFields` and its printed
//! form in conflict messages (`.spec.containers[name="app"].image`).

use std::fmt;

use serde_json::{Map, Value};

/// One step of a [`FieldPath`]. The variant order is upstream's sort order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PathElement {
    /// A field of an object: `f:name`.
    Field(String),
    /// An item of an associative list, by its keys; holds the compact JSON
    /// object of the key fields with sorted keys: `k:{"name":"app"}`.
    Key(String),
    /// An item of a set, by its value; holds compact JSON: `v:"a"`.
    Value(String),
    /// An item of a list by position: `i:0`.
    Index(usize),
}

impl PathElement {
    /// The key element of an associative list item: its `keys` fields.
    pub fn key_of(item: &Value, keys: &[&str]) -> Self {
        let mut fields: Vec<(&str, Value)> = keys
            .iter()
            .filter_map(|k| key_field(item, k).map(|v| (*k, v)))
            .collect();
        fields.sort_by_key(|(k, _)| *k);
        let map: Map<String, Value> = fields
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        PathElement::Key(Value::Object(map).to_string())
    }

    /// The value element of a set item.
    pub fn value_of(item: &Value) -> Self {
        PathElement::Value(item.to_string())
    }

    /// The `managedFields` encoding, e.g. `f:spec`.
    pub fn encode(&self) -> String {
        match self {
            PathElement::Field(name) => format!("f:{name}"),
            PathElement::Key(json) => format!("k:{json}"),
            PathElement::Value(json) => format!("v:{json}"),
            PathElement::Index(i) => format!("i:{i}"),
        }
    }

    /// Parses the `managedFields` encoding; `None` for anything else.
    pub fn decode(encoded: &str) -> Option<Self> {
        let (prefix, rest) = encoded.split_once(':')?;
        match prefix {
            "f" => Some(PathElement::Field(rest.to_string())),
            "k" => {
                let Value::Object(map) = serde_json::from_str::<Value>(rest).ok()? else {
                    return None;
                };
                let mut fields: Vec<(String, Value)> = map.into_iter().collect();
                fields.sort_by(|a, b| a.0.cmp(&b.0));
                Some(PathElement::Key(
                    Value::Object(fields.into_iter().collect()).to_string(),
                ))
            }
            "v" => {
                let value = serde_json::from_str::<Value>(rest).ok()?;
                Some(PathElement::Value(value.to_string()))
            }
            "i" => rest.parse().ok().map(PathElement::Index),
            _ => None,
        }
    }

    /// Whether `item` is the list item this element names.
    pub fn matches_item(&self, item: &Value) -> bool {
        self.item_pattern().matches(item)
    }

    /// The parsed form of a key or value element, for matching many items.
    pub(crate) fn item_pattern(&self) -> ItemPattern {
        match self {
            PathElement::Key(json) => match serde_json::from_str::<Value>(json) {
                Ok(Value::Object(keys)) => ItemPattern::Keys(keys),
                _ => ItemPattern::Nothing,
            },
            PathElement::Value(json) => serde_json::from_str::<Value>(json)
                .map(ItemPattern::Value)
                .unwrap_or(ItemPattern::Nothing),
            PathElement::Field(_) | PathElement::Index(_) => ItemPattern::Nothing,
        }
    }
}

/// Which list items a key or value element names.
#[derive(Debug, Clone)]
pub(crate) enum ItemPattern {
    /// Items whose key fields (defaulted) equal these.
    Keys(Map<String, Value>),
    /// Items equal to this value.
    Value(Value),
    /// No item (field and index elements, unparsable elements).
    Nothing,
}

impl ItemPattern {
    /// Whether `item` matches.
    pub(crate) fn matches(&self, item: &Value) -> bool {
        match self {
            ItemPattern::Keys(keys) => keys
                .iter()
                .all(|(k, v)| key_field(item, k).as_ref() == Some(v)),
            ItemPattern::Value(value) => value == item,
            ItemPattern::Nothing => false,
        }
    }
}

/// Defaults of list-map key fields a client may leave out: upstream's
/// `+default="TCP"` on the `protocol` of container and service ports, which
/// server-side apply fills in before keying items.
const KEY_DEFAULTS: &[(&str, &str)] = &[("protocol", "TCP")];

/// A key field of a list item, defaulted when absent.
fn key_field(item: &Value, name: &str) -> Option<Value> {
    item.get(name).cloned().or_else(|| {
        KEY_DEFAULTS
            .iter()
            .find(|(field, _)| *field == name)
            .map(|(_, default)| Value::String(default.to_string()))
    })
}

impl fmt::Display for PathElement {
    /// Upstream's `PathElement.String`: `.name`, `[k=v,…]`, `[=v]`, `[0]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathElement::Field(name) => write!(f, ".{name}"),
            PathElement::Key(json) => {
                let parts: Vec<String> = match serde_json::from_str::<Value>(json) {
                    Ok(Value::Object(keys)) => {
                        keys.iter().map(|(k, v)| format!("{k}={v}")).collect()
                    }
                    _ => Vec::new(),
                };
                write!(f, "[{}]", parts.join(","))
            }
            PathElement::Value(json) => write!(f, "[={json}]"),
            PathElement::Index(i) => write!(f, "[{i}]"),
        }
    }
}

/// A path from an object's root to one of its fields.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FieldPath(Vec<PathElement>);

impl FieldPath {
    /// The elements, root first.
    pub fn elements(&self) -> &[PathElement] {
        &self.0
    }

    /// This path with `element` appended.
    pub fn child(&self, element: PathElement) -> Self {
        let mut elements = self.0.clone();
        elements.push(element);
        FieldPath(elements)
    }

    /// The names of the field elements, which is how [`PatchMeta`] keys
    /// lists (list items add no segment).
    ///
    /// [`PatchMeta`]: crate::patch::PatchMeta
    pub fn field_names(&self) -> Vec<&str> {
        self.0
            .iter()
            .filter_map(|e| match e {
                PathElement::Field(name) => Some(name.as_str()),
                _ => None,
            })
            .collect()
    }

    /// The first `n` elements.
    pub fn prefix(&self, n: usize) -> FieldPath {
        FieldPath(self.0.iter().take(n).cloned().collect())
    }

    /// Whether `self` starts with `prefix`.
    pub fn starts_with(&self, prefix: &FieldPath) -> bool {
        self.0.starts_with(&prefix.0)
    }
}

impl From<Vec<PathElement>> for FieldPath {
    fn from(elements: Vec<PathElement>) -> Self {
        FieldPath(elements)
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|e| write!(f, "{e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn elements_encode_decode_and_print_like_upstream() {
        let port = json!({"protocol": "TCP", "containerPort": 80, "name": "http"});
        let cases = [
            (PathElement::Field("spec".into()), "f:spec", ".spec"),
            (
                PathElement::key_of(&port, &["containerPort", "protocol"]),
                r#"k:{"containerPort":80,"protocol":"TCP"}"#,
                r#"[containerPort=80,protocol="TCP"]"#,
            ),
            (PathElement::value_of(&json!("x")), r#"v:"x""#, r#"[="x"]"#),
            (PathElement::Index(3), "i:3", "[3]"),
        ];
        for (element, encoded, printed) in cases {
            assert_eq!(element.encode(), encoded);
            assert_eq!(PathElement::decode(encoded), Some(element.clone()));
            assert_eq!(element.to_string(), printed);
        }
        assert_eq!(
            PathElement::decode(r#"k:{"protocol":"TCP","containerPort":80}"#),
            Some(PathElement::key_of(&port, &["containerPort", "protocol"]))
        );
        for bad in ["", "x:y", "k:[1]", "v:{", "i:-1", "nocolon"] {
            assert_eq!(PathElement::decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn paths_print_as_conflict_messages_show_them() {
        let path = FieldPath::from(vec![
            PathElement::Field("spec".into()),
            PathElement::Field("containers".into()),
            PathElement::key_of(&json!({"name": "app"}), &["name"]),
            PathElement::Field("image".into()),
        ]);
        assert_eq!(path.to_string(), r#".spec.containers[name="app"].image"#);
        assert_eq!(path.field_names(), vec!["spec", "containers", "image"]);
    }

    #[test]
    fn key_and_value_elements_match_their_items() {
        let key = PathElement::key_of(&json!({"name": "a"}), &["name"]);
        assert!(key.matches_item(&json!({"name": "a", "image": "x"})));
        assert!(!key.matches_item(&json!({"name": "b"})));
        let port = PathElement::key_of(
            &json!({"containerPort": 80}),
            &["containerPort", "protocol"],
        );
        assert_eq!(port.encode(), r#"k:{"containerPort":80,"protocol":"TCP"}"#);
        assert!(port.matches_item(&json!({"containerPort": 80, "protocol": "TCP"})));
        assert!(port.matches_item(&json!({"containerPort": 80})));
        assert!(!port.matches_item(&json!({"containerPort": 80, "protocol": "UDP"})));
        assert!(PathElement::value_of(&json!(1)).matches_item(&json!(1)));
        assert!(!PathElement::Field("a".into()).matches_item(&json!({"a": 1})));
    }
}
