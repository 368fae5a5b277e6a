//! Cluster IPs and node ports of Services, allocated by the apiserver as
//! upstream's Service REST storage does (`pkg/registry/core/service/ipallocator`
//! and `portallocator`): from the service CIDR 10.43.0.0/16 (its first
//! address is the `kubernetes` Service's) and the node port range
//! (30000–32767 unless configured). What is in use is read from the stored
//! Services, so it survives restarts and a delete releases it; creates and
//! updates of Services are serialised by the registry so two cannot take
//! the same address.

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

/// Upstream's default `--service-node-port-range`.
pub const DEFAULT_NODE_PORTS: std::ops::RangeInclusive<i64> = 30000..=32767;

/// The lower band of the service CIDR that dynamic allocation uses only
/// when the rest is full, so that well-known addresses such as the DNS
/// Service's 10.43.0.10 stay free for explicit requests (upstream KEP-3070:
/// min(max(16, size/16), 256) addresses).
fn static_band(size: u32) -> u32 {
    (size / 16).clamp(16, 256)
}

fn service_type(svc: &Value) -> &str {
    svc.pointer("/spec/type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP")
}

fn cluster_ip(svc: &Value) -> &str {
    svc.pointer("/spec/clusterIP")
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn exposes_node_ports(svc: &Value) -> bool {
    matches!(service_type(svc), "NodePort" | "LoadBalancer")
}

/// Fills `spec.clusterIP(s)` and the node ports of a Service being created
/// (`old` None) or updated, honouring requested values, refusing taken or
/// out-of-range ones, keeping what an update leaves out, and dropping what a
/// type change no longer needs (upstream `pkg/registry/core/service/storage`
/// `patchAllocatedValues` and the allocators' `txn`). `used` must not
/// include the Service itself.
pub fn allocate(
    def: &ResourceDef,
    svc: &mut Value,
    old: Option<&Value>,
    used: &InUse,
    node_ports: &std::ops::RangeInclusive<i64>,
) -> ApiResult<()> {
    let name = super::meta::name(svc).to_string();
    let service_type = service_type(svc).to_string();
    let old_ip = old
        .filter(service_type_is_not_external_name)
        .map(|o| cluster_ip(o).to_string())
        .filter(|ip| !ip.is_empty());
    let old_node_ports: Vec<(i64, String, i64)> = old
        .filter(|o| exposes_node_ports(o))
        .map(node_port_assignments)
        .unwrap_or_default();
    let exposes = exposes_node_ports(svc);
    let Some(spec) = svc.get_mut("spec").and_then(Value::as_object_mut) else {
        return Ok(());
    };
    if service_type == "ExternalName" {
        // Turning into an ExternalName releases the address and ports.
        spec.remove("clusterIP");
        spec.remove("clusterIPs");
        strip_node_ports(spec);
        return Ok(());
    }
    let mut requested = spec
        .get("clusterIP")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if let Some(old_ip) = &old_ip {
        if requested.is_empty() {
            // An update that leaves the address out keeps it.
            requested = old_ip.clone();
        } else if &requested != old_ip {
            return Err(invalid(
                def,
                &name,
                "spec.clusterIPs[0]",
                format!("{requested:?}"),
                "may not change once set",
            ));
        }
    }
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
    } else {
        spec.insert("clusterIPs".into(), json!(["None"]));
    }
    if !exposes {
        // NodePort → ClusterIP releases the ports.
        strip_node_ports(spec);
        return Ok(());
    }
    let mut taken: HashSet<i64> = used.node_ports.clone();
    for (i, port) in spec
        .get_mut("ports")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let field = format!("spec.ports[{i}].nodePort");
        let requested = port.get("nodePort").and_then(Value::as_i64).or_else(|| {
            // An update that leaves a port's nodePort out keeps the old one.
            let number = port.get("port").and_then(Value::as_i64)?;
            let protocol = port
                .get("protocol")
                .and_then(Value::as_str)
                .unwrap_or("TCP");
            old_node_ports
                .iter()
                .find(|(p, proto, _)| *p == number && proto == protocol)
                .map(|(_, _, n)| *n)
        });
        let assigned = match requested {
            Some(n) if !node_ports.contains(&n) => {
                return Err(invalid(
                    def,
                    &name,
                    &field,
                    n.to_string(),
                    &format!(
                    "provided port is not in the valid range. The range of valid ports is {}-{}",
                    node_ports.start(),
                    node_ports.end()
                ),
                ))
            }
            Some(n) if taken.contains(&n) => {
                return Err(invalid(
                    def,
                    &name,
                    &field,
                    n.to_string(),
                    "provided port is already allocated",
                ))
            }
            Some(n) => n,
            None => random_free_port(&taken, node_ports)
                .ok_or_else(|| invalid(def, &name, &field, String::new(), "range is full"))?,
        };
        taken.insert(assigned);
        if let Some(p) = port.as_object_mut() {
            p.insert("nodePort".into(), json!(assigned));
        }
    }
    Ok(())
}

/// Before validation of an update: drops node ports a type change no longer
/// needs, and puts the old cluster IP back into an update that left it out
/// (upstream `patchAllocatedValues` runs in
/// `beginUpdate`, ahead of the strategy): clients that replace a Service
/// from a manifest without the allocated address keep it, and a change to
/// ExternalName passes the immutability check and is released afterwards
/// by [`allocate`].
pub fn patch_allocated_values(new: &mut Value, old: &Value) {
    // A type change away from NodePort drops the node ports the client
    // carried over unchanged (upstream `dropTypeDependentFields`).
    if exposes_node_ports(old) && !exposes_node_ports(new) {
        let old_ports: Vec<i64> = node_port_assignments(old).iter().map(|a| a.2).collect();
        for port in new
            .pointer_mut("/spec/ports")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
            .filter_map(Value::as_object_mut)
        {
            if port
                .get("nodePort")
                .and_then(Value::as_i64)
                .is_some_and(|n| old_ports.contains(&n))
            {
                port.remove("nodePort");
            }
        }
    }
    let old_ip = cluster_ip(old);
    if old_ip.is_empty() || service_type(old) == "ExternalName" || !cluster_ip(new).is_empty() {
        return;
    }
    let old_ip = old_ip.to_string();
    if let Some(spec) = new.get_mut("spec").and_then(Value::as_object_mut) {
        spec.insert("clusterIP".into(), json!(old_ip));
    }
}

fn service_type_is_not_external_name(svc: &&Value) -> bool {
    service_type(svc) != "ExternalName"
}

/// (port, protocol, nodePort) of each port with a node port.
fn node_port_assignments(svc: &Value) -> Vec<(i64, String, i64)> {
    svc.pointer("/spec/ports")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| {
            Some((
                p.get("port").and_then(Value::as_i64)?,
                p.get("protocol")
                    .and_then(Value::as_str)
                    .unwrap_or("TCP")
                    .to_string(),
                p.get("nodePort").and_then(Value::as_i64)?,
            ))
        })
        .collect()
}

fn strip_node_ports(spec: &mut serde_json::Map<String, Value>) {
    for port in spec
        .get_mut("ports")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object_mut)
    {
        port.remove("nodePort");
    }
}

/// A random free address above the static band; inside it (skipping the
/// network address and the `kubernetes` Service's first host) only when
/// the rest is full.
fn random_free_ip(used: &InUse) -> Option<Ipv4Addr> {
    let size = 1u32 << (32 - SERVICE_PREFIX);
    let band = static_band(size);
    let free_in = |low: u32, high: u32| {
        // [low, high) with the broadcast address excluded by the caller.
        let span = high.checked_sub(low).filter(|s| *s > 0)?;
        let start = rand::rng().random_range(0..span);
        (0..span)
            .map(|i| Ipv4Addr::from(SERVICE_NETWORK + low + (start + i) % span))
            .find(|ip| !used.ips.contains(ip))
    };
    free_in(band, size - 1).or_else(|| free_in(2, band))
}

fn random_free_port(taken: &HashSet<i64>, range: &std::ops::RangeInclusive<i64>) -> Option<i64> {
    let span = range.end() - range.start() + 1;
    if span <= 0 {
        return None;
    }
    let start = rand::rng().random_range(0..span);
    (0..span)
        .map(|i| range.start() + (start + i) % span)
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
        allocate(&def(), &mut svc, None, &used, &DEFAULT_NODE_PORTS).expect("allocates");
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
        assert!(DEFAULT_NODE_PORTS.contains(&port) && port != 30001);
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
            assert_eq!(
                allocate(&def(), &mut svc, None, &used, &DEFAULT_NODE_PORTS).is_err(),
                fails,
                "{ip}"
            );
        }
        let mut headless = json!({"metadata": {"name": "h"}, "spec": {"clusterIP": "None"}});
        allocate(&def(), &mut headless, None, &used, &DEFAULT_NODE_PORTS).expect("headless");
        assert_eq!(headless["spec"]["clusterIPs"], json!(["None"]));
    }

    #[test]
    fn dynamic_addresses_stay_out_of_the_static_band() {
        let used = InUse::default();
        for _ in 0..200 {
            let ip = random_free_ip(&used).expect("free");
            assert!(ip >= Ipv4Addr::new(10, 43, 1, 0), "{ip}");
        }
    }

    #[test]
    fn updates_keep_release_or_refuse_allocations() {
        let nodeport = json!({"metadata": {"name": "s"}, "spec": {"type": "NodePort",
            "clusterIP": "10.43.5.5", "ports": [{"port": 80, "nodePort": 30080}]}});
        let used = InUse::of([
            &json!({"spec": {"clusterIP": "10.43.9.9", "ports": [{"port": 1, "nodePort": 30090}]}}),
        ]);
        let cases: [(&str, Value, Result<Value, ()>); 6] = [
            (
                "leaving the address and node port out keeps them",
                json!({"type": "NodePort", "ports": [{"port": 80}]}),
                Ok(
                    json!({"type": "NodePort", "clusterIP": "10.43.5.5", "clusterIPs": ["10.43.5.5"], "ports": [{"port": 80, "nodePort": 30080}]}),
                ),
            ),
            (
                "NodePort to ClusterIP releases the node port",
                json!({"type": "ClusterIP", "clusterIP": "10.43.5.5", "ports": [{"port": 80, "nodePort": 30080}]}),
                Ok(
                    json!({"type": "ClusterIP", "clusterIP": "10.43.5.5", "clusterIPs": ["10.43.5.5"], "ports": [{"port": 80}]}),
                ),
            ),
            (
                "ExternalName releases address and ports",
                json!({"type": "ExternalName", "externalName": "x.example", "clusterIP": "10.43.5.5", "ports": [{"port": 80, "nodePort": 30080}]}),
                Ok(
                    json!({"type": "ExternalName", "externalName": "x.example", "ports": [{"port": 80}]}),
                ),
            ),
            (
                "the address may not change",
                json!({"type": "NodePort", "clusterIP": "10.43.5.6", "ports": [{"port": 80}]}),
                Err(()),
            ),
            (
                "a node port another Service holds is refused",
                json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 30090}]}),
                Err(()),
            ),
            (
                "a node port outside the range is refused",
                json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 8080}]}),
                Err(()),
            ),
        ];
        for (what, spec, want) in cases {
            let mut svc = json!({"metadata": {"name": "s"}, "spec": spec});
            let got = allocate(
                &def(),
                &mut svc,
                Some(&nodeport),
                &used,
                &DEFAULT_NODE_PORTS,
            )
            .map(|()| svc["spec"].clone())
            .map_err(|_| ());
            assert_eq!(got, want, "{what}");
        }
    }

    #[test]
    fn an_external_name_becoming_cluster_ip_gets_an_address() {
        let old = json!({"metadata": {"name": "s"}, "spec": {"type": "ExternalName", "externalName": "x"}});
        let mut svc = json!({"metadata": {"name": "s"}, "spec": {"type": "ClusterIP", "ports": [{"port": 80}]}});
        allocate(
            &def(),
            &mut svc,
            Some(&old),
            &InUse::default(),
            &DEFAULT_NODE_PORTS,
        )
        .expect("allocates");
        assert!(svc["spec"]["clusterIP"]
            .as_str()
            .is_some_and(|ip| ip.starts_with("10.43.")));
    }
}
