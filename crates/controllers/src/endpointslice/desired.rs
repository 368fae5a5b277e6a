//! The EndpointSlices a Service should have, and the writes that turn the
//! existing ones into them (upstream `pkg/controller/endpointslice` and
//! `staging/src/k8s.io/endpointslice/reconciler.go`): endpoints are grouped
//! by address family and by the ports they resolve to, at most
//! [`MAX_ENDPOINTS_PER_SLICE`] per slice; existing slices are reused before
//! new ones are created, and left-over ones are deleted.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

use super::pods::{self, ResolvedPort, Terminating};

/// Upstream's default `--max-endpoints-per-slice`.
pub const MAX_ENDPOINTS_PER_SLICE: usize = 100;
/// The label naming a slice's Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
/// The label naming who manages a slice.
pub const MANAGED_BY_LABEL: &str = "endpointslice.kubernetes.io/managed-by";
/// This controller's value of [`MANAGED_BY_LABEL`].
pub const MANAGED_BY: &str = "endpointslice-controller.k8s.io";
/// Set (empty) on the endpoints of headless Services.
pub const HEADLESS_LABEL: &str = "service.kubernetes.io/headless";

/// What one slice should hold.
#[derive(Debug, Clone, PartialEq)]
pub struct SliceContent {
    /// `IPv4` or `IPv6`.
    pub address_type: String,
    /// The ports every endpoint of the slice serves.
    pub ports: Vec<EndpointPort>,
    /// The endpoints, ordered by pod name.
    pub endpoints: Vec<Endpoint>,
}

fn address_type(ip: &str) -> &'static str {
    if ip.contains(':') {
        "IPv6"
    } else {
        "IPv4"
    }
}

fn endpoint_port(port: &ResolvedPort) -> EndpointPort {
    EndpointPort {
        name: Some(port.name.clone().unwrap_or_default()),
        port: Some(port.port),
        protocol: Some(port.protocol.clone()),
        app_protocol: port.app_protocol.clone(),
    }
}

fn pod_endpoint(service: &Service, pod: &Pod, ip: &str) -> Endpoint {
    let readiness = pods::readiness(service, pod);
    Endpoint {
        addresses: vec![ip.to_string()],
        conditions: Some(EndpointConditions {
            ready: Some(readiness.ready),
            serving: Some(readiness.serving),
            terminating: Some(readiness.terminating),
        }),
        hostname: pods::hostname_for(service, pod),
        node_name: pod.spec.as_ref().and_then(|s| s.node_name.clone()),
        target_ref: Some(pods::target_ref(pod)),
        ..Default::default()
    }
}

/// The slices' contents for a Service and the pods its selector matches.
pub fn desired_slices(service: &Service, selected: &[Pod]) -> Vec<SliceContent> {
    let mut sorted: Vec<&Pod> = selected
        .iter()
        .filter(|p| pods::should_be_in_endpoints(p, Terminating::Include))
        .collect();
    sorted.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    let mut groups: BTreeMap<(&'static str, Vec<ResolvedPort>), Vec<Endpoint>> = BTreeMap::new();
    for pod in sorted {
        let Some(ip) = pods::pod_ip(pod) else {
            continue;
        };
        let ports = pods::resolved_ports(service, pod);
        groups
            .entry((address_type(ip), ports))
            .or_default()
            .push(pod_endpoint(service, pod, ip));
    }
    let mut slices = Vec::new();
    for ((address_type, ports), endpoints) in groups {
        let ports: Vec<EndpointPort> = ports.iter().map(endpoint_port).collect();
        for chunk in endpoints.chunks(MAX_ENDPOINTS_PER_SLICE) {
            slices.push(SliceContent {
                address_type: address_type.to_string(),
                ports: ports.clone(),
                endpoints: chunk.to_vec(),
            });
        }
    }
    slices
}

/// The labels every slice of the Service carries: the Service's own plus
/// the service-name, managed-by and headless labels.
pub fn slice_labels(service: &Service) -> BTreeMap<String, String> {
    let mut labels = service.metadata.labels.clone().unwrap_or_default();
    labels.insert(
        SERVICE_NAME_LABEL.into(),
        service.metadata.name.clone().unwrap_or_default(),
    );
    labels.insert(MANAGED_BY_LABEL.into(), MANAGED_BY.into());
    if pods::is_headless(service) {
        labels.insert(HEADLESS_LABEL.into(), String::new());
    } else {
        labels.remove(HEADLESS_LABEL);
    }
    labels
}

/// The Service as the controlling owner of its slices.
pub fn service_owner(service: &Service) -> OwnerReference {
    OwnerReference {
        api_version: "v1".into(),
        kind: "Service".into(),
        name: service.metadata.name.clone().unwrap_or_default(),
        uid: service.metadata.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// What to write to move the existing slices to the desired ones.
#[derive(Debug, Default)]
pub struct SlicePlan {
    /// New slices (named by `generateName`).
    pub create: Vec<EndpointSlice>,
    /// Existing slices with new contents.
    pub update: Vec<EndpointSlice>,
    /// Names of slices no longer needed.
    pub delete: Vec<String>,
}

impl SlicePlan {
    /// Whether nothing needs writing.
    pub fn is_empty(&self) -> bool {
        self.create.is_empty() && self.update.is_empty() && self.delete.is_empty()
    }
}

fn ports_of(slice: &EndpointSlice) -> &[EndpointPort] {
    slice.ports.as_deref().unwrap_or_default()
}

fn holds(slice: &EndpointSlice, content: &SliceContent, labels: &BTreeMap<String, String>) -> bool {
    slice.address_type == content.address_type
        && ports_of(slice) == content.ports.as_slice()
        && slice.endpoints == content.endpoints
        && slice.metadata.labels.as_ref() == Some(labels)
}

fn filled(
    mut slice: EndpointSlice,
    content: SliceContent,
    labels: &BTreeMap<String, String>,
) -> EndpointSlice {
    slice.address_type = content.address_type;
    slice.ports = Some(content.ports);
    slice.endpoints = content.endpoints;
    slice.metadata.labels = Some(labels.clone());
    slice
}

/// Matches desired contents to the Service's existing slices (those with its
/// service-name and this controller's managed-by label): unchanged slices
/// are kept, slices of the same family are reused (same ports first), the
/// rest is created, and unused slices are deleted.
pub fn plan(
    service: &Service,
    desired: Vec<SliceContent>,
    existing: &[EndpointSlice],
) -> SlicePlan {
    let labels = slice_labels(service);
    let mut unused: Vec<&EndpointSlice> = existing.iter().collect();
    let mut remaining = Vec::new();
    for content in desired {
        match unused.iter().position(|s| holds(s, &content, &labels)) {
            Some(i) => {
                unused.swap_remove(i);
            }
            None => remaining.push(content),
        }
    }
    let mut result = SlicePlan::default();
    for content in remaining {
        let same_ports = unused.iter().position(|s| {
            s.address_type == content.address_type && ports_of(s) == content.ports.as_slice()
        });
        let same_family = || {
            unused
                .iter()
                .position(|s| s.address_type == content.address_type)
        };
        match same_ports.or_else(same_family) {
            Some(i) => {
                let slice = unused.swap_remove(i).clone();
                result.update.push(filled(slice, content, &labels));
            }
            None => {
                let name = service.metadata.name.clone().unwrap_or_default();
                let fresh = EndpointSlice {
                    metadata: ObjectMeta {
                        generate_name: Some(format!("{name}-")),
                        namespace: service.metadata.namespace.clone(),
                        owner_references: Some(vec![service_owner(service)]),
                        ..Default::default()
                    },
                    ..Default::default()
                };
                result.create.push(filled(fresh, content, &labels));
            }
        }
    }
    result.delete = unused
        .into_iter()
        .filter_map(|s| s.metadata.name.clone())
        .collect();
    result
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;
    use crate::endpointslice::pods::tests::{service, PodBuilder};

    fn addresses(content: &SliceContent) -> Vec<String> {
        content
            .endpoints
            .iter()
            .flat_map(|e| e.addresses.clone())
            .collect()
    }

    #[test]
    fn endpoints_are_grouped_by_family_and_resolved_ports() {
        let pods = vec![
            PodBuilder::new("b").ip("10.42.0.2").ready(true).build(),
            PodBuilder::new("a").ip("10.42.0.1").ready(true).build(),
            PodBuilder::new("c").ip("10.42.0.3").no_named_port().build(),
            PodBuilder::new("d").ip("fd00::4").ready(true).build(),
            PodBuilder::new("e").build(),
        ];
        let slices = desired_slices(&service(), &pods);
        let summary: Vec<(String, Vec<Option<i32>>, Vec<String>)> = slices
            .iter()
            .map(|s| {
                (
                    s.address_type.clone(),
                    s.ports.iter().map(|p| p.port).collect(),
                    addresses(s),
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                ("IPv4".into(), vec![], vec!["10.42.0.3".into()]),
                (
                    "IPv4".into(),
                    vec![Some(8080)],
                    vec!["10.42.0.1".into(), "10.42.0.2".into()]
                ),
                ("IPv6".into(), vec![Some(8080)], vec!["fd00::4".into()]),
            ]
        );
    }

    #[test]
    fn large_services_are_split_into_slices_of_at_most_one_hundred() {
        let pods: Vec<Pod> = (0..250)
            .map(|i| {
                PodBuilder::new(&format!("p{i:03}"))
                    .ip(&format!("10.42.{}.{}", i / 200, i % 200))
                    .build()
            })
            .collect();
        let sizes: Vec<usize> = desired_slices(&service(), &pods)
            .iter()
            .map(|s| s.endpoints.len())
            .collect();
        assert_eq!(sizes, vec![100, 100, 50]);
    }

    #[test]
    fn endpoints_carry_conditions_node_and_pod_reference() {
        let pods = vec![PodBuilder::new("a")
            .ip("10.42.0.1")
            .ready(true)
            .terminating()
            .build()];
        let slices = desired_slices(&service(), &pods);
        let endpoint = &slices[0].endpoints[0];
        assert_eq!(
            endpoint.conditions,
            Some(EndpointConditions {
                ready: Some(false),
                serving: Some(true),
                terminating: Some(true)
            })
        );
        assert_eq!(endpoint.node_name.as_deref(), Some("node-1"));
        assert_eq!(
            endpoint.target_ref.as_ref().and_then(|r| r.name.as_deref()),
            Some("a")
        );
    }

    fn existing(
        name: &str,
        content: &SliceContent,
        labels: &BTreeMap<String, String>,
    ) -> EndpointSlice {
        let mut slice = EndpointSlice {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..Default::default()
            },
            ..Default::default()
        };
        slice = filled(slice, content.clone(), labels);
        slice
    }

    #[test]
    fn planning_keeps_reuses_creates_and_deletes_slices() {
        let svc = service();
        let labels = slice_labels(&svc);
        let one = desired_slices(
            &svc,
            &[PodBuilder::new("a").ip("10.42.0.1").ready(true).build()],
        );
        let two = desired_slices(
            &svc,
            &[
                PodBuilder::new("a").ip("10.42.0.1").ready(true).build(),
                PodBuilder::new("b").ip("10.42.0.2").ready(false).build(),
            ],
        );
        let v6 = desired_slices(&svc, &[PodBuilder::new("z").ip("fd00::1").build()]);

        let unchanged = plan(&svc, one.clone(), &[existing("web-a", &one[0], &labels)]);
        assert!(unchanged.is_empty(), "an up-to-date slice is left alone");

        let changed = plan(&svc, two.clone(), &[existing("web-a", &one[0], &labels)]);
        assert_eq!(
            changed.update.len(),
            1,
            "a slice of the same ports is reused"
        );
        assert_eq!(changed.update[0].metadata.name.as_deref(), Some("web-a"));
        assert_eq!(changed.update[0].endpoints.len(), 2);
        assert!(changed.create.is_empty() && changed.delete.is_empty());

        let created = plan(&svc, one.clone(), &[]);
        assert_eq!(created.create.len(), 1);
        let fresh = &created.create[0];
        assert_eq!(fresh.metadata.generate_name.as_deref(), Some("web-"));
        assert_eq!(
            fresh
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(SERVICE_NAME_LABEL))
                .map(String::as_str),
            Some("web")
        );
        assert_eq!(
            fresh
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(MANAGED_BY_LABEL))
                .map(String::as_str),
            Some(MANAGED_BY)
        );
        assert_eq!(
            fresh
                .metadata
                .owner_references
                .as_ref()
                .map(|o| o[0].kind.as_str()),
            Some("Service")
        );

        let emptied = plan(&svc, vec![], &[existing("web-a", &one[0], &labels)]);
        assert_eq!(emptied.delete, vec!["web-a".to_string()]);

        let other_family = plan(&svc, one.clone(), &[existing("web-6", &v6[0], &labels)]);
        assert_eq!(
            (other_family.create.len(), other_family.delete.len()),
            (1, 1),
            "address types are immutable"
        );
    }

    #[test]
    fn headless_services_label_their_slices() {
        let mut svc = service();
        if let Some(s) = svc.spec.as_mut() {
            s.cluster_ip = Some("None".into());
        }
        assert_eq!(
            slice_labels(&svc).get(HEADLESS_LABEL).map(String::as_str),
            Some("")
        );
        assert!(!slice_labels(&service()).contains_key(HEADLESS_LABEL));
    }
}
