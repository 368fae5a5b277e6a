//! The approval decision of `csrapproving` (upstream
//! `pkg/controller/certificates/approver/sarapprove.go`): a kubelet client
//! certificate request is approved when its content is what a kubelet asks
//! for (`IsKubeletClientCSR` in `pkg/apis/certificates/helpers.go`) and its
//! requester may get one — a bootstrap token user joining the cluster, or
//! the node itself renewing. Upstream asks RBAC through a
//! SubjectAccessReview on `certificatesigningrequests/nodeclient` and
//! `…/selfnodeclient`; rkube has no authorizer yet, so the same two cases
//! are decided on the requester's groups and name.

use k8s_openapi::api::certificates::v1::CertificateSigningRequest;
use rcgen::{CertificateSigningRequestParams, DnType, DnValue};

/// The signer of kubelet client certificates.
pub const KUBELET_CLIENT_SIGNER: &str = "kubernetes.io/kube-apiserver-client-kubelet";
/// The group bootstrap token users are in.
const BOOTSTRAPPERS: &str = "system:bootstrappers";
/// The organization every node certificate names.
const NODES: &str = "system:nodes";
/// The prefix of a node's user name.
const NODE_PREFIX: &str = "system:node:";

/// What to do with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Approve it, with this message on the condition.
    Approve(&'static str),
    /// Leave it to someone else (a person with `kubectl certificate`).
    Ignore(Ignored),
}

/// Why a request is left alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ignored {
    /// It already carries Approved or Denied.
    Decided,
    /// Another signer's request.
    OtherSigner,
    /// Not a kubelet client certificate request (subject, names, usages).
    NotKubeletClient,
    /// The requester may not get a node certificate automatically.
    RequesterNotAllowed,
}

/// Whether an Approved or Denied condition is present.
pub fn is_decided(csr: &CertificateSigningRequest) -> bool {
    has_condition(csr, &["Approved", "Denied"])
}

/// Whether any of these condition types is present (upstream keeps them
/// with status True only).
pub fn has_condition(csr: &CertificateSigningRequest, types: &[&str]) -> bool {
    csr.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|conditions| {
            conditions
                .iter()
                .any(|c| types.contains(&c.type_.as_str()) && c.status == "True")
        })
}

/// The node name a kubelet client request is for, when its content is one.
fn kubelet_client_node(csr: &CertificateSigningRequest) -> Option<String> {
    let pem = std::str::from_utf8(&csr.spec.request.0).ok()?;
    let request = CertificateSigningRequestParams::from_pem(pem).ok()?;
    let params = &request.params;
    let text = |value: &DnValue| match value {
        DnValue::Utf8String(s) => Some(s.clone()),
        DnValue::PrintableString(s) => Some(s.as_str().to_string()),
        _ => None,
    };
    let organizations: Vec<String> = params
        .distinguished_name
        .iter()
        .filter(|(kind, _)| **kind == DnType::OrganizationName)
        .filter_map(|(_, value)| text(value))
        .collect();
    let common_name = params
        .distinguished_name
        .get(&DnType::CommonName)
        .and_then(text)?;
    let usages: Vec<&str> = csr
        .spec
        .usages
        .iter()
        .flatten()
        .map(String::as_str)
        .collect();
    let usages_ok = usages.contains(&"client auth")
        && usages.contains(&"digital signature")
        && usages
            .iter()
            .all(|u| ["client auth", "digital signature", "key encipherment"].contains(u));
    let node = common_name.strip_prefix(NODE_PREFIX)?;
    (organizations == [NODES]
        && !node.is_empty()
        && params.subject_alt_names.is_empty()
        && usages_ok)
        .then(|| node.to_string())
}

/// Decides one request.
pub fn decide(csr: &CertificateSigningRequest) -> Decision {
    if is_decided(csr) {
        return Decision::Ignore(Ignored::Decided);
    }
    if csr.spec.signer_name != KUBELET_CLIENT_SIGNER {
        return Decision::Ignore(Ignored::OtherSigner);
    }
    let Some(node) = kubelet_client_node(csr) else {
        return Decision::Ignore(Ignored::NotKubeletClient);
    };
    let groups = csr.spec.groups.as_deref().unwrap_or_default();
    let username = csr.spec.username.as_deref().unwrap_or_default();
    if groups.iter().any(|g| g == BOOTSTRAPPERS) {
        Decision::Approve("Auto approving kubelet client certificate after SubjectAccessReview.")
    } else if username == format!("{NODE_PREFIX}{node}") && groups.iter().any(|g| g == NODES) {
        Decision::Approve(
            "Auto approving self kubelet client certificate after SubjectAccessReview.",
        )
    } else {
        Decision::Ignore(Ignored::RequesterNotAllowed)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use k8s_openapi::api::certificates::v1::{
        CertificateSigningRequestCondition, CertificateSigningRequestSpec,
        CertificateSigningRequestStatus,
    };
    use k8s_openapi::ByteString;
    use rcgen::{CertificateParams, DistinguishedName, KeyPair};

    use super::*;

    /// A PEM request for this subject and DNS names.
    pub(crate) fn request_pem(cn: &str, orgs: &[&str], dns: &[&str]) -> String {
        let mut params =
            CertificateParams::new(dns.iter().map(|d| d.to_string()).collect::<Vec<_>>())
                .expect("valid names");
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, cn);
        for org in orgs {
            name.push(DnType::OrganizationName, *org);
        }
        params.distinguished_name = name;
        let key = KeyPair::generate().expect("key");
        params
            .serialize_request(&key)
            .expect("request")
            .pem()
            .expect("pem")
    }

    /// A CSR object as the apiserver stores it.
    pub(crate) fn csr(
        pem: &str,
        signer: &str,
        username: &str,
        groups: &[&str],
    ) -> CertificateSigningRequest {
        CertificateSigningRequest {
            spec: CertificateSigningRequestSpec {
                request: ByteString(pem.as_bytes().to_vec()),
                signer_name: signer.into(),
                usages: Some(vec!["digital signature".into(), "client auth".into()]),
                username: Some(username.into()),
                groups: Some(groups.iter().map(|g| g.to_string()).collect()),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn kubelet_request() -> String {
        request_pem("system:node:n1", &["system:nodes"], &[])
    }

    #[test]
    fn requests_are_approved_or_ignored_as_upstream_decides() {
        let bootstrapper = ["system:bootstrappers", "system:authenticated"];
        let node = ["system:nodes", "system:authenticated"];
        let mut denied = csr(
            &kubelet_request(),
            KUBELET_CLIENT_SIGNER,
            "system:bootstrap:abcdef",
            &bootstrapper,
        );
        denied.status = Some(CertificateSigningRequestStatus {
            conditions: Some(vec![CertificateSigningRequestCondition {
                type_: "Denied".into(),
                status: "True".into(),
                ..Default::default()
            }]),
            ..Default::default()
        });
        let mut extra_usage = csr(
            &kubelet_request(),
            KUBELET_CLIENT_SIGNER,
            "system:bootstrap:abcdef",
            &bootstrapper,
        );
        extra_usage.spec.usages = Some(vec![
            "digital signature".into(),
            "client auth".into(),
            "server auth".into(),
        ]);
        let cases: Vec<(&str, CertificateSigningRequest, Option<Ignored>)> = vec![
            (
                "a bootstrapper's kubelet request is approved",
                csr(
                    &kubelet_request(),
                    KUBELET_CLIENT_SIGNER,
                    "system:bootstrap:abcdef",
                    &bootstrapper,
                ),
                None,
            ),
            (
                "a node renewing its own certificate is approved",
                csr(
                    &kubelet_request(),
                    KUBELET_CLIENT_SIGNER,
                    "system:node:n1",
                    &node,
                ),
                None,
            ),
            (
                "a node asking for another node's certificate is ignored",
                csr(
                    &kubelet_request(),
                    KUBELET_CLIENT_SIGNER,
                    "system:node:n2",
                    &node,
                ),
                Some(Ignored::RequesterNotAllowed),
            ),
            (
                "an ordinary user is ignored",
                csr(&kubelet_request(), KUBELET_CLIENT_SIGNER, "alice", &["dev"]),
                Some(Ignored::RequesterNotAllowed),
            ),
            (
                "another signer's request is ignored",
                csr(
                    &kubelet_request(),
                    "example.com/signer",
                    "system:bootstrap:abcdef",
                    &bootstrapper,
                ),
                Some(Ignored::OtherSigner),
            ),
            (
                "a request for system:masters is ignored",
                csr(
                    &request_pem("system:node:n1", &["system:masters"], &[]),
                    KUBELET_CLIENT_SIGNER,
                    "system:bootstrap:abcdef",
                    &bootstrapper,
                ),
                Some(Ignored::NotKubeletClient),
            ),
            (
                "a request not named system:node: is ignored",
                csr(
                    &request_pem("admin", &["system:nodes"], &[]),
                    KUBELET_CLIENT_SIGNER,
                    "system:bootstrap:abcdef",
                    &bootstrapper,
                ),
                Some(Ignored::NotKubeletClient),
            ),
            (
                "a request with DNS names is ignored",
                csr(
                    &request_pem("system:node:n1", &["system:nodes"], &["n1"]),
                    KUBELET_CLIENT_SIGNER,
                    "system:bootstrap:abcdef",
                    &bootstrapper,
                ),
                Some(Ignored::NotKubeletClient),
            ),
            (
                "a request for server auth is ignored",
                extra_usage,
                Some(Ignored::NotKubeletClient),
            ),
            (
                "a denied request stays denied",
                denied,
                Some(Ignored::Decided),
            ),
        ];
        for (name, request, ignored) in cases {
            let decision = decide(&request);
            match ignored {
                None => assert!(
                    matches!(decision, Decision::Approve(_)),
                    "{name}: {decision:?}"
                ),
                Some(why) => assert_eq!(decision, Decision::Ignore(why), "{name}"),
            }
        }
    }
}
