//! Joining a cluster with a bootstrap token (kubeadm's and the kubelet's
//! TLS bootstrap): find the cluster CA through the token-signed
//! `cluster-info` (crate::cluster_info), ask for a kubelet client
//! certificate with a CertificateSigningRequest, wait until the
//! controller-manager approves and signs it, and keep the result in
//! `<data-dir>/kubelet.kubeconfig`, which later starts reuse without the
//! token.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use base64::Engine;
use k8s_openapi::api::certificates::v1::{
    CertificateSigningRequest, CertificateSigningRequestSpec,
};
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::ByteString;
use kube::api::{ObjectMeta, PostParams};
use kube::Api;
use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair};
use rkube_apiserver::bootstrap_token::BootstrapToken;
use rkube_apiserver::pki::CertAndKey;
use rkube_controllers::certificates::approve::KUBELET_CLIENT_SIGNER;
use tracing::info;

use crate::cluster_info::{self, CLUSTER_INFO_NAME, CLUSTER_INFO_NAMESPACE, KUBECONFIG_KEY};

/// How long to wait for the certificate (the controller-manager answers
/// within a second when it runs).
const CERTIFICATE_WAIT: Duration = Duration::from_secs(120);

/// Where the agent keeps its own credentials.
pub fn kubelet_kubeconfig(data_dir: &Path) -> PathBuf {
    data_dir.join("kubelet.kubeconfig")
}

/// A kubeconfig text for `server` with a bearer token, trusting `ca_pem`,
/// or trusting nothing (only to read the signed cluster-info).
fn token_kubeconfig(server: &str, ca_pem: Option<&str>, token: &BootstrapToken) -> String {
    let trust = match ca_pem {
        Some(ca) => format!(
            "certificate-authority-data: {}",
            base64::engine::general_purpose::STANDARD.encode(ca)
        ),
        None => "insecure-skip-tls-verify: true".to_string(),
    };
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: join\n  cluster:\n    server: {server}\n    {trust}\nusers:\n- name: join\n  user:\n    token: {token}\ncontexts:\n- name: join\n  context:\n    cluster: join\n    user: join\ncurrent-context: join\n"
    )
}

async fn client_of(kubeconfig: &str) -> anyhow::Result<kube::Client> {
    let kubeconfig = kube::config::Kubeconfig::from_yaml(kubeconfig)?;
    let config = kube::Config::from_custom_kubeconfig(
        kubeconfig,
        &kube::config::KubeConfigOptions::default(),
    )
    .await?;
    Ok(kube::Client::try_from(config)?)
}

/// A clear message for the errors a join meets most.
fn explain(error: kube::Error, token: &BootstrapToken, server: &str) -> anyhow::Error {
    match &error {
        kube::Error::Api(status) if status.code == 401 => anyhow!(
            "the server at {server} refused token {}: it is wrong, expired or deleted \
             (make one with `rkube token create` on the server)",
            token.id
        ),
        _ => anyhow::Error::new(error).context(format!("talking to {server}")),
    }
}

/// The cluster CA, read from cluster-info and accepted only when the
/// token's signature over it verifies.
async fn discover_ca(server: &str, token: &BootstrapToken) -> anyhow::Result<String> {
    let client = client_of(&token_kubeconfig(server, None, token)).await?;
    let config_maps: Api<ConfigMap> = Api::namespaced(client, CLUSTER_INFO_NAMESPACE);
    let info = config_maps
        .get(CLUSTER_INFO_NAME)
        .await
        .map_err(|e| explain(e, token, server))?;
    let data = info.data.unwrap_or_default();
    let kubeconfig = data
        .get(KUBECONFIG_KEY)
        .ok_or_else(|| anyhow!("{server} publishes no cluster-info kubeconfig"))?;
    let signature = data
        .get(&cluster_info::signature_key(&token.id))
        .ok_or_else(|| {
            anyhow!(
                "cluster-info on {server} is not signed for token {}",
                token.id
            )
        })?;
    if !cluster_info::verify_detached_jws(kubeconfig, signature, token) {
        bail!(
            "cluster-info on {server} has a bad signature for token {}: refusing to trust its CA",
            token.id
        );
    }
    let parsed = kube::config::Kubeconfig::from_yaml(kubeconfig)
        .context("reading the cluster-info kubeconfig")?;
    let ca_b64 = parsed
        .clusters
        .first()
        .and_then(|c| c.cluster.as_ref())
        .and_then(|c| c.certificate_authority_data.clone())
        .ok_or_else(|| anyhow!("the cluster-info kubeconfig names no CA"))?;
    let ca = base64::engine::general_purpose::STANDARD
        .decode(ca_b64.trim())
        .context("decoding the cluster CA")?;
    String::from_utf8(ca).context("the cluster CA is not PEM")
}

/// The key and PEM request for `system:node:<node>` in `system:nodes`.
fn node_request(node: &str) -> anyhow::Result<(KeyPair, String)> {
    let key = KeyPair::generate().context("generating the node key")?;
    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    name.push(DnType::OrganizationName, "system:nodes");
    name.push(DnType::CommonName, format!("system:node:{node}"));
    params.distinguished_name = name;
    let request = params
        .serialize_request(&key)
        .context("making the certificate request")?;
    Ok((key, request.pem().context("encoding the request")?))
}

/// Waits for the CSR to be issued, denied or failed.
async fn await_certificate(
    api: &Api<CertificateSigningRequest>,
    name: &str,
) -> anyhow::Result<String> {
    let done = |csr: Option<&CertificateSigningRequest>| {
        let Some(status) = csr.and_then(|c| c.status.as_ref()) else {
            return false;
        };
        status.certificate.as_ref().is_some_and(|c| !c.0.is_empty())
            || status
                .conditions
                .iter()
                .flatten()
                .any(|c| (c.type_ == "Denied" || c.type_ == "Failed") && c.status == "True")
    };
    let csr = tokio::time::timeout(
        CERTIFICATE_WAIT,
        kube::runtime::wait::await_condition(api.clone(), name, done),
    )
    .await
    .map_err(|_| {
        anyhow!(
            "CertificateSigningRequest {name} was not signed within {}s: is the controller-manager running?",
            CERTIFICATE_WAIT.as_secs()
        )
    })?
    .context("watching the CertificateSigningRequest")?
    .ok_or_else(|| anyhow!("CertificateSigningRequest {name} was deleted"))?;
    let status = csr.status.unwrap_or_default();
    if let Some(refused) = status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "Denied" || c.type_ == "Failed")
    {
        bail!(
            "CertificateSigningRequest {name} {}: {}",
            refused.type_.to_lowercase(),
            refused.message.clone().unwrap_or_default()
        );
    }
    let certificate = status.certificate.unwrap_or_default();
    String::from_utf8(certificate.0).context("the issued certificate is not PEM")
}

/// Joins `server` as `node` with `token`, writing and returning
/// `<data-dir>/kubelet.kubeconfig`.
pub async fn join(
    server: &str,
    token: &str,
    node: &str,
    data_dir: &Path,
) -> anyhow::Result<PathBuf> {
    let token = BootstrapToken::parse(token.trim()).ok_or_else(|| {
        anyhow!("--token must look like <id>.<secret>: 6 and 16 characters of a-z and 0-9")
    })?;
    let ca_pem = discover_ca(server, &token).await?;
    info!(server, token_id = %token.id, "cluster CA verified with the token's signature");
    let client = client_of(&token_kubeconfig(server, Some(&ca_pem), &token)).await?;
    let (key, request) = node_request(node)?;
    let csrs: Api<CertificateSigningRequest> = Api::all(client);
    let csr = CertificateSigningRequest {
        metadata: ObjectMeta {
            generate_name: Some("node-csr-".into()),
            ..ObjectMeta::default()
        },
        spec: CertificateSigningRequestSpec {
            request: ByteString(request.into_bytes()),
            signer_name: KUBELET_CLIENT_SIGNER.into(),
            usages: Some(vec!["digital signature".into(), "client auth".into()]),
            ..CertificateSigningRequestSpec::default()
        },
        status: None,
    };
    let created = csrs
        .create(&PostParams::default(), &csr)
        .await
        .map_err(|e| explain(e, &token, server))?;
    let name = created.metadata.name.unwrap_or_default();
    info!(csr = %name, node, "waiting for the kubelet client certificate");
    let cert_pem = await_certificate(&csrs, &name).await?;
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    let path = kubelet_kubeconfig(data_dir);
    let credentials = CertAndKey {
        cert_pem,
        key_pem: key.serialize_pem(),
    };
    rkube_apiserver::kubeconfig::write(&path, server, &ca_pem, &credentials)
        .with_context(|| format!("writing {}", path.display()))?;
    info!(kubeconfig = %path.display(), node, "joined the cluster");
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_node_request_names_the_node_in_system_nodes() {
        let (_, pem) = node_request("n1").expect("request");
        let parsed = rcgen::CertificateSigningRequestParams::from_pem(&pem).expect("parses");
        let name = &parsed.params.distinguished_name;
        let text = |t: DnType| match name.get(&t) {
            Some(rcgen::DnValue::Utf8String(s)) => s.clone(),
            other => format!("{other:?}"),
        };
        assert_eq!(text(DnType::CommonName), "system:node:n1");
        assert_eq!(text(DnType::OrganizationName), "system:nodes");
    }

    #[test]
    fn token_kubeconfigs_either_pin_the_ca_or_skip_verification() {
        let token = BootstrapToken::parse("abcdef.0123456789abcdef").expect("valid");
        let insecure =
            kube::config::Kubeconfig::from_yaml(&token_kubeconfig("https://h:6443", None, &token))
                .expect("yaml");
        let cluster = insecure.clusters[0].cluster.clone().expect("cluster");
        assert_eq!(cluster.insecure_skip_tls_verify, Some(true));
        let pinned = kube::config::Kubeconfig::from_yaml(&token_kubeconfig(
            "https://h:6443",
            Some("CA"),
            &token,
        ))
        .expect("yaml");
        let cluster = pinned.clusters[0].cluster.clone().expect("cluster");
        assert_eq!(cluster.certificate_authority_data.as_deref(), Some("Q0E="));
        assert_eq!(cluster.insecure_skip_tls_verify, None);
    }
}
