//! Server-side field validation (`fieldValidation=Strict|Warn|Ignore`,
//! upstream KEP-2885): unknown fields (against the kind's OpenAPI schema)
//! and duplicate fields (in a JSON body) fail a Strict request with 400
//! `strict decoding error: …` and become `Warning` headers under Warn,
//! the default.

use http::{HeaderValue, Response};
use rkube_api::ResourceDef;
use serde_json::Value;

use crate::negotiation::Body;
use std::sync::Arc;

use crate::openapi::{duplicate_fields, OpenApi, SharedOpenApi};
use crate::registry::Query;
use crate::status::{ApiError, ApiResult};

/// `fieldValidation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldValidation {
    /// Accept unknown fields silently.
    Ignore,
    /// Accept them and warn (the default).
    Warn,
    /// Refuse the request.
    Strict,
}

impl FieldValidation {
    /// From the query, with upstream's error for other values.
    pub fn from_query(query: &Query) -> ApiResult<Self> {
        match query.iter().rev().find(|(k, _)| k == "fieldValidation").map(|(_, v)| v.as_str()) {
            None | Some("") | Some("Warn") => Ok(FieldValidation::Warn),
            Some("Ignore") => Ok(FieldValidation::Ignore),
            Some("Strict") => Ok(FieldValidation::Strict),
            Some(other) => Err(ApiError::bad_request(format!(
                "fieldValidation: Unsupported value: \"{other}\": supported values: \"Ignore\", \"Strict\", \"Warn\""
            ))),
        }
    }
}

/// Checks an object (and, for JSON bodies, the raw bytes for duplicates).
/// Returns the warnings to send; a Strict failure is a 400.
pub async fn check(
    openapi: &SharedOpenApi,
    def: &ResourceDef,
    raw_json: Option<&[u8]>,
    obj: &Value,
    mode: FieldValidation,
) -> ApiResult<Vec<String>> {
    if mode == FieldValidation::Ignore {
        return Ok(Vec::new());
    }
    let docs = documents(openapi).await?;
    problems(&docs, def, raw_json, obj, mode)
}

/// The OpenAPI documents; building them the first time is CPU work, so it
/// runs off the async runtime.
pub async fn documents(openapi: &SharedOpenApi) -> ApiResult<Arc<OpenApi>> {
    let docs = openapi.clone();
    tokio::task::spawn_blocking(move || docs.current())
        .await
        .map_err(ApiError::internal)
}

/// The synchronous core of [`check`], for use inside a read-modify-write
/// (a patch is checked on its result).
pub fn problems(
    docs: &OpenApi,
    def: &ResourceDef,
    raw_json: Option<&[u8]>,
    obj: &Value,
    mode: FieldValidation,
) -> ApiResult<Vec<String>> {
    if mode == FieldValidation::Ignore {
        return Ok(Vec::new());
    }
    let mut problems: Vec<String> = Vec::new();
    if let Some(raw) = raw_json {
        if let Ok(dups) = duplicate_fields(raw) {
            problems.extend(dups.into_iter().map(|f| format!("duplicate field \"{f}\"")));
        }
    }
    let unknown = docs.unknown_fields(&def.group, &def.version, &def.kind, obj);
    problems.extend(
        unknown
            .into_iter()
            .map(|f| format!("unknown field \"{f}\"")),
    );
    if problems.is_empty() || mode != FieldValidation::Strict {
        return Ok(problems);
    }
    Err(ApiError::bad_request(format!(
        "strict decoding error: {}",
        problems.join(", ")
    )))
}

/// Adds `Warning: 299 - "…"` headers.
pub fn add_warnings(response: &mut Response<Body>, warnings: &[String]) {
    for w in warnings {
        let escaped = w.replace('\\', "\\\\").replace('"', "\\\"");
        if let Ok(v) = HeaderValue::from_str(&format!("299 - \"{escaped}\"")) {
            response.headers_mut().append(http::header::WARNING, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_warn_and_bad_values_are_refused() {
        let q = |v: &str| vec![("fieldValidation".to_string(), v.to_string())];
        assert_eq!(
            FieldValidation::from_query(&Vec::new()).expect("should succeed"),
            FieldValidation::Warn
        );
        assert_eq!(
            FieldValidation::from_query(&q("Strict")).expect("should succeed"),
            FieldValidation::Strict
        );
        assert!(FieldValidation::from_query(&q("Loud")).is_err());
    }
}
