//! The endpoints of the `kubernetes` Service in `default`: the apiserver's
//! own advertised address (upstream's apiserver endpoint reconciler,
//! `pkg/controlplane/reconcilers`, writes them from inside the apiserver;
//! rkube's apiserver leaves them to this controller so it stays a plain
//! client of the API).

use std::net::IpAddr;

use k8s_openapi::api::core::v1::{EndpointAddress, EndpointPort, EndpointSubset, Endpoints};
use k8s_openapi::api::discovery::v1::{
    self as discovery, Endpoint, EndpointConditions, EndpointSlice,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::endpointslice::desired::SERVICE_NAME_LABEL;

/// The namespace of the `kubernetes` Service.
pub const NAMESPACE: &str = "default";
/// The name of the Service, its Endpoints and its EndpointSlice.
pub const NAME: &str = "kubernetes";
/// The Service's port name.
const PORT_NAME: &str = "https";

/// Where clients reach the apiserver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiserverEndpoint {
    /// The advertised address.
    pub ip: IpAddr,
    /// The secure port.
    pub port: u16,
}

impl From<std::net::SocketAddr> for ApiserverEndpoint {
    fn from(addr: std::net::SocketAddr) -> Self {
        ApiserverEndpoint {
            ip: addr.ip(),
            port: addr.port(),
        }
    }
}

fn meta(labels: Option<(&str, &str)>) -> ObjectMeta {
    ObjectMeta {
        name: Some(NAME.into()),
        namespace: Some(NAMESPACE.into()),
        labels: labels.map(|(k, v)| [(k.to_string(), v.to_string())].into()),
        ..Default::default()
    }
}

/// The `default/kubernetes` Endpoints.
pub fn endpoints(at: ApiserverEndpoint) -> Endpoints {
    Endpoints {
        metadata: meta(None),
        subsets: Some(vec![EndpointSubset {
            addresses: Some(vec![EndpointAddress {
                ip: at.ip.to_string(),
                ..Default::default()
            }]),
            not_ready_addresses: None,
            ports: Some(vec![EndpointPort {
                name: Some(PORT_NAME.into()),
                port: i32::from(at.port),
                protocol: Some("TCP".into()),
                app_protocol: None,
            }]),
        }]),
    }
}

/// The `default/kubernetes` EndpointSlice (labelled with the Service name
/// and without a managed-by label, as upstream's reconciler writes it).
pub fn endpoint_slice(at: ApiserverEndpoint) -> EndpointSlice {
    EndpointSlice {
        metadata: meta(Some((SERVICE_NAME_LABEL, NAME))),
        address_type: if at.ip.is_ipv4() { "IPv4" } else { "IPv6" }.into(),
        endpoints: vec![Endpoint {
            addresses: vec![at.ip.to_string()],
            conditions: Some(EndpointConditions {
                ready: Some(true),
                serving: Some(true),
                terminating: Some(false),
            }),
            ..Default::default()
        }],
        ports: Some(vec![discovery::EndpointPort {
            name: Some(PORT_NAME.into()),
            port: Some(i32::from(at.port)),
            protocol: Some("TCP".into()),
            app_protocol: None,
        }]),
    }
}

/// Whether the stored slice already says what [`endpoint_slice`] says.
pub fn slice_up_to_date(current: &EndpointSlice, desired: &EndpointSlice) -> bool {
    current.address_type == desired.address_type
        && current.endpoints == desired.endpoints
        && current.ports == desired.ports
        && current.metadata.labels == desired.metadata.labels
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn the_kubernetes_service_points_at_the_apiserver() {
        let at = ApiserverEndpoint {
            ip: "127.0.0.1".parse().unwrap(),
            port: 6443,
        };
        let e = endpoints(at);
        let subset = &e.subsets.unwrap()[0];
        assert_eq!(subset.addresses.as_ref().unwrap()[0].ip, "127.0.0.1");
        assert_eq!(subset.ports.as_ref().unwrap()[0].port, 6443);
        let s = endpoint_slice(at);
        assert_eq!(s.address_type, "IPv4");
        assert_eq!(
            s.metadata.labels.as_ref().unwrap()[SERVICE_NAME_LABEL],
            "kubernetes"
        );
        assert!(slice_up_to_date(&s, &endpoint_slice(at)));
        let moved = ApiserverEndpoint {
            ip: "::1".parse().unwrap(),
            port: 6444,
        };
        assert!(!slice_up_to_date(&s, &endpoint_slice(moved)));
        assert_eq!(endpoint_slice(moved).address_type, "IPv6");
    }
}
