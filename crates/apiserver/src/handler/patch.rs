//! PATCH of objects and of the scale subresource, by content type.

use http::{Response, StatusCode};
use rkube_api::WriteScope;

use super::resource::Call;
use crate::negotiation::Body;
use crate::registry::ObjectRef;
use crate::status::{ApiError, ApiResult, Reason};

pub(super) async fn patch(
    call: &Call<'_>,
    obj_ref: &ObjectRef<'_>,
    scope: WriteScope,
    content_type: &str,
    body: &[u8],
) -> ApiResult<Response<Body>> {
    let _ = (call, obj_ref, scope, body);
    Err(ApiError::new(
        Reason::UnsupportedMediaType,
        format!("patch type {content_type} is not supported yet"),
    ))
}

pub(super) async fn patch_scale(
    call: &Call<'_>,
    obj_ref: &ObjectRef<'_>,
    content_type: &str,
    body: &[u8],
) -> ApiResult<Response<Body>> {
    let _ = StatusCode::OK;
    patch(call, obj_ref, WriteScope::Main, content_type, body).await
}
