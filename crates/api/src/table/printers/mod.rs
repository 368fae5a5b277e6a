//! Upstream's columns for the kinds `kubectl get` shows most
//! (pkg/printers/internalversion/printers.go). The server prints the wide
//! columns too; kubectl hides those of priority 1 unless `-o wide`.

mod configmap;
mod cronjob;
mod daemonset;
mod deployment;
mod endpoints;
mod event;
mod job;
mod lease;
mod namespace;
mod node;
mod pod;
mod replicaset;
mod secret;
mod service;
mod serviceaccount;
mod statefulset;

use serde_json::Value;

pub use configmap::ConfigMapPrinter;
pub use cronjob::CronJobPrinter;
pub use daemonset::DaemonSetPrinter;
pub use deployment::DeploymentPrinter;
pub use endpoints::EndpointsPrinter;
pub use event::EventPrinter;
pub use job::JobPrinter;
pub use lease::LeasePrinter;
pub use namespace::NamespacePrinter;
pub use node::NodePrinter;
pub use pod::PodPrinter;
pub use replicaset::ReplicaSetPrinter;
pub use secret::SecretPrinter;
pub use service::ServicePrinter;
pub use serviceaccount::ServiceAccountPrinter;
pub use statefulset::StatefulSetPrinter;

use super::Column;
use crate::json_path::array_at;
use crate::selector::LabelSelector;

/// The wide `Containers` and `Images` columns of workloads.
const CONTAINER_COLUMNS: [Column; 2] = [
    Column::string("Containers", "Names of each container in the template.").wide(),
    Column::string(
        "Images",
        "Images referenced by each container in the template.",
    )
    .wide(),
];

/// The wide `Selector` column of workloads.
const SELECTOR_COLUMN: Column =
    Column::string("Selector", "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.").wide();

/// The `Containers` and `Images` cells of the pod spec `spec`
/// (`layoutContainerCells`).
fn container_cells(spec: &Value) -> [Value; 2] {
    let containers = array_at(spec, &["containers"]);
    let field = |key: &str| {
        containers
            .iter()
            .map(|c| c.get(key).and_then(Value::as_str).unwrap_or_default())
            .collect::<Vec<_>>()
            .join(",")
    };
    [Value::from(field("name")), Value::from(field("image"))]
}

/// A `metav1.LabelSelector` as a selector string; empty when it selects
/// everything (`LabelSelectorAsSelector(...).String()`).
fn selector_string(sel: Option<&Value>) -> String {
    sel.and_then(|s| LabelSelector::from_json(s).ok())
        .map(|s| s.to_string())
        .unwrap_or_default()
}

/// Like [`selector_string`] but `<none>` when empty
/// (`metav1.FormatLabelSelector`).
fn format_label_selector(sel: Option<&Value>) -> String {
    let s = selector_string(sel);
    if s.is_empty() {
        "<none>".to_owned()
    } else {
        s
    }
}

/// An integer cell (Go prints zero for unset counts).
fn count(v: &Value, path: &[&str]) -> Value {
    Value::from(crate::json_path::count_at(v, path))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn helpers_render_like_upstream() {
        let spec =
            json!({"containers": [{"name": "a", "image": "x:1"}, {"name": "b", "image": "y"}]});
        assert_eq!(container_cells(&spec), [json!("a,b"), json!("x:1,y")]);
        assert_eq!(
            selector_string(Some(&json!({"matchLabels": {"app": "web"}}))),
            "app=web"
        );
        assert_eq!(format_label_selector(Some(&json!({}))), "<none>");
        assert_eq!(format_label_selector(None), "<none>");
    }
}
