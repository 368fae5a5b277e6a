//! The `tokencleaner` controller (upstream
//! `pkg/controller/bootstrap/tokencleaner.go`): deletes bootstrap token
//! Secrets in `kube-system` once their `expiration` has passed. The
//! apiserver already refuses expired tokens; this only tidies up.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures::future::{BoxFuture, FutureExt};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::DeleteParams;
use kube::{Api, Client};

use crate::framework::{run_controller, Action, Context, DefaultState, Triggers};
use crate::registry::Descriptor;

/// The `tokencleaner` controller.
pub const DESCRIPTOR: Descriptor = Descriptor {
    name: "tokencleaner",
    default: DefaultState::Enabled,
    start,
};

/// Where bootstrap tokens live.
const NAMESPACE: &str = "kube-system";
/// Their Secret type.
const TOKEN_TYPE: &str = "bootstrap.kubernetes.io/token";

/// Why a sync failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Deleting an expired token failed.
    #[error("could not delete expired bootstrap token Secret {name}")]
    Delete {
        /// The Secret.
        name: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
}

/// When a Secret's token expires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// Not a bootstrap token, or one without `expiration`: left alone.
    Never,
    /// Past its expiration.
    Expired,
    /// Expires after this long.
    In(Duration),
}

/// The expiry of `secret` at `now`; an unreadable `expiration` counts as
/// expired, as upstream's `isSecretExpired` treats it.
pub fn expiry(secret: &Secret, now: SystemTime) -> Expiry {
    if secret.metadata.namespace.as_deref() != Some(NAMESPACE)
        || secret.type_.as_deref() != Some(TOKEN_TYPE)
    {
        return Expiry::Never;
    }
    let Some(expiration) = secret.data.as_ref().and_then(|d| d.get("expiration")) else {
        return Expiry::Never;
    };
    let parsed = String::from_utf8(expiration.0.clone())
        .ok()
        .and_then(|text| serde_json::from_value::<Time>(serde_json::Value::String(text)).ok());
    match parsed.map(|t| SystemTime::from(t.0).duration_since(now)) {
        Some(Ok(left)) if !left.is_zero() => Expiry::In(left),
        _ => Expiry::Expired,
    }
}

fn start(ctx: Context) -> BoxFuture<'static, Result<(), crate::Error>> {
    async move {
        let secrets = ctx.informer::<Secret>();
        let triggers = Triggers::new().primary(&secrets);
        let state = Arc::new(ctx.client().clone());
        run_controller(&ctx, "tokencleaner", &secrets, triggers, state, sync).await;
        Ok(())
    }
    .boxed()
}

async fn sync(secret: Arc<Secret>, client: Arc<Client>) -> Result<Action, Error> {
    match expiry(&secret, SystemTime::now()) {
        Expiry::Never => Ok(Action::await_change()),
        Expiry::In(left) => Ok(Action::requeue(left)),
        Expiry::Expired => {
            let name = secret.metadata.name.clone().unwrap_or_default();
            let api: Api<Secret> = Api::namespaced((*client).clone(), NAMESPACE);
            tracing::info!(secret = %name, "deleting expired bootstrap token");
            match api.delete(&name, &DeleteParams::default()).await {
                Ok(_) => Ok(Action::await_change()),
                Err(kube::Error::Api(e)) if e.code == 404 => Ok(Action::await_change()),
                Err(source) => Err(Error::Delete { name, source }),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::ByteString;
    use kube::api::ObjectMeta;

    use super::*;

    fn secret(namespace: &str, type_: &str, expiration: Option<&str>) -> Secret {
        Secret {
            metadata: ObjectMeta {
                name: Some("bootstrap-token-abcdef".into()),
                namespace: Some(namespace.into()),
                ..ObjectMeta::default()
            },
            type_: Some(type_.into()),
            data: expiration
                .map(|e| [("expiration".to_string(), ByteString(e.as_bytes().to_vec()))].into()),
            ..Secret::default()
        }
    }

    #[test]
    fn only_expired_bootstrap_tokens_in_kube_system_are_due() {
        // 2026-01-01T00:00:00Z
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600);
        let cases = [
            (
                "an expired token",
                secret(NAMESPACE, TOKEN_TYPE, Some("2025-12-31T23:00:00Z")),
                Expiry::Expired,
            ),
            (
                "a token expiring now",
                secret(NAMESPACE, TOKEN_TYPE, Some("2026-01-01T00:00:00Z")),
                Expiry::Expired,
            ),
            (
                "an unreadable expiration",
                secret(NAMESPACE, TOKEN_TYPE, Some("soon")),
                Expiry::Expired,
            ),
            (
                "a token valid for an hour",
                secret(NAMESPACE, TOKEN_TYPE, Some("2026-01-01T01:00:00Z")),
                Expiry::In(Duration::from_secs(3600)),
            ),
            (
                "a token without expiration",
                secret(NAMESPACE, TOKEN_TYPE, None),
                Expiry::Never,
            ),
            (
                "another Secret type",
                secret(NAMESPACE, "Opaque", Some("2025-01-01T00:00:00Z")),
                Expiry::Never,
            ),
            (
                "a token Secret elsewhere",
                secret("default", TOKEN_TYPE, Some("2025-01-01T00:00:00Z")),
                Expiry::Never,
            ),
        ];
        for (name, secret, want) in cases {
            assert_eq!(expiry(&secret, now), want, "{name}");
        }
    }
}
