//! Errors at the API edge: every failure a client sees is a `meta/v1`
//! `Status` with upstream's code, reason, message and details
//! (`k8s.io/apimachinery/pkg/api/errors/errors.go`).
//!
//! The JSON field order is the Go struct's (`kind`, `apiVersion`, `metadata`,
//! `status`, `message`, `reason`, `details`, `code`) and the body ends in a
//! newline, as upstream's JSON serializer writes it: some clients compare
//! Status bodies byte for byte.

use http::StatusCode;
use rkube_api::{FieldErrors, ResourceDef};
use serde::Serialize;

/// The `reason` of a Status (upstream's `metav1.StatusReason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// 400
    BadRequest,
    /// 401
    Unauthorized,
    /// 403
    Forbidden,
    /// 404
    NotFound,
    /// 405
    MethodNotAllowed,
    /// 406
    NotAcceptable,
    /// 409, the name is taken
    AlreadyExists,
    /// 409, a stale resourceVersion or failed precondition
    Conflict,
    /// 410
    Expired,
    /// 413
    RequestEntityTooLarge,
    /// 415
    UnsupportedMediaType,
    /// 422
    Invalid,
    /// 500
    InternalError,
    /// 503
    ServiceUnavailable,
    /// 504
    Timeout,
}

impl Reason {
    /// The wire string, e.g. `NotFound`.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::BadRequest => "BadRequest",
            Reason::Unauthorized => "Unauthorized",
            Reason::Forbidden => "Forbidden",
            Reason::NotFound => "NotFound",
            Reason::MethodNotAllowed => "MethodNotAllowed",
            Reason::NotAcceptable => "NotAcceptable",
            Reason::AlreadyExists => "AlreadyExists",
            Reason::Conflict => "Conflict",
            Reason::Expired => "Expired",
            Reason::RequestEntityTooLarge => "RequestEntityTooLarge",
            Reason::UnsupportedMediaType => "UnsupportedMediaType",
            Reason::Invalid => "Invalid",
            Reason::InternalError => "InternalError",
            Reason::ServiceUnavailable => "ServiceUnavailable",
            Reason::Timeout => "Timeout",
        }
    }

    /// The HTTP status code upstream answers with.
    pub fn code(self) -> StatusCode {
        match self {
            Reason::BadRequest => StatusCode::BAD_REQUEST,
            Reason::Unauthorized => StatusCode::UNAUTHORIZED,
            Reason::Forbidden => StatusCode::FORBIDDEN,
            Reason::NotFound => StatusCode::NOT_FOUND,
            Reason::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Reason::NotAcceptable => StatusCode::NOT_ACCEPTABLE,
            Reason::AlreadyExists | Reason::Conflict => StatusCode::CONFLICT,
            Reason::Expired => StatusCode::GONE,
            Reason::RequestEntityTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Reason::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Reason::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
            Reason::InternalError => StatusCode::INTERNAL_SERVER_ERROR,
            Reason::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Reason::Timeout => StatusCode::GATEWAY_TIMEOUT,
        }
    }
}

/// One cause of an error (`metav1.StatusCause`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cause {
    /// e.g. `FieldValueRequired`
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// Human readable.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// The field path.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub field: String,
}

/// What the error is about (`metav1.StatusDetails`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Details {
    /// Object name.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// API group.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub group: String,
    /// Resource (plural) or kind, as upstream puts it.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// Object uid.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub uid: String,
    /// Field-level causes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub causes: Vec<Cause>,
    /// Seconds to wait before retrying.
    #[serde(rename = "retryAfterSeconds", skip_serializing_if = "Option::is_none")]
    pub retry_after_seconds: Option<i32>,
}

impl Details {
    fn is_empty(&self) -> bool {
        *self == Details::default()
    }
}

/// An API error: becomes a failure `Status`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// Why.
    pub reason: Reason,
    /// Human readable, upstream's wording.
    pub message: String,
    /// About what (boxed: errors travel in every `Result` of the server).
    pub details: Box<Details>,
}

/// Results at the API edge.
pub type ApiResult<T> = std::result::Result<T, ApiError>;

/// The wire form of a Status, fields in upstream's order.
#[derive(Serialize)]
struct StatusWire<'a> {
    kind: &'static str,
    #[serde(rename = "apiVersion")]
    api_version: &'static str,
    metadata: serde_json::Map<String, serde_json::Value>,
    status: &'static str,
    #[serde(skip_serializing_if = "str::is_empty")]
    message: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    reason: &'a str,
    #[serde(skip_serializing_if = "Details::is_empty")]
    details: &'a Details,
    code: u16,
}

/// Serialises a Status with a trailing newline.
fn status_bytes(
    status: &'static str,
    message: &str,
    reason: &str,
    details: &Details,
    code: u16,
) -> Vec<u8> {
    let wire = StatusWire {
        kind: "Status",
        api_version: "v1",
        metadata: serde_json::Map::new(),
        status,
        message,
        reason,
        details,
        code,
    };
    // Serialising plain strings and integers cannot fail.
    let mut out = serde_json::to_vec(&wire).unwrap_or_default();
    out.push(b'\n');
    out
}

/// The `Status` of a successful delete (`{"status":"Success",…}`).
pub fn success_bytes(details: &Details) -> Vec<u8> {
    status_bytes("Success", "", "", details, 200)
}

impl ApiError {
    /// An error with no details.
    pub fn new(reason: Reason, message: impl Into<String>) -> Self {
        ApiError {
            reason,
            message: message.into(),
            details: Box::default(),
        }
    }

    /// Adds details.
    pub fn with_details(mut self, details: Details) -> Self {
        self.details = Box::new(details);
        self
    }

    /// The HTTP status code.
    pub fn code(&self) -> StatusCode {
        self.reason.code()
    }

    /// The Status body, with a trailing newline.
    pub fn to_bytes(&self) -> Vec<u8> {
        status_bytes(
            "Failure",
            &self.message,
            self.reason.as_str(),
            &self.details,
            self.code().as_u16(),
        )
    }

    /// The Status as a JSON value (for watch `ERROR` events).
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::from_slice(&self.to_bytes()).unwrap_or_default()
    }

    /// 400 with upstream's message.
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(Reason::BadRequest, message)
    }

    /// 500 for failures that are ours, not the client's.
    pub fn internal(message: impl std::fmt::Display) -> Self {
        ApiError::new(
            Reason::InternalError,
            format!("Internal error occurred: {message}"),
        )
        .with_details(Details {
            causes: vec![Cause {
                reason: String::new(),
                message: message.to_string(),
                field: String::new(),
            }],
            ..Details::default()
        })
    }

    /// 404 `pods "x" not found`.
    pub fn not_found(def: &ResourceDef, name: &str) -> Self {
        Self::not_found_in(&def.group, &def.plural, name)
    }

    /// 404 for a resource given by group and plural (e.g. `namespaces`).
    pub fn not_found_in(group: &str, plural: &str, name: &str) -> Self {
        let resource = qualified(group, plural);
        ApiError::new(Reason::NotFound, format!("{resource} \"{name}\" not found"))
            .with_details(object_details(group, plural, name))
    }

    /// 404 for a path that names nothing (upstream's `NewNotFound` with an
    /// empty name serialises `the server could not find the requested resource`).
    pub fn no_such_path() -> Self {
        ApiError::new(
            Reason::NotFound,
            "the server could not find the requested resource",
        )
        .with_details(Details {
            causes: vec![Cause {
                reason: "UnexpectedServerResponse".into(),
                message: "404 page not found".into(),
                field: String::new(),
            }],
            ..Details::default()
        })
    }

    /// 409 `pods "x" already exists`.
    pub fn already_exists(def: &ResourceDef, name: &str) -> Self {
        let resource = qualified(&def.group, &def.plural);
        ApiError::new(
            Reason::AlreadyExists,
            format!("{resource} \"{name}\" already exists"),
        )
        .with_details(object_details(&def.group, &def.plural, name))
    }

    /// 409 Conflict on a stale resourceVersion, upstream's exact wording.
    pub fn conflict(def: &ResourceDef, name: &str, why: &str) -> Self {
        let resource = qualified(&def.group, &def.plural);
        ApiError::new(
            Reason::Conflict,
            format!("Operation cannot be fulfilled on {resource} \"{name}\": {why}"),
        )
        .with_details(object_details(&def.group, &def.plural, name))
    }

    /// The reason upstream gives for a stale resourceVersion.
    pub const MODIFIED: &'static str =
        "the object has been modified; please apply your changes to the latest version and try again";

    /// 422 `Pod "x" is invalid: spec.containers[0].name: Required value`.
    pub fn invalid(def: &ResourceDef, name: &str, errors: &FieldErrors) -> Self {
        let group_kind = if def.group.is_empty() {
            def.kind.clone()
        } else {
            format!("{}.{}", def.kind, def.group)
        };
        let rendered: Vec<String> = errors.0.iter().map(|e| e.to_string()).collect();
        let summary = match rendered.as_slice() {
            [one] => one.clone(),
            many => format!("[{}]", many.join(", ")),
        };
        let causes = errors
            .0
            .iter()
            .map(|e| {
                let full = e.to_string();
                // The cause message is the error without its field prefix.
                let message = full
                    .strip_prefix(&format!("{}: ", e.field))
                    .unwrap_or(&full)
                    .to_string();
                Cause {
                    reason: e.kind.reason().to_string(),
                    message,
                    field: e.field.clone(),
                }
            })
            .collect();
        ApiError::new(
            Reason::Invalid,
            format!("{group_kind} \"{name}\" is invalid: {summary}"),
        )
        .with_details(Details {
            name: name.to_string(),
            group: def.group.clone(),
            kind: def.kind.clone(),
            causes,
            ..Details::default()
        })
    }

    /// 403 Forbidden for `verb` on a resource, with upstream's prefix.
    pub fn forbidden(def: &ResourceDef, name: &str, why: &str) -> Self {
        let resource = qualified(&def.group, &def.plural);
        let message = if name.is_empty() {
            format!("{resource} is forbidden: {why}")
        } else {
            format!("{resource} \"{name}\" is forbidden: {why}")
        };
        ApiError::new(Reason::Forbidden, message).with_details(object_details(
            &def.group,
            &def.plural,
            name,
        ))
    }

    /// 405 for a verb a resource does not serve.
    pub fn method_not_allowed(method: &http::Method) -> Self {
        ApiError::new(
            Reason::MethodNotAllowed,
            format!("the server does not allow this method on the requested resource ({method})"),
        )
    }

    /// 410 Expired for a too-old resourceVersion.
    pub fn expired(message: impl Into<String>) -> Self {
        ApiError::new(Reason::Expired, message)
    }

    /// 401 for requests without valid credentials.
    pub fn unauthorized() -> Self {
        ApiError::new(Reason::Unauthorized, "Unauthorized")
    }

    /// 503 for what this server routes but cannot serve yet.
    pub fn unavailable(message: impl Into<String>) -> Self {
        ApiError::new(Reason::ServiceUnavailable, message)
    }
}

/// `pods` or `deployments.apps`, as upstream's `GroupResource.String()`.
pub fn qualified(group: &str, plural: &str) -> String {
    if group.is_empty() {
        plural.to_string()
    } else {
        format!("{plural}.{group}")
    }
}

fn object_details(group: &str, plural: &str, name: &str) -> Details {
    Details {
        name: name.to_string(),
        group: group.to_string(),
        kind: plural.to_string(),
        ..Details::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_not_found_status_matches_upstream_bytes() {
        let got = String::from_utf8(ApiError::not_found_in("", "pods", "x").to_bytes())
            .expect("should succeed");
        assert_eq!(
            got,
            "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\
             \"message\":\"pods \\\"x\\\" not found\",\"reason\":\"NotFound\",\
             \"details\":{\"name\":\"x\",\"kind\":\"pods\"},\"code\":404}\n"
        );
    }

    #[test]
    fn a_grouped_resource_is_qualified_and_keeps_its_group_in_details() {
        let err = ApiError::not_found_in("apps", "deployments", "web");
        assert_eq!(err.message, "deployments.apps \"web\" not found");
        assert_eq!(err.details.group, "apps");
    }

    #[test]
    fn an_unauthorized_status_has_no_details() {
        let got = String::from_utf8(ApiError::unauthorized().to_bytes()).expect("should succeed");
        assert_eq!(
            got,
            "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\
             \"message\":\"Unauthorized\",\"reason\":\"Unauthorized\",\"code\":401}\n"
        );
    }
}
