//! `kubectl get ingress`: NAME CLASS HOSTS ADDRESS PORTS AGE
//! (`printIngress`).

use std::time::SystemTime;

use serde_json::Value;

use crate::json_path::{array_at, str_at};
use crate::table::{age_cell, name_cell, Column, Printer};

/// Prints ingresses.
#[derive(Debug, Clone, Copy, Default)]
pub struct IngressPrinter;

/// Hosts shown before the rest is summarised.
const SHOWN: usize = 3;

/// Up to three rule hosts, `*` when none names one; once three are listed
/// any further rule is summarised as `+ N more...` with N counted over all
/// rules beyond three, as upstream's `formatHosts` does.
fn hosts(obj: &Value) -> String {
    let rules = array_at(obj, &["spec", "rules"]);
    let mut list: Vec<&str> = Vec::new();
    let mut more = false;
    for rule in rules {
        if list.len() == SHOWN {
            more = true;
        }
        let host = str_at(rule, &["host"]);
        if !more && !host.is_empty() {
            list.push(host);
        }
    }
    if list.is_empty() {
        return "*".to_owned();
    }
    let shown = list.join(",");
    if more {
        format!("{shown} + {} more...", rules.len().saturating_sub(SHOWN))
    } else {
        shown
    }
}

/// The load balancer's IPs or host names, sorted and unique.
fn address(obj: &Value) -> String {
    let mut list: Vec<&str> = array_at(obj, &["status", "loadBalancer", "ingress"])
        .iter()
        .map(|i| match str_at(i, &["ip"]) {
            "" => str_at(i, &["hostname"]),
            ip => ip,
        })
        .filter(|a| !a.is_empty())
        .collect();
    list.sort_unstable();
    list.dedup();
    list.join(",")
}

impl Printer for IngressPrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            Column::name(),
            Column::string("Class", "The name of the IngressClass resource that should be used for additional configuration"),
            Column::string("Hosts", "Hosts that incoming requests are matched against before the ingress rule"),
            Column::string("Address", "Address is a list containing ingress points for the load-balancer"),
            Column::string("Ports", "Ports of TLS configurations that open"),
            Column::age(),
        ]
    }

    fn cells(&self, obj: &Value, now: SystemTime) -> Vec<Value> {
        let class = str_at(obj, &["spec", "ingressClassName"]);
        let ports = if array_at(obj, &["spec", "tls"]).is_empty() {
            "80"
        } else {
            "80, 443"
        };
        vec![
            name_cell(obj),
            Value::from(if class.is_empty() { "<none>" } else { class }),
            Value::from(hosts(obj)),
            Value::from(address(obj)),
            Value::from(ports),
            age_cell(obj, now),
        ]
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn ingress_cases() {
        let ing = json!({"metadata": {"name": "web"}, "spec": {"ingressClassName": "nginx", "tls": [{"hosts": ["a.example"]}],
            "rules": [{"host": "a.example"}, {}, {"host": "c.example"}, {"host": "d.example"}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.9"}, {"ip": "192.0.2.1"}]}}});
        let cells = IngressPrinter.cells(&ing, SystemTime::UNIX_EPOCH);
        assert_eq!(
            cells[..5],
            [
                json!("web"),
                json!("nginx"),
                json!("a.example,c.example,d.example"),
                json!("192.0.2.1,192.0.2.9"),
                json!("80, 443")
            ]
        );
        let many = json!({"spec": {"rules": [{"host": "a"}, {"host": "b"}, {"host": "c"}, {"host": "d"}, {"host": "e"}]}});
        assert_eq!(hosts(&many), "a,b,c + 2 more...");
        let bare = json!({"metadata": {"name": "x"}, "spec": {"rules": [{}]}});
        assert_eq!(
            IngressPrinter.cells(&bare, SystemTime::UNIX_EPOCH)[1..5],
            [json!("<none>"), json!("*"), json!(""), json!("80")]
        );
    }
}
