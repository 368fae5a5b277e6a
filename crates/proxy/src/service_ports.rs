//! The proxy's view of the cluster: one [`ProxiedPort`] per port of every
//! Service that has a cluster IP, with the endpoints traffic may go to
//! already chosen. Pure; built from the reflectors' Services and
//! EndpointSlices (upstream `pkg/proxy/servicechangetracker.go`,
//! `endpointschangetracker.go` and `topology.go`).

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;

/// The label that ties an EndpointSlice to its Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// Upstream's default ClientIP affinity timeout (three hours).
pub const DEFAULT_AFFINITY_TIMEOUT_SECONDS: u32 = 10800;

/// A transport protocol of a Service port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Protocol {
    /// TCP, the default.
    Tcp,
    /// UDP.
    Udp,
    /// SCTP.
    Sctp,
}

impl Protocol {
    /// Parses the API's spelling; unknown protocols are not proxied.
    fn from_api(value: Option<&str>) -> Option<Protocol> {
        match value.unwrap_or("TCP") {
            "TCP" => Some(Protocol::Tcp),
            "UDP" => Some(Protocol::Udp),
            "SCTP" => Some(Protocol::Sctp),
            _ => None,
        }
    }

    /// nftables' name for it.
    pub fn nft_name(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        }
    }
}

/// `internalTrafficPolicy` / `externalTrafficPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrafficPolicy {
    /// Any ready endpoint in the cluster.
    Cluster,
    /// Only endpoints on this node.
    Local,
}

impl TrafficPolicy {
    fn from_api(value: Option<&str>) -> TrafficPolicy {
        match value {
            Some("Local") => TrafficPolicy::Local,
            _ => TrafficPolicy::Cluster,
        }
    }
}

/// One backend address of a Service port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Endpoint {
    /// The pod (or other backend) address.
    pub ip: Ipv4Addr,
    /// The port on it.
    pub port: u16,
}

/// One port of one Service, as the proxy programs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxiedPort {
    /// The Service's namespace.
    pub namespace: String,
    /// The Service's name.
    pub name: String,
    /// The port's protocol.
    pub protocol: Protocol,
    /// The Service's cluster IP.
    pub cluster_ip: Ipv4Addr,
    /// The Service port.
    pub port: u16,
    /// The NodePort, for NodePort and LoadBalancer Services.
    pub node_port: Option<u16>,
    /// `spec.externalIPs` (IPv4 ones).
    pub external_ips: Vec<Ipv4Addr>,
    /// The ClientIP affinity timeout, when affinity is on.
    pub affinity_timeout: Option<u32>,
    /// Where ClusterIP traffic may go.
    pub internal_policy: TrafficPolicy,
    /// Where NodePort and external IP traffic may go.
    pub external_policy: TrafficPolicy,
    /// Usable endpoints anywhere: the ready ones, or the serving
    /// terminating ones when none is ready (upstream `CategorizeEndpoints`).
    pub cluster_endpoints: Vec<Endpoint>,
    /// The same choice among this node's endpoints.
    pub local_endpoints: Vec<Endpoint>,
}

impl ProxiedPort {
    /// Whether traffic reaches it from outside the ClusterIP.
    pub fn is_external(&self) -> bool {
        self.node_port.is_some() || !self.external_ips.is_empty()
    }
}

/// An endpoint with what the proxy needs to know to choose it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Candidate {
    endpoint: Endpoint,
    ready: bool,
    serving_terminating: bool,
    local: bool,
}

/// Builds the proxied ports of `services` from their `slices`, sorted by
/// namespace, name, protocol and port so that the rendering is stable.
pub fn collect<'a>(
    services: impl IntoIterator<Item = &'a Service>,
    slices: impl IntoIterator<Item = &'a EndpointSlice>,
    node_name: Option<&str>,
) -> Vec<ProxiedPort> {
    // (namespace, service) → slices of it.
    let mut by_service: BTreeMap<(&str, &str), Vec<&EndpointSlice>> = BTreeMap::new();
    for slice in slices {
        if slice.address_type != "IPv4" {
            continue;
        }
        let labels = slice.metadata.labels.as_ref();
        let (Some(ns), Some(svc)) = (
            slice.metadata.namespace.as_deref(),
            labels.and_then(|l| l.get(SERVICE_NAME_LABEL)),
        ) else {
            continue;
        };
        by_service
            .entry((ns, svc.as_str()))
            .or_default()
            .push(slice);
    }
    let mut ports = Vec::new();
    for svc in services {
        let (Some(ns), Some(name), Some(spec)) = (
            svc.metadata.namespace.as_deref(),
            svc.metadata.name.as_deref(),
            svc.spec.as_ref(),
        ) else {
            continue;
        };
        // Headless and ExternalName Services have no address to proxy
        // (upstream `ShouldSkipService`).
        let Some(cluster_ip) = spec
            .cluster_ip
            .as_deref()
            .and_then(|ip| ip.parse::<Ipv4Addr>().ok())
        else {
            continue;
        };
        if spec.type_.as_deref() == Some("ExternalName") {
            continue;
        }
        let exposes_node_ports = matches!(spec.type_.as_deref(), Some("NodePort" | "LoadBalancer"));
        let affinity_timeout = (spec.session_affinity.as_deref() == Some("ClientIP")).then(|| {
            spec.session_affinity_config
                .as_ref()
                .and_then(|c| c.client_ip.as_ref())
                .and_then(|c| c.timeout_seconds)
                .and_then(|t| u32::try_from(t).ok())
                .filter(|t| *t > 0)
                .unwrap_or(DEFAULT_AFFINITY_TIMEOUT_SECONDS)
        });
        let external_ips: Vec<Ipv4Addr> = spec
            .external_ips
            .iter()
            .flatten()
            .filter_map(|ip| ip.parse().ok())
            .collect();
        let service_slices = by_service
            .get(&(ns, name))
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        for port in spec.ports.iter().flatten() {
            let (Some(protocol), Ok(service_port)) = (
                Protocol::from_api(port.protocol.as_deref()),
                u16::try_from(port.port),
            ) else {
                continue;
            };
            let candidates = candidates(service_slices, port.name.as_deref(), protocol, node_name);
            ports.push(ProxiedPort {
                namespace: ns.to_string(),
                name: name.to_string(),
                protocol,
                cluster_ip,
                port: service_port,
                node_port: port
                    .node_port
                    .filter(|_| exposes_node_ports)
                    .and_then(|p| u16::try_from(p).ok())
                    .filter(|p| *p != 0),
                external_ips: external_ips.clone(),
                affinity_timeout,
                internal_policy: TrafficPolicy::from_api(spec.internal_traffic_policy.as_deref()),
                external_policy: TrafficPolicy::from_api(spec.external_traffic_policy.as_deref()),
                cluster_endpoints: choose(candidates.iter().copied()),
                local_endpoints: choose(candidates.iter().copied().filter(|c| c.local)),
            });
        }
    }
    ports.sort_by(|a, b| {
        (&a.namespace, &a.name, a.protocol, a.port).cmp(&(
            &b.namespace,
            &b.name,
            b.protocol,
            b.port,
        ))
    });
    ports
}

/// The endpoints of the Service port named `port_name` in `slices`,
/// without duplicates (an address may sit in two slices while they move).
fn candidates(
    slices: &[&EndpointSlice],
    port_name: Option<&str>,
    protocol: Protocol,
    node_name: Option<&str>,
) -> BTreeSet<Candidate> {
    let mut found = BTreeSet::new();
    for slice in slices {
        let Some(target) = slice.ports.iter().flatten().find_map(|p| {
            let same_name = p.name.as_deref().unwrap_or("") == port_name.unwrap_or("");
            let same_protocol = Protocol::from_api(p.protocol.as_deref()) == Some(protocol);
            (same_name && same_protocol)
                .then_some(p.port)
                .flatten()
                .and_then(|n| u16::try_from(n).ok())
        }) else {
            continue;
        };
        for endpoint in &slice.endpoints {
            let conditions = endpoint.conditions.as_ref();
            // Unknown readiness counts as ready; unknown serving follows
            // ready (EndpointConditions docs).
            let ready = conditions.and_then(|c| c.ready).unwrap_or(true);
            let serving = conditions.and_then(|c| c.serving).unwrap_or(ready);
            let terminating = conditions.and_then(|c| c.terminating).unwrap_or(false);
            let local = node_name.is_some() && endpoint.node_name.as_deref() == node_name;
            for address in &endpoint.addresses {
                if let Ok(ip) = address.parse() {
                    found.insert(Candidate {
                        endpoint: Endpoint { ip, port: target },
                        ready: ready && !terminating,
                        serving_terminating: serving && terminating,
                        local,
                    });
                }
            }
        }
    }
    found
}

/// The ready endpoints, or the serving terminating ones if none is ready.
fn choose(candidates: impl Iterator<Item = Candidate> + Clone) -> Vec<Endpoint> {
    let ready: Vec<Endpoint> = candidates
        .clone()
        .filter(|c| c.ready)
        .map(|c| c.endpoint)
        .collect();
    let mut chosen = if ready.is_empty() {
        candidates
            .filter(|c| c.serving_terminating)
            .map(|c| c.endpoint)
            .collect()
    } else {
        ready
    };
    chosen.dedup();
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn service(spec: serde_json::Value) -> Service {
        serde_json::from_value(json!({
            "metadata": {"namespace": "default", "name": "web"},
            "spec": spec,
        }))
        .expect("a Service")
    }

    fn slice(endpoints: serde_json::Value) -> EndpointSlice {
        serde_json::from_value(json!({
            "metadata": {"namespace": "default", "name": "web-abc",
                         "labels": {SERVICE_NAME_LABEL: "web"}},
            "addressType": "IPv4",
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
            "endpoints": endpoints,
        }))
        .expect("an EndpointSlice")
    }

    fn ep(
        ip: &str,
        ready: bool,
        serving: bool,
        terminating: bool,
        node: &str,
    ) -> serde_json::Value {
        json!({"addresses": [ip], "nodeName": node,
               "conditions": {"ready": ready, "serving": serving, "terminating": terminating}})
    }

    fn endpoint(ip: [u8; 4]) -> Endpoint {
        Endpoint {
            ip: Ipv4Addr::from(ip),
            port: 8080,
        }
    }

    const HTTP: &str = r#"{"clusterIP": "10.43.0.20", "ports": [{"name": "http", "port": 80}]}"#;

    #[test]
    fn endpoints_are_chosen_as_upstream_categorizes_them() {
        let cases = [
            (
                "ready endpoints are used and unready ones are not",
                vec![
                    ep("10.0.0.1", true, true, false, "a"),
                    ep("10.0.0.2", false, false, false, "b"),
                ],
                vec![endpoint([10, 0, 0, 1])],
                vec![endpoint([10, 0, 0, 1])],
            ),
            (
                "serving terminating endpoints are used only when none is ready",
                vec![
                    ep("10.0.0.1", false, true, true, "a"),
                    ep("10.0.0.2", false, false, true, "a"),
                ],
                vec![endpoint([10, 0, 0, 1])],
                vec![endpoint([10, 0, 0, 1])],
            ),
            (
                "a ready endpoint wins over serving terminating ones",
                vec![
                    ep("10.0.0.1", false, true, true, "a"),
                    ep("10.0.0.2", true, true, false, "b"),
                ],
                vec![endpoint([10, 0, 0, 2])],
                vec![endpoint([10, 0, 0, 1])],
            ),
            (
                "local endpoints are those on this node",
                vec![
                    ep("10.0.0.1", true, true, false, "b"),
                    ep("10.0.0.2", true, true, false, "a"),
                ],
                vec![endpoint([10, 0, 0, 1]), endpoint([10, 0, 0, 2])],
                vec![endpoint([10, 0, 0, 2])],
            ),
        ];
        for (what, endpoints, cluster, local) in cases {
            let svc = service(serde_json::from_str(HTTP).expect("json"));
            let slices = [slice(json!(endpoints))];
            let ports = collect([&svc], &slices, Some("a"));
            assert_eq!(ports.len(), 1, "{what}");
            assert_eq!(ports[0].cluster_endpoints, cluster, "{what}");
            assert_eq!(ports[0].local_endpoints, local, "{what}");
        }
    }

    #[test]
    fn services_without_an_address_are_skipped_and_fields_are_read() {
        let cases = [
            (
                "headless",
                json!({"clusterIP": "None", "ports": [{"port": 80}]}),
                0,
            ),
            (
                "external name",
                json!({"type": "ExternalName", "externalName": "x.example"}),
                0,
            ),
            (
                "unknown protocol",
                json!({"clusterIP": "10.43.0.3", "ports": [{"port": 80, "protocol": "XYZ"}]}),
                0,
            ),
            (
                "two ports",
                json!({"clusterIP": "10.43.0.3", "ports": [{"name": "a", "port": 80}, {"name": "b", "port": 53, "protocol": "UDP"}]}),
                2,
            ),
        ];
        for (what, spec, count) in cases {
            assert_eq!(collect([&service(spec)], [], None).len(), count, "{what}");
        }
        let svc = service(json!({
            "type": "NodePort", "clusterIP": "10.43.0.4", "externalIPs": ["192.0.2.50"],
            "sessionAffinity": "ClientIP", "externalTrafficPolicy": "Local",
            "internalTrafficPolicy": "Local",
            "ports": [{"port": 80, "nodePort": 30080}],
        }));
        let port = &collect([&svc], [], None)[0];
        assert_eq!(port.node_port, Some(30080));
        assert_eq!(port.external_ips, vec![Ipv4Addr::new(192, 0, 2, 50)]);
        assert_eq!(
            port.affinity_timeout,
            Some(DEFAULT_AFFINITY_TIMEOUT_SECONDS)
        );
        assert_eq!(
            (port.internal_policy, port.external_policy),
            (TrafficPolicy::Local, TrafficPolicy::Local)
        );
    }

    #[test]
    fn slice_ports_are_matched_by_name_and_protocol() {
        let svc = service(json!({"clusterIP": "10.43.0.5", "ports": [
            {"name": "http", "port": 80}, {"name": "dns", "port": 53, "protocol": "UDP"}]}));
        let slices = [slice(json!([ep("10.0.0.1", true, true, false, "a")]))];
        let ports = collect([&svc], &slices, None);
        let by_port: Vec<(u16, usize)> = ports
            .iter()
            .map(|p| (p.port, p.cluster_endpoints.len()))
            .collect();
        assert_eq!(by_port, vec![(80, 1), (53, 0)]);
    }
}
