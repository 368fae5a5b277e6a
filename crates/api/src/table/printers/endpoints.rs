//! `kubectl get endpoints`: NAME ENDPOINTS AGE, with at most three
//! addresses then `+ N more...` (`formatEndpoints`).

use std::time::SystemTime;

use serde_json::Value;

use crate::json_path::{array_at, i64_at, str_at};
use crate::table::{age_cell, name_cell, Column, Printer};

/// Prints endpoints.
#[derive(Debug, Clone, Copy, Default)]
pub struct EndpointsPrinter;

/// Addresses shown before the rest is summarised.
const SHOWN: usize = 3;

/// `ip:port`, with brackets for IPv6 (Go's `net.JoinHostPort`).
fn join_host_port(ip: &str, port: i64) -> String {
    if ip.contains(':') {
        format!("[{ip}]:{port}")
    } else {
        format!("{ip}:{port}")
    }
}

fn format_endpoints(obj: &Value) -> String {
    let subsets = array_at(obj, &["subsets"]);
    if subsets.is_empty() {
        return "<none>".to_owned();
    }
    let mut list = Vec::new();
    let mut total = 0;
    for subset in subsets {
        let addresses = array_at(subset, &["addresses"]);
        let ports = array_at(subset, &["ports"]);
        if ports.is_empty() {
            total += addresses.len();
            for a in addresses {
                if list.len() < SHOWN {
                    list.push(str_at(a, &["ip"]).to_owned());
                }
            }
            continue;
        }
        for p in ports {
            total += addresses.len();
            let port = i64_at(p, &["port"]).unwrap_or_default();
            for a in addresses {
                if list.len() < SHOWN {
                    list.push(join_host_port(str_at(a, &["ip"]), port));
                }
            }
        }
    }
    let shown = list.join(",");
    if total > SHOWN {
        format!("{shown} + {} more...", total - SHOWN)
    } else {
        shown
    }
}

impl Printer for EndpointsPrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            Column::name(),
            Column::string("Endpoints", "Endpoints of the service"),
            Column::age(),
        ]
    }

    fn cells(&self, obj: &Value, now: SystemTime) -> Vec<Value> {
        vec![
            name_cell(obj),
            Value::from(format_endpoints(obj)),
            age_cell(obj, now),
        ]
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn endpoint_cases() {
        let cases = [
            (json!({}), "<none>"),
            (
                json!({"subsets": [{"addresses": [{"ip": "10.42.0.5"}], "ports": [{"port": 80}]}]}),
                "10.42.0.5:80",
            ),
            (
                json!({"subsets": [{"addresses": [{"ip": "fd00::1"}], "ports": [{"port": 80}]}]}),
                "[fd00::1]:80",
            ),
            (
                json!({"subsets": [{"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}]}]}),
                "10.0.0.1,10.0.0.2",
            ),
            (
                json!({"subsets": [{"addresses": [{"ip": "a"}, {"ip": "b"}, {"ip": "c"}], "ports": [{"port": 80}, {"port": 443}]}]}),
                "a:80,b:80,c:80 + 3 more...",
            ),
        ];
        for (obj, want) in cases {
            assert_eq!(format_endpoints(&obj), want, "{obj}");
        }
    }
}
