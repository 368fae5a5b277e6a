//! Paths outside the resource tree: health, version, metrics and discovery.

use http::{Request, Response, StatusCode};
use serde_json::json;

use super::ApiServer;
use crate::discovery::AggregatedVersion;
use crate::negotiation::{bytes_response, json_response, Body, Output};
use crate::request_info::Target;
use crate::status::{ApiError, ApiResult};

/// The Kubernetes version this server implements (k8s-openapi's `v1_34`).
pub const KUBERNETES_MAJOR: &str = "1";
/// Minor version.
pub const KUBERNETES_MINOR: &str = "34";

pub(super) async fn handle<B>(
    api: &ApiServer,
    req: &Request<B>,
    path: &str,
) -> ApiResult<Response<Body>> {
    let path = path.trim_end_matches('/');
    if path == "/openapi" || path.starts_with("/openapi/") {
        return Ok(openapi(api, req).await);
    }
    match path {
        "/healthz" | "/livez" | "/readyz" => Ok(bytes_response(
            StatusCode::OK,
            "text/plain; charset=utf-8",
            b"ok".to_vec(),
        )),
        p if ["/healthz/", "/livez/", "/readyz/"]
            .iter()
            .any(|h| p.starts_with(h)) =>
        {
            Ok(bytes_response(
                StatusCode::OK,
                "text/plain; charset=utf-8",
                b"ok".to_vec(),
            ))
        }
        "/version" => Ok(json_response(StatusCode::OK, &version(), Output::Json)),
        "/metrics" => Ok(bytes_response(
            StatusCode::OK,
            "text/plain; version=0.0.4; charset=utf-8",
            api.metrics.render().into_bytes(),
        )),
        _ => Err(ApiError::no_such_path()),
    }
}

/// `/version`, as upstream's `version.Info`.
fn version() -> serde_json::Value {
    json!({
        "major": KUBERNETES_MAJOR,
        "minor": KUBERNETES_MINOR,
        "emulationMajor": KUBERNETES_MAJOR,
        "emulationMinor": KUBERNETES_MINOR,
        "minCompatibilityMajor": KUBERNETES_MAJOR,
        "minCompatibilityMinor": "33",
        "gitVersion": format!("v{KUBERNETES_MAJOR}.{KUBERNETES_MINOR}.0+rkube"),
        "gitCommit": "rkube",
        "gitTreeState": "clean",
        "buildDate": "1970-01-01T00:00:00Z",
        "goVersion": "rust",
        "compiler": "rustc",
        "platform": format!("{}/{}", std::env::consts::OS, match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            other => other,
        }),
    })
}

pub(super) fn discovery<B>(
    api: &ApiServer,
    req: &Request<B>,
    target: &Target,
) -> ApiResult<Response<Body>> {
    let accept = req
        .headers()
        .get(http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let d = &api.discovery;
    let aggregated = AggregatedVersion::from_accept(accept);
    let body = match (target, aggregated) {
        (Target::CoreVersions, Some(v)) | (Target::Groups, Some(v)) => {
            let doc = d.aggregated(matches!(target, Target::CoreVersions), v);
            let mut bytes = serde_json::to_vec(&doc).unwrap_or_default();
            bytes.push(b'\n');
            let mut response = bytes_response(StatusCode::OK, &v.content_type(), bytes);
            response
                .headers_mut()
                .insert(http::header::VARY, http::HeaderValue::from_static("Accept"));
            return Ok(response);
        }
        (Target::CoreVersions, None) => d.core_versions.clone(),
        (Target::Groups, None) => d.groups.clone(),
        (Target::Group(g), _) => d.group(g).cloned().ok_or_else(ApiError::no_such_path)?,
        (Target::GroupVersion { group, version }, _) => d
            .resource_list(group, version)
            .cloned()
            .ok_or_else(ApiError::no_such_path)?,
        _ => return Err(ApiError::no_such_path()),
    };
    Ok(json_response(StatusCode::OK, &body, Output::Json))
}

/// `/openapi/v2`, `/openapi/v3[/…]`: the OpenAPI module's routes (GETs,
/// so the body is not needed).
async fn openapi<B>(api: &ApiServer, req: &Request<B>) -> Response<Body> {
    use tower::ServiceExt;
    let mut forwarded = Request::new(Body::empty());
    *forwarded.method_mut() = req.method().clone();
    *forwarded.uri_mut() = req.uri().clone();
    *forwarded.headers_mut() = req.headers().clone();
    match api.openapi_routes.clone().oneshot(forwarded).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}
