//! The cluster's certificates: a CA, the apiserver's serving certificate and
//! an admin client certificate, generated at first start and reused after
//! (as k3s does in `<data-dir>/server/tls`).
//!
//! All are X.509 v3 with SANs and key usages: rustls-based clients reject
//! certificates without them.

use std::fs;
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};

/// Why certificates could not be loaded or made.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Generating or parsing a certificate failed.
    #[error("certificate: {0}")]
    Certificate(#[from] rcgen::Error),
}

/// PKI results.
pub type Result<T, E = PkiError> = std::result::Result<T, E>;

/// A certificate and its private key, both PEM.
#[derive(Debug, Clone)]
pub struct CertAndKey {
    /// The certificate, PEM.
    pub cert_pem: String,
    /// The private key, PKCS#8 PEM.
    pub key_pem: String,
}

/// Everything the apiserver and its admin need.
#[derive(Debug, Clone)]
pub struct Pki {
    /// The cluster CA (signs the others and verifies client certificates).
    pub ca: CertAndKey,
    /// The apiserver's serving certificate.
    pub serving: CertAndKey,
    /// The admin's client certificate (CN `admin`, O `system:masters`).
    pub admin: CertAndKey,
    /// What the apiserver presents to kubelets (upstream's
    /// `apiserver-kubelet-client`: CN `kube-apiserver-kubelet-client`,
    /// O `system:masters`).
    pub kubelet_client: CertAndKey,
}

/// The names the serving certificate is valid for, besides the host's own
/// names and addresses (upstream's `kubernetes.default.svc…` and the first
/// address of the service CIDR 10.43.0.0/16).
const SERVING_NAMES: [&str; 7] = [
    "localhost",
    "127.0.0.1",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
    "10.43.0.1",
];

impl Pki {
    /// Loads the certificates from `dir`, generating (and writing) any that
    /// are missing. `extra_sans` are added to a newly made serving cert.
    pub fn load_or_create(dir: &Path, extra_sans: &[String]) -> Result<Pki> {
        fs::create_dir_all(dir).map_err(|source| PkiError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let ca = match load(dir, "ca")? {
            Some(ca) => ca,
            None => store(dir, "ca", make_ca()?)?,
        };
        let ca_key = KeyPair::from_pem(&ca.key_pem)?;
        let issuer = Issuer::from_ca_cert_pem(&ca.cert_pem, &ca_key)?;
        let serving = match load(dir, "serving")? {
            Some(s) => s,
            None => store(dir, "serving", make_serving(&issuer, extra_sans)?)?,
        };
        let admin = match load(dir, "admin")? {
            Some(a) => a,
            None => store(
                dir,
                "admin",
                make_client(&issuer, "admin", &["system:masters"])?,
            )?,
        };
        let kubelet_client = match load(dir, "kubelet-client")? {
            Some(k) => k,
            None => store(
                dir,
                "kubelet-client",
                make_client(
                    &issuer,
                    "kube-apiserver-kubelet-client",
                    &["system:masters"],
                )?,
            )?,
        };
        Ok(Pki {
            ca,
            serving,
            admin,
            kubelet_client,
        })
    }
}

fn make_ca() -> Result<CertAndKey> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.distinguished_name = name("rkube-ca", &[]);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.not_after = rcgen::date_time_ymd(2036, 1, 1);
    let key = KeyPair::generate()?;
    let cert = params.self_signed(&key)?;
    Ok(CertAndKey {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

fn make_serving(issuer: &Issuer<'_, &KeyPair>, extra_sans: &[String]) -> Result<CertAndKey> {
    let mut sans: Vec<String> = SERVING_NAMES.iter().map(|s| s.to_string()).collect();
    sans.extend(host_names());
    for extra in extra_sans {
        if !sans.contains(extra) {
            sans.push(extra.clone());
        }
    }
    let mut params = CertificateParams::new(sans)?;
    params.distinguished_name = name("kube-apiserver", &[]);
    sign_leaf(params, ExtendedKeyUsagePurpose::ServerAuth, issuer)
}

/// A client certificate: the CN is the user name and each O a group, as
/// upstream's x509 authenticator reads them.
pub fn make_client(
    issuer: &Issuer<'_, &KeyPair>,
    user: &str,
    groups: &[&str],
) -> Result<CertAndKey> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.distinguished_name = name(user, groups);
    sign_leaf(params, ExtendedKeyUsagePurpose::ClientAuth, issuer)
}

/// Signs a serving or client certificate with the CA: the key usages both
/// kinds share, the one extended usage that tells them apart.
fn sign_leaf(
    mut params: CertificateParams,
    usage: ExtendedKeyUsagePurpose,
    issuer: &Issuer<'_, &KeyPair>,
) -> Result<CertAndKey> {
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![usage];
    params.use_authority_key_identifier_extension = true;
    params.not_after = rcgen::date_time_ymd(2036, 1, 1);
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, issuer)?;
    Ok(CertAndKey {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

fn name(common_name: &str, organizations: &[&str]) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    for org in organizations {
        dn.push(DnType::OrganizationName, *org);
    }
    dn
}

/// The host's name and its primary address, so that other machines can
/// reach the apiserver by them. The address is the local end of a UDP
/// socket "connected" towards a non-local address: no packet is sent.
fn host_names() -> Vec<String> {
    let mut names = Vec::new();
    if let Ok(hostname) = fs::read_to_string("/etc/hostname") {
        let hostname = hostname.trim();
        if !hostname.is_empty()
            && hostname
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        {
            names.push(hostname.to_string());
        }
    }
    let primary = std::net::UdpSocket::bind("0.0.0.0:0")
        .and_then(|s| s.connect("10.255.255.255:9").map(|()| s))
        .and_then(|s| s.local_addr());
    if let Ok(addr) = primary {
        let ip: IpAddr = addr.ip();
        if !ip.is_unspecified() && !ip.is_loopback() {
            names.push(ip.to_string());
        }
    }
    names
}

fn paths(dir: &Path, stem: &str) -> (PathBuf, PathBuf) {
    (
        dir.join(format!("{stem}.crt")),
        dir.join(format!("{stem}.key")),
    )
}

fn load(dir: &Path, stem: &str) -> Result<Option<CertAndKey>> {
    let (cert_path, key_path) = paths(dir, stem);
    if !cert_path.exists() || !key_path.exists() {
        return Ok(None);
    }
    let read = |path: &Path| {
        fs::read_to_string(path).map_err(|source| PkiError::Io {
            path: path.to_path_buf(),
            source,
        })
    };
    Ok(Some(CertAndKey {
        cert_pem: read(&cert_path)?,
        key_pem: read(&key_path)?,
    }))
}

fn store(dir: &Path, stem: &str, pair: CertAndKey) -> Result<CertAndKey> {
    let (cert_path, key_path) = paths(dir, stem);
    write_private(&key_path, pair.key_pem.as_bytes())?;
    fs::write(&cert_path, pair.cert_pem.as_bytes()).map_err(|source| PkiError::Io {
        path: cert_path.clone(),
        source,
    })?;
    Ok(pair)
}

/// Writes a file only its owner can read (mode 0600), as for keys and
/// kubeconfigs.
pub fn write_private(path: &Path, contents: &[u8]) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let io = |source| PkiError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(io)?;
    file.write_all(contents).map_err(io)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::prelude::*;

    fn parse(pem: &str) -> Vec<u8> {
        let (_, p) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).expect("should succeed");
        p.contents
    }

    #[test]
    fn certificates_are_v3_with_the_kubernetes_service_names() {
        let dir = tempfile::tempdir().expect("should succeed");
        let pki = Pki::load_or_create(dir.path(), &[]).expect("should succeed");
        let der = parse(&pki.serving.cert_pem);
        let (_, cert) = X509Certificate::from_der(&der).expect("should succeed");
        assert_eq!(cert.version(), X509Version::V3);
        let san = cert
            .subject_alternative_name()
            .expect("should succeed")
            .expect("should succeed");
        let names: Vec<String> = san
            .value
            .general_names
            .iter()
            .map(|n| match n {
                GeneralName::DNSName(d) => d.to_string(),
                GeneralName::IPAddress(ip) => format!("{ip:?}"),
                other => format!("{other:?}"),
            })
            .collect();
        assert!(names.contains(&"kubernetes.default.svc.cluster.local".to_string()));
        assert!(names.contains(&"localhost".to_string()));
    }

    #[test]
    fn a_second_start_reuses_the_certificates() {
        let dir = tempfile::tempdir().expect("should succeed");
        let first = Pki::load_or_create(dir.path(), &[]).expect("should succeed");
        let second = Pki::load_or_create(dir.path(), &[]).expect("should succeed");
        assert_eq!(first.ca.cert_pem, second.ca.cert_pem);
        assert_eq!(first.admin.key_pem, second.admin.key_pem);
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(dir.path().join("ca.key"))
            .expect("should succeed")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn the_admin_certificate_names_the_masters_group() {
        let dir = tempfile::tempdir().expect("should succeed");
        let pki = Pki::load_or_create(dir.path(), &[]).expect("should succeed");
        let der = parse(&pki.admin.cert_pem);
        let (_, cert) = X509Certificate::from_der(&der).expect("should succeed");
        let org: Vec<&str> = cert
            .subject()
            .iter_organization()
            .filter_map(|o| o.as_str().ok())
            .collect();
        assert_eq!(org, vec!["system:masters"]);
    }
}
