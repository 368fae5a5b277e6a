//! Reducing API objects to the records DNS keeps (`index.rs`). Pure.

use std::net::IpAddr;

use hickory_proto::rr::Name;
use k8s_openapi::api::core::v1::{Service, ServicePort};
use k8s_openapi::api::discovery::v1::{EndpointPort, EndpointSlice};

use crate::index::{EndpointRecord, PortRecord, ServiceKind, ServiceRecord, SliceRecord};

/// The label linking an EndpointSlice to its Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// What DNS answers for a Service, or `None` when it answers nothing
/// (an ExternalName that is not a valid DNS name, which CoreDNS skips too).
pub fn service_record(service: &Service) -> Option<ServiceRecord> {
    let spec = service.spec.as_ref()?;
    let kind = if spec.type_.as_deref() == Some("ExternalName") {
        let target = spec.external_name.as_deref()?;
        let mut name = Name::from_ascii(target).ok()?;
        name.set_fqdn(true);
        ServiceKind::ExternalName(name.to_lowercase())
    } else if spec.cluster_ip.as_deref() == Some("None") {
        ServiceKind::Headless
    } else {
        // clusterIPs lists every family; clusterIP alone comes from older
        // writers (the API server fills both, but tolerate either).
        let ips = match &spec.cluster_ips {
            Some(ips) if !ips.is_empty() => ips.iter().filter_map(|ip| ip.parse().ok()).collect(),
            _ => spec
                .cluster_ip
                .iter()
                .filter_map(|ip| ip.parse().ok())
                .collect(),
        };
        ServiceKind::ClusterIp(ips)
    };
    Some(ServiceRecord {
        kind,
        ports: spec
            .ports
            .iter()
            .flatten()
            .filter_map(service_port)
            .collect(),
        publish_not_ready: spec.publish_not_ready_addresses.unwrap_or(false),
    })
}

fn service_port(port: &ServicePort) -> Option<PortRecord> {
    Some(PortRecord {
        name: port.name.clone().unwrap_or_default().to_lowercase(),
        protocol: protocol(port.protocol.as_deref()),
        port: u16::try_from(port.port).ok()?,
    })
}

fn slice_port(port: &EndpointPort) -> Option<PortRecord> {
    Some(PortRecord {
        name: port.name.clone().unwrap_or_default().to_lowercase(),
        protocol: protocol(port.protocol.as_deref()),
        port: u16::try_from(port.port?).ok()?,
    })
}

/// The protocol in lower case; TCP when unset, as the API defaults it.
fn protocol(protocol: Option<&str>) -> String {
    protocol.unwrap_or("TCP").to_lowercase()
}

/// What DNS keeps of an EndpointSlice, or `None` when it belongs to no
/// service or holds FQDN addresses (which DNS does not serve).
pub fn slice_record(slice: &EndpointSlice) -> Option<SliceRecord> {
    let service = slice
        .metadata
        .labels
        .as_ref()?
        .get(SERVICE_NAME_LABEL)?
        .clone();
    if slice.address_type == "FQDN" {
        return None;
    }
    let endpoints = slice
        .endpoints
        .iter()
        .flat_map(|endpoint| {
            let ready = endpoint
                .conditions
                .as_ref()
                .and_then(|conditions| conditions.ready)
                .unwrap_or(true);
            endpoint.addresses.iter().filter_map(move |address| {
                Some(EndpointRecord {
                    ip: address.parse::<IpAddr>().ok()?,
                    hostname: endpoint.hostname.clone(),
                    ready,
                })
            })
        })
        .collect();
    Some(SliceRecord {
        service,
        ports: slice
            .ports
            .iter()
            .flatten()
            .filter_map(slice_port)
            .collect(),
        endpoints,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    fn service(spec: serde_json::Value) -> Service {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web", "namespace": "default"},
            "spec": spec,
        }))
        .unwrap()
    }

    #[test]
    fn services_become_records_by_kind() {
        let cases = [
            (
                serde_json::json!({"clusterIP": "10.43.0.5", "clusterIPs": ["10.43.0.5", "fd00::5"],
                    "ports": [{"name": "HTTP", "port": 80}, {"port": 53, "protocol": "UDP"}]}),
                Some(ServiceRecord {
                    kind: ServiceKind::ClusterIp(vec![
                        "10.43.0.5".parse().unwrap(),
                        "fd00::5".parse().unwrap(),
                    ]),
                    ports: vec![
                        PortRecord {
                            name: "http".into(),
                            protocol: "tcp".into(),
                            port: 80,
                        },
                        PortRecord {
                            name: "".into(),
                            protocol: "udp".into(),
                            port: 53,
                        },
                    ],
                    publish_not_ready: false,
                }),
            ),
            (
                serde_json::json!({"clusterIP": "None", "publishNotReadyAddresses": true}),
                Some(ServiceRecord {
                    kind: ServiceKind::Headless,
                    ports: vec![],
                    publish_not_ready: true,
                }),
            ),
            (
                serde_json::json!({"type": "ExternalName", "externalName": "DB.Example.com"}),
                Some(ServiceRecord {
                    kind: ServiceKind::ExternalName(Name::from_ascii("db.example.com.").unwrap()),
                    ports: vec![],
                    publish_not_ready: false,
                }),
            ),
            (
                serde_json::json!({"type": "ExternalName", "externalName": "bad name!"}),
                None,
            ),
        ];
        for (spec, want) in cases {
            assert_eq!(service_record(&service(spec.clone())), want, "{spec}");
        }
    }

    #[test]
    fn slices_keep_addresses_hostnames_and_readiness() {
        let slice: EndpointSlice = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "db-x", "namespace": "default",
                "labels": {"kubernetes.io/service-name": "db"}},
            "addressType": "IPv4",
            "endpoints": [
                {"addresses": ["10.42.0.7"], "hostname": "db-0"},
                {"addresses": ["10.42.0.8"], "conditions": {"ready": false}},
                {"addresses": ["not-an-ip"]},
            ],
            "ports": [{"name": "pg", "port": 5432, "protocol": "TCP"}],
        }))
        .unwrap();
        let want = SliceRecord {
            service: "db".into(),
            ports: vec![PortRecord {
                name: "pg".into(),
                protocol: "tcp".into(),
                port: 5432,
            }],
            endpoints: vec![
                EndpointRecord {
                    ip: "10.42.0.7".parse().unwrap(),
                    hostname: Some("db-0".into()),
                    ready: true,
                },
                EndpointRecord {
                    ip: "10.42.0.8".parse().unwrap(),
                    hostname: None,
                    ready: false,
                },
            ],
        };
        assert_eq!(slice_record(&slice), Some(want));
    }
}
