//! Upstream's columns for the kinds `kubectl get` shows most
//! (pkg/printers/internalversion/printers.go). The server prints the wide
//! columns too; kubectl hides those of priority 1 unless `-o wide`.

mod certificatesigningrequest;
mod configmap;
mod controllerrevision;
mod cronjob;
mod csistoragecapacity;
mod daemonset;
mod deployment;
mod endpoints;
mod endpointslice;
mod event;
mod horizontalpodautoscaler;
mod ingress;
mod ingressclass;
mod ipaddress;
mod job;
mod lease;
mod namespace;
mod networkpolicy;
mod node;
mod persistentvolume;
mod persistentvolumeclaim;
mod pod;
mod poddisruptionbudget;
mod podtemplate;
mod priorityclass;
mod replicaset;
mod replicationcontroller;
mod resourcequota;
mod rolebinding;
mod runtimeclass;
mod secret;
mod service;
mod serviceaccount;
mod servicecidr;
mod statefulset;
mod storage_helpers;
mod storageclass;
mod volumeattachment;
mod webhookconfiguration;
mod workload;

use serde_json::Value;

pub use certificatesigningrequest::CertificateSigningRequestPrinter;
pub use configmap::ConfigMapPrinter;
pub use controllerrevision::ControllerRevisionPrinter;
pub use cronjob::CronJobPrinter;
pub use csistoragecapacity::CSIStorageCapacityPrinter;
pub use daemonset::DaemonSetPrinter;
pub use deployment::DeploymentPrinter;
pub use endpoints::EndpointsPrinter;
pub use endpointslice::EndpointSlicePrinter;
pub use event::{EventPrinter, EventsV1Printer};
pub use horizontalpodautoscaler::HorizontalPodAutoscalerPrinter;
pub use ingress::IngressPrinter;
pub use ingressclass::IngressClassPrinter;
pub use ipaddress::IPAddressPrinter;
pub use job::JobPrinter;
pub use lease::LeasePrinter;
pub use namespace::NamespacePrinter;
pub use networkpolicy::NetworkPolicyPrinter;
pub use node::NodePrinter;
pub use persistentvolume::PersistentVolumePrinter;
pub use persistentvolumeclaim::PersistentVolumeClaimPrinter;
pub use pod::PodPrinter;
pub use poddisruptionbudget::PodDisruptionBudgetPrinter;
pub use podtemplate::PodTemplatePrinter;
pub use priorityclass::PriorityClassPrinter;
pub use replicaset::ReplicaSetPrinter;
pub use replicationcontroller::ReplicationControllerPrinter;
pub use resourcequota::ResourceQuotaPrinter;
pub use rolebinding::RoleBindingPrinter;
pub use runtimeclass::RuntimeClassPrinter;
pub use secret::SecretPrinter;
pub use service::ServicePrinter;
pub use serviceaccount::ServiceAccountPrinter;
pub use servicecidr::ServiceCIDRPrinter;
pub use statefulset::StatefulSetPrinter;
pub use storageclass::StorageClassPrinter;
pub use volumeattachment::VolumeAttachmentPrinter;
pub use webhookconfiguration::WebhookConfigurationPrinter;

use crate::json_path::array_at;
use crate::selector::LabelSelector;

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

/// A `metav1.LabelSelector` as a selector string, empty when it selects
/// everything or is absent; `None` when it is invalid
/// (`LabelSelectorAsSelector(...).String()`).
fn selector_string(sel: Option<&Value>) -> Option<String> {
    match sel.filter(|s| !s.is_null()) {
        None => Some(String::new()),
        Some(s) => LabelSelector::from_json(s).ok().map(|s| s.to_string()),
    }
}

/// `<none>` when empty, `<error>` when invalid
/// (`metav1.FormatLabelSelector`).
fn format_label_selector(sel: Option<&Value>) -> String {
    match selector_string(sel) {
        None => "<error>".to_owned(),
        Some(s) if s.is_empty() => "<none>".to_owned(),
        Some(s) => s,
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
        let invalid = json!({"matchExpressions": [{"key": "a", "operator": "Near"}]});
        assert_eq!(
            selector_string(Some(&json!({"matchLabels": {"app": "web"}}))).as_deref(),
            Some("app=web")
        );
        assert_eq!(selector_string(Some(&invalid)), None);
        assert_eq!(format_label_selector(Some(&invalid)), "<error>");
        assert_eq!(format_label_selector(Some(&json!({}))), "<none>");
        assert_eq!(format_label_selector(None), "<none>");
    }
}
