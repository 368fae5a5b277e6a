//! Thin axum handlers over the cached documents, with upstream's caching
//! headers: a v3 document asked for by its current `?hash=` is immutable;
//! an outdated hash redirects to the current URL (kube-openapi
//! `handler3.HandleGroupVersion`).

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::json;

use crate::openapi::{OpenApi, SharedOpenApi};

/// The documents, built off the async runtime if this is their first use.
async fn documents(docs: SharedOpenApi) -> Option<std::sync::Arc<OpenApi>> {
    tokio::task::spawn_blocking(move || docs.current())
        .await
        .ok()
}

/// The routes `/openapi/v2`, `/openapi/v3` and `/openapi/v3/{*group_version}`,
/// ready to merge into any router.
pub fn router<S: Clone + Send + Sync + 'static>(docs: SharedOpenApi) -> Router<S> {
    Router::new()
        .route("/openapi/v2", get(serve_v2))
        .route("/openapi/v3", get(serve_v3_index))
        .route("/openapi/v3/{*group_version}", get(serve_v3_group_version))
        .with_state(docs)
}

/// The query of a v3 document request.
#[derive(Debug, Deserialize)]
pub struct HashQuery {
    hash: Option<String>,
}

/// `GET /openapi/v2`
pub async fn serve_v2(State(docs): State<SharedOpenApi>, headers: HeaderMap) -> Response {
    if !accepts_json(&headers) {
        return not_acceptable();
    }
    let Some(docs) = documents(docs).await else {
        return unavailable();
    };
    json_response(docs.v2().clone(), docs.v2_hash(), Caching::Revalidate)
}

/// `GET /openapi/v3`
pub async fn serve_v3_index(State(docs): State<SharedOpenApi>, headers: HeaderMap) -> Response {
    if !accepts_json(&headers) {
        return not_acceptable();
    }
    let Some(docs) = documents(docs).await else {
        return unavailable();
    };
    let index = docs.v3_index().clone();
    let etag = super::content_hash(&index);
    json_response(index, &etag, Caching::Revalidate)
}

/// `GET /openapi/v3/api/v1`, `GET /openapi/v3/apis/<group>/<version>`
pub async fn serve_v3_group_version(
    State(docs): State<SharedOpenApi>,
    Path(group_version): Path<String>,
    Query(query): Query<HashQuery>,
    headers: HeaderMap,
) -> Response {
    if !accepts_json(&headers) {
        return not_acceptable();
    }
    let Some(docs) = documents(docs).await else {
        return unavailable();
    };
    let key = group_version.trim_matches('/');
    let Some(document) = docs.v3_group_version(key) else {
        return status(
            StatusCode::NOT_FOUND,
            "NotFound",
            "the server could not find the requested resource",
        );
    };
    match query.hash {
        Some(hash) if hash == document.hash => {
            json_response(document.body.clone(), &document.hash, Caching::Immutable)
        }
        Some(_) => {
            let location = format!("/openapi/v3/{key}?hash={}", document.hash);
            let mut response = StatusCode::MOVED_PERMANENTLY.into_response();
            if let Ok(value) = HeaderValue::from_str(&location) {
                response.headers_mut().insert(header::LOCATION, value);
            }
            response.headers_mut().insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("no-cache, private"),
            );
            response
        }
        None => json_response(document.body.clone(), &document.hash, Caching::Revalidate),
    }
}

/// How long clients may keep a document.
enum Caching {
    /// Addressed by content hash: never changes.
    Immutable,
    /// Ask again each time.
    Revalidate,
}

fn json_response(body: Bytes, etag: &str, caching: Caching) -> Response {
    let cache_control = match caching {
        Caching::Immutable => "public, immutable",
        Caching::Revalidate => "no-cache, private",
    };
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(cache_control),
    );
    if let Ok(value) = HeaderValue::from_str(&format!("\"{etag}\"")) {
        headers.insert(header::ETAG, value);
    }
    response
}

/// Whether the `Accept` header allows JSON (no header allows anything).
/// Protobuf-only clients (client-go asks `/openapi/v2` for
/// `application/com.github.proto-openapi.spec.v2@v1.0+protobuf`) get 406.
fn accepts_json(headers: &HeaderMap) -> bool {
    let accept: Vec<&str> = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|v| v.split(';').next().unwrap_or_default().trim())
        .collect();
    accept.is_empty()
        || accept
            .iter()
            .any(|t| matches!(*t, "application/json" | "application/*" | "*/*" | ""))
}

/// The build task died (it panicked): answer like upstream's internal errors.
fn unavailable() -> Response {
    status(
        StatusCode::INTERNAL_SERVER_ERROR,
        "InternalError",
        "the OpenAPI documents could not be built",
    )
}

fn not_acceptable() -> Response {
    status(
        StatusCode::NOT_ACCEPTABLE,
        "NotAcceptable",
        "only the following media types are accepted: application/json",
    )
}

/// A `Status` body like upstream's error responses.
fn status(code: StatusCode, reason: &str, message: &str) -> Response {
    let body = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code.as_u16()
    });
    let mut bytes = serde_json::to_vec(&body).unwrap_or_default();
    bytes.push(b'\n');
    let mut response = (code, bytes).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt;
    use rkube_api::Catalog;
    use tower::ServiceExt;

    async fn get(uri: &str, accept: Option<&str>) -> (StatusCode, HeaderMap, Bytes) {
        let app: Router = router(SharedOpenApi::new(Catalog::builtin()));
        let mut request = Request::builder().uri(uri);
        if let Some(accept) = accept {
            request = request.header(header::ACCEPT, accept);
        }
        let Ok(request) = request.body(Body::empty()) else {
            panic!("request for {uri}");
        };
        let Ok(response) = app.oneshot(request).await;
        let (parts, body) = response.into_parts();
        let bytes = body
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        (parts.status, parts.headers, bytes)
    }

    #[tokio::test]
    async fn documents_are_served_with_caching_headers() {
        let (code, _, index) = get("/openapi/v3", Some("application/json")).await;
        assert_eq!(code, StatusCode::OK);
        let index: serde_json::Value = serde_json::from_slice(&index).unwrap_or_default();
        let url = index
            .pointer("/paths/apis~1apps~1v1/serverRelativeURL")
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string();
        assert!(url.starts_with("/openapi/v3/apis/apps/v1?hash="), "{url}");

        let (code, headers, body) = get(&url, Some("application/json")).await;
        assert_eq!(code, StatusCode::OK);
        assert_eq!(
            headers
                .get(header::CACHE_CONTROL)
                .and_then(|v| v.to_str().ok()),
            Some("public, immutable")
        );
        let document: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        assert!(document
            .pointer("/components/schemas/io.k8s.api.apps.v1.Deployment")
            .is_some());

        let (code, headers, _) = get("/openapi/v3/apis/apps/v1?hash=stale", None).await;
        assert_eq!(code, StatusCode::MOVED_PERMANENTLY);
        assert_eq!(
            headers.get(header::LOCATION).and_then(|v| v.to_str().ok()),
            Some(url.as_str())
        );

        let (code, headers, _) = get("/openapi/v3/api/v1", None).await;
        assert_eq!(code, StatusCode::OK);
        assert_eq!(
            headers
                .get(header::CACHE_CONTROL)
                .and_then(|v| v.to_str().ok()),
            Some("no-cache, private")
        );
    }

    #[tokio::test]
    async fn unknown_documents_and_media_types_get_status_errors() {
        let cases = [
            ("/openapi/v3/apis/nope/v1", None, StatusCode::NOT_FOUND),
            (
                "/openapi/v2",
                Some("application/com.github.proto-openapi.spec.v2@v1.0+protobuf"),
                StatusCode::NOT_ACCEPTABLE,
            ),
            ("/openapi/v2", Some("application/json, */*"), StatusCode::OK),
            ("/openapi/v2", None, StatusCode::OK),
            (
                "/openapi/v3",
                Some("application/com.github.proto-openapi.spec.v3@v1.0+protobuf"),
                StatusCode::NOT_ACCEPTABLE,
            ),
        ];
        for (uri, accept, want) in cases {
            let (code, _, body) = get(uri, accept).await;
            assert_eq!(code, want, "{uri} {accept:?}");
            if code != StatusCode::OK {
                let status: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                assert_eq!(status.get("code"), Some(&json!(code.as_u16())));
                assert!(body.ends_with(b"\n"));
            }
        }
    }
}
