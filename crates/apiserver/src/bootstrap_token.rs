//! Bootstrap tokens (upstream `plugin/pkg/auth/authenticator/token/bootstrap`):
//! a bearer token `<id>.<secret>` names the Secret
//! `kube-system/bootstrap-token-<id>` of type `bootstrap.kubernetes.io/token`;
//! when its `token-secret` matches, `usage-bootstrap-authentication` is
//! `"true"` and its `expiration` has not passed, the caller is
//! `system:bootstrap:<id>` in `system:bootstrappers` plus the Secret's
//! `auth-extra-groups`. Nodes join with such a token (docs/rkube.md).

use std::time::SystemTime;

use base64::Engine;
use serde_json::Value;

use crate::authn::User;
use crate::registry::{ObjectRef, Registry};

/// The Secret type of bootstrap tokens.
pub const SECRET_TYPE: &str = "bootstrap.kubernetes.io/token";
/// The namespace bootstrap token Secrets live in.
pub const NAMESPACE: &str = "kube-system";
/// The group every bootstrap token user is in.
pub const BOOTSTRAPPERS_GROUP: &str = "system:bootstrappers";

/// A token as a client presents it: 6 and 16 characters of `[a-z0-9]`
/// (upstream's `BootstrapTokenPattern`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootstrapToken {
    /// The public part, also in the Secret's name.
    pub id: String,
    /// The private part.
    pub secret: String,
}

impl BootstrapToken {
    /// Parses `<id>.<secret>`; `None` when it is not a bootstrap token.
    pub fn parse(token: &str) -> Option<Self> {
        let (id, secret) = token.split_once('.')?;
        let valid = |part: &str, len: usize| {
            part.len() == len
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        };
        (valid(id, 6) && valid(secret, 16)).then(|| BootstrapToken {
            id: id.to_string(),
            secret: secret.to_string(),
        })
    }

    /// A new random token (upstream's `GenerateBootstrapToken`).
    pub fn generate() -> Self {
        use rand::Rng;
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        let mut rng = rand::rng();
        let mut random = |len: usize| -> String {
            (0..len)
                .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
                .collect()
        };
        BootstrapToken {
            id: random(6),
            secret: random(16),
        }
    }

    /// The name of the Secret that holds this token.
    pub fn secret_name(&self) -> String {
        format!("bootstrap-token-{}", self.id)
    }
}

impl std::fmt::Display for BootstrapToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.id, self.secret)
    }
}

/// Why a stored token does not authenticate its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The Secret is not of type `bootstrap.kubernetes.io/token`.
    #[error("the secret is not a bootstrap token")]
    WrongType,
    /// The Secret is being deleted.
    #[error("the token is being deleted")]
    Deleting,
    /// `token-id` or `token-secret` differ from what the caller sent.
    #[error("the token does not match")]
    Mismatch,
    /// `usage-bootstrap-authentication` is not `"true"`.
    #[error("the token may not be used for authentication")]
    NotForAuthentication,
    /// `expiration` has passed or cannot be read.
    #[error("the token has expired")]
    Expired,
}

/// A `data` entry of the Secret, decoded.
fn data_field(secret: &Value, key: &str) -> Option<String> {
    let encoded = secret.get("data")?.get(key)?.as_str()?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    String::from_utf8(bytes).ok()
}

/// Whether an RFC 3339 `expiration` lies before `now`; one that cannot be
/// read counts as expired, as upstream's `isSecretExpired` does.
fn is_expired(expiration: &str, now: SystemTime) -> bool {
    let parsed: Result<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time, _> =
        serde_json::from_value(Value::String(expiration.to_string()));
    match parsed {
        Ok(time) => SystemTime::from(time.0) <= now,
        Err(_) => true,
    }
}

/// Compares without stopping at the first difference, so that the time
/// taken does not tell how much of a secret was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The user a stored token Secret makes of a caller presenting `token` at
/// `now` (upstream `TokenAuthenticator.AuthenticateToken`).
pub fn user_of_secret(
    secret: &Value,
    token: &BootstrapToken,
    now: SystemTime,
) -> Result<User, Refusal> {
    if secret.get("type").and_then(Value::as_str) != Some(SECRET_TYPE) {
        return Err(Refusal::WrongType);
    }
    if secret
        .get("metadata")
        .and_then(|m| m.get("deletionTimestamp"))
        .is_some_and(|t| !t.is_null())
    {
        return Err(Refusal::Deleting);
    }
    let stored_id = data_field(secret, "token-id").unwrap_or_default();
    let stored_secret = data_field(secret, "token-secret").unwrap_or_default();
    if stored_id != token.id || !constant_time_eq(stored_secret.as_bytes(), token.secret.as_bytes())
    {
        return Err(Refusal::Mismatch);
    }
    if data_field(secret, "usage-bootstrap-authentication").as_deref() != Some("true") {
        return Err(Refusal::NotForAuthentication);
    }
    if data_field(secret, "expiration").is_some_and(|e| is_expired(&e, now)) {
        return Err(Refusal::Expired);
    }
    // Extra groups must stay inside system:bootstrappers:* (upstream's
    // `ValidateBootstrapGroupName`); others are ignored, not granted.
    let mut groups = vec![BOOTSTRAPPERS_GROUP.to_string()];
    groups.extend(
        data_field(secret, "auth-extra-groups")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|g| g.starts_with("system:bootstrappers:"))
            .map(String::from),
    );
    Ok(User::new(format!("system:bootstrap:{}", token.id), groups))
}

/// Authenticates a bearer token that is a bootstrap token, reading its
/// Secret through the registry. `None`: not a bootstrap token, or refused.
pub async fn authenticate(registry: &Registry, bearer: &str) -> Option<User> {
    let token = BootstrapToken::parse(bearer)?;
    let def = registry.catalog().get("", "v1", "secrets")?.clone();
    let name = token.secret_name();
    let secret = registry
        .get(&ObjectRef {
            def: &def,
            namespace: Some(NAMESPACE),
            name: &name,
        })
        .await
        .ok()?;
    match user_of_secret(&secret, &token, SystemTime::now()) {
        Ok(user) => Some(user),
        Err(refusal) => {
            tracing::debug!(token_id = %token.id, %refusal, "bootstrap token refused");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use super::*;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    fn token() -> BootstrapToken {
        BootstrapToken::parse("abcdef.0123456789abcdef").expect("a valid token")
    }

    /// A token Secret for `token()`, adjusted by `extra` data entries.
    fn secret(extra: &[(&str, &str)]) -> Value {
        let mut data = serde_json::Map::new();
        for (k, v) in [
            ("token-id", "abcdef"),
            ("token-secret", "0123456789abcdef"),
            ("usage-bootstrap-authentication", "true"),
        ]
        .iter()
        .chain(extra)
        {
            data.insert(k.to_string(), json!(b64(v)));
        }
        json!({"type": SECRET_TYPE, "metadata": {"name": "bootstrap-token-abcdef"}, "data": data})
    }

    // 2026-01-01T00:00:00Z
    const NOW: u64 = 1_767_225_600;

    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(NOW)
    }

    #[test]
    fn token_strings_parse_only_in_the_bootstrap_shape() {
        let cases = [
            ("abcdef.0123456789abcdef", true),
            ("abcdef.0123456789abcde", false),
            ("ABCDEF.0123456789abcdef", false),
            ("abcdef0123456789abcdef", false),
            ("abcdefg.0123456789abcdef", false),
            ("", false),
        ];
        for (text, ok) in cases {
            assert_eq!(BootstrapToken::parse(text).is_some(), ok, "{text:?}");
        }
        assert_eq!(token().to_string(), "abcdef.0123456789abcdef");
        let generated = BootstrapToken::generate();
        assert_eq!(
            BootstrapToken::parse(&generated.to_string()),
            Some(generated)
        );
        assert_eq!(token().secret_name(), "bootstrap-token-abcdef");
    }

    #[test]
    fn a_valid_token_is_a_bootstrapper_with_its_extra_groups() {
        let stored = secret(&[(
            "auth-extra-groups",
            "system:bootstrappers:worker,system:masters",
        )]);
        let user = user_of_secret(&stored, &token(), now()).expect("authenticated");
        assert_eq!(user.name, "system:bootstrap:abcdef");
        assert_eq!(
            user.groups,
            [
                "system:bootstrappers",
                "system:bootstrappers:worker",
                "system:authenticated"
            ]
        );
    }

    #[test]
    fn stored_tokens_refuse_callers_for_each_reason() {
        let wrong_secret = BootstrapToken::parse("abcdef.ffffffffffffffff").expect("valid");
        let mut not_token = secret(&[]);
        not_token["type"] = json!("Opaque");
        let mut deleting = secret(&[]);
        deleting["metadata"]["deletionTimestamp"] = json!("2025-01-01T00:00:00Z");
        let cases = [
            (secret(&[]), wrong_secret, Refusal::Mismatch),
            (not_token, token(), Refusal::WrongType),
            (deleting, token(), Refusal::Deleting),
            (
                secret(&[("usage-bootstrap-authentication", "false")]),
                token(),
                Refusal::NotForAuthentication,
            ),
            (
                secret(&[("expiration", "2025-12-31T23:59:59Z")]),
                token(),
                Refusal::Expired,
            ),
            (
                secret(&[("expiration", "next tuesday")]),
                token(),
                Refusal::Expired,
            ),
        ];
        for (stored, presented, refusal) in cases {
            assert_eq!(
                user_of_secret(&stored, &presented, now()),
                Err(refusal),
                "{stored}"
            );
        }
    }

    #[test]
    fn a_token_before_its_expiration_authenticates() {
        let stored = secret(&[("expiration", "2026-01-02T00:00:00Z")]);
        assert!(user_of_secret(&stored, &token(), now()).is_ok());
    }
}
