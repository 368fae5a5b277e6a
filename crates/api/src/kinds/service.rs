//! Services (pkg/registry/core/service/strategy.go, SetDefaults_Service):
//! ClusterIP type, no session affinity, TCP ports whose target defaults to
//! the port, single-stack IPv4, and DNS-1035 names. Cluster IPs and node
//! ports are allocated by the apiserver, not here.

use std::collections::HashSet;

use serde_json::{json, Value};

use super::pod_spec::validate_protocol;
use crate::catalog::Scope;
use crate::field_error::FieldErrors;
use crate::json_path::{
    array_at, default, existing_mut, get, i64_at, items_mut, object_mut, str_at,
};
use crate::strategy::Strategy;
use crate::validation::names;
use crate::validation::object_meta::validate_labels;
use crate::validation::{validate_object_meta, validate_object_meta_update, NameRule};

/// The strategy of `services`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ServiceStrategy;

const TYPES: [&str; 4] = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"];
const AFFINITIES: [&str; 2] = ["ClientIP", "None"];
const TRAFFIC_POLICIES: [&str; 2] = ["Cluster", "Local"];

/// Upstream's default ClientIP affinity timeout: three hours.
const AFFINITY_TIMEOUT: i64 = 10800;

fn validate_ports(spec: &Value, kind: &str, errs: &mut FieldErrors) {
    let ports = array_at(spec, &["ports"]);
    let headless = str_at(spec, &["clusterIP"]) == "None";
    if ports.is_empty() && kind != "ExternalName" && !headless {
        errs.required("spec.ports", "");
    }
    let mut seen = HashSet::new();
    for (i, port) in ports.iter().enumerate() {
        let at = format!("spec.ports[{i}]");
        let name = str_at(port, &["name"]);
        if name.is_empty() {
            if ports.len() > 1 {
                errs.required(format!("{at}.name"), "");
            }
        } else {
            for m in names::dns1123_label(name) {
                errs.invalid(format!("{at}.name"), name, m);
            }
            if !seen.insert(name) {
                errs.duplicate(format!("{at}.name"), name);
            }
        }
        let number = i64_at(port, &["port"]).unwrap_or_default();
        for m in names::port_number(number) {
            errs.invalid_number(format!("{at}.port"), number, m);
        }
        validate_protocol(port, &at, errs);
        match get(port, &["targetPort"]) {
            Some(Value::String(s)) => {
                for m in names::port_name(s) {
                    errs.invalid(format!("{at}.targetPort"), s, m);
                }
            }
            Some(v) if !v.is_null() => {
                let n = v.as_i64().unwrap_or_default();
                for m in names::port_number(n) {
                    errs.invalid_number(format!("{at}.targetPort"), n, m);
                }
            }
            _ => {}
        }
        let node_port = i64_at(port, &["nodePort"]).unwrap_or_default();
        if node_port != 0 && kind == "ClusterIP" {
            errs.forbidden(
                format!("{at}.nodePort"),
                "may not be used when `type` is 'ClusterIP'",
            );
        }
    }
}

fn validate_spec(obj: &Value) -> FieldErrors {
    let mut errs = FieldErrors::default();
    let spec = get(obj, &["spec"]).unwrap_or(&Value::Null);
    let kind = str_at(spec, &["type"]);
    if !TYPES.contains(&kind) {
        errs.not_supported("spec.type", kind, &TYPES);
    }
    let affinity = str_at(spec, &["sessionAffinity"]);
    if !AFFINITIES.contains(&affinity) {
        errs.not_supported("spec.sessionAffinity", affinity, &AFFINITIES);
    }
    if kind == "ExternalName" {
        let external = str_at(spec, &["externalName"]);
        if external.is_empty() {
            errs.required("spec.externalName", "");
        } else {
            for m in names::dns1123_subdomain(external.trim_end_matches('.')) {
                errs.invalid("spec.externalName", external, m);
            }
        }
    }
    validate_ports(spec, kind, &mut errs);
    if let Some(selector) = get(spec, &["selector"]) {
        errs.extend(validate_labels(selector, "spec.selector"));
    }
    for field in ["internalTrafficPolicy", "externalTrafficPolicy"] {
        let policy = str_at(spec, &[field]);
        if !policy.is_empty() && !TRAFFIC_POLICIES.contains(&policy) {
            errs.not_supported(format!("spec.{field}"), policy, &TRAFFIC_POLICIES);
        }
    }
    errs
}

impl Strategy for ServiceStrategy {
    fn default(&self, obj: &mut Value) {
        let Some(spec) = existing_mut(obj, &["spec"]) else {
            return;
        };
        default(spec, "type", json!("ClusterIP"));
        default(spec, "sessionAffinity", json!("None"));
        let kind = spec
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        for port in items_mut(spec, "ports") {
            default(port, "protocol", json!("TCP"));
            if let Some(p) = port.get("port").cloned() {
                default(port, "targetPort", p);
            }
        }
        if kind != "ExternalName" {
            default(spec, "internalTrafficPolicy", json!("Cluster"));
            default(spec, "ipFamilyPolicy", json!("SingleStack"));
            default(spec, "ipFamilies", json!(["IPv4"]));
        }
        if kind == "NodePort" || kind == "LoadBalancer" {
            default(spec, "externalTrafficPolicy", json!("Cluster"));
        }
        if kind == "LoadBalancer" {
            default(spec, "allocateLoadBalancerNodePorts", json!(true));
        }
        let client_ip = spec.get("sessionAffinity") == Some(&json!("ClientIP"));
        if client_ip {
            if let Some(cfg) = object_mut(obj, &["spec", "sessionAffinityConfig", "clientIP"]) {
                default(cfg, "timeoutSeconds", json!(AFFINITY_TIMEOUT));
            }
        }
    }

    fn validate_create(&self, obj: &Value) -> FieldErrors {
        let mut errs = validate_object_meta(obj, Scope::Namespaced, NameRule::Dns1035Label);
        errs.extend(validate_spec(obj));
        errs
    }

    fn validate_update(&self, new: &Value, old: &Value) -> FieldErrors {
        let mut errs =
            validate_object_meta_update(new, old, Scope::Namespaced, NameRule::Dns1035Label);
        errs.extend(validate_spec(new));
        // A cluster IP, once allocated, stays (unless the service stops
        // being ExternalName, which has none).
        let old_ip = str_at(old, &["spec", "clusterIP"]);
        let new_ip = str_at(new, &["spec", "clusterIP"]);
        let was_external = str_at(old, &["spec", "type"]) == "ExternalName";
        if !old_ip.is_empty() && !was_external && new_ip != old_ip {
            errs.invalid("spec.clusterIPs[0]", new_ip, "may not change once set");
        }
        errs
    }

    /// Selectable since v1.31 (kubernetes#122541): headless services are
    /// `spec.clusterIP=None`.
    fn field_labels(&self, obj: &Value) -> Vec<(&'static str, String)> {
        vec![
            (
                "spec.clusterIP",
                str_at(obj, &["spec", "clusterIP"]).to_owned(),
            ),
            ("spec.type", str_at(obj, &["spec", "type"]).to_owned()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(spec: Value) -> Value {
        let mut obj = json!({"metadata": {"name": "web", "namespace": "default"}, "spec": spec});
        ServiceStrategy.default(&mut obj);
        obj
    }

    #[test]
    fn defaults_are_upstreams() {
        let obj = service(json!({"selector": {"app": "web"}, "ports": [{"port": 80}]}));
        assert_eq!(
            obj["spec"],
            json!({
                "selector": {"app": "web"},
                "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}],
                "type": "ClusterIP",
                "sessionAffinity": "None",
                "internalTrafficPolicy": "Cluster",
                "ipFamilyPolicy": "SingleStack",
                "ipFamilies": ["IPv4"]
            })
        );
        let lb = service(
            json!({"type": "LoadBalancer", "sessionAffinity": "ClientIP", "ports": [{"port": 80}]}),
        );
        assert_eq!(lb["spec"]["externalTrafficPolicy"], json!("Cluster"));
        assert_eq!(lb["spec"]["allocateLoadBalancerNodePorts"], json!(true));
        assert_eq!(
            lb["spec"]["sessionAffinityConfig"]["clientIP"]["timeoutSeconds"],
            json!(10800)
        );
        assert!(ServiceStrategy.validate_create(&obj).is_empty());
    }

    #[test]
    fn validation_cases() {
        let cases = [
            ("no ports", json!({}), vec!["spec.ports: Required value"]),
            ("headless needs no ports", json!({"clusterIP": "None"}), vec![]),
            (
                "unnamed ports when there are several",
                json!({"ports": [{"port": 80}, {"port": 443}]}),
                vec!["spec.ports[0].name: Required value", "spec.ports[1].name: Required value"],
            ),
            (
                "a port out of range",
                json!({"ports": [{"port": 0}]}),
                vec![
                    "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
                    "spec.ports[0].targetPort: Invalid value: 0: must be between 1 and 65535, inclusive",
                ],
            ),
            (
                "a node port on a ClusterIP service",
                json!({"ports": [{"port": 80, "nodePort": 30080}]}),
                vec!["spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"],
            ),
            (
                "an unknown type",
                json!({"type": "Magic", "ports": [{"port": 80}]}),
                vec!["spec.type: Unsupported value: \"Magic\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\""],
            ),
            ("an ExternalName without a name", json!({"type": "ExternalName"}), vec!["spec.externalName: Required value"]),
        ];
        for (name, spec, want) in cases {
            let got = ServiceStrategy.validate_create(&service(spec)).messages();
            assert_eq!(got, want, "{name}");
        }
        let mut bad_name = service(json!({"ports": [{"port": 80}]}));
        bad_name["metadata"]["name"] = json!("1web");
        let fields: Vec<String> = ServiceStrategy
            .validate_create(&bad_name)
            .0
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["metadata.name"]);
    }

    #[test]
    fn services_select_by_type_and_cluster_ip() {
        let headless = service(json!({"clusterIP": "None", "ports": [{"port": 80}]}));
        let sel = crate::selector::FieldSelector::parse_for(
            "spec.clusterIP=None,spec.type=ClusterIP",
            &ServiceStrategy,
        );
        assert_eq!(
            sel.map(|s| s.matches_object(&ServiceStrategy, &headless)),
            Ok(true)
        );
    }

    #[test]
    fn the_cluster_ip_stays() {
        let old = service(json!({"clusterIP": "10.43.0.10", "ports": [{"port": 53}]}));
        let mut new = old.clone();
        new["spec"]["clusterIP"] = json!("10.43.0.11");
        let fields: Vec<String> = ServiceStrategy
            .validate_update(&new, &old)
            .0
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["spec.clusterIPs[0]"]);
    }
}
