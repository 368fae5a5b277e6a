//! Strategic merge patch: a merge patch whose lists merge by the patch merge
//! key of their field (containers by name, ports by containerPort, …) and
//! whose directives delete list items, replace subtrees, keep element order
//! and retain keys. Upstream: `apimachinery/pkg/util/strategicpatch/patch.go`
//! and `community/contributors/devel/sig-api-machinery/strategic-merge-patch.md`.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use crate::patch::error::{PatchError, Result};
use crate::patch::patch_meta::{ListStrategy, PatchMeta};

/// `$patch: replace|delete|merge`
const DIRECTIVE: &str = "$patch";
/// `$retainKeys: [..]`: keys of the map to keep; the others are cleared.
const RETAIN_KEYS: &str = "$retainKeys";
/// `$setElementOrder/<field>: [..]`: the order of the merged list.
const SET_ELEMENT_ORDER: &str = "$setElementOrder/";
/// `$deleteFromPrimitiveList/<field>: [..]`: values to drop from a set.
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList/";

/// A `$patch` directive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Directive {
    Replace,
    Delete,
    Merge,
}

impl Directive {
    /// The directive of a patch map, if it has one.
    fn of(map: &Map<String, Value>) -> Result<Option<Self>> {
        match map.get(DIRECTIVE) {
            None => Ok(None),
            Some(Value::String(s)) if s == "replace" => Ok(Some(Directive::Replace)),
            Some(Value::String(s)) if s == "delete" => Ok(Some(Directive::Delete)),
            Some(Value::String(s)) if s == "merge" => Ok(Some(Directive::Merge)),
            Some(other) => Err(PatchError::Malformed(format!(
                "Unknown patch type: {other} in map: {}",
                Value::Object(map.clone())
            ))),
        }
    }
}

/// Applies a strategic merge patch to `original` using the list rules of
/// its kind.
pub fn apply_strategic_merge_patch(
    original: &Value,
    patch: &Value,
    meta: &PatchMeta,
) -> Result<Value> {
    let (Value::Object(original), Value::Object(patch)) = (original, patch) else {
        return Err(PatchError::Malformed(
            "strategic merge patch and target must be JSON objects".to_string(),
        ));
    };
    let merger = Merger { meta };
    Ok(Value::Object(merger.merge_map(
        original.clone(),
        patch,
        &mut Vec::new(),
    )?))
}

struct Merger<'a> {
    meta: &'a PatchMeta,
}

impl Merger<'_> {
    fn merge_map(
        &self,
        mut original: Map<String, Value>,
        patch: &Map<String, Value>,
        path: &mut Vec<String>,
    ) -> Result<Map<String, Value>> {
        match Directive::of(patch)? {
            Some(Directive::Replace) => {
                return self.merge_map(Map::new(), &without_directive(patch), path)
            }
            Some(Directive::Delete) => return Ok(Map::new()),
            Some(Directive::Merge) | None => {}
        }
        if let Some(retain) = patch.get(RETAIN_KEYS) {
            let retain = string_list(retain, RETAIN_KEYS)?;
            // Upstream ErrPatchContentNotMatchRetainKeys: every key the patch
            // sets must be retained.
            if let Some(key) = patch
                .keys()
                .find(|k| !k.starts_with('$') && !retain.contains(&k.as_str()))
            {
                return Err(PatchError::CannotApply(format!(
                    "patch content doesn't match retainKeys list: {key} is not in {retain:?}"
                )));
            }
            original.retain(|k, _| retain.contains(&k.as_str()));
        }
        for (key, values) in patch {
            if let Some(field) = key.strip_prefix(DELETE_FROM_PRIMITIVE_LIST) {
                let Value::Array(values) = values else {
                    return Err(PatchError::Malformed(format!(
                        "invalid patch: {key} must be a list"
                    )));
                };
                if let Some(Value::Array(items)) = original.get_mut(field) {
                    items.retain(|item| !values.contains(item));
                }
            }
        }
        for (key, value) in patch.iter().filter(|(k, _)| !k.starts_with('$')) {
            path.push(key.clone());
            if value.is_null() {
                original.shift_remove(key);
            } else {
                let current = original.get_mut(key).map(Value::take);
                let merged = self.merge_value(current, value, path)?;
                match original.get_mut(key) {
                    Some(slot) => *slot = merged,
                    None => {
                        original.insert(key.clone(), merged);
                    }
                }
            }
            path.pop();
        }
        for (key, order) in patch {
            if let Some(field) = key.strip_prefix(SET_ELEMENT_ORDER) {
                let Value::Array(order) = order else {
                    return Err(PatchError::Malformed(format!(
                        "invalid patch: {key} must be a list"
                    )));
                };
                path.push(field.to_string());
                let strategy = self.meta.list_strategy(path);
                path.pop();
                if let Some(Value::Array(items)) = original.get_mut(field) {
                    *items = set_element_order(std::mem::take(items), order, strategy);
                }
            }
        }
        Ok(original)
    }

    fn merge_value(
        &self,
        current: Option<Value>,
        patch: &Value,
        path: &mut Vec<String>,
    ) -> Result<Value> {
        Ok(match (current, patch) {
            (Some(Value::Object(current)), Value::Object(patch)) => {
                Value::Object(self.merge_map(current, patch, path)?)
            }
            (_, Value::Object(patch)) => Value::Object(self.merge_map(Map::new(), patch, path)?),
            (Some(Value::Array(current)), Value::Array(patch)) => {
                Value::Array(self.merge_list(current, patch, path)?)
            }
            (_, Value::Array(patch)) => Value::Array(self.merge_list(Vec::new(), patch, path)?),
            (_, scalar) => scalar.clone(),
        })
    }

    fn merge_list(
        &self,
        mut original: Vec<Value>,
        patch: &[Value],
        path: &mut Vec<String>,
    ) -> Result<Vec<Value>> {
        let replace_all = patch
            .iter()
            .any(|item| matches!(item, Value::Object(m) if Directive::of(m).ok().flatten() == Some(Directive::Replace)));
        let strategy = if replace_all {
            original.clear();
            ListStrategy::Atomic
        } else {
            self.meta.list_strategy(path)
        };
        match strategy {
            ListStrategy::Atomic => patch
                .iter()
                .filter(|item| !is_directive_only(item))
                .map(|item| self.merge_value(None, item, path))
                .collect(),
            ListStrategy::Set => {
                let mut present: HashSet<String> = original.iter().map(Value::to_string).collect();
                for item in patch.iter().filter(|item| !is_directive_only(item)) {
                    if present.insert(item.to_string()) {
                        original.push(item.clone());
                    }
                }
                Ok(original)
            }
            ListStrategy::Map { merge_key, .. } => {
                self.merge_keyed_list(original, patch, merge_key, path)
            }
        }
    }

    /// Merges list items by `merge_key`, with hash lookups so that long
    /// lists cost linear time.
    fn merge_keyed_list(
        &self,
        mut original: Vec<Value>,
        patch: &[Value],
        merge_key: &str,
        path: &mut Vec<String>,
    ) -> Result<Vec<Value>> {
        let mut positions: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, item) in original.iter().enumerate() {
            if let Some(key) = item.get(merge_key) {
                positions.entry(key.to_string()).or_default().push(i);
            }
        }
        let mut deleted: HashSet<usize> = HashSet::new();
        for item in patch {
            let Value::Object(item) = item else {
                return Err(PatchError::Malformed(format!(
                    "invalid patch: list item {item} of {} must be a map with merge key {merge_key}",
                    path.join(".")
                )));
            };
            let Some(key) = item.get(merge_key) else {
                return Err(PatchError::Malformed(format!(
                    "map: {} does not contain declared merge key: {merge_key}",
                    Value::Object(item.clone())
                )));
            };
            let key = key.to_string();
            if Directive::of(item)? == Some(Directive::Delete) {
                deleted.extend(positions.remove(&key).unwrap_or_default());
                continue;
            }
            match positions.get(&key).and_then(|p| p.first()).copied() {
                Some(i) => {
                    let current = original.get_mut(i).map(Value::take);
                    let merged = self.merge_value(current, &Value::Object(item.clone()), path)?;
                    if let Some(slot) = original.get_mut(i) {
                        *slot = merged;
                    }
                }
                None => {
                    positions.insert(key, vec![original.len()]);
                    original.push(Value::Object(self.merge_map(Map::new(), item, path)?));
                }
            }
        }
        if !deleted.is_empty() {
            original = original
                .into_iter()
                .enumerate()
                .filter(|(i, _)| !deleted.contains(i))
                .map(|(_, item)| item)
                .collect();
        }
        Ok(original)
    }
}

/// A list element that only carries a directive, like `{"$patch": "replace"}`.
fn is_directive_only(item: &Value) -> bool {
    matches!(item, Value::Object(m) if m.contains_key(DIRECTIVE) && m.len() == 1)
}

fn without_directive(patch: &Map<String, Value>) -> Map<String, Value> {
    let mut patch = patch.clone();
    patch.shift_remove(DIRECTIVE);
    patch
}

fn string_list<'v>(value: &'v Value, name: &str) -> Result<Vec<&'v str>> {
    value
        .as_array()
        .and_then(|items| items.iter().map(Value::as_str).collect::<Option<Vec<_>>>())
        .ok_or_else(|| {
            PatchError::Malformed(format!("invalid patch: {name} must be a list of strings"))
        })
}

/// A list item with its key.
type Keyed = (String, Value);

/// Orders a merged list by `$setElementOrder`: the listed items in the given
/// order, and items the patch did not mention (added by the server or other
/// writers) kept where they were relative to the listed ones, like upstream's
/// `normalizeElementOrder` + `mergeSortedSlice`.
fn set_element_order(items: Vec<Value>, order: &[Value], strategy: ListStrategy) -> Vec<Value> {
    let key_of = |item: &Value| -> String {
        match strategy {
            ListStrategy::Map { merge_key, .. } => {
                item.get(merge_key).unwrap_or(&Value::Null).to_string()
            }
            ListStrategy::Set | ListStrategy::Atomic => item.to_string(),
        }
    };
    let first_positions = |keys: &mut dyn Iterator<Item = String>| {
        let mut positions = HashMap::new();
        for (i, key) in keys.enumerate() {
            positions.entry(key).or_insert(i);
        }
        positions
    };
    let order_position: HashMap<String, usize> = first_positions(&mut order.iter().map(key_of));
    let original_position: HashMap<String, usize> = first_positions(&mut items.iter().map(key_of));
    let keyed = items.into_iter().map(|item| (key_of(&item), item));
    let (mut listed, unlisted): (Vec<Keyed>, Vec<Keyed>) =
        keyed.partition(|(key, _)| order_position.contains_key(key));
    listed.sort_by_key(|(key, _)| order_position.get(key).copied());

    let mut merged = Vec::with_capacity(listed.len() + unlisted.len());
    let mut listed = listed.into_iter().peekable();
    let mut unlisted = unlisted.into_iter().peekable();
    loop {
        let take_unlisted = match (unlisted.peek(), listed.peek()) {
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
            (Some((u, _)), Some((l, _))) => matches!(
                (original_position.get(u), original_position.get(l)),
                (Some(ui), Some(li)) if ui < li
            ),
        };
        let next = if take_unlisted {
            unlisted.next()
        } else {
            listed.next()
        };
        merged.extend(next.map(|(_, item)| item));
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment(containers: Value) -> Value {
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"app": "web", "tier": "front"}, "finalizers": ["a", "b"]},
            "spec": {"replicas": 2, "template": {"spec": {"containers": containers}}}
        })
    }

    fn apply(original: &Value, patch: Value) -> std::result::Result<Value, u16> {
        let meta = PatchMeta::for_kind("apps", "Deployment");
        apply_strategic_merge_patch(original, &patch, &meta).map_err(|e| e.code())
    }

    fn two_containers() -> Value {
        json!([
            {"name": "a", "image": "a:1", "ports": [{"containerPort": 80}, {"containerPort": 81}], "env": [{"name": "X", "value": "1"}]},
            {"name": "b", "image": "b:1"}
        ])
    }

    #[test]
    fn kubectl_three_way_patches_apply_like_upstream() {
        let original = deployment(two_containers());
        let cases: Vec<(&str, Value, Value)> = vec![
            (
                "changing one image keeps the other container and fields",
                json!({"spec": {"template": {"spec": {
                    "$setElementOrder/containers": [{"name": "a"}, {"name": "b"}],
                    "containers": [{"name": "b", "image": "b:2"}]}}}}),
                deployment(json!([
                    {"name": "a", "image": "a:1", "ports": [{"containerPort": 80}, {"containerPort": 81}], "env": [{"name": "X", "value": "1"}]},
                    {"name": "b", "image": "b:2"}
                ])),
            ),
            (
                "removing a container deletes it by merge key",
                json!({"spec": {"template": {"spec": {
                    "$setElementOrder/containers": [{"name": "b"}],
                    "containers": [{"$patch": "delete", "name": "a"}]}}}}),
                deployment(json!([{"name": "b", "image": "b:1"}])),
            ),
            (
                "removing a label sends null",
                json!({"metadata": {"labels": {"tier": null}}}),
                {
                    let mut d = deployment(two_containers());
                    d["metadata"]["labels"] = json!({"app": "web"});
                    d
                },
            ),
            (
                "reordering follows $setElementOrder",
                json!({"spec": {"template": {"spec": {
                    "$setElementOrder/containers": [{"name": "b"}, {"name": "a"}]}}}}),
                deployment(json!([
                    {"name": "b", "image": "b:1"},
                    {"name": "a", "image": "a:1", "ports": [{"containerPort": 80}, {"containerPort": 81}], "env": [{"name": "X", "value": "1"}]}
                ])),
            ),
            (
                "adding a container appends it and nested lists merge by their keys",
                json!({"spec": {"template": {"spec": {
                "$setElementOrder/containers": [{"name": "a"}, {"name": "b"}, {"name": "c"}],
                "containers": [
                    {"name": "a", "$setElementOrder/ports": [{"containerPort": 81}, {"containerPort": 80}], "ports": [{"containerPort": 81, "protocol": "UDP"}], "env": [{"name": "Y", "value": "2"}]},
                    {"name": "c", "image": "c:1"}
                ]}}}}),
                deployment(json!([
                    {"name": "a", "image": "a:1", "ports": [{"containerPort": 81, "protocol": "UDP"}, {"containerPort": 80}], "env": [{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}]},
                    {"name": "b", "image": "b:1"},
                    {"name": "c", "image": "c:1"}
                ])),
            ),
            (
                "$patch: replace on a list replaces it",
                json!({"spec": {"template": {"spec": {"containers": [{"name": "z", "image": "z"}, {"$patch": "replace"}]}}}}),
                deployment(json!([{"name": "z", "image": "z"}])),
            ),
            (
                "finalizers merge as a set and $deleteFromPrimitiveList removes values",
                json!({"metadata": {"finalizers": ["c", "a"], "$deleteFromPrimitiveList/finalizers": ["b"]}}),
                {
                    let mut d = deployment(two_containers());
                    d["metadata"]["finalizers"] = json!(["a", "c"]);
                    d
                },
            ),
            (
                "$patch: replace on a map replaces it",
                json!({"metadata": {"labels": {"$patch": "replace", "new": "x"}}}),
                {
                    let mut d = deployment(two_containers());
                    d["metadata"]["labels"] = json!({"new": "x"});
                    d
                },
            ),
            (
                "$patch: delete on a map empties it",
                json!({"metadata": {"labels": {"$patch": "delete"}}}),
                {
                    let mut d = deployment(two_containers());
                    d["metadata"]["labels"] = json!({});
                    d
                },
            ),
        ];
        for (name, patch, want) in cases {
            assert_eq!(apply(&original, patch), Ok(want), "{name}");
        }
    }

    #[test]
    fn volume_source_changes_clear_the_old_source_with_retain_keys() {
        let original = json!({"spec": {"template": {"spec": {"volumes": [
            {"name": "v", "emptyDir": {}},
            {"name": "w", "secret": {"secretName": "s"}}
        ]}}}});
        let patch = json!({"spec": {"template": {"spec": {
            "$setElementOrder/volumes": [{"name": "v"}, {"name": "w"}],
            "volumes": [{"$retainKeys": ["configMap", "name"], "configMap": {"name": "c"}, "name": "v"}]}}}});
        let want = json!({"spec": {"template": {"spec": {"volumes": [
            {"name": "v", "configMap": {"name": "c"}},
            {"name": "w", "secret": {"secretName": "s"}}
        ]}}}});
        assert_eq!(apply(&original, patch), Ok(want));
    }

    #[test]
    fn primitive_and_unkeyed_lists_are_replaced() {
        let original = json!({"spec": {"template": {"spec": {
            "containers": [{"name": "a", "args": ["x", "y"]}],
            "tolerations": [{"key": "k1"}]}}}});
        let patch = json!({"spec": {"template": {"spec": {
            "containers": [{"name": "a", "args": ["z"]}],
            "tolerations": [{"key": "k2"}]}}}});
        let want = json!({"spec": {"template": {"spec": {
            "containers": [{"name": "a", "args": ["z"]}],
            "tolerations": [{"key": "k2"}]}}}});
        assert_eq!(apply(&original, patch), Ok(want));
    }

    #[test]
    fn retain_keys_clears_the_keys_not_listed() {
        let original = json!({"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}});
        let patch = json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}});
        assert_eq!(
            apply(&original, patch),
            Ok(json!({"spec": {"strategy": {"type": "Recreate"}}}))
        );
        let mismatched =
            json!({"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": null}}});
        assert_eq!(apply(&original, mismatched), Err(422));
    }

    #[test]
    fn order_keeps_server_only_items_where_they_were() {
        let items = vec![json!("s1"), json!("a"), json!("s2"), json!("b")];
        let got = set_element_order(items, &[json!("b"), json!("a")], ListStrategy::Set);
        assert_eq!(got, vec![json!("s1"), json!("s2"), json!("b"), json!("a")]);
    }

    #[test]
    fn malformed_patches_are_rejected() {
        let original = deployment(two_containers());
        let cases = [
            (
                "missing merge key",
                json!({"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}}),
                400,
            ),
            (
                "scalar in a keyed list",
                json!({"spec": {"template": {"spec": {"containers": ["x"]}}}}),
                400,
            ),
            (
                "unknown directive",
                json!({"metadata": {"$patch": "explode"}}),
                400,
            ),
            (
                "bad retainKeys",
                json!({"metadata": {"$retainKeys": "x"}}),
                400,
            ),
            (
                "bad element order",
                json!({"spec": {"$setElementOrder/x": 1}}),
                400,
            ),
        ];
        for (name, patch, code) in cases {
            assert_eq!(apply(&original, patch), Err(code), "{name}");
        }
    }

    #[test]
    fn without_lists_to_merge_a_strategic_merge_patch_is_a_merge_patch() {
        use crate::patch::merge_patch::apply_merge_patch;
        use crate::patch::random_json::random_object;
        use rand::rngs::StdRng;
        use rand::SeedableRng;
        let meta = PatchMeta::for_kind("", "ConfigMap");
        for seed in 0..2000u64 {
            let mut rng = StdRng::seed_from_u64(seed);
            let target = random_object(&mut rng, 3);
            let patch = random_object(&mut rng, 3);
            let strategic = apply_strategic_merge_patch(&target, &patch, &meta).ok();
            let merge = apply_merge_patch(&target, &patch).ok();
            assert_eq!(strategic, merge, "seed {seed}: {target} + {patch}");
        }
    }
}
