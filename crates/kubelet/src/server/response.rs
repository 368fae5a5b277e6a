//! Answers: the body type every handler returns and upstream-shaped
//! `Status` errors (the apiserver passes them on to kubectl).

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};

/// A response body: whole, streamed, or empty before an upgrade.
pub type Body = BoxBody<Bytes, std::io::Error>;

/// A whole body.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

/// A plain-text 200.
pub fn text(content: impl Into<Bytes>) -> Response<Body> {
    let mut response = Response::new(full(content));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// A failed request: its code and the `Status` reason kubectl shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The HTTP code.
    pub code: StatusCode,
    /// The message.
    pub message: String,
}

impl Failure {
    /// 400: the request names something unusable.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Failure {
            code: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Failure {
            code: StatusCode::NOT_FOUND,
            message: message.into(),
        }
    }

    /// 500: the runtime or the disk failed.
    pub fn internal(message: impl std::fmt::Display) -> Self {
        Failure {
            code: StatusCode::INTERNAL_SERVER_ERROR,
            message: message.to_string(),
        }
    }

    /// 401: no verified client certificate.
    pub fn unauthorized() -> Self {
        Failure {
            code: StatusCode::UNAUTHORIZED,
            message: "Unauthorized".into(),
        }
    }

    fn reason(&self) -> &'static str {
        match self.code {
            StatusCode::BAD_REQUEST => "BadRequest",
            StatusCode::NOT_FOUND => "NotFound",
            StatusCode::UNAUTHORIZED => "Unauthorized",
            StatusCode::METHOD_NOT_ALLOWED => "MethodNotAllowed",
            _ => "InternalError",
        }
    }

    /// The `Status` object answer.
    pub fn into_response(self) -> Response<Body> {
        let status = serde_json::json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason(),
            "code": self.code.as_u16(),
        });
        let mut response = Response::new(full(status.to_string()));
        *response.status_mut() = self.code;
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
        response
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_failure_is_an_upstream_status_object() {
        let response = Failure::bad_request("container \"x\" is not valid").into_response();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let status: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(status["reason"], "BadRequest");
        assert_eq!(status["code"], 400);
        assert_eq!(status["message"], "container \"x\" is not valid");
    }
}
