//! `kubectl get services`: NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE,
//! wide SELECTOR (`printService`).

use std::time::SystemTime;

use serde_json::Value;

use crate::json_path::{array_at, format_labels, get, i64_at, str_at};
use crate::table::{age_cell, name_cell, Column, Printer};

/// Prints services.
#[derive(Debug, Clone, Copy, Default)]
pub struct ServicePrinter;

/// The load balancer's ingress IPs or host names, sorted and unique
/// (`loadBalancerStatusStringer`).
fn load_balancer_addresses(svc: &Value) -> Vec<String> {
    let mut list: Vec<String> = array_at(svc, &["status", "loadBalancer", "ingress"])
        .iter()
        .filter_map(|i| {
            let ip = str_at(i, &["ip"]);
            let host = str_at(i, &["hostname"]);
            match (ip.is_empty(), host.is_empty()) {
                (false, _) => Some(ip.to_owned()),
                (true, false) => Some(host.to_owned()),
                (true, true) => None,
            }
        })
        .collect();
    list.sort();
    list.dedup();
    list
}

/// `getServiceExternalIP`.
fn external_ip(svc: &Value) -> String {
    let external: Vec<String> = array_at(svc, &["spec", "externalIPs"])
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect();
    match str_at(svc, &["spec", "type"]) {
        "ClusterIP" | "NodePort" if !external.is_empty() => external.join(","),
        "ClusterIP" | "NodePort" => "<none>".to_owned(),
        "LoadBalancer" => {
            let mut all = load_balancer_addresses(svc);
            all.extend(external);
            if all.is_empty() {
                "<pending>".to_owned()
            } else {
                all.join(",")
            }
        }
        "ExternalName" => str_at(svc, &["spec", "externalName"]).to_owned(),
        _ => "<unknown>".to_owned(),
    }
}

/// `80/TCP,443:30443/TCP` (`makePortString`).
fn ports(svc: &Value) -> String {
    let list: Vec<String> = array_at(svc, &["spec", "ports"])
        .iter()
        .map(|p| {
            let port = i64_at(p, &["port"]).unwrap_or_default();
            let protocol = str_at(p, &["protocol"]);
            match i64_at(p, &["nodePort"]).filter(|n| *n > 0) {
                Some(node) => format!("{port}:{node}/{protocol}"),
                None => format!("{port}/{protocol}"),
            }
        })
        .collect();
    if list.is_empty() {
        "<none>".to_owned()
    } else {
        list.join(",")
    }
}

impl Printer for ServicePrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            Column::name(),
            Column::string("Type", "type determines how the Service is exposed."),
            Column::string("Cluster-IP", "clusterIP is the IP address of the service and is usually assigned randomly."),
            Column::string("External-IP", "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service."),
            Column::string("Port(s)", "The list of ports that are exposed by this service."),
            Column::age(),
            Column::string("Selector", "Route service traffic to pods with label keys and values matching this selector.").wide(),
        ]
    }

    fn cells(&self, obj: &Value, now: SystemTime) -> Vec<Value> {
        // `clusterIPs[0]`; `clusterIP` for objects written before the
        // allocator filled the list.
        let cluster_ip = array_at(obj, &["spec", "clusterIPs"])
            .first()
            .and_then(Value::as_str)
            .unwrap_or_else(|| str_at(obj, &["spec", "clusterIP"]));
        vec![
            name_cell(obj),
            Value::from(str_at(obj, &["spec", "type"])),
            Value::from(if cluster_ip.is_empty() {
                "<none>"
            } else {
                cluster_ip
            }),
            Value::from(external_ip(obj)),
            Value::from(ports(obj)),
            age_cell(obj, now),
            Value::from(format_labels(get(obj, &["spec", "selector"]))),
        ]
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn service_cases() {
        let cases = [
            (
                json!({"metadata": {"name": "web"}, "spec": {"type": "ClusterIP", "clusterIP": "10.43.0.5", "selector": {"app": "web"}, "ports": [{"port": 80, "protocol": "TCP"}]}}),
                ["ClusterIP", "10.43.0.5", "<none>", "80/TCP", "app=web"],
            ),
            (
                json!({"metadata": {"name": "web"}, "spec": {"type": "NodePort", "clusterIP": "10.43.0.6", "ports": [{"port": 443, "nodePort": 30443, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}]}}),
                [
                    "NodePort",
                    "10.43.0.6",
                    "<none>",
                    "443:30443/TCP,53/UDP",
                    "<none>",
                ],
            ),
            (
                json!({"metadata": {"name": "lb"}, "spec": {"type": "LoadBalancer", "clusterIP": "10.43.0.7", "ports": []}}),
                ["LoadBalancer", "10.43.0.7", "<pending>", "<none>", "<none>"],
            ),
            (
                json!({"metadata": {"name": "lb"}, "spec": {"type": "LoadBalancer", "clusterIP": "10.43.0.7"}, "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}, {"hostname": "lb.example.com"}]}}}),
                [
                    "LoadBalancer",
                    "10.43.0.7",
                    "192.0.2.1,lb.example.com",
                    "<none>",
                    "<none>",
                ],
            ),
            (
                json!({"metadata": {"name": "ext"}, "spec": {"type": "ExternalName", "externalName": "db.example.com"}}),
                [
                    "ExternalName",
                    "<none>",
                    "db.example.com",
                    "<none>",
                    "<none>",
                ],
            ),
        ];
        for (svc, want) in cases {
            let cells = ServicePrinter.cells(&svc, SystemTime::UNIX_EPOCH);
            let got = [&cells[1], &cells[2], &cells[3], &cells[4], &cells[6]];
            assert_eq!(got, want.map(Value::from).each_ref(), "{svc}");
            assert_eq!(cells.len(), ServicePrinter.columns().len());
        }
    }
}
