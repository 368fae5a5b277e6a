//! `rkube token create|list`: bootstrap tokens that let nodes join
//! (kubeadm's `kubeadm token`). A token is a Secret
//! `kube-system/bootstrap-token-<id>` of type `bootstrap.kubernetes.io/token`
//! (the apiserver authenticates it: `rkube_apiserver::bootstrap_token`);
//! creating one also signs `kube-public/cluster-info` with it so that
//! joining agents can check the cluster CA (crate::cluster_info).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::ByteString;
use kube::api::{ListParams, ObjectMeta, PostParams};
use kube::Api;
use rkube_apiserver::bootstrap_token::{BootstrapToken, NAMESPACE, SECRET_TYPE};

use crate::components::client_from_kubeconfig;

/// `rkube token` arguments.
#[derive(Debug, Args)]
pub struct TokenArgs {
    /// The data dir whose admin kubeconfig to use.
    #[arg(
        long,
        env = "RKUBE_DATA_DIR",
        default_value = "/var/lib/rkube",
        global = true
    )]
    pub data_dir: PathBuf,
    /// The cluster (default: `<data-dir>/admin.kubeconfig`).
    #[arg(long, global = true)]
    pub kubeconfig: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: TokenCommand,
}

/// `rkube token` subcommands.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it.
    Create {
        /// How long it is valid, e.g. `24h`, `30m`, `7d`; `0` never expires.
        #[arg(long, default_value = "24h", value_parser = parse_ttl)]
        ttl: Ttl,
        /// A note shown by `rkube token list`.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// List the tokens.
    List,
}

/// How long a token lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ttl {
    /// Until deleted.
    Forever,
    /// This long from creation.
    For(Duration),
}

/// Parses `<n>s|m|h|d` (or `0`).
pub fn parse_ttl(text: &str) -> Result<Ttl, String> {
    if text == "0" {
        return Ok(Ttl::Forever);
    }
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("{text:?}: give a unit, e.g. 24h"))?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?}: expected a number then s, m, h or d"))?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("{text:?}: the unit must be s, m, h or d")),
    };
    match number.checked_mul(seconds) {
        Some(0) => Ok(Ttl::Forever),
        Some(secs) => Ok(Ttl::For(Duration::from_secs(secs))),
        None => Err(format!("{text:?}: too long")),
    }
}

/// The Secret that holds `token` (kubeadm's `BootstrapTokenToSecret`): usable
/// for authentication and for signing cluster-info.
pub fn token_secret(
    token: &BootstrapToken,
    ttl: Ttl,
    description: &str,
    now: SystemTime,
) -> Secret {
    let mut data = BTreeMap::from([
        ("token-id", token.id.clone()),
        ("token-secret", token.secret.clone()),
        ("usage-bootstrap-authentication", "true".to_string()),
        ("usage-bootstrap-signing", "true".to_string()),
    ]);
    if let Ttl::For(ttl) = ttl {
        let expires = Time(
            (now + ttl)
                .try_into()
                .unwrap_or(k8s_openapi::jiff::Timestamp::MAX),
        );
        if let Ok(serde_json::Value::String(text)) = serde_json::to_value(expires) {
            data.insert("expiration", text);
        }
    }
    if !description.is_empty() {
        data.insert("description", description.to_string());
    }
    Secret {
        metadata: ObjectMeta {
            name: Some(token.secret_name()),
            namespace: Some(NAMESPACE.into()),
            ..ObjectMeta::default()
        },
        type_: Some(SECRET_TYPE.into()),
        data: Some(
            data.into_iter()
                .map(|(k, v)| (k.to_string(), ByteString(v.into_bytes())))
                .collect(),
        ),
        ..Secret::default()
    }
}

/// Creates a new token in the cluster and signs cluster-info with it.
pub async fn create(
    client: &kube::Client,
    ttl: Ttl,
    description: &str,
) -> anyhow::Result<BootstrapToken> {
    let token = BootstrapToken::generate();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), NAMESPACE);
    secrets
        .create(
            &PostParams::default(),
            &token_secret(&token, ttl, description, SystemTime::now()),
        )
        .await
        .context("creating the bootstrap token Secret")?;
    crate::cluster_info::publish(client, None).await?;
    Ok(token)
}

/// One `rkube token list` row: TOKEN, EXPIRES, USAGES, DESCRIPTION.
fn list_row(secret: &Secret) -> Option<String> {
    if secret.type_.as_deref() != Some(SECRET_TYPE) {
        return None;
    }
    let data = secret.data.as_ref()?;
    let field = |key: &str| {
        data.get(key)
            .map(|v| String::from_utf8_lossy(&v.0).into_owned())
            .unwrap_or_default()
    };
    let usages: Vec<&str> = [
        ("usage-bootstrap-authentication", "authentication"),
        ("usage-bootstrap-signing", "signing"),
    ]
    .into_iter()
    .filter(|(key, _)| field(key) == "true")
    .map(|(_, usage)| usage)
    .collect();
    let expires = field("expiration");
    Some(format!(
        "{}.{}\t{}\t{}\t{}",
        field("token-id"),
        field("token-secret"),
        if expires.is_empty() {
            "<forever>"
        } else {
            &expires
        },
        usages.join(","),
        field("description"),
    ))
}

/// Runs `rkube token …`.
pub async fn run(args: TokenArgs) -> anyhow::Result<()> {
    let kubeconfig = args
        .kubeconfig
        .unwrap_or_else(|| args.data_dir.join("admin.kubeconfig"));
    let client = client_from_kubeconfig(&kubeconfig).await?;
    match args.command {
        TokenCommand::Create { ttl, description } => {
            let token = create(&client, ttl, &description).await?;
            println!("{token}");
        }
        TokenCommand::List => {
            let secrets: Api<Secret> = Api::namespaced(client, NAMESPACE);
            let list = secrets
                .list(&ListParams::default())
                .await
                .context("listing bootstrap tokens")?;
            println!("TOKEN\tEXPIRES\tUSAGES\tDESCRIPTION");
            for row in list.items.iter().filter_map(list_row) {
                println!("{row}");
            }
        }
    }
    Ok(())
}

/// The token `rkube server` made at first start, kept in `<data-dir>/token`
/// (mode 0600) and reused after; made now when absent.
pub async fn ensure_server_token(
    client: &kube::Client,
    data_dir: &std::path::Path,
) -> anyhow::Result<BootstrapToken> {
    let path = data_dir.join("token");
    if let Ok(text) = std::fs::read_to_string(&path) {
        match BootstrapToken::parse(text.trim()) {
            Some(token) => return Ok(token),
            None => bail!("{} does not hold a token <id>.<secret>", path.display()),
        }
    }
    let token = create(client, Ttl::Forever, "made by rkube server at first start").await?;
    rkube_apiserver::pki::write_private(&path, format!("{token}\n").as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls_parse_like_kubeadm_durations() {
        let cases = [
            ("24h", Ok(Ttl::For(Duration::from_secs(86_400)))),
            ("30m", Ok(Ttl::For(Duration::from_secs(1_800)))),
            ("7d", Ok(Ttl::For(Duration::from_secs(604_800)))),
            ("90s", Ok(Ttl::For(Duration::from_secs(90)))),
            ("0", Ok(Ttl::Forever)),
            ("0h", Ok(Ttl::Forever)),
        ];
        for (text, want) in cases {
            assert_eq!(parse_ttl(text), want, "{text}");
        }
        for bad in ["", "h", "24", "24w", "-1h", "99999999999999999999d"] {
            assert!(parse_ttl(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_token_secret_holds_the_token_its_usages_and_its_expiration() {
        let token = BootstrapToken::parse("abcdef.0123456789abcdef").expect("valid");
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600);
        let secret = token_secret(&token, Ttl::For(Duration::from_secs(3600)), "", now);
        let data = secret.data.clone().expect("data");
        let field = |k: &str| {
            data.get(k)
                .map(|v| String::from_utf8_lossy(&v.0).into_owned())
        };
        assert_eq!(
            secret.metadata.name.as_deref(),
            Some("bootstrap-token-abcdef")
        );
        assert_eq!(secret.type_.as_deref(), Some(SECRET_TYPE));
        assert_eq!(field("token-secret").as_deref(), Some("0123456789abcdef"));
        assert_eq!(field("expiration").as_deref(), Some("2026-01-01T01:00:00Z"));
        assert_eq!(
            field("usage-bootstrap-authentication").as_deref(),
            Some("true")
        );
        assert_eq!(
            list_row(&secret).as_deref(),
            Some("abcdef.0123456789abcdef\t2026-01-01T01:00:00Z\tauthentication,signing\t")
        );
        let forever = token_secret(&token, Ttl::Forever, "", now);
        assert!(!forever.data.expect("data").contains_key("expiration"));
    }
}
