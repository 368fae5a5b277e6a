//! `kubectl get endpointslices`: NAME ADDRESSTYPE PORTS ENDPOINTS AGE
//! (`printEndpointSlice`, `formatDiscoveryPorts`,
//! `formatDiscoveryEndpoints`).

use std::time::SystemTime;

use serde_json::Value;

use crate::json_path::{array_at, i64_at, str_at};
use crate::table::{age_cell, name_cell, Column, Printer};

/// Prints endpoint slices.
#[derive(Debug, Clone, Copy, Default)]
pub struct EndpointSlicePrinter;

/// Items shown before the rest is summarised.
const SHOWN: usize = 3;

/// Up to three items, `+ N more...`, or `<unset>` when there are none
/// (`listWithMoreString`).
fn with_more(items: Vec<String>) -> String {
    if items.is_empty() {
        return "<unset>".to_owned();
    }
    let shown = items
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(",");
    if items.len() > SHOWN {
        format!("{shown} + {} more...", items.len() - SHOWN)
    } else {
        shown
    }
}

fn ports(obj: &Value) -> String {
    with_more(
        array_at(obj, &["ports"])
            .iter()
            .map(|p| match (i64_at(p, &["port"]), str_at(p, &["name"])) {
                (Some(n), _) => n.to_string(),
                (None, "") => "*".to_owned(),
                (None, name) => name.to_owned(),
            })
            .collect(),
    )
}

fn endpoints(obj: &Value) -> String {
    with_more(
        array_at(obj, &["endpoints"])
            .iter()
            .flat_map(|e| array_at(e, &["addresses"]))
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
    )
}

impl Printer for EndpointSlicePrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            Column::name(),
            Column::string(
                "AddressType",
                "addressType specifies the type of address carried by this EndpointSlice.",
            ),
            Column::string(
                "Ports",
                "ports specifies the list of network ports exposed by each endpoint in this slice.",
            ),
            Column::string(
                "Endpoints",
                "endpoints is a list of unique endpoints in this slice.",
            ),
            Column::age(),
        ]
    }

    fn cells(&self, obj: &Value, now: SystemTime) -> Vec<Value> {
        vec![
            name_cell(obj),
            Value::from(str_at(obj, &["addressType"])),
            Value::from(ports(obj)),
            Value::from(endpoints(obj)),
            age_cell(obj, now),
        ]
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn prints_ports_and_endpoints() {
        let slice = json!({"metadata": {"name": "web-abc"}, "addressType": "IPv4", "ports": [{"port": 8080}, {"name": "metrics"}, {}],
            "endpoints": [{"addresses": ["10.42.0.5"]}, {"addresses": ["10.42.0.6", "10.42.0.7", "10.42.0.8"]}]});
        let cells = EndpointSlicePrinter.cells(&slice, SystemTime::UNIX_EPOCH);
        assert_eq!(
            cells[1..4],
            [
                json!("IPv4"),
                json!("8080,metrics,*"),
                json!("10.42.0.5,10.42.0.6,10.42.0.7 + 1 more...")
            ]
        );
        assert_eq!(endpoints(&json!({})), "<unset>");
    }
}
