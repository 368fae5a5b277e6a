//! The objects every namespace gets (upstream
//! `pkg/controller/serviceaccount/serviceaccounts_controller.go` and
//! `pkg/controller/certificates/rootcacertpublisher/publisher.go`): the
//! `default` ServiceAccount and the `kube-root-ca.crt` ConfigMap holding
//! the cluster CA under `ca.crt`.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ConfigMap, ServiceAccount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// The ServiceAccount every namespace gets.
pub const DEFAULT_SERVICE_ACCOUNT: &str = "default";
/// The ConfigMap carrying the cluster CA.
pub const ROOT_CA_CONFIGMAP: &str = "kube-root-ca.crt";
/// Its data key.
pub const ROOT_CA_KEY: &str = "ca.crt";
const DESCRIPTION_ANNOTATION: &str = "kubernetes.io/description";
const DESCRIPTION: &str = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.";

/// The `default` ServiceAccount of a namespace.
pub fn default_service_account(namespace: &str) -> ServiceAccount {
    ServiceAccount {
        metadata: ObjectMeta {
            name: Some(DEFAULT_SERVICE_ACCOUNT.into()),
            namespace: Some(namespace.into()),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// The `kube-root-ca.crt` ConfigMap of a namespace.
pub fn root_ca_configmap(namespace: &str, ca_pem: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(ROOT_CA_CONFIGMAP.into()),
            namespace: Some(namespace.into()),
            annotations: Some(
                [(DESCRIPTION_ANNOTATION.to_string(), DESCRIPTION.to_string())].into(),
            ),
            ..Default::default()
        },
        data: Some([(ROOT_CA_KEY.to_string(), ca_pem.to_string())].into()),
        ..Default::default()
    }
}

/// The ConfigMap with its data and description restored, or `None` when it
/// already holds exactly the CA (other annotations and labels are kept, as
/// upstream's publisher does).
pub fn restored_root_ca(current: &ConfigMap, ca_pem: &str) -> Option<ConfigMap> {
    let want_data: BTreeMap<String, String> =
        [(ROOT_CA_KEY.to_string(), ca_pem.to_string())].into();
    let annotations = current.metadata.annotations.clone().unwrap_or_default();
    let data_ok = current.data.as_ref() == Some(&want_data) && current.binary_data.is_none();
    let description_ok =
        annotations.get(DESCRIPTION_ANNOTATION).map(String::as_str) == Some(DESCRIPTION);
    if data_ok && description_ok {
        return None;
    }
    let mut fixed = current.clone();
    fixed.data = Some(want_data);
    fixed.binary_data = None;
    let mut annotations = annotations;
    annotations.insert(DESCRIPTION_ANNOTATION.into(), DESCRIPTION.into());
    fixed.metadata.annotations = Some(annotations);
    Some(fixed)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    const CA: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

    #[test]
    fn the_root_ca_is_restored_only_when_changed() {
        let fresh = root_ca_configmap("team-a", CA);
        assert_eq!(
            fresh
                .data
                .as_ref()
                .and_then(|d| d.get(ROOT_CA_KEY))
                .map(String::as_str),
            Some(CA)
        );
        let mut edited = fresh.clone();
        edited.data = Some([(ROOT_CA_KEY.to_string(), "tampered".to_string())].into());
        let mut extra_key = fresh.clone();
        extra_key
            .data
            .get_or_insert_with(BTreeMap::new)
            .insert("x".into(), "y".into());
        let mut labelled = fresh.clone();
        labelled.metadata.labels = Some([("a".to_string(), "b".to_string())].into());
        let cases = [
            ("an intact ConfigMap", fresh.clone(), false),
            ("a tampered CA", edited, true),
            ("an extra key", extra_key, true),
            ("a user label", labelled, false),
        ];
        for (name, current, want) in cases {
            let restored = restored_root_ca(&current, CA);
            assert_eq!(restored.is_some(), want, "{name}");
            if let Some(r) = restored {
                assert_eq!(r.data, fresh.data, "{name}");
            }
        }
    }

    #[test]
    fn the_default_service_account_is_named_default() {
        let sa = default_service_account("team-a");
        assert_eq!(sa.metadata.name.as_deref(), Some("default"));
        assert_eq!(sa.metadata.namespace.as_deref(), Some("team-a"));
    }
}
