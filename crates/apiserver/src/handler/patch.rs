//! PATCH by content type (upstream `handlers/patch.go`): JSON patch, merge
//! patch and strategic merge patch are applied to the live object inside
//! the registry's read-modify-write loop; server-side apply merges the
//! applied configuration with field ownership and creates the object when
//! it does not exist yet.

use http::{Response, StatusCode};
use rkube_api::patch::{
    apply_patch, parse_apply_body, server_side_apply, ApplyRequest, FieldScope, Force, PatchError,
    PatchMeta, PatchType,
};
use rkube_api::WriteScope;
use serde_json::Value;

use super::field_validation::{self, FieldValidation};
use super::resource::{object_response, Call};
use crate::negotiation::{json_response, Body, Output};
use crate::registry::{meta, ObjectRef, WriteOptions};
use crate::status::{ApiError, ApiResult, Cause, Details, Reason};

/// A patch failure as upstream answers it.
fn patch_error(def: &rkube_api::ResourceDef, name: &str, error: PatchError) -> ApiError {
    match error {
        PatchError::Conflicts(conflicts) => {
            let message = PatchError::Conflicts(conflicts.clone()).to_string();
            ApiError::new(Reason::Conflict, message).with_details(Details {
                causes: conflicts
                    .iter()
                    .map(|c| Cause {
                        reason: "FieldManagerConflict".into(),
                        message: format!("conflict with {}", c.manager),
                        field: c.path.to_string(),
                    })
                    .collect(),
                ..Details::default()
            })
        }
        PatchError::Malformed(m) => ApiError::bad_request(m),
        PatchError::CannotApply(m) => ApiError::new(Reason::Invalid, m).with_details(Details {
            name: name.to_string(),
            group: def.group.clone(),
            kind: def.kind.clone(),
            ..Details::default()
        }),
        e @ PatchError::TooManyOperations { .. } => {
            ApiError::new(Reason::RequestEntityTooLarge, e.to_string())
        }
        e @ PatchError::UnsupportedMediaType(_) => {
            ApiError::new(Reason::UnsupportedMediaType, e.to_string())
        }
    }
}

fn param<'a>(call: &'a Call<'_>, name: &str) -> Option<&'a str> {
    call.query
        .iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// A patch whose result carries another resourceVersion than the live
/// object pins it (upstream: a precondition, 409 when stale).
fn check_pinned(obj_ref: &ObjectRef<'_>, current: &Value, patched: &Value) -> ApiResult<()> {
    let pinned = meta::meta_str(patched, "resourceVersion");
    if !pinned.is_empty() && pinned != meta::meta_str(current, "resourceVersion") {
        return Err(ApiError::conflict(
            obj_ref.def,
            obj_ref.name,
            ApiError::MODIFIED,
        ));
    }
    Ok(())
}

pub(super) async fn patch(
    call: &Call<'_>,
    obj_ref: &ObjectRef<'_>,
    scope: WriteScope,
    content_type: &str,
    body: &[u8],
    opts: WriteOptions,
) -> ApiResult<Response<Body>> {
    let def = obj_ref.def;
    let patch_type = PatchType::from_content_type(content_type)
        .map_err(|e| patch_error(def, obj_ref.name, e))?;
    let patch_meta = PatchMeta::for_kind(&def.group, &def.kind);
    if patch_type == PatchType::Apply {
        return apply(call, obj_ref, scope, body, &patch_meta, opts).await;
    }
    let mode = FieldValidation::from_query(call.query)?;
    let docs = field_validation::documents(&call.api.openapi).await?;
    let raw_json = (patch_type != PatchType::Json).then_some(body);
    let mut warnings = Vec::new();
    let updated = call
        .api
        .registry
        .guaranteed_update(obj_ref, scope, &opts, |current| {
            let patched = apply_patch(patch_type, current, body, &patch_meta)
                .map_err(|e| patch_error(def, obj_ref.name, e))?;
            check_pinned(obj_ref, current, &patched)?;
            warnings = field_validation::problems(&docs, def, raw_json, &patched, mode)?;
            Ok(patched)
        })
        .await?;
    let mut response = object_response(call, StatusCode::OK, updated);
    field_validation::add_warnings(&mut response, &warnings);
    Ok(response)
}

/// Server-side apply.
async fn apply(
    call: &Call<'_>,
    obj_ref: &ObjectRef<'_>,
    scope: WriteScope,
    body: &[u8],
    patch_meta: &PatchMeta,
    opts: WriteOptions,
) -> ApiResult<Response<Body>> {
    let def = obj_ref.def;
    let config = parse_apply_body(body).map_err(|e| patch_error(def, obj_ref.name, e))?;
    let Some(manager) = param(call, "fieldManager").filter(|m| !m.is_empty()) else {
        return Err(ApiError::new(
            Reason::Invalid,
            "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
        )
        .with_details(Details {
            group: "meta.k8s.io".into(),
            kind: "PatchOptions".into(),
            causes: vec![Cause {
                reason: "FieldValueRequired".into(),
                message: "Required value: is required for apply patch".into(),
                field: "fieldManager".into(),
            }],
            ..Details::default()
        }));
    };
    let force = match param(call, "force") {
        Some("true") => Force::TakeOwnership,
        _ => Force::RespectOwners,
    };
    let api_version = def.api_version();
    let time = meta::now();
    let request = ApplyRequest {
        manager,
        api_version: &api_version,
        time: &time,
        force,
        scope: match scope {
            WriteScope::Main => FieldScope::Main,
            WriteScope::Status => FieldScope::Status,
        },
        meta: patch_meta,
    };
    // Ownership is recorded by the apply itself, not as an update.
    let opts = WriteOptions {
        field_manager: None,
        ..opts
    };
    match call.api.registry.get(obj_ref).await {
        Err(e) if e.reason == Reason::NotFound && scope == WriteScope::Main => {
            let mut created = server_side_apply(None, &config, &request)
                .map_err(|e| patch_error(def, obj_ref.name, e))?;
            meta::set_meta_str(&mut created, "name", obj_ref.name);
            let created = call
                .api
                .registry
                .create(def, obj_ref.namespace, created, &opts)
                .await?;
            Ok(object_response(call, StatusCode::CREATED, created))
        }
        Err(e) => Err(e),
        Ok(_) => {
            let updated = call
                .api
                .registry
                .guaranteed_update(obj_ref, scope, &opts, |current| {
                    let applied = server_side_apply(Some(current), &config, &request)
                        .map_err(|e| patch_error(def, obj_ref.name, e))?;
                    check_pinned(obj_ref, current, &applied)?;
                    Ok(applied)
                })
                .await?;
            Ok(object_response(call, StatusCode::OK, updated))
        }
    }
}

/// PATCH `…/scale`: the patch applies to the Scale view.
pub(super) async fn patch_scale(
    call: &Call<'_>,
    obj_ref: &ObjectRef<'_>,
    content_type: &str,
    body: &[u8],
    opts: WriteOptions,
) -> ApiResult<Response<Body>> {
    let def = obj_ref.def;
    let patch_type = PatchType::from_content_type(content_type)
        .map_err(|e| patch_error(def, obj_ref.name, e))?;
    let scale = call.api.registry.get_scale(obj_ref).await?;
    let scale_meta = PatchMeta::for_kind("autoscaling", "Scale");
    let patched = match patch_type {
        PatchType::Apply => {
            let config = parse_apply_body(body).map_err(|e| patch_error(def, obj_ref.name, e))?;
            rkube_api::patch::apply_merge_patch(&scale, &config)
                .map_err(|e| patch_error(def, obj_ref.name, e))?
        }
        other => apply_patch(other, &scale, body, &scale_meta)
            .map_err(|e| patch_error(def, obj_ref.name, e))?,
    };
    let updated = call
        .api
        .registry
        .update_scale(obj_ref, &patched, &opts)
        .await?;
    Ok(json_response(StatusCode::OK, &updated, Output::Json))
}
