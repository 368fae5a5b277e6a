//! The admin kubeconfig: the cluster's CA and the admin client certificate
//! embedded as base64, written with mode 0600 (k3s's `k3s.yaml`).

use std::path::Path;

use base64::Engine;

use crate::pki::{self, CertAndKey};

/// Renders a kubeconfig for `server` (e.g. `https://127.0.0.1:6443`)
/// trusting `ca_pem` and authenticating with `client`.
pub fn render(server: &str, ca_pem: &str, client: &CertAndKey) -> String {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s.as_bytes());
    format!(
        "apiVersion: v1\n\
         kind: Config\n\
         clusters:\n\
         - name: default\n  \
           cluster:\n    \
             server: {server}\n    \
             certificate-authority-data: {ca}\n\
         users:\n\
         - name: default\n  \
           user:\n    \
             client-certificate-data: {cert}\n    \
             client-key-data: {key}\n\
         contexts:\n\
         - name: default\n  \
           context:\n    \
             cluster: default\n    \
             user: default\n\
         current-context: default\n\
         preferences: {{}}\n",
        ca = b64(ca_pem),
        cert = b64(&client.cert_pem),
        key = b64(&client.key_pem),
    )
}

/// Writes [`render`]'s output to `path` with mode 0600.
pub fn write(path: &Path, server: &str, ca_pem: &str, client: &CertAndKey) -> pki::Result<()> {
    pki::write_private(path, render(server, ca_pem, client).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kubeconfig_is_yaml_naming_the_server_and_embedding_credentials() {
        let client = CertAndKey {
            cert_pem: "CERT".into(),
            key_pem: "KEY".into(),
        };
        let text = render("https://127.0.0.1:6443", "CA", &client);
        let doc: serde_yaml::Value = serde_yaml::from_str(&text).expect("should succeed");
        assert_eq!(
            doc["clusters"][0]["cluster"]["server"].as_str(),
            Some("https://127.0.0.1:6443")
        );
        assert_eq!(
            doc["users"][0]["user"]["client-key-data"].as_str(),
            Some("S0VZ")
        );
        assert_eq!(doc["current-context"].as_str(), Some("default"));
    }
}
