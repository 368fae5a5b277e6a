//! Cluster IPs and node ports of Services, allocated by the apiserver as
//! upstream's Service REST storage does (`pkg/registry/core/service/ipallocator`
//! and `portallocator`): from the service CIDR 10.43.0.0/16 (its first
//! address is the `kubernetes` Service's) and the node port range
//! 30000–32767. What is in use is read from the stored Services; creates
//! are serialised by the registry so two cannot take the same address.

use std::collections::HashSet;
use std::net::Ipv4Addr;

use rand::Rng;
use rkube_api::{ErrorType, FieldErrors, ResourceDef};
use serde_json::{json, Value};

use crate::status::{ApiError, ApiResult};

/// The service CIDR's network address (k3s's default 10.43.0.0/16).
const SERVICE_NETWORK: u32 = u32::from_be_bytes([10, 43, 0, 0]);
/// Its prefix length.
const SERVICE_PREFIX: u32 = 16;
/// Upstream's default `--service-node-port-range`.
const NODE_PORTS: std::ops::RangeInclusive<i64> = 30000..=32767;

/// Whether `def` is core/v1 Services.
pub fn is_services(def: &ResourceDef) -> bool {
    def.group.is_empty() && def.plural == "services"
}

fn in_range(ip: Ipv4Addr) -> bool {
    let mask = u32::MAX << (32 - SERVICE_PREFIX);
    u32::from(ip) & mask == SERVICE_NETWORK
}

/// What the existing Services use.
#[derive(Debug, Default)]
pub struct InUse {
    ips: HashSet<Ipv4Addr>,
    node_ports: HashSet<i64>,
}

impl InUse {
    /// Collects the addresses and ports of `services`.
    pub fn of<'a>(services: impl IntoIterator<Item = &'a Value>) -> Self {
        let mut used = InUse::default();
        for svc in services {
            if let Some(ip) = svc
                .pointer("/spec/clusterIP")
                .and_then(Value::as_str)
                .and_then(|s| s.parse().ok())
            {
                used.ips.insert(ip);
            }
            for port in svc
                .pointer("/spec/ports")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(n) = port.get("nodePort").and_then(Value::as_i64) {
                    used.node_ports.insert(n);
                }
            }
        }
        used
    }
}

/// Creates the `default/kubernetes` Service on the first address of the
/// service CIDR, port 443 to the apiserver's `port`, as upstream's
/// apiserver does at start (its endpoints come with the controllers).
pub async fn ensure_kubernetes_service(registry: &super::Registry, port: u16) -> ApiResult<()> {
    let Some(def) = registry.catalog.get("", "v1", "services").cloned() else {
        return Ok(());
    };
    // On a restart the Service is already there. Ask first: a create would
    // fail on the taken address before it could say AlreadyExists (upstream's
    // bootstrap controller also reads before it writes).
    let existing = super::ObjectRef {
        def: &def,
        namespace: Some("default"),
        name: "kubernetes",
    };
    match registry.get(&existing).await {
        Ok(_) => return Ok(()),
        Err(e) if e.reason == crate::status::Reason::NotFound => {}
        Err(e) => return Err(e),
    }
    let first = Ipv4Addr::from(SERVICE_NETWORK + 1).to_string();
    let svc = json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "kubernetes", "namespace": "default",
                     "labels": {"component": "apiserver", "provider": "kubernetes"}},
        "spec": {
            "type": "ClusterIP",
            "clusterIP": first,
            "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": port}],
            "sessionAffinity": "None",
        },
    });
    match registry
        .create(&def, Some("default"), svc, &super::WriteOptions::default())
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if e.reason == crate::status::Reason::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

fn invalid(def: &ResourceDef, name: &str, field: &str, value: String, detail: &str) -> ApiError {
    let mut errors = FieldErrors::default();
    errors.push(ErrorType::Invalid, field, Some(value), detail);
    ApiError::invalid(def, name, &errors)
}

/// Fills `spec.clusterIP(s)` and missing node ports of a new Service.
pub fn allocate(def: &ResourceDef, svc: &mut Value, used: &InUse) -> ApiResult<()> {
    let name = super::meta::name(svc).to_string();
    let service_type = svc
        .pointer("/spec/type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP")
        .to_string();
    if service_type == "ExternalName" {
        return Ok(());
    }
    let Some(spec) = svc.get_mut("spec").and_then(Value::as_object_mut) else {
        return Ok(());
    };
    let requested = spec
        .get("clusterIP")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if requested != "None" {
        let ip = if requested.is_empty() {
            random_free_ip(used).ok_or_else(|| {
                invalid(
                    def,
                    &name,
                    "spec.clusterIPs",
                    String::new(),
                    "failed to allocate a serviceIP: range is full",
                )
            })?
        } else {
            let ip: Ipv4Addr = requested.parse().map_err(|_| {
                invalid(
                    def,
                    &name,
                    "spec.clusterIPs[0]",
                    format!("{requested:?}"),
                    "must be a valid IP address",
                )
            })?;
            if !in_range(ip) {
                return Err(invalid(
                    def,
                    &name,
                    "spec.clusterIPs",
                    format!("[]string{{{requested:?}}}"),
                    "failed to allocate IP: the provided IP is not in the valid range. The range of valid IPs is 10.43.0.0/16",
                ));
            }
            if used.ips.contains(&ip) {
                return Err(invalid(
                    def,
                    &name,
                    "spec.clusterIPs",
                    format!("[]string{{{requested:?}}}"),
                    &format!("failed to allocate IP {requested}: provided IP is already allocated"),
                ));
            }
            ip
        };
        spec.insert("clusterIP".into(), json!(ip.to_string()));
        spec.insert("clusterIPs".into(), json!([ip.to_string()]));
    }
    if service_type == "NodePort" || service_type == "LoadBalancer" {
        let mut taken: HashSet<i64> = used.node_ports.clone();
        for port in spec
            .get_mut("ports")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            match port.get("nodePort").and_then(Value::as_i64) {
                Some(n) if taken.contains(&n) => {
                    return Err(invalid(
                        def,
                        &name,
                        "spec.ports[0].nodePort",
                        n.to_string(),
                        "provided port is already allocated",
                    ))
                }
                Some(n) => {
                    taken.insert(n);
                }
                None => {
                    let n = random_free_port(&taken).ok_or_else(|| {
                        invalid(
                            def,
                            &name,
                            "spec.ports[0].nodePort",
                            String::new(),
                            "range is full",
                        )
                    })?;
                    taken.insert(n);
                    if let Some(p) = port.as_object_mut() {
                        p.insert("nodePort".into(), json!(n));
                    }
                }
            }
        }
    }
    Ok(())
}

/// A random free address, skipping the network address, the first host
/// (the `kubernetes` Service's, handed out explicitly) and the broadcast.
fn random_free_ip(used: &InUse) -> Option<Ipv4Addr> {
    let size = 1u32 << (32 - SERVICE_PREFIX);
    let start = rand::rng().random_range(2..size - 1);
    (0..size - 3)
        .map(|i| SERVICE_NETWORK + 2 + (start - 2 + i) % (size - 3))
        .map(Ipv4Addr::from)
        .find(|ip| !used.ips.contains(ip))
}

fn random_free_port(taken: &HashSet<i64>) -> Option<i64> {
    let span = NODE_PORTS.end() - NODE_PORTS.start() + 1;
    let start = rand::rng().random_range(0..span);
    (0..span)
        .map(|i| NODE_PORTS.start() + (start + i) % span)
        .find(|p| !taken.contains(p))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rkube_api::Scope;

    fn def() -> ResourceDef {
        crate::testing::def("", "v1", "Service", "services", Scope::Namespaced)
    }

    #[test]
    fn a_service_gets_a_free_cluster_ip_and_node_ports() {
        let existing = json!({"spec": {"clusterIP": "10.43.0.10", "ports": [{"port": 53, "nodePort": 30001}]}});
        let used = InUse::of([&existing]);
        let mut svc = json!({"metadata": {"name": "web"}, "spec": {"type": "NodePort", "ports": [{"port": 80}]}});
        allocate(&def(), &mut svc, &used).expect("allocates");
        let ip: Ipv4Addr = svc["spec"]["clusterIP"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .expect("an IP");
        assert!(
            in_range(ip) && ip != Ipv4Addr::new(10, 43, 0, 10) && ip != Ipv4Addr::new(10, 43, 0, 1)
        );
        assert_eq!(svc["spec"]["clusterIPs"][0], svc["spec"]["clusterIP"]);
        let port = svc["spec"]["ports"][0]["nodePort"]
            .as_i64()
            .expect("a node port");
        assert!(NODE_PORTS.contains(&port) && port != 30001);
    }

    #[test]
    fn taken_or_foreign_addresses_are_invalid_and_headless_stays_headless() {
        let existing = json!({"spec": {"clusterIP": "10.43.0.10"}});
        let used = InUse::of([&existing]);
        let cases = [
            ("10.43.0.10", true),
            ("192.168.0.1", true),
            ("10.43.0.11", false),
            ("None", false),
        ];
        for (ip, fails) in cases {
            let mut svc = json!({"metadata": {"name": "s"}, "spec": {"clusterIP": ip}});
            assert_eq!(allocate(&def(), &mut svc, &used).is_err(), fails, "{ip}");
        }
        let mut headless = json!({"metadata": {"name": "h"}, "spec": {"clusterIP": "None"}});
        allocate(&def(), &mut headless, &used).expect("headless");
        assert!(headless["spec"].get("clusterIPs").is_none());
    }
}
