//! The `kube-dns` Service and this node's endpoint for it.
//!
//! DNS runs inside each agent rather than as a CoreDNS Deployment, so the
//! Service has no selector: each agent publishes its own EndpointSlice
//! pointing at its node address (Services without selectors, Kubernetes
//! docs "Service" § "Services without selectors"), and the service proxy
//! sends the cluster DNS IP to the agents. Names and labels are the ones
//! kubeadm and k3s give the CoreDNS Service, so tools that look for
//! `k8s-app=kube-dns` find it.

use std::net::IpAddr;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client};

use crate::objects::SERVICE_NAME_LABEL;
use crate::{Error, Result};

/// The namespace of the DNS Service.
pub const KUBE_DNS_NAMESPACE: &str = "kube-system";
/// The DNS Service's name.
pub const KUBE_DNS_SERVICE: &str = "kube-dns";
/// The field manager of everything written here (server-side apply).
const FIELD_MANAGER: &str = "rkube-dns";
/// The `endpointslice.kubernetes.io/managed-by` value of our slices; the
/// EndpointSlice controller leaves slices managed by others alone.
const MANAGED_BY: &str = "rkube-dns";

/// How often an apply that lost a create race is tried again.
const CREATE_RACE_RETRIES: usize = 5;

/// Creates or updates the `kube-dns` Service on `cluster_ip` (server-side
/// apply: idempotent, and other managers' fields are kept).
///
/// Every agent does this at start, so several may create the Service at
/// once: the losers' creates fail (the name exists, or the cluster IP is
/// already allocated, 409/422), and applying again updates the Service the
/// winner made.
pub async fn ensure_kube_dns_service(client: Client, cluster_ip: IpAddr) -> Result<Service> {
    let api: Api<Service> = Api::namespaced(client, KUBE_DNS_NAMESPACE);
    let service: Service =
        serde_json::from_value(kube_dns_service(cluster_ip)).map_err(Error::Object)?;
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let patch = Patch::Apply(&service);
    let apply = || api.patch(KUBE_DNS_SERVICE, &params, &patch);
    let mut applied = apply().await;
    for _ in 0..CREATE_RACE_RETRIES {
        match &applied {
            Err(kube::Error::Api(status)) if matches!(status.code, 409 | 422) => {
                // The winner's create may still be between allocating the IP
                // and storing the Service.
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                applied = apply().await;
            }
            _ => break,
        }
    }
    applied.map_err(|source| Error::Api {
        what: format!("applying Service {KUBE_DNS_NAMESPACE}/{KUBE_DNS_SERVICE}"),
        source,
    })
}

/// Publishes (or updates) `node_name`'s endpoint for the `kube-dns` Service:
/// an EndpointSlice `kube-dns-<node>` with `address` on `port` for UDP
/// (`dns`) and TCP (`dns-tcp`).
pub async fn publish_endpoint(
    client: Client,
    node_name: &str,
    address: IpAddr,
    port: u16,
) -> Result<EndpointSlice> {
    let api: Api<EndpointSlice> = Api::namespaced(client, KUBE_DNS_NAMESPACE);
    let name = slice_name(node_name);
    let slice: EndpointSlice =
        serde_json::from_value(node_endpoint_slice(&name, node_name, address, port))
            .map_err(Error::Object)?;
    api.patch(
        &name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&slice),
    )
    .await
    .map_err(|source| Error::Api {
        what: format!("applying EndpointSlice {KUBE_DNS_NAMESPACE}/{name}"),
        source,
    })
}

/// The Service, shaped like kubeadm's and k3s's CoreDNS Service.
fn kube_dns_service(cluster_ip: IpAddr) -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": KUBE_DNS_SERVICE,
            "namespace": KUBE_DNS_NAMESPACE,
            "labels": {
                "k8s-app": "kube-dns",
                "kubernetes.io/cluster-service": "true",
                "kubernetes.io/name": "CoreDNS",
            },
        },
        "spec": {
            "type": "ClusterIP",
            "clusterIP": cluster_ip.to_string(),
            "clusterIPs": [cluster_ip.to_string()],
            "ipFamilies": [ip_family(cluster_ip)],
            "ports": [
                {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
                {"name": "metrics", "port": 9153, "protocol": "TCP", "targetPort": 9153},
            ],
        },
    })
}

/// One node's slice. The metrics port is left out: it is not served here,
/// so the proxy rejects it instead of forwarding to a closed port.
fn node_endpoint_slice(
    name: &str,
    node_name: &str,
    address: IpAddr,
    port: u16,
) -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": name,
            "namespace": KUBE_DNS_NAMESPACE,
            "labels": {
                SERVICE_NAME_LABEL: KUBE_DNS_SERVICE,
                "endpointslice.kubernetes.io/managed-by": MANAGED_BY,
                "k8s-app": "kube-dns",
            },
        },
        "addressType": ip_family(address),
        "endpoints": [{
            "addresses": [address.to_string()],
            "conditions": {"ready": true, "serving": true, "terminating": false},
            "nodeName": node_name,
        }],
        "ports": [
            {"name": "dns", "port": port, "protocol": "UDP"},
            {"name": "dns-tcp", "port": port, "protocol": "TCP"},
        ],
    })
}

/// `kube-dns-<node>`, cut to the 253 characters a name may have.
fn slice_name(node_name: &str) -> String {
    let mut name = format!("{KUBE_DNS_SERVICE}-{node_name}");
    name.truncate(253);
    name.trim_end_matches(['-', '.']).to_owned()
}

fn ip_family(ip: IpAddr) -> &'static str {
    match ip {
        IpAddr::V4(_) => "IPv4",
        IpAddr::V6(_) => "IPv6",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn the_service_and_slice_have_the_upstream_shapes() {
        let service: Service =
            serde_json::from_value(kube_dns_service("10.43.0.10".parse().unwrap())).unwrap();
        let spec = service.spec.unwrap();
        assert_eq!(
            spec.selector, None,
            "no selector: agents publish the endpoints"
        );
        let ports: Vec<_> = spec
            .ports
            .unwrap()
            .into_iter()
            .map(|port| (port.name.unwrap(), port.port, port.protocol.unwrap()))
            .collect();
        assert_eq!(
            ports,
            [
                ("dns".to_owned(), 53, "UDP".to_owned()),
                ("dns-tcp".to_owned(), 53, "TCP".to_owned()),
                ("metrics".to_owned(), 9153, "TCP".to_owned()),
            ]
        );

        let slice: EndpointSlice = serde_json::from_value(node_endpoint_slice(
            "kube-dns-n1",
            "n1",
            "fd00::1".parse().unwrap(),
            5353,
        ))
        .unwrap();
        assert_eq!(slice.address_type, "IPv6");
        let record = crate::objects::slice_record(&slice).unwrap();
        assert_eq!(record.service, KUBE_DNS_SERVICE);
        assert_eq!(
            record.ports.iter().map(|p| p.port).collect::<Vec<_>>(),
            [5353, 5353]
        );
    }

    #[test]
    fn slice_names_stay_valid_for_long_node_names() {
        let cases = [
            ("n1", "kube-dns-n1".to_owned()),
            (&*"a".repeat(300), format!("kube-dns-{}", "a".repeat(244))),
        ];
        for (node, want) in cases {
            assert_eq!(slice_name(node), want);
        }
    }
}
