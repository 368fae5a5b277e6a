//! Issuing a certificate for an approved request, as upstream's
//! `csrsigning` controller does with `--cluster-signing-cert-file` and
//! `--cluster-signing-key-file` (`pkg/controller/certificates/signer`):
//! the subject and public key come from the request; usages, validity and
//! "not a CA" come from the signer, never from the requester.

use std::time::{Duration, SystemTime};

use k8s_openapi::api::certificates::v1::CertificateSigningRequest;
use rcgen::{
    CertificateSigningRequestParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// Upstream's `--cluster-signing-duration` default: one year.
pub const DEFAULT_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);
/// The shortest `spec.expirationSeconds` honoured (upstream: 10 minutes).
const MIN_DURATION: Duration = Duration::from_secs(600);
/// Certificates start a little in the past, for clocks that lag
/// (upstream's 5-minute backdate).
const BACKDATE: Duration = Duration::from_secs(300);

/// Why a request could not be signed.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// `spec.request` is not a valid PEM certificate request.
    #[error("the request is not a valid certificate signing request")]
    BadRequest(#[source] rcgen::Error),
    /// The CA certificate or key could not be used.
    #[error("the signing CA cannot be used")]
    Ca(#[source] rcgen::Error),
    /// Producing the certificate failed.
    #[error("signing failed")]
    Sign(#[source] rcgen::Error),
}

/// The cluster CA as a signer.
#[derive(Clone)]
pub struct Signer {
    cert_pem: String,
    key_pem: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer").finish_non_exhaustive()
    }
}

impl Signer {
    /// A signer from PEM texts; both are checked now.
    pub fn new(cert_pem: String, key_pem: String) -> Result<Self, SignError> {
        let signer = Signer { cert_pem, key_pem };
        signer.issuer()?;
        Ok(signer)
    }

    fn issuer(&self) -> Result<Issuer<'static, KeyPair>, SignError> {
        let key = KeyPair::from_pem(&self.key_pem).map_err(SignError::Ca)?;
        Issuer::from_ca_cert_pem(&self.cert_pem, key).map_err(SignError::Ca)
    }

    /// The PEM certificate for a request, valid from shortly before `now`
    /// for `spec.expirationSeconds` (at least 10 minutes) or `max`,
    /// whichever is shorter.
    pub fn sign(
        &self,
        csr: &CertificateSigningRequest,
        now: SystemTime,
        max: Duration,
    ) -> Result<String, SignError> {
        let pem = String::from_utf8_lossy(&csr.spec.request.0);
        let mut request =
            CertificateSigningRequestParams::from_pem(&pem).map_err(SignError::BadRequest)?;
        let requested = csr
            .spec
            .expiration_seconds
            .and_then(|s| u64::try_from(s).ok())
            .map(Duration::from_secs)
            .map_or(max, |d| d.clamp(MIN_DURATION, max));
        let usages: Vec<&str> = csr
            .spec
            .usages
            .iter()
            .flatten()
            .map(String::as_str)
            .collect();
        let since_epoch = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        let epoch = rcgen::date_time_ymd(1970, 1, 1);
        let params = &mut request.params;
        params.not_before = epoch + since_epoch.saturating_sub(BACKDATE);
        params.not_after = epoch + since_epoch + requested;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = [
            ("digital signature", KeyUsagePurpose::DigitalSignature),
            ("key encipherment", KeyUsagePurpose::KeyEncipherment),
        ]
        .into_iter()
        .filter(|(name, _)| usages.contains(name))
        .map(|(_, usage)| usage)
        .collect();
        params.extended_key_usages = [
            ("client auth", ExtendedKeyUsagePurpose::ClientAuth),
            ("server auth", ExtendedKeyUsagePurpose::ServerAuth),
        ]
        .into_iter()
        .filter(|(name, _)| usages.contains(name))
        .map(|(_, usage)| usage)
        .collect();
        params.use_authority_key_identifier_extension = true;
        let cert = request
            .signed_by(&self.issuer()?)
            .map_err(SignError::Sign)?;
        Ok(cert.pem())
    }
}

#[cfg(test)]
mod tests {
    use rcgen::{BasicConstraints, CertificateParams, DistinguishedName, DnType};
    use x509_parser::prelude::{FromDer, X509Certificate};

    use super::super::approve::tests::{csr, request_pem};
    use super::*;

    fn ca() -> Signer {
        let key = KeyPair::generate().expect("key");
        let mut params = CertificateParams::default();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, "test-ca");
        params.distinguished_name = name;
        let cert = params.self_signed(&key).expect("ca");
        Signer::new(cert.pem(), key.serialize_pem()).expect("usable ca")
    }

    #[test]
    fn a_signed_certificate_keeps_the_subject_and_takes_the_signers_terms() {
        let signer = ca();
        let mut request = csr(
            &request_pem("system:node:n1", &["system:nodes"], &[]),
            "kubernetes.io/kube-apiserver-client-kubelet",
            "system:bootstrap:abcdef",
            &[],
        );
        request.spec.expiration_seconds = Some(3600);
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600);
        let pem = signer
            .sign(&request, now, DEFAULT_DURATION)
            .expect("signed");
        let der = der_of(&pem);
        let (_, cert) = X509Certificate::from_der(&der).expect("a certificate");
        let cn: Vec<_> = cert
            .subject()
            .iter_common_name()
            .filter_map(|c| c.as_str().ok())
            .collect();
        assert_eq!(cn, ["system:node:n1"]);
        assert_eq!(
            cert.issuer()
                .iter_common_name()
                .next()
                .and_then(|c| c.as_str().ok()),
            Some("test-ca")
        );
        let validity = cert.validity();
        assert_eq!(
            validity.not_after.timestamp() - validity.not_before.timestamp(),
            3600 + 300
        );
        assert!(!cert.is_ca());
        let eku = cert.extended_key_usage().expect("parsed").expect("present");
        assert!(eku.value.client_auth && !eku.value.server_auth);
    }

    #[test]
    fn garbage_requests_are_refused() {
        let request = csr(
            "not a request",
            "kubernetes.io/kube-apiserver-client-kubelet",
            "u",
            &[],
        );
        assert!(matches!(
            ca().sign(&request, SystemTime::now(), DEFAULT_DURATION),
            Err(SignError::BadRequest(_))
        ));
    }

    /// The DER inside a single-certificate PEM.
    fn der_of(pem: &str) -> Vec<u8> {
        let (_, parsed) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).expect("pem");
        parsed.contents
    }
}
