//! The kubelet's TLS: a self-signed serving certificate made at start (as
//! upstream does without `--tls-cert-file`; the apiserver does not verify
//! it by default), and client certificates verified against the cluster CA
//! when the kubelet knows it (`--client-ca-file`).

use std::sync::Arc;

use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;

/// Why the TLS configuration could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// Generating the serving certificate failed.
    #[error("kubelet serving certificate: {0}")]
    Certificate(#[from] rcgen::Error),
    /// The client CA is not a usable PEM certificate.
    #[error("kubelet client CA: {0}")]
    ClientCa(String),
    /// rustls refused the configuration.
    #[error("kubelet tls: {0}")]
    Config(String),
}

/// The serving configuration for a node called `node_name` at `node_ip`.
pub fn server_config(
    node_name: &str,
    node_ip: &str,
    client_ca_pem: Option<&str>,
) -> Result<rustls::ServerConfig, TlsError> {
    let (cert, key) = self_signed(node_name, node_ip)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?;
    let builder = match client_ca_pem {
        Some(pem) => {
            let mut roots = rustls::RootCertStore::empty();
            for ca in rustls_pemfile::certs(&mut pem.as_bytes()) {
                let ca = ca.map_err(|e| TlsError::ClientCa(e.to_string()))?;
                roots
                    .add(ca)
                    .map_err(|e| TlsError::ClientCa(e.to_string()))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .allow_unauthenticated()
                .build()
                .map_err(|e| TlsError::ClientCa(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
        // Nobody can be verified: every caller is anonymous.
        None => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(vec![cert], key)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// Upstream's `<hostname>@<timestamp>` self-signed pair, valid for the
/// node's name and address and for localhost.
fn self_signed(
    node_name: &str,
    node_ip: &str,
) -> Result<(CertificateDer<'static>, PrivateKeyDer<'static>), TlsError> {
    let mut names = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        node_name.to_string(),
    ];
    if !names.iter().any(|n| n == node_ip) {
        names.push(node_ip.to_string());
    }
    let mut params = CertificateParams::new(names)?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, format!("{node_name}@kubelet"));
    params.distinguished_name = dn;
    let key = KeyPair::generate()?;
    let cert = params.self_signed(&key)?;
    Ok((
        cert.der().clone(),
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn a_config_is_made_with_or_without_a_client_ca() {
        assert!(server_config("node-a", "10.0.0.5", None).is_ok());
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).unwrap();
        assert!(server_config("node-a", "10.0.0.5", Some(&ca.pem())).is_ok());
        assert!(matches!(
            server_config("node-a", "10.0.0.5", Some("not pem")),
            Err(TlsError::ClientCa(_))
        ));
    }
}
