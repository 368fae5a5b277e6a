//! The opaque `continue` token of paginated lists: base64 (URL-safe, no
//! padding) of `{"v":"meta.k8s.io/v1","rv":N,"start":"<key after prefix>"}`,
//! the same shape as upstream's `storage.EncodeContinue`. The revision pins
//! the later pages to the first page's snapshot.

use base64::Engine;
use rkube_store::Revision;
use serde::{Deserialize, Serialize};

use crate::status::{ApiError, ApiResult};

const VERSION: &str = "meta.k8s.io/v1";

#[derive(Serialize, Deserialize)]
struct Wire {
    v: String,
    rv: Revision,
    start: String,
}

/// A decoded token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// The full store key to continue from (inclusive).
    pub start_key: String,
    /// The snapshot revision.
    pub revision: Revision,
}

/// Encodes the key to continue from (under `prefix`) and the snapshot revision.
pub fn encode(start_key: &str, prefix: &str, revision: Revision) -> String {
    let wire = Wire {
        v: VERSION.to_string(),
        rv: revision,
        start: start_key
            .strip_prefix(prefix)
            .unwrap_or(start_key)
            .to_string(),
    };
    let json = serde_json::to_vec(&wire).unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
}

/// Decodes a token for a list under `prefix`; a malformed token is a 400
/// with upstream's message.
pub fn decode(token: &str, prefix: &str) -> ApiResult<Token> {
    let bad = || {
        ApiError::bad_request("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.trim_end_matches('='))
        .map_err(|_| bad())?;
    let wire: Wire = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    if wire.v != VERSION || wire.rv <= 0 || wire.start.contains("..") || wire.start.starts_with('/')
    {
        return Err(bad());
    }
    Ok(Token {
        start_key: format!("{prefix}{}", wire.start),
        revision: wire.rv,
    })
}

/// 410 for a token whose snapshot was compacted away (upstream's wording).
pub fn expired() -> ApiError {
    ApiError::expired(
        "The provided continue parameter is too old to display a consistent list result. \
         You can start a new list without the continue parameter, or use the continue token \
         in this response to retrieve the remainder of the results. Continuing with the \
         provided token results in an inconsistent list - objects that were created, \
         modified, or deleted between the time the first chunk was returned and now may \
         show up in the list.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_round_trips_relative_to_its_prefix() {
        let token = encode("/registry/pods/ns/b\0", "/registry/pods/ns/", 42);
        let back = decode(&token, "/registry/pods/ns/").expect("should succeed");
        assert_eq!(back.start_key, "/registry/pods/ns/b\0");
        assert_eq!(back.revision, 42);
    }

    #[test]
    fn garbage_and_escaping_tokens_are_bad_requests() {
        for token in ["%%%", "bm90IGpzb24", &encode("/../x", "", 1)] {
            assert_eq!(
                decode(token, "/registry/pods/")
                    .expect_err("should fail")
                    .reason,
                crate::status::Reason::BadRequest
            );
        }
    }
}
