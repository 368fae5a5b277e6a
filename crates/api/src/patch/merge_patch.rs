//! JSON merge patch (RFC 7386): objects merge key by key, `null` deletes,
//! anything else (lists included) replaces. Also the inverse,
//! [`create_merge_patch`], which computes the patch between two documents.

use serde_json::{Map, Value};

use crate::patch::error::{PatchError, Result};

/// Applies a merge patch to `target`. The patch must be an object (upstream
/// rejects other bodies with 400 before merging).
pub fn apply_merge_patch(target: &Value, patch: &Value) -> Result<Value> {
    if !patch.is_object() {
        return Err(PatchError::Malformed(
            "merge patch must be a JSON object".to_string(),
        ));
    }
    Ok(merge(target.clone(), patch))
}

/// RFC 7386 section 2, `MergePatch(Target, Patch)`.
fn merge(target: Value, patch: &Value) -> Value {
    let Value::Object(patch) = patch else {
        return patch.clone();
    };
    let mut target = match target {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    for (key, value) in patch {
        if value.is_null() {
            target.shift_remove(key);
        } else {
            let current = target.shift_remove_entry(key);
            let merged = merge(current.map(|(_, v)| v).unwrap_or(Value::Null), value);
            target.insert(key.clone(), merged);
        }
    }
    Value::Object(target)
}

/// The merge patch that turns `original` into `modified`: changed keys with
/// their new values, removed keys as `null`. Values `null` inside `modified`
/// cannot be expressed (RFC 7386 section 5) and come out as deletions.
pub fn create_merge_patch(original: &Value, modified: &Value) -> Value {
    match (original, modified) {
        (Value::Object(original), Value::Object(modified)) => {
            let mut patch = Map::new();
            for key in original.keys().filter(|k| !modified.contains_key(*k)) {
                patch.insert(key.clone(), Value::Null);
            }
            for (key, new) in modified {
                match original.get(key) {
                    Some(old) if old == new => {}
                    Some(old) if old.is_object() && new.is_object() => {
                        patch.insert(key.clone(), create_merge_patch(old, new));
                    }
                    _ => {
                        patch.insert(key.clone(), new.clone());
                    }
                }
            }
            Value::Object(patch)
        }
        _ => modified.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patch::random_json::random_object;
    use rand::rngs::StdRng;
    use rand::SeedableRng;
    use serde_json::json;

    #[test]
    fn rfc_7386_appendix_a_examples_hold() {
        let cases = [
            (json!({"a": "b"}), json!({"a": "c"}), json!({"a": "c"})),
            (
                json!({"a": "b"}),
                json!({"b": "c"}),
                json!({"a": "b", "b": "c"}),
            ),
            (json!({"a": "b"}), json!({"a": null}), json!({})),
            (
                json!({"a": "b", "b": "c"}),
                json!({"a": null}),
                json!({"b": "c"}),
            ),
            (json!({"a": ["b"]}), json!({"a": "c"}), json!({"a": "c"})),
            (json!({"a": "c"}), json!({"a": ["b"]}), json!({"a": ["b"]})),
            (
                json!({"a": {"b": "c"}}),
                json!({"a": {"b": "d", "c": null}}),
                json!({"a": {"b": "d"}}),
            ),
            (
                json!({"a": [{"b": "c"}]}),
                json!({"a": [1]}),
                json!({"a": [1]}),
            ),
            (
                json!({"e": null}),
                json!({"a": 1}),
                json!({"e": null, "a": 1}),
            ),
            (
                json!([1, 2]),
                json!({"a": "b", "c": null}),
                json!({"a": "b"}),
            ),
            (
                json!({}),
                json!({"a": {"bb": {"ccc": null}}}),
                json!({"a": {"bb": {}}}),
            ),
        ];
        for (target, patch, want) in cases {
            let got = apply_merge_patch(&target, &patch).ok();
            assert_eq!(got, Some(want), "{target} + {patch}");
        }
    }

    #[test]
    fn key_order_of_the_target_is_kept() {
        let got = apply_merge_patch(
            &json!({"a": 1, "b": 2, "c": 3}),
            &json!({"a": 9, "b": null}),
        )
        .ok()
        .and_then(|v| v.as_object().map(|m| m.keys().cloned().collect::<Vec<_>>()));
        assert_eq!(got, Some(vec!["c".to_string(), "a".to_string()]));
    }

    #[test]
    fn the_merge_patch_of_a_diff_restores_the_target() {
        for seed in 0..2000u64 {
            let mut rng = StdRng::seed_from_u64(seed);
            let original = random_object(&mut rng, 3);
            let modified = random_object(&mut rng, 3);
            let patch = create_merge_patch(&original, &modified);
            let got = apply_merge_patch(&original, &patch).ok();
            assert_eq!(
                got,
                Some(modified.clone()),
                "seed {seed}: {original} -> {modified} via {patch}"
            );
        }
    }

    #[test]
    fn applying_a_merge_patch_twice_changes_nothing_more() {
        for seed in 0..2000u64 {
            let mut rng = StdRng::seed_from_u64(seed);
            let target = random_object(&mut rng, 3);
            let patch = random_object(&mut rng, 3);
            let once = apply_merge_patch(&target, &patch).ok();
            let twice = once
                .as_ref()
                .and_then(|v| apply_merge_patch(v, &patch).ok());
            assert_eq!(once, twice, "seed {seed}");
        }
    }
}
