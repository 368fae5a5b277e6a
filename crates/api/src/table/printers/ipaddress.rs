//! `kubectl get ipaddresses`: NAME PARENTREF (`printIPAddress`; upstream's
//! row also carries an age cell no column names, left out here so every
//! row matches its columns).

use std::time::SystemTime;

use serde_json::Value;

use crate::json_path::{get, str_at};
use crate::table::{name_cell, Column, Printer};

/// Prints IP addresses.
#[derive(Debug, Clone, Copy, Default)]
pub struct IPAddressPrinter;

/// `services/default/kubernetes`, `resource.group/ns/name`, or `<none>`.
fn parent(obj: &Value) -> String {
    let Some(p) = get(obj, &["spec", "parentRef"]).filter(|p| p.is_object()) else {
        return "<none>".to_owned();
    };
    let resource = str_at(p, &["resource"]);
    let group = str_at(p, &["group"]);
    let mut out = if group.is_empty() {
        resource.to_owned()
    } else {
        format!("{resource}.{group}")
    }
    .to_ascii_lowercase();
    let namespace = str_at(p, &["namespace"]);
    if !namespace.is_empty() {
        out.push('/');
        out.push_str(namespace);
    }
    out.push('/');
    out.push_str(str_at(p, &["name"]));
    out
}

impl Printer for IPAddressPrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            Column::name(),
            Column::string(
                "ParentRef",
                "ParentRef references the resource that an IPAddress is attached to.",
            ),
        ]
    }

    fn cells(&self, obj: &Value, _now: SystemTime) -> Vec<Value> {
        vec![name_cell(obj), Value::from(parent(obj))]
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn names_the_parent() {
        let ip = json!({"metadata": {"name": "10.43.0.1"}, "spec": {"parentRef": {"resource": "services", "namespace": "default", "name": "kubernetes"}}});
        assert_eq!(parent(&ip), "services/default/kubernetes");
        assert_eq!(parent(&json!({})), "<none>");
    }
}
