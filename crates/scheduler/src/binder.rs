//! Binding a pod to its node through the `pods/binding` subresource, as
//! upstream's DefaultBinder plugin does (pkg/scheduler/framework/plugins/
//! defaultbinder): a POST of a v1 `Binding` naming the node.

use k8s_openapi::api::core::v1::{Binding, ObjectReference, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, PostParams};

/// The `Binding` that puts `pod` on `node`; its UID makes the apiserver
/// refuse it if the pod was replaced by another of the same name.
pub(crate) fn binding(pod: &Pod, node: &str) -> Binding {
    Binding {
        metadata: ObjectMeta {
            name: pod.metadata.name.clone(),
            namespace: pod.metadata.namespace.clone(),
            uid: pod.metadata.uid.clone(),
            ..Default::default()
        },
        target: ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Node".into()),
            name: Some(node.into()),
            ..Default::default()
        },
    }
}

/// POSTs the binding of `pod` to `node`.
pub(crate) async fn bind(client: &kube::Client, pod: &Pod, node: &str) -> kube::Result<()> {
    let namespace = pod.metadata.namespace.as_deref().unwrap_or("default");
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
    api.create_subresource::<Binding, serde_json::Value>(
        "binding",
        name,
        &PostParams::default(),
        &binding(pod, node),
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_binding_names_the_pod_and_targets_the_node() {
        let mut pod = crate::testing::pod("web").build();
        pod.metadata.uid = Some("u-1".into());
        let got = serde_json::to_value(binding(&pod, "n1")).unwrap_or_default();
        let want = serde_json::json!({
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": "web", "namespace": "default", "uid": "u-1"},
            "target": {"apiVersion": "v1", "kind": "Node", "name": "n1"},
        });
        assert_eq!(got, want);
    }
}
