//! `kubectl get nodes`: NAME STATUS ROLES AGE VERSION, wide INTERNAL-IP
//! EXTERNAL-IP OS-IMAGE KERNEL-VERSION CONTAINER-RUNTIME (`printNode`).

use std::time::SystemTime;

use serde_json::Value;

use crate::json_path::{array_at, bool_at, get, str_at};
use crate::table::{age_cell, name_cell, Column, Printer};

/// Prints nodes.
#[derive(Debug, Clone, Copy, Default)]
pub struct NodePrinter;

/// Roles from `node-role.kubernetes.io/<role>` labels and the legacy
/// `kubernetes.io/role` label (`findNodeRoles`), sorted.
fn roles(node: &Value) -> String {
    let mut roles: Vec<String> = get(node, &["metadata", "labels"])
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| {
            if let Some(role) = k.strip_prefix("node-role.kubernetes.io/") {
                (!role.is_empty()).then(|| role.to_owned())
            } else if k == "kubernetes.io/role" {
                v.as_str().filter(|r| !r.is_empty()).map(str::to_owned)
            } else {
                None
            }
        })
        .collect();
    roles.sort();
    roles.dedup();
    if roles.is_empty() {
        "<none>".to_owned()
    } else {
        roles.join(",")
    }
}

fn status(node: &Value) -> String {
    let mut parts = Vec::new();
    if let Some(ready) = array_at(node, &["status", "conditions"])
        .iter()
        .find(|c| str_at(c, &["type"]) == "Ready")
    {
        parts.push(if str_at(ready, &["status"]) == "True" {
            "Ready"
        } else {
            "NotReady"
        });
    }
    if parts.is_empty() {
        parts.push("Unknown");
    }
    if bool_at(node, &["spec", "unschedulable"]) {
        parts.push("SchedulingDisabled");
    }
    parts.join(",")
}

fn address(node: &Value, kind: &str) -> String {
    array_at(node, &["status", "addresses"])
        .iter()
        .find(|a| str_at(a, &["type"]) == kind)
        .map(|a| str_at(a, &["address"]).to_owned())
        .unwrap_or_else(|| "<none>".to_owned())
}

fn info(node: &Value, key: &str) -> Value {
    let v = str_at(node, &["status", "nodeInfo", key]);
    Value::from(if v.is_empty() { "<unknown>" } else { v })
}

impl Printer for NodePrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            Column::name(),
            Column::string("Status", "The status of the node"),
            Column::string("Roles", "The roles of the node"),
            Column::age(),
            Column::string("Version", "Kubelet Version reported by the node."),
            Column::string("Internal-IP", "List of addresses reachable to the node. Queried from cloud provider, if available.").wide(),
            Column::string("External-IP", "List of addresses reachable to the node. Queried from cloud provider, if available.").wide(),
            Column::string("OS-Image", "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).").wide(),
            Column::string("Kernel-Version", "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).").wide(),
            Column::string("Container-Runtime", "Container runtime version reported by the node through runtime remote API (e.g. containerd://1.4.2).").wide(),
        ]
    }

    fn cells(&self, obj: &Value, now: SystemTime) -> Vec<Value> {
        vec![
            name_cell(obj),
            Value::from(status(obj)),
            Value::from(roles(obj)),
            age_cell(obj, now),
            Value::from(str_at(obj, &["status", "nodeInfo", "kubeletVersion"])),
            Value::from(address(obj, "InternalIP")),
            Value::from(address(obj, "ExternalIP")),
            info(obj, "osImage"),
            info(obj, "kernelVersion"),
            info(obj, "containerRuntimeVersion"),
        ]
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn node_cases() {
        let ready = json!({"metadata": {"name": "n1", "labels": {"node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/master": "true"}},
            "spec": {"unschedulable": true},
            "status": {"conditions": [{"type": "Ready", "status": "True"}], "addresses": [{"type": "InternalIP", "address": "192.168.1.10"}],
                "nodeInfo": {"kubeletVersion": "v1.34.0", "osImage": "Debian GNU/Linux 13"}}});
        let cells = NodePrinter.cells(&ready, SystemTime::UNIX_EPOCH);
        assert_eq!(
            cells,
            vec![
                json!("n1"),
                json!("Ready,SchedulingDisabled"),
                json!("control-plane,master"),
                json!("<unknown>"),
                json!("v1.34.0"),
                json!("192.168.1.10"),
                json!("<none>"),
                json!("Debian GNU/Linux 13"),
                json!("<unknown>"),
                json!("<unknown>")
            ]
        );
        let fresh = json!({"metadata": {"name": "n2"}});
        assert_eq!(
            NodePrinter.cells(&fresh, SystemTime::UNIX_EPOCH)[1..3],
            [json!("Unknown"), json!("<none>")]
        );
        let not_ready = json!({"status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}});
        assert_eq!(status(&not_ready), "NotReady");
    }
}
