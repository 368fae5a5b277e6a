//! Sets of field paths: what a manager owns. Built from an applied
//! configuration (its leaves and list items) or from the difference between
//! two versions of an object, and stored as upstream's `FieldsV1` tree
//! (`{"f:spec":{"f:replicas":{}}}`, `"."` marking a path that is itself a
//! member). Upstream: `structured-merge-diff/fieldpath/set.go`,
//! `typed/tofieldset.go` and `typed/compare.go`.

use std::collections::{BTreeSet, HashMap};

use serde_json::{Map, Value};

use crate::patch::field_path::{FieldPath, PathElement};
use crate::patch::patch_meta::{ListStrategy, PatchMeta};

/// A set of field paths.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSet(BTreeSet<FieldPath>);

/// Whether a walk records the paths of objects it enters, not only leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Containers {
    /// Only leaves and list items: how an applied configuration is owned.
    Leaves,
    /// Also added objects, so their owner keeps them: how an update is owned.
    Included,
}

/// What changed from one version of an object to the next.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// Paths added or given a new value.
    pub changed: FieldSet,
    /// Paths that no longer exist.
    pub removed: FieldSet,
}

impl FieldSet {
    /// The fields an applied configuration sets: every leaf and every item of
    /// an associative list or set; `null` values are not owned.
    pub fn from_applied(config: &Value, meta: &PatchMeta) -> Self {
        let mut set = FieldSet::default();
        set.insert_subtree(config, &FieldPath::default(), meta, Containers::Leaves);
        set
    }

    /// The differences between `old` and `new`.
    pub fn compare(old: &Value, new: &Value, meta: &PatchMeta) -> Changes {
        let mut changes = Changes::default();
        diff(
            Some(old),
            Some(new),
            &FieldPath::default(),
            meta,
            &mut changes,
        );
        changes
    }

    /// Parses a `fieldsV1` tree; entries it cannot parse are skipped.
    pub fn from_fields_v1(tree: &Value) -> Self {
        let mut set = FieldSet::default();
        decode(tree, &FieldPath::default(), &mut set);
        set
    }

    /// The `fieldsV1` tree of this set.
    pub fn to_fields_v1(&self) -> Value {
        let mut root = Map::new();
        for path in &self.0 {
            insert_member(&mut root, path.elements());
        }
        sort_tree(Value::Object(root))
    }

    /// Adds one path.
    pub fn insert(&mut self, path: FieldPath) {
        self.0.insert(path);
    }

    /// Whether `path` is a member.
    pub fn contains(&self, path: &FieldPath) -> bool {
        self.0.contains(path)
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The members, sorted.
    pub fn iter(&self) -> impl Iterator<Item = &FieldPath> {
        self.0.iter()
    }

    /// Members of both sets.
    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        FieldSet(self.0.intersection(&other.0).cloned().collect())
    }

    /// Members of either set.
    pub fn union(&self, other: &FieldSet) -> FieldSet {
        FieldSet(self.0.union(&other.0).cloned().collect())
    }

    /// Members of `self` not in `other`.
    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        FieldSet(self.0.difference(&other.0).cloned().collect())
    }

    /// Members of `self` that are not in `other` and lie under none of
    /// `other`'s members.
    pub fn difference_with_children(&self, other: &FieldSet) -> FieldSet {
        FieldSet(
            self.0
                .iter()
                .filter(|p| !(1..=p.elements().len()).any(|n| other.0.contains(&p.prefix(n))))
                .cloned()
                .collect(),
        )
    }

    /// Whether `path` or a path below it is a member.
    pub fn contains_or_below(&self, path: &FieldPath) -> bool {
        self.0
            .range(path.clone()..)
            .next()
            .is_some_and(|first| first.starts_with(path))
    }

    fn insert_subtree(
        &mut self,
        value: &Value,
        path: &FieldPath,
        meta: &PatchMeta,
        containers: Containers,
    ) {
        match value {
            Value::Null if containers == Containers::Leaves => {}
            Value::Object(map) if !map.is_empty() => {
                if containers == Containers::Included && !always_present(path) {
                    self.insert(path.clone());
                }
                for (key, child) in map {
                    self.insert_subtree(
                        child,
                        &path.child(PathElement::Field(key.clone())),
                        meta,
                        containers,
                    );
                }
            }
            Value::Array(items) => match meta.list_strategy(&path.field_names()) {
                ListStrategy::Atomic => self.insert(path.clone()),
                ListStrategy::Set => {
                    for item in items {
                        self.insert(path.child(PathElement::value_of(item)));
                    }
                }
                ListStrategy::Map { map_keys, .. } => {
                    for item in items {
                        let item_path = path.child(PathElement::key_of(item, map_keys));
                        self.insert(item_path.clone());
                        if let Value::Object(fields) = item {
                            for (key, child) in fields {
                                self.insert_subtree(
                                    child,
                                    &item_path.child(PathElement::Field(key.clone())),
                                    meta,
                                    containers,
                                );
                            }
                        }
                    }
                }
            },
            _ if path.elements().is_empty() => {}
            _ => self.insert(path.clone()),
        }
    }
}

/// Fields that are non-pointer structs in upstream's Go types exist even in
/// an empty object (`metadata`, `spec`, `status`, a template's `metadata`
/// and `spec`, …), so writing them never adds the containers themselves,
/// only what is inside; without a schema, their names say which they are.
const ALWAYS_PRESENT: &[&str] = &[
    "metadata",
    "spec",
    "status",
    "template",
    "jobTemplate",
    "resources",
];

fn always_present(path: &FieldPath) -> bool {
    match path.elements().last() {
        None => true,
        Some(PathElement::Field(name)) => ALWAYS_PRESENT.contains(&name.as_str()),
        Some(_) => false,
    }
}

fn diff<'v>(
    old: Option<&'v Value>,
    new: Option<&'v Value>,
    path: &FieldPath,
    meta: &PatchMeta,
    changes: &mut Changes,
) {
    match (old, new) {
        (None, None) => {}
        (None, Some(new)) => changes
            .changed
            .insert_subtree(new, path, meta, Containers::Included),
        (Some(old), None) => changes
            .removed
            .insert_subtree(old, path, meta, Containers::Included),
        (Some(Value::Object(old)), Some(Value::Object(new))) => {
            for (key, child) in new {
                diff(
                    old.get(key),
                    Some(child),
                    &path.child(PathElement::Field(key.clone())),
                    meta,
                    changes,
                );
            }
            for (key, child) in old.iter().filter(|(k, _)| !new.contains_key(*k)) {
                diff(
                    Some(child),
                    None,
                    &path.child(PathElement::Field(key.clone())),
                    meta,
                    changes,
                );
            }
        }
        (Some(Value::Array(old)), Some(Value::Array(new))) => {
            match meta.list_strategy(&path.field_names()) {
                ListStrategy::Atomic => {
                    if old != new {
                        changes.changed.insert(path.clone());
                    }
                }
                ListStrategy::Set => {
                    for item in new.iter().filter(|i| !old.contains(i)) {
                        changes
                            .changed
                            .insert(path.child(PathElement::value_of(item)));
                    }
                    for item in old.iter().filter(|i| !new.contains(i)) {
                        changes
                            .removed
                            .insert(path.child(PathElement::value_of(item)));
                    }
                }
                ListStrategy::Map { map_keys, .. } => {
                    let keyed = |items: &'v [Value]| -> HashMap<PathElement, &'v Value> {
                        items
                            .iter()
                            .rev()
                            .map(|item| (PathElement::key_of(item, map_keys), item))
                            .collect()
                    };
                    let (before, after) = (keyed(old), keyed(new));
                    for item in new {
                        let key = PathElement::key_of(item, map_keys);
                        diff(
                            before.get(&key).copied(),
                            Some(item),
                            &path.child(key),
                            meta,
                            changes,
                        );
                    }
                    for item in old {
                        let key = PathElement::key_of(item, map_keys);
                        if !after.contains_key(&key) {
                            diff(Some(item), None, &path.child(key), meta, changes);
                        }
                    }
                }
            }
        }
        (Some(old), Some(new)) => {
            if old != new {
                changes.changed.insert(path.clone());
            }
        }
    }
}

/// Adds `elements` to a `fieldsV1` tree under construction, marking the
/// last one as a member with `"."`.
fn insert_member(node: &mut Map<String, Value>, elements: &[PathElement]) {
    match elements.split_first() {
        None => {
            node.insert(".".to_string(), Value::Object(Map::new()));
        }
        Some((first, rest)) => {
            let child = node
                .entry(first.encode())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(child) = child {
                insert_member(child, rest);
            }
        }
    }
}

fn decode(tree: &Value, path: &FieldPath, set: &mut FieldSet) {
    let Value::Object(entries) = tree else {
        return;
    };
    for (key, child) in entries {
        if key == "." {
            if !path.elements().is_empty() {
                set.insert(path.clone());
            }
            continue;
        }
        let Some(element) = PathElement::decode(key) else {
            continue;
        };
        let child_path = path.child(element);
        match child {
            Value::Object(grandchildren) if grandchildren.is_empty() => set.insert(child_path),
            _ => decode(child, &child_path, set),
        }
    }
}

/// Upstream's serialisation order: `.` first, then elements in sort order;
/// leaves are `{}`.
fn sort_tree(tree: Value) -> Value {
    let Value::Object(entries) = tree else {
        return tree;
    };
    let is_leaf = entries.len() == 1 && entries.contains_key(".");
    if is_leaf {
        return Value::Object(Map::new());
    }
    let mut sorted: Vec<(Option<PathElement>, String, Value)> = entries
        .into_iter()
        .map(|(k, v)| (PathElement::decode(&k), k, sort_tree(v)))
        .collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    Value::Object(sorted.into_iter().map(|(_, k, v)| (k, v)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment_meta() -> PatchMeta {
        PatchMeta::for_kind("apps", "Deployment")
    }

    #[test]
    fn applied_configurations_own_leaves_and_list_items() {
        let config = json!({
            "apiVersion": "apps/v1",
            "metadata": {"labels": {"app": "web"}, "finalizers": ["x"]},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}, "template": {"spec": {
                "containers": [{"name": "web", "image": "nginx", "ports": [{"containerPort": 80, "protocol": "TCP"}]}]}}},
            "status": null
        });
        let got = FieldSet::from_applied(&config, &deployment_meta()).to_fields_v1();
        let want = json!({
            "f:apiVersion": {},
            "f:metadata": {"f:finalizers": {"v:\"x\"": {}}, "f:labels": {"f:app": {}}},
            "f:spec": {
                "f:replicas": {},
                "f:selector": {"f:matchLabels": {"f:app": {}}},
                "f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {
                    ".": {}, "f:image": {}, "f:name": {},
                    "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}, "f:protocol": {}}}
                }}}}
            }
        });
        assert_eq!(got, want);
        assert_eq!(
            serde_json::to_string(&got["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"web\"}"]).ok(),
            Some(r#"{".":{},"f:image":{},"f:name":{},"f:ports":{"k:{\"containerPort\":80,\"protocol\":\"TCP\"}":{".":{},"f:containerPort":{},"f:protocol":{}}}}"#.to_string())
        );
    }

    #[test]
    fn fields_v1_round_trips() {
        let trees = [
            json!({}),
            json!({"f:data": {"f:a": {}, "f:b": {}}}),
            json!({"f:metadata": {"f:labels": {".": {}, "f:app": {}}}, "f:spec": {"f:replicas": {}}}),
            json!({"f:spec": {"f:ports": {"k:{\"port\":80,\"protocol\":\"TCP\"}": {".": {}, "f:port": {}}}}}),
            json!({"f:list": {"i:0": {}, "v:1": {}}}),
        ];
        for tree in trees {
            assert_eq!(FieldSet::from_fields_v1(&tree).to_fields_v1(), tree);
        }
    }

    #[test]
    fn comparing_versions_finds_changed_and_removed_fields() {
        let meta = deployment_meta();
        let old = json!({"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"replicas": 1, "template": {"spec": {
            "containers": [{"name": "x", "image": "x:1"}, {"name": "y", "image": "y:1"}]}}}});
        let new = json!({"metadata": {"labels": {"a": "1"}, "annotations": {"n": "v"}}, "spec": {"replicas": 3, "template": {"spec": {
            "containers": [{"name": "x", "image": "x:2"}]}}}});
        let changes = FieldSet::compare(&old, &new, &meta);
        assert_eq!(
            changes.changed.to_fields_v1(),
            json!({
                "f:metadata": {"f:annotations": {".": {}, "f:n": {}}},
                "f:spec": {"f:replicas": {}, "f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"x\"}": {"f:image": {}}}}}}
            })
        );
        assert_eq!(
            changes.removed.to_fields_v1(),
            json!({
                "f:metadata": {"f:labels": {"f:b": {}}},
                "f:spec": {"f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"y\"}": {".": {}, "f:image": {}, "f:name": {}}}}}}
            })
        );
    }

    #[test]
    fn set_operations_behave_like_sets() {
        let a = FieldSet::from_fields_v1(&json!({"f:a": {}, "f:b": {"f:c": {}}}));
        let b = FieldSet::from_fields_v1(&json!({"f:b": {".": {}, "f:c": {}}}));
        assert_eq!(
            a.intersection(&b).to_fields_v1(),
            json!({"f:b": {"f:c": {}}})
        );
        assert_eq!(a.difference(&b).to_fields_v1(), json!({"f:a": {}}));
        assert_eq!(
            a.union(&b).to_fields_v1(),
            json!({"f:a": {}, "f:b": {".": {}, "f:c": {}}})
        );
        let parent = FieldSet::from_fields_v1(&json!({"f:b": {}}));
        assert_eq!(
            a.difference_with_children(&parent).to_fields_v1(),
            json!({"f:a": {}})
        );
    }
}
