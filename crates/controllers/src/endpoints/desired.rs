//! The core/v1 Endpoints object a Service should have (upstream
//! `pkg/controller/endpoint/endpoints_controller.go`): one subset per
//! distinct set of resolved ports, ready pods under `addresses`, the others
//! under `notReadyAddresses`, terminating pods left out; subsets and
//! addresses in a stable order so an unchanged Service means no write.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    EndpointAddress, EndpointPort, EndpointSubset, Endpoints, Pod, Service,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::endpointslice::desired::HEADLESS_LABEL;
use crate::endpointslice::pods::{self, ResolvedPort, Terminating};

fn address(service: &Service, pod: &Pod, ip: &str) -> EndpointAddress {
    EndpointAddress {
        ip: ip.to_string(),
        hostname: pods::hostname_for(service, pod),
        node_name: pod.spec.as_ref().and_then(|s| s.node_name.clone()),
        target_ref: Some(pods::target_ref(pod)),
    }
}

fn port(p: &ResolvedPort) -> EndpointPort {
    EndpointPort {
        name: p.name.clone(),
        port: p.port,
        protocol: Some(p.protocol.clone()),
        app_protocol: p.app_protocol.clone(),
    }
}

fn by_ip(a: &EndpointAddress, b: &EndpointAddress) -> std::cmp::Ordering {
    a.ip.cmp(&b.ip).then_with(|| {
        let uid = |x: &EndpointAddress| x.target_ref.as_ref().and_then(|r| r.uid.clone());
        uid(a).cmp(&uid(b))
    })
}

/// The subsets for a Service and the pods its selector matches. A pod
/// without any resolvable port is still listed when the Service has no
/// ports at all (headless services without ports).
pub fn desired_subsets(service: &Service, selected: &[Pod]) -> Vec<EndpointSubset> {
    let service_has_ports = service
        .spec
        .as_ref()
        .and_then(|s| s.ports.as_ref())
        .is_some_and(|p| !p.is_empty());
    let mut groups: BTreeMap<Vec<ResolvedPort>, (Vec<EndpointAddress>, Vec<EndpointAddress>)> =
        BTreeMap::new();
    for pod in selected
        .iter()
        .filter(|p| pods::should_be_in_endpoints(p, Terminating::Exclude))
    {
        let Some(ip) = pods::pod_ip(pod) else {
            continue;
        };
        let ports = pods::resolved_ports(service, pod);
        if service_has_ports && ports.is_empty() {
            continue;
        }
        let (ready, not_ready) = groups.entry(ports).or_default();
        if pods::readiness(service, pod).ready {
            ready.push(address(service, pod, ip));
        } else {
            not_ready.push(address(service, pod, ip));
        }
    }
    groups
        .into_iter()
        .map(|(ports, (mut ready, mut not_ready))| {
            ready.sort_by(by_ip);
            not_ready.sort_by(by_ip);
            EndpointSubset {
                addresses: (!ready.is_empty()).then_some(ready),
                not_ready_addresses: (!not_ready.is_empty()).then_some(not_ready),
                ports: (!ports.is_empty()).then(|| ports.iter().map(port).collect()),
            }
        })
        .collect()
}

/// The labels of a Service's Endpoints: the Service's own, plus the headless
/// label for headless Services.
pub fn endpoints_labels(service: &Service) -> BTreeMap<String, String> {
    let mut labels = service.metadata.labels.clone().unwrap_or_default();
    if pods::is_headless(service) {
        labels.insert(HEADLESS_LABEL.into(), String::new());
    } else {
        labels.remove(HEADLESS_LABEL);
    }
    labels
}

/// The Endpoints object for a Service (same name and namespace).
pub fn desired_endpoints(service: &Service, selected: &[Pod]) -> Endpoints {
    let subsets = desired_subsets(service, selected);
    Endpoints {
        metadata: ObjectMeta {
            name: service.metadata.name.clone(),
            namespace: service.metadata.namespace.clone(),
            labels: Some(endpoints_labels(service)),
            ..Default::default()
        },
        subsets: (!subsets.is_empty()).then_some(subsets),
    }
}

/// Whether `current` differs from `desired` in what this controller owns.
pub fn needs_update(current: &Endpoints, desired: &Endpoints) -> bool {
    let subsets = |e: &Endpoints| e.subsets.clone().unwrap_or_default();
    subsets(current) != subsets(desired)
        || current.metadata.labels.clone().unwrap_or_default()
            != desired.metadata.labels.clone().unwrap_or_default()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;
    use crate::endpointslice::pods::tests::{service, PodBuilder};

    fn ips(list: &Option<Vec<EndpointAddress>>) -> Vec<&str> {
        list.iter().flatten().map(|a| a.ip.as_str()).collect()
    }

    #[test]
    fn ready_and_unready_pods_split_and_terminating_pods_drop_out() {
        let pods = vec![
            PodBuilder::new("b").ip("10.42.0.9").ready(true).build(),
            PodBuilder::new("a").ip("10.42.0.2").ready(true).build(),
            PodBuilder::new("c").ip("10.42.0.3").ready(false).build(),
            PodBuilder::new("d")
                .ip("10.42.0.4")
                .ready(true)
                .terminating()
                .build(),
            PodBuilder::new("e").ready(true).build(),
        ];
        let subsets = desired_subsets(&service(), &pods);
        assert_eq!(subsets.len(), 1);
        assert_eq!(ips(&subsets[0].addresses), vec!["10.42.0.2", "10.42.0.9"]);
        assert_eq!(ips(&subsets[0].not_ready_addresses), vec!["10.42.0.3"]);
        assert_eq!(subsets[0].ports.as_ref().map(|p| p[0].port), Some(8080));
    }

    #[test]
    fn pods_without_the_named_port_are_left_out() {
        let pods = vec![PodBuilder::new("a")
            .ip("10.42.0.2")
            .ready(true)
            .no_named_port()
            .build()];
        assert!(desired_subsets(&service(), &pods).is_empty());
    }

    #[test]
    fn headless_services_without_ports_list_addresses_without_ports() {
        let mut svc = service();
        if let Some(s) = svc.spec.as_mut() {
            s.cluster_ip = Some("None".into());
            s.ports = None;
        }
        let pods = vec![PodBuilder::new("a").ip("10.42.0.2").ready(true).build()];
        let endpoints = desired_endpoints(&svc, &pods);
        let subsets = endpoints.subsets.clone().unwrap_or_default();
        assert_eq!(subsets.len(), 1);
        assert_eq!(subsets[0].ports, None);
        assert_eq!(
            endpoints
                .metadata
                .labels
                .and_then(|l| l.get(HEADLESS_LABEL).cloned()),
            Some(String::new())
        );
    }

    #[test]
    fn publish_not_ready_addresses_puts_every_pod_under_addresses() {
        let mut svc = service();
        if let Some(s) = svc.spec.as_mut() {
            s.publish_not_ready_addresses = Some(true);
        }
        let pods = vec![PodBuilder::new("a").ip("10.42.0.2").ready(false).build()];
        let subsets = desired_subsets(&svc, &pods);
        assert_eq!(ips(&subsets[0].addresses), vec!["10.42.0.2"]);
        assert_eq!(subsets[0].not_ready_addresses, None);
    }

    #[test]
    fn only_subsets_and_labels_decide_an_update() {
        let pods = vec![PodBuilder::new("a").ip("10.42.0.2").ready(true).build()];
        let desired = desired_endpoints(&service(), &pods);
        let mut current = desired.clone();
        current.metadata.resource_version = Some("7".into());
        assert!(!needs_update(&current, &desired));
        current.subsets = None;
        assert!(needs_update(&current, &desired));
    }
}
