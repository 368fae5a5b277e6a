//! Patching objects: JSON patch (RFC 6902), JSON merge patch (RFC 7386),
//! strategic merge patch and server-side apply with managed fields.
//!
//! Pure functions from (live object, patch body) to the patched object; the
//! apiserver reads and writes the store around them. Errors carry the HTTP
//! status upstream answers with ([`PatchError::code`]); upstream's dispatch is
//! `staging/src/k8s.io/apiserver/pkg/endpoints/handlers/patch.go`.

mod error;
mod field_path;
mod field_set;
mod json_patch;
mod managed_fields;
mod merge_patch;
mod patch_meta;
#[cfg(test)]
mod random_json;
mod server_side_apply;
mod strategic_merge;

pub use error::{Conflict, PatchError, Result};
pub use field_path::{FieldPath, PathElement};
pub use field_set::FieldSet;
pub use json_patch::apply_json_patch;
pub use managed_fields::{track_update, ManagedFieldsEntry, Operation, UpdateRequest};
pub use merge_patch::{apply_merge_patch, create_merge_patch};
pub use patch_meta::{ListStrategy, PatchMeta};
pub use server_side_apply::{server_side_apply, ApplyRequest, FieldScope, Force};
pub use strategic_merge::apply_strategic_merge_patch;

use serde_json::Value;

/// The patch formats, one per request `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    /// `application/json-patch+json`
    Json,
    /// `application/merge-patch+json`
    Merge,
    /// `application/strategic-merge-patch+json`
    StrategicMerge,
    /// `application/apply-patch+yaml` (server-side apply)
    Apply,
}

impl PatchType {
    /// Every patch type, in the order upstream lists them in discovery
    /// and OpenAPI `consumes`.
    pub const ALL: [PatchType; 4] = [
        PatchType::Json,
        PatchType::Merge,
        PatchType::StrategicMerge,
        PatchType::Apply,
    ];

    /// The patch type of a `Content-Type` header value (parameters such as
    /// `; charset=utf-8` are ignored).
    pub fn from_content_type(content_type: &str) -> Result<Self> {
        let media = content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        PatchType::ALL
            .into_iter()
            .find(|t| t.content_type() == media)
            .ok_or_else(|| PatchError::UnsupportedMediaType(content_type.to_string()))
    }

    /// The media type, e.g. `application/merge-patch+json`.
    pub fn content_type(self) -> &'static str {
        match self {
            PatchType::Json => "application/json-patch+json",
            PatchType::Merge => "application/merge-patch+json",
            PatchType::StrategicMerge => "application/strategic-merge-patch+json",
            PatchType::Apply => "application/apply-patch+yaml",
        }
    }
}

/// Applies a JSON, merge or strategic merge patch body to `live`. Server-side
/// apply needs the field manager and goes through [`server_side_apply`];
/// passing [`PatchType::Apply`] here is an error.
pub fn apply_patch(
    patch_type: PatchType,
    live: &Value,
    body: &[u8],
    meta: &PatchMeta,
) -> Result<Value> {
    match patch_type {
        PatchType::Json => apply_json_patch(live, body),
        PatchType::Merge => apply_merge_patch(live, &parse_json_object(body)?),
        PatchType::StrategicMerge => {
            apply_strategic_merge_patch(live, &parse_json_object(body)?, meta)
        }
        PatchType::Apply => Err(PatchError::UnsupportedMediaType(
            PatchType::Apply.content_type().to_string(),
        )),
    }
}

/// Parses a merge or strategic merge patch body, which must be a JSON object
/// (upstream answers 400 otherwise).
fn parse_json_object(body: &[u8]) -> Result<Value> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| PatchError::Malformed(e.to_string()))?;
    if value.is_object() {
        Ok(value)
    } else {
        Err(PatchError::Malformed(
            "patch body must be a JSON object".to_string(),
        ))
    }
}

/// Parses a server-side apply body: YAML (JSON is YAML too) holding one object.
pub fn parse_apply_body(body: &[u8]) -> Result<Value> {
    let value: Value =
        serde_yaml::from_slice(body).map_err(|e| PatchError::Malformed(e.to_string()))?;
    if value.is_object() {
        Ok(value)
    } else {
        Err(PatchError::Malformed(
            "apply patch body must be a YAML or JSON object".to_string(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn content_types_map_to_patch_types() {
        let cases = [
            ("application/json-patch+json", Some(PatchType::Json)),
            (
                "application/merge-patch+json; charset=utf-8",
                Some(PatchType::Merge),
            ),
            (
                "application/strategic-merge-patch+json",
                Some(PatchType::StrategicMerge),
            ),
            ("application/apply-patch+yaml", Some(PatchType::Apply)),
            ("application/json", None),
            ("", None),
        ];
        for (header, want) in cases {
            assert_eq!(PatchType::from_content_type(header).ok(), want, "{header}");
        }
    }

    #[test]
    fn dispatch_applies_each_patch_type_and_rejects_bad_bodies() {
        let live = json!({"metadata": {"name": "a", "labels": {"x": "1"}}});
        let meta = PatchMeta::for_kind("", "ConfigMap");
        let cases: &[(PatchType, &str, std::result::Result<Value, u16>)] = &[
            (
                PatchType::Json,
                r#"[{"op":"add","path":"/metadata/labels/y","value":"2"}]"#,
                Ok(json!({"metadata": {"name": "a", "labels": {"x": "1", "y": "2"}}})),
            ),
            (
                PatchType::Merge,
                r#"{"metadata":{"labels":{"x":null}}}"#,
                Ok(json!({"metadata": {"name": "a", "labels": {}}})),
            ),
            (
                PatchType::StrategicMerge,
                r#"{"metadata":{"labels":{"x":"3"}}}"#,
                Ok(json!({"metadata": {"name": "a", "labels": {"x": "3"}}})),
            ),
            (PatchType::Merge, r#"[1]"#, Err(400)),
            (PatchType::StrategicMerge, r#"{"#, Err(400)),
            (PatchType::Json, r#"{}"#, Err(400)),
            (PatchType::Apply, r#"{}"#, Err(415)),
        ];
        for (patch_type, body, want) in cases {
            let got = apply_patch(*patch_type, &live, body.as_bytes(), &meta).map_err(|e| e.code());
            assert_eq!(&got, want, "{patch_type:?} {body}");
        }
    }

    #[test]
    fn apply_bodies_parse_from_yaml_and_json() {
        let yaml = b"apiVersion: v1\nkind: ConfigMap\ndata:\n  a: \"1\"\n";
        assert_eq!(
            parse_apply_body(yaml).ok(),
            Some(json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "1"}}))
        );
        assert_eq!(
            parse_apply_body(br#"{"kind":"ConfigMap"}"#).ok(),
            Some(json!({"kind": "ConfigMap"}))
        );
        assert_eq!(parse_apply_body(b"- a\n").map_err(|e| e.code()), Err(400));
        assert_eq!(parse_apply_body(b"a: [").map_err(|e| e.code()), Err(400));
    }
}
