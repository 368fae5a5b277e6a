//! A StatefulSet pod's stable identity (upstream `stateful_set_utils.go`): the name
//! `<set>-<ordinal>`, the `statefulset.kubernetes.io/pod-name` and
//! `apps.kubernetes.io/pod-index` labels, hostname and subdomain (the governing Service), and
//! its claims `<template>-<set>-<ordinal>` from the volumeClaimTemplates.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{
    PersistentVolumeClaim, PersistentVolumeClaimVolumeSource, Pod, PodTemplateSpec, Volume,
};
use kube::api::ObjectMeta;
use kube::ResourceExt;

use crate::history::CONTROLLER_REVISION_HASH;

/// The label with the pod's own name (selects a single pod for a per-pod Service).
pub const POD_NAME_LABEL: &str = "statefulset.kubernetes.io/pod-name";

/// The label with the pod's ordinal.
pub const POD_INDEX_LABEL: &str = "apps.kubernetes.io/pod-index";

/// The name of the pod with `ordinal`.
pub fn pod_name(set: &str, ordinal: i32) -> String {
    format!("{set}-{ordinal}")
}

/// The ordinal in a pod name of `set`, if it is one (`web-2` → 2; `web-x`, `web-01`,
/// `other-1` → none).
pub fn ordinal_of(set: &str, pod: &str) -> Option<i32> {
    let digits = pod.strip_prefix(set)?.strip_prefix('-')?;
    let canonical = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'));
    canonical.then(|| digits.parse().ok()).flatten()
}

/// The claim of `template` for the pod with `ordinal`.
pub fn claim_name(template: &str, set: &str, ordinal: i32) -> String {
    format!("{template}-{set}-{ordinal}")
}

/// The pod with `ordinal` made from `template` at revision `revision`.
pub fn new_pod(set: &StatefulSet, template: &PodTemplateSpec, ordinal: i32, revision: &str) -> Pod {
    let set_name = set.name_any();
    let name = pod_name(&set_name, ordinal);
    let mut pod = crate::replicaset::pod_from_template(set, template);
    pod.metadata.generate_name = None;
    pod.metadata.name = Some(name.clone());
    let labels = pod.metadata.labels.get_or_insert_with(BTreeMap::new);
    labels.insert(POD_NAME_LABEL.to_owned(), name.clone());
    labels.insert(POD_INDEX_LABEL.to_owned(), ordinal.to_string());
    labels.insert(CONTROLLER_REVISION_HASH.to_owned(), revision.to_owned());
    let spec = pod.spec.get_or_insert_with(Default::default);
    spec.hostname = Some(name);
    if let Some(service) = set
        .spec
        .as_ref()
        .and_then(|spec| spec.service_name.as_deref())
        .filter(|service| !service.is_empty())
    {
        spec.subdomain = Some(service.to_owned());
    }
    let volumes = spec.volumes.get_or_insert_with(Vec::new);
    for claim in templates(set) {
        let volume_name = claim.metadata.name.clone().unwrap_or_default();
        volumes.retain(|volume| volume.name != volume_name);
        volumes.push(Volume {
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: claim_name(&volume_name, &set_name, ordinal),
                read_only: None,
            }),
            name: volume_name,
            ..Volume::default()
        });
    }
    pod
}

/// The claims the pod with `ordinal` needs (upstream `getPersistentVolumeClaims`): each
/// template's, labelled with the set's selector labels so they can be found again.
pub fn claims(set: &StatefulSet, ordinal: i32) -> Vec<PersistentVolumeClaim> {
    let set_name = set.name_any();
    let selector_labels = set
        .spec
        .as_ref()
        .and_then(|spec| spec.selector.match_labels.clone())
        .unwrap_or_default();
    templates(set)
        .iter()
        .map(|template| {
            let mut labels = template.metadata.labels.clone().unwrap_or_default();
            labels.extend(selector_labels.clone());
            PersistentVolumeClaim {
                metadata: ObjectMeta {
                    name: Some(claim_name(
                        template.metadata.name.as_deref().unwrap_or_default(),
                        &set_name,
                        ordinal,
                    )),
                    namespace: set.namespace(),
                    labels: Some(labels),
                    annotations: template.metadata.annotations.clone(),
                    ..ObjectMeta::default()
                },
                spec: template.spec.clone(),
                status: None,
            }
        })
        .collect()
}

fn templates(set: &StatefulSet) -> &[PersistentVolumeClaim] {
    set.spec
        .as_ref()
        .and_then(|spec| spec.volume_claim_templates.as_deref())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::StatefulSetSpec;

    #[test]
    fn ordinals_are_read_only_from_canonical_pod_names() {
        let cases = [
            ("web-0", Some(0)),
            ("web-12", Some(12)),
            ("web-01", None),
            ("web-", None),
            ("web-x", None),
            ("webby-1", None),
            ("web-1-2", None),
        ];
        for (name, want) in cases {
            assert_eq!(ordinal_of("web", name), want, "{name}");
        }
    }

    #[test]
    fn a_pod_gets_its_identity_and_its_claims() {
        let claim = PersistentVolumeClaim {
            metadata: ObjectMeta {
                name: Some("data".to_owned()),
                ..ObjectMeta::default()
            },
            ..PersistentVolumeClaim::default()
        };
        let set = StatefulSet {
            metadata: ObjectMeta {
                name: Some("web".to_owned()),
                namespace: Some("default".to_owned()),
                uid: Some("set-uid".to_owned()),
                ..ObjectMeta::default()
            },
            spec: Some(StatefulSetSpec {
                service_name: Some("nginx".to_owned()),
                volume_claim_templates: Some(vec![claim]),
                ..StatefulSetSpec::default()
            }),
            status: None,
        };
        let pod = new_pod(&set, &PodTemplateSpec::default(), 2, "web-abc");
        let labels = pod.metadata.labels.clone().unwrap_or_default();
        assert_eq!(pod.metadata.name.as_deref(), Some("web-2"));
        assert_eq!(
            labels.get(POD_NAME_LABEL).map(String::as_str),
            Some("web-2")
        );
        assert_eq!(labels.get(POD_INDEX_LABEL).map(String::as_str), Some("2"));
        assert_eq!(
            labels.get(CONTROLLER_REVISION_HASH).map(String::as_str),
            Some("web-abc")
        );
        let spec = pod.spec.unwrap_or_default();
        assert_eq!(spec.hostname.as_deref(), Some("web-2"));
        assert_eq!(spec.subdomain.as_deref(), Some("nginx"));
        let volume = spec.volumes.unwrap_or_default().into_iter().next();
        assert_eq!(
            volume
                .and_then(|v| v.persistent_volume_claim)
                .map(|c| c.claim_name),
            Some("data-web-2".to_owned())
        );
        let claims = claims(&set, 2);
        assert_eq!(
            claims.first().and_then(|c| c.metadata.name.as_deref()),
            Some("data-web-2")
        );
    }
}
