//! Content negotiation: request bodies in JSON or YAML (at most 3 MiB, as
//! upstream's `MaxRequestBodyBytes`), responses in JSON, YAML or as a
//! `meta.k8s.io/v1` Table, by the `Accept` header.

use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_TYPE};
use http::{HeaderMap, Response, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;

use crate::status::{ApiError, ApiResult, Reason};

/// Upstream's limit on request bodies (3 MiB).
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

/// The body type of every response.
pub type Body = axum::body::Body;

/// The media type of a request body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaType {
    /// `application/json` (also the default).
    Json,
    /// `application/yaml`.
    Yaml,
    /// `application/vnd.kubernetes.protobuf` (a few kinds; see `protobuf`).
    Protobuf,
}

/// Reads a request body, refusing more than [`MAX_BODY_BYTES`] with 413.
pub async fn read_body<B>(body: B) -> ApiResult<Bytes>
where
    B: hyper::body::Body<Data = Bytes> + Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    match http_body_util::Limited::new(body, MAX_BODY_BYTES)
        .collect()
        .await
    {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(ApiError::new(
            Reason::RequestEntityTooLarge,
            format!("Request entity too large: limit is {MAX_BODY_BYTES}"),
        )),
        Err(e) => Err(ApiError::bad_request(format!(
            "reading the request body: {e}"
        ))),
    }
}

/// The media type of a request from its `Content-Type`: JSON when absent,
/// 415 for what this server cannot decode (protobuf, CBOR, …).
pub fn request_media_type(headers: &HeaderMap) -> ApiResult<MediaType> {
    let Some(ct) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return Ok(MediaType::Json);
    };
    let media = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match media.as_str() {
        "" | "application/json" | "*/*" => Ok(MediaType::Json),
        "application/yaml" | "application/x-yaml" | "text/yaml" => Ok(MediaType::Yaml),
        "application/vnd.kubernetes.protobuf" => Ok(MediaType::Protobuf),
        _ => Err(ApiError::new(
            Reason::UnsupportedMediaType,
            format!("the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf, application/cbor, not {ct}"),
        )),
    }
}

/// Decodes an object body.
pub fn decode(bytes: &[u8], media: MediaType) -> ApiResult<Value> {
    let value: Value = match media {
        MediaType::Json => serde_json::from_slice(bytes).map_err(|e| {
            ApiError::bad_request(format!("couldn't get version/kind; json parse error: {e}"))
        })?,
        MediaType::Protobuf => crate::protobuf::decode(bytes)?,
        MediaType::Yaml => serde_yaml::from_slice(bytes).map_err(|e| {
            ApiError::bad_request(format!("couldn't get version/kind; yaml parse error: {e}"))
        })?,
    };
    if !value.is_object() {
        return Err(ApiError::bad_request(format!(
            "Object 'Kind' is missing in '{}'",
            String::from_utf8_lossy(bytes)
                .chars()
                .take(256)
                .collect::<String>()
        )));
    }
    Ok(value)
}

/// What the client wants back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// Plain JSON objects.
    Json,
    /// YAML.
    Yaml,
    /// A `meta.k8s.io/v1` Table (or v1beta1, same shape).
    Table,
    /// `PartialObjectMetadata` / `PartialObjectMetadataList`.
    PartialMetadata,
}

/// Picks the first acceptable representation from `Accept`, upstream's
/// preference order being the client's.
pub fn output(headers: &HeaderMap) -> Output {
    let accept = headers
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    for clause in accept.split(',') {
        let mut parts = clause.split(';').map(str::trim);
        let media = parts.next().unwrap_or("").to_ascii_lowercase();
        let params: Vec<(String, String)> = parts
            .filter_map(|p| p.split_once('='))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        let param = |k: &str| {
            params
                .iter()
                .find(|(pk, _)| pk == k)
                .map(|(_, v)| v.as_str())
        };
        match (media.as_str(), param("as"), param("g")) {
            ("application/json", Some("Table"), Some("meta.k8s.io")) => return Output::Table,
            (
                "application/json",
                Some("PartialObjectMetadata" | "PartialObjectMetadataList"),
                Some("meta.k8s.io"),
            ) => return Output::PartialMetadata,
            ("application/json", Some(_), _) => continue,
            ("application/json", None, _) | ("*/*", _, _) | ("application/*", _, _) => {
                return Output::Json
            }
            ("application/yaml", None, _) => return Output::Yaml,
            _ => continue,
        }
    }
    Output::Json
}

/// A JSON response with a trailing newline, as upstream's encoder writes.
pub fn json_response(status: StatusCode, value: &Value, output: Output) -> Response<Body> {
    let (bytes, content_type) = match output {
        Output::Yaml => (
            serde_yaml::to_string(value)
                .unwrap_or_default()
                .into_bytes(),
            "application/yaml",
        ),
        _ => {
            let mut b = serde_json::to_vec(value).unwrap_or_default();
            b.push(b'\n');
            (b, "application/json")
        }
    };
    bytes_response(status, content_type, bytes)
}

/// A response with a body of one content type.
pub fn bytes_response(status: StatusCode, content_type: &str, bytes: Vec<u8>) -> Response<Body> {
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    if let Ok(v) = http::HeaderValue::from_str(content_type) {
        response.headers_mut().insert(CONTENT_TYPE, v);
    }
    response
}

/// The Status response of an error.
pub fn error_response(error: &ApiError) -> Response<Body> {
    bytes_response(error.code(), "application/json", error.to_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(accept: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(ACCEPT, accept.parse().expect("should succeed"));
        h
    }

    #[test]
    fn accept_headers_pick_the_first_supported_representation() {
        let cases = [
            ("application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json", Output::Table),
            ("application/json", Output::Json),
            ("application/yaml", Output::Yaml),
            ("application/vnd.kubernetes.protobuf, */*", Output::Json),
            ("application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io,application/json", Output::PartialMetadata),
            ("", Output::Json),
        ];
        for (accept, want) in cases {
            assert_eq!(output(&headers(accept)), want, "{accept}");
        }
    }

    #[test]
    fn bodies_decode_from_json_and_yaml_and_refuse_non_objects() {
        assert_eq!(
            decode(b"{\"a\":1}", MediaType::Json).expect("should succeed")["a"],
            1
        );
        assert_eq!(
            decode(b"a: 1\n", MediaType::Yaml).expect("should succeed")["a"],
            1
        );
        assert_eq!(
            decode(b"{", MediaType::Json)
                .expect_err("should fail")
                .reason,
            Reason::BadRequest
        );
        assert_eq!(
            decode(b"[]", MediaType::Json)
                .expect_err("should fail")
                .reason,
            Reason::BadRequest
        );
    }
}
