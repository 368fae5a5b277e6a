//! Answering the OpenAPI paths, with upstream's caching headers: a v3
//! document asked for by its current `?hash=` is immutable; an outdated hash
//! redirects to the current URL (kube-openapi `handler3.HandleGroupVersion`).
//! [`respond`] is the framework-free core; [`serve`] and [`router`] wrap it
//! for hyper-style and axum servers.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use std::future::Future;

use bytes::Bytes;
use serde_json::json;

use crate::openapi::{content_hash, OpenApi, SharedOpenApi};

/// The routes `/openapi/v2`, `/openapi/v3` and `/openapi/v3/{*group_version}`,
/// ready to merge into any axum router.
pub fn router<S: Clone + Send + Sync + 'static>(docs: SharedOpenApi) -> Router<S> {
    Router::new()
        .route("/openapi/v2", get(serve_axum))
        .route("/openapi/v3", get(serve_axum))
        .route("/openapi/v3/{*group_version}", get(serve_axum))
        .with_state(docs)
}

async fn serve_axum(State(docs): State<SharedOpenApi>, request: Request) -> Response {
    match serve(&docs, &request).await {
        Some(response) => response.map(axum::body::Body::from),
        None => not_found().map(axum::body::Body::from),
    }
}

/// Answers a request for an OpenAPI path, or `None` if the path is not one
/// (the caller routes it elsewhere). Builds the documents off the async
/// runtime if this is their first use.
pub fn serve<B>(
    docs: &SharedOpenApi,
    request: &http::Request<B>,
) -> impl Future<Output = Option<http::Response<Bytes>>> + Send + 'static {
    // Copy what the answer needs, so the future does not borrow the request.
    let path = request.uri().path().to_string();
    let query = request.uri().query().map(str::to_string);
    let headers = request.headers().clone();
    let shared = docs.clone();
    async move {
        if !is_openapi_path(&path) {
            return None;
        }
        match tokio::task::spawn_blocking(move || shared.current()).await {
            Ok(current) => respond(&current, &path, query.as_deref(), &headers),
            // The build panicked: answer like upstream's internal errors.
            Err(_) => Some(status(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                "the OpenAPI documents could not be built",
            )),
        }
    }
}

fn is_openapi_path(path: &str) -> bool {
    path == "/openapi/v2" || path == "/openapi/v3" || path.starts_with("/openapi/v3/")
}

/// Answers `GET <path>?<query>` from `docs`: `/openapi/v2`, `/openapi/v3`
/// or `/openapi/v3/<api/v1 | apis/<group>/<version>>`; `None` for other
/// paths.
pub fn respond(
    docs: &OpenApi,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
) -> Option<http::Response<Bytes>> {
    if !is_openapi_path(path) {
        return None;
    }
    let format = negotiate(headers, path == "/openapi/v2");
    Some(match (path, format) {
        (_, None) => not_acceptable(),
        ("/openapi/v2", Some(Format::Protobuf)) => with_headers(
            response(StatusCode::OK, docs.v2_protobuf().clone()),
            &[
                (header::CONTENT_TYPE, PROTOBUF_RESPONSE_TYPE),
                (header::CACHE_CONTROL, "no-cache, private"),
                (header::ETAG, &format!("\"{}\"", docs.v2_hash())),
            ],
        ),
        ("/openapi/v2", Some(Format::Json)) => {
            json_response(docs.v2().clone(), docs.v2_hash(), Caching::Revalidate)
        }
        ("/openapi/v3", _) => {
            let index = docs.v3_index().clone();
            let etag = content_hash(&index);
            json_response(index, &etag, Caching::Revalidate)
        }
        _ => {
            let key = path.trim_start_matches("/openapi/v3/").trim_matches('/');
            match docs.v3_group_version(key) {
                None => not_found(),
                Some(document) => match hash_param(query) {
                    Some(hash) if hash == document.hash => {
                        json_response(document.body.clone(), &document.hash, Caching::Immutable)
                    }
                    Some(_) => redirect(&format!("/openapi/v3/{key}?hash={}", document.hash)),
                    None => {
                        json_response(document.body.clone(), &document.hash, Caching::Revalidate)
                    }
                },
            }
        }
    })
}

/// The `hash` query parameter (hex, so no decoding is needed).
fn hash_param(query: Option<&str>) -> Option<&str> {
    query?
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(name, _)| *name == "hash")
        .map(|(_, value)| value)
}

/// How long clients may keep a document.
enum Caching {
    /// Addressed by content hash: never changes.
    Immutable,
    /// Ask again each time.
    Revalidate,
}

fn with_headers(
    mut response: http::Response<Bytes>,
    headers: &[(header::HeaderName, &str)],
) -> http::Response<Bytes> {
    for (name, value) in headers {
        if let Ok(value) = HeaderValue::from_str(value) {
            response.headers_mut().insert(name.clone(), value);
        }
    }
    response
}

fn response(code: StatusCode, body: Bytes) -> http::Response<Bytes> {
    let mut response = http::Response::new(body);
    *response.status_mut() = code;
    response
}

fn json_response(body: Bytes, etag: &str, caching: Caching) -> http::Response<Bytes> {
    let cache_control = match caching {
        Caching::Immutable => "public, immutable",
        Caching::Revalidate => "no-cache, private",
    };
    with_headers(
        response(StatusCode::OK, body),
        &[
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, cache_control),
            (header::ETAG, &format!("\"{etag}\"")),
        ],
    )
}

fn redirect(location: &str) -> http::Response<Bytes> {
    with_headers(
        response(StatusCode::MOVED_PERMANENTLY, Bytes::new()),
        &[
            (header::LOCATION, location),
            (header::CACHE_CONTROL, "no-cache, private"),
        ],
    )
}

/// The protobuf media types client-go asks `/openapi/v2` for (both
/// spellings kube-openapi accepts).
const PROTOBUF_TYPES: &[&str] = &[
    "application/com.github.proto-openapi.spec.v2@v1.0+protobuf",
    "application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
];

/// The content type kube-openapi answers protobuf requests with.
const PROTOBUF_RESPONSE_TYPE: &str = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

/// A response encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Protobuf,
}

/// The first encoding the `Accept` header allows (none: JSON); protobuf
/// only where offered (the v2 document). `None` when nothing fits.
fn negotiate(headers: &HeaderMap, protobuf_offered: bool) -> Option<Format> {
    let accept: Vec<&str> = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|v| v.split(';').next().unwrap_or_default().trim())
        .collect();
    if accept.is_empty() {
        return Some(Format::Json);
    }
    accept.iter().find_map(|media| match *media {
        "application/json" | "application/*" | "*/*" | "" => Some(Format::Json),
        m if protobuf_offered && PROTOBUF_TYPES.contains(&m) => Some(Format::Protobuf),
        _ => None,
    })
}

fn not_acceptable() -> http::Response<Bytes> {
    status(
        StatusCode::NOT_ACCEPTABLE,
        "NotAcceptable",
        "only the following media types are accepted: application/json",
    )
}

fn not_found() -> http::Response<Bytes> {
    status(
        StatusCode::NOT_FOUND,
        "NotFound",
        "the server could not find the requested resource",
    )
}

/// A `Status` body like upstream's error responses.
fn status(code: StatusCode, reason: &str, message: &str) -> http::Response<Bytes> {
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
    with_headers(
        response(code, Bytes::from(bytes)),
        &[(header::CONTENT_TYPE, "application/json")],
    )
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
    async fn v2_is_served_as_json_or_protobuf_as_accepted() {
        let protobuf = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf";
        let cases = [
            (
                Some(protobuf),
                "application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
            ),
            (Some("application/json"), "application/json"),
            (
                Some(
                    "application/json, application/com.github.proto-openapi.spec.v2@v1.0+protobuf",
                ),
                "application/json",
            ),
            (None, "application/json"),
        ];
        for (accept, want) in cases {
            let (code, headers, body) = get("/openapi/v2", accept).await;
            assert_eq!(code, StatusCode::OK, "{accept:?}");
            assert_eq!(
                headers
                    .get(header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok()),
                Some(want),
                "{accept:?}"
            );
            assert!(!body.is_empty());
        }
    }

    #[tokio::test]
    async fn unknown_documents_and_media_types_get_status_errors() {
        let cases = [
            ("/openapi/v3/apis/nope/v1", None, StatusCode::NOT_FOUND),
            (
                "/openapi/v2",
                Some("application/xml"),
                StatusCode::NOT_ACCEPTABLE,
            ),
            (
                "/openapi/v3/api/v1",
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

    #[tokio::test]
    async fn serve_answers_only_openapi_paths() {
        let docs = SharedOpenApi::new(Catalog::builtin());
        let cases = [
            ("/openapi/v3", Some(StatusCode::OK)),
            ("/openapi/v3/api/v1", Some(StatusCode::OK)),
            ("/openapi/v2", Some(StatusCode::OK)),
            ("/openapi/v4", None),
            ("/api/v1/pods", None),
            ("/openapi", None),
        ];
        for (uri, want) in cases {
            let Ok(request) = http::Request::builder().uri(uri).body(()) else {
                panic!("request for {uri}");
            };
            let got = serve(&docs, &request).await.map(|r| r.status());
            assert_eq!(got, want, "{uri}");
        }
    }
}
