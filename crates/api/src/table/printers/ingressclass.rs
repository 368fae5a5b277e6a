//! `kubectl get ingressclasses`: NAME CONTROLLER PARAMETERS AGE
//! (`printIngressClass`).

use std::time::SystemTime;

use serde_json::Value;

use crate::json_path::{get, str_at};
use crate::table::{age_cell, name_cell, Column, Printer};

/// Prints ingress classes.
#[derive(Debug, Clone, Copy, Default)]
pub struct IngressClassPrinter;

impl Printer for IngressClassPrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            Column::name(),
            Column::string(
                "Controller",
                "Controller that is responsible for handling this class",
            ),
            Column::string(
                "Parameters",
                "A reference to a resource with additional parameters",
            ),
            Column::age(),
        ]
    }

    fn cells(&self, obj: &Value, now: SystemTime) -> Vec<Value> {
        let parameters = match get(obj, &["spec", "parameters"]).filter(|p| p.is_object()) {
            None => "<none>".to_owned(),
            Some(p) => {
                let group = str_at(p, &["apiGroup"]);
                let kind = str_at(p, &["kind"]);
                let kind = if group.is_empty() {
                    kind.to_owned()
                } else {
                    format!("{kind}.{group}")
                };
                format!("{kind}/{}", str_at(p, &["name"]))
            }
        };
        vec![
            name_cell(obj),
            Value::from(str_at(obj, &["spec", "controller"])),
            Value::from(parameters),
            age_cell(obj, now),
        ]
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn prints_parameters() {
        let ic = json!({"metadata": {"name": "nginx"}, "spec": {"controller": "k8s.io/ingress-nginx",
            "parameters": {"apiGroup": "k8s.example.com", "kind": "IngressParameters", "name": "external-lb"}}});
        let cells = IngressClassPrinter.cells(&ic, SystemTime::UNIX_EPOCH);
        assert_eq!(
            cells[1..3],
            [
                json!("k8s.io/ingress-nginx"),
                json!("IngressParameters.k8s.example.com/external-lb")
            ]
        );
    }
}
