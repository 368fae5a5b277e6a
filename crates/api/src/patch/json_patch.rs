//! JSON patch (RFC 6902): add, remove, replace, move, copy and test, with
//! JSON pointers (`~0`/`~1` escapes, array indexes and `-`). The operations
//! themselves come from the `json-patch` crate; this file fixes upstream's
//! limits and error classes (`handlers/patch.go` `applyJSPatch`).

use serde_json::Value;

use crate::patch::error::{PatchError, Result};

/// Upstream's cap on operations per JSON patch (`maxJSONPatchOperations`).
const MAX_OPERATIONS: usize = 10_000;

/// Applies a JSON patch body to `target`. A body that is not a list of
/// operations is 400; an operation that fails (a `test` mismatch, a missing
/// path) is 422 and leaves nothing half-applied.
pub fn apply_json_patch(target: &Value, body: &[u8]) -> Result<Value> {
    let patch: json_patch::Patch =
        serde_json::from_slice(body).map_err(|e| PatchError::Malformed(e.to_string()))?;
    if patch.0.len() > MAX_OPERATIONS {
        return Err(PatchError::TooManyOperations {
            max: MAX_OPERATIONS,
            got: patch.0.len(),
        });
    }
    let mut doc = target.clone();
    json_patch::patch(&mut doc, &patch).map_err(|e| PatchError::CannotApply(e.to_string()))?;
    Ok(doc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn operations_apply_per_rfc_6902() {
        let doc = json!({"a/b": 1, "m~n": 2, "list": ["x", "y"], "obj": {"k": "v"}});
        let cases: &[(&str, std::result::Result<Value, u16>)] = &[
            (
                r#"[{"op":"add","path":"/list/-","value":"z"}]"#,
                Ok(json!({"a/b": 1, "m~n": 2, "list": ["x", "y", "z"], "obj": {"k": "v"}})),
            ),
            (
                r#"[{"op":"add","path":"/list/0","value":"w"}]"#,
                Ok(json!({"a/b": 1, "m~n": 2, "list": ["w", "x", "y"], "obj": {"k": "v"}})),
            ),
            (
                r#"[{"op":"remove","path":"/a~1b"},{"op":"replace","path":"/m~0n","value":3}]"#,
                Ok(json!({"m~n": 3, "list": ["x", "y"], "obj": {"k": "v"}})),
            ),
            (
                r#"[{"op":"move","from":"/obj/k","path":"/moved"}]"#,
                Ok(json!({"a/b": 1, "m~n": 2, "list": ["x", "y"], "obj": {}, "moved": "v"})),
            ),
            (
                r#"[{"op":"copy","from":"/list/1","path":"/obj/c"}]"#,
                Ok(json!({"a/b": 1, "m~n": 2, "list": ["x", "y"], "obj": {"k": "v", "c": "y"}})),
            ),
            (
                r#"[{"op":"test","path":"/obj/k","value":"v"}]"#,
                Ok(doc.clone()),
            ),
            (
                r#"[{"op":"test","path":"/obj/k","value":"other"}]"#,
                Err(422),
            ),
            (r#"[{"op":"remove","path":"/missing"}]"#, Err(422)),
            (r#"[{"op":"add","path":"/list/9","value":1}]"#, Err(422)),
            (r#"[{"op":"frobnicate","path":"/a"}]"#, Err(400)),
            (r#"{"op":"add"}"#, Err(400)),
            (r#"not json"#, Err(400)),
        ];
        for (body, want) in cases {
            let got = apply_json_patch(&doc, body.as_bytes()).map_err(|e| e.code());
            assert_eq!(&got, want, "{body}");
        }
    }

    #[test]
    fn a_failing_operation_leaves_the_target_untouched() {
        let doc = json!({"a": 1});
        let body =
            br#"[{"op":"replace","path":"/a","value":2},{"op":"test","path":"/a","value":1}]"#;
        assert_eq!(apply_json_patch(&doc, body).map_err(|e| e.code()), Err(422));
        assert_eq!(doc, json!({"a": 1}));
    }

    #[test]
    fn more_operations_than_upstream_allows_are_rejected() {
        let ops: Vec<Value> = (0..=MAX_OPERATIONS)
            .map(|_| json!({"op": "test", "path": "/a", "value": 1}))
            .collect();
        let body = serde_json::to_vec(&ops).unwrap_or_default();
        assert_eq!(
            apply_json_patch(&json!({"a": 1}), &body).map_err(|e| e.code()),
            Err(413)
        );
    }
}
