//! The `cluster-info` ConfigMap in `kube-public`, as kubeadm publishes it:
//! `kubeconfig` names the apiserver and embeds the cluster CA (no
//! credentials), and `jws-kubeconfig-<token-id>` is a detached JWS (HS256,
//! keyed with the token's secret) over it for every bootstrap token usable
//! for signing (upstream `pkg/controller/bootstrap/bootstrapsigner.go`).
//!
//! A joining agent fetches it without trusting the server's certificate and
//! accepts the CA only when the signature for its token verifies: only a
//! server that knows the token's secret can produce it (kubeadm's
//! token-based discovery).

use std::collections::BTreeMap;
use std::time::SystemTime;

use anyhow::Context;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{ListParams, PostParams};
use kube::Api;
use rkube_apiserver::bootstrap_token::{BootstrapToken, NAMESPACE, SECRET_TYPE};

/// The ConfigMap's namespace and name.
pub const CLUSTER_INFO_NAMESPACE: &str = "kube-public";
/// The ConfigMap's name.
pub const CLUSTER_INFO_NAME: &str = "cluster-info";
/// The data key of the kubeconfig.
pub const KUBECONFIG_KEY: &str = "kubeconfig";

/// The key of a token's signature.
pub fn signature_key(token_id: &str) -> String {
    format!("jws-kubeconfig-{token_id}")
}

/// A detached JWS (RFC 7515 appendix F): `header..signature`, the payload
/// left out because the ConfigMap carries it.
pub fn detached_jws(content: &str, token: &BootstrapToken) -> String {
    let header = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"HS256","kid":"{}"}}"#, token.id));
    let payload = URL_SAFE_NO_PAD.encode(content);
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, token.secret.as_bytes());
    let signature = ring::hmac::sign(&key, format!("{header}.{payload}").as_bytes());
    format!("{header}..{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
}

/// Whether `jws` is `token`'s signature over `content` (compared in
/// constant time by ring).
pub fn verify_detached_jws(content: &str, jws: &str, token: &BootstrapToken) -> bool {
    let Some((header, signature)) = jws.split_once("..") else {
        return false;
    };
    let Ok(signature) = URL_SAFE_NO_PAD.decode(signature) else {
        return false;
    };
    let payload = URL_SAFE_NO_PAD.encode(content);
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, token.secret.as_bytes());
    ring::hmac::verify(&key, format!("{header}.{payload}").as_bytes(), &signature).is_ok()
}

/// The kubeconfig published for joining nodes: the server and its CA.
pub fn public_kubeconfig(server: &str, ca_pem: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: \"\"\n  cluster:\n    server: {server}\n    certificate-authority-data: {}\ncontexts: []\nusers: []\n",
        base64::engine::general_purpose::STANDARD.encode(ca_pem)
    )
}

/// The tokens a stored Secret holds when it may sign cluster-info now
/// (`usage-bootstrap-signing: "true"`, not expired).
fn signing_token(secret: &Secret, now: SystemTime) -> Option<BootstrapToken> {
    if secret.type_.as_deref() != Some(SECRET_TYPE) {
        return None;
    }
    let data = secret.data.as_ref()?;
    let field = |key: &str| {
        data.get(key)
            .and_then(|v| String::from_utf8(v.0.clone()).ok())
    };
    if field("usage-bootstrap-signing").as_deref() != Some("true") {
        return None;
    }
    if let Some(expiration) = field("expiration") {
        let time: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time =
            serde_json::from_value(serde_json::Value::String(expiration)).ok()?;
        if SystemTime::from(time.0) <= now {
            return None;
        }
    }
    BootstrapToken::parse(&format!(
        "{}.{}",
        field("token-id")?,
        field("token-secret")?
    ))
}

/// Writes cluster-info: `kubeconfig` (or the one already published) and a
/// signature for every signing token, dropping those of tokens gone.
pub async fn publish(client: &kube::Client, kubeconfig: Option<String>) -> anyhow::Result<()> {
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), CLUSTER_INFO_NAMESPACE);
    let current = config_maps
        .get_opt(CLUSTER_INFO_NAME)
        .await
        .context("reading kube-public/cluster-info")?;
    let Some(kubeconfig) = kubeconfig.or_else(|| {
        current
            .as_ref()
            .and_then(|cm| cm.data.as_ref()?.get(KUBECONFIG_KEY).cloned())
    }) else {
        anyhow::bail!("kube-public/cluster-info has no kubeconfig yet: start `rkube server` first");
    };
    let secrets: Api<Secret> = Api::namespaced(client.clone(), NAMESPACE);
    let tokens = secrets
        .list(&ListParams::default())
        .await
        .context("listing bootstrap tokens")?;
    let now = SystemTime::now();
    let mut data = BTreeMap::from([(KUBECONFIG_KEY.to_string(), kubeconfig.clone())]);
    for token in tokens.items.iter().filter_map(|s| signing_token(s, now)) {
        data.insert(signature_key(&token.id), detached_jws(&kubeconfig, &token));
    }
    let mut wanted = current.unwrap_or_default();
    wanted.metadata.name = Some(CLUSTER_INFO_NAME.into());
    wanted.metadata.namespace = Some(CLUSTER_INFO_NAMESPACE.into());
    wanted.data = Some(data);
    let written = if wanted.metadata.resource_version.is_some() {
        config_maps
            .replace(CLUSTER_INFO_NAME, &PostParams::default(), &wanted)
            .await
    } else {
        config_maps.create(&PostParams::default(), &wanted).await
    };
    written.context("writing kube-public/cluster-info")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(text: &str) -> BootstrapToken {
        BootstrapToken::parse(text).expect("valid token")
    }

    #[test]
    fn a_signature_verifies_only_for_its_token_and_content() {
        let signer = token("abcdef.0123456789abcdef");
        let content = public_kubeconfig("https://127.0.0.1:6443", "CA");
        let jws = detached_jws(&content, &signer);
        assert!(jws.contains(".."), "{jws}");
        let cases = [
            (
                "the same token and content verify",
                &content,
                "abcdef.0123456789abcdef",
                true,
            ),
            (
                "another secret does not",
                &content,
                "abcdef.ffffffffffffffff",
                false,
            ),
            (
                "changed content does not",
                &public_kubeconfig("https://evil:6443", "CA"),
                "abcdef.0123456789abcdef",
                false,
            ),
        ];
        for (name, content, presented, ok) in cases {
            assert_eq!(
                verify_detached_jws(content, &jws, &token(presented)),
                ok,
                "{name}"
            );
        }
        assert!(!verify_detached_jws(&content, "garbage", &signer));
    }

    #[test]
    fn the_header_names_the_algorithm_and_the_token_id() {
        let jws = detached_jws("x", &token("abcdef.0123456789abcdef"));
        let header = jws.split("..").next().expect("a header");
        let decoded = URL_SAFE_NO_PAD.decode(header).expect("base64url");
        let json: serde_json::Value = serde_json::from_slice(&decoded).expect("json");
        assert_eq!(json, serde_json::json!({"alg": "HS256", "kid": "abcdef"}));
    }
}
