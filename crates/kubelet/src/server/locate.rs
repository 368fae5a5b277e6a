//! Finding a pod's containers and sandbox in the runtime by the labels the
//! kubelet put on them (namespace, pod name, container name), as upstream's
//! server resolves `{namespace}/{pod}/{container}` paths.

use k8s_cri::v1 as cri;

use super::response::Failure;
use crate::runtime::cri::{labels, Cri};

/// A pod as a request path names it.
#[derive(Debug, Clone, Copy)]
pub struct PodPath<'a> {
    /// The namespace.
    pub namespace: &'a str,
    /// The pod's name.
    pub pod: &'a str,
}

impl PodPath<'_> {
    fn selector(&self) -> std::collections::HashMap<String, String> {
        let mut selector = crate::runtime::cri::selector(labels::POD_NAMESPACE, self.namespace);
        selector.insert(labels::POD_NAME.into(), self.pod.into());
        selector
    }
}

/// The instances of one container of the pod, newest first (the current
/// one, then the previous attempt; older ones are garbage collected).
pub async fn container_instances(
    cri: &Cri,
    pod: PodPath<'_>,
    container: &str,
) -> Result<Vec<cri::Container>, Failure> {
    let mut selector = pod.selector();
    selector.insert(labels::CONTAINER_NAME.into(), container.into());
    let mut instances = cri
        .list_containers(selector)
        .await
        .map_err(Failure::internal)?;
    instances.sort_by_key(|c| {
        std::cmp::Reverse((c.metadata.as_ref().map_or(0, |m| m.attempt), c.created_at))
    });
    Ok(instances)
}

/// The running instance of a container, for exec and attach.
pub async fn running_container(
    cri: &Cri,
    pod: PodPath<'_>,
    container: &str,
) -> Result<cri::Container, Failure> {
    container_instances(cri, pod, container)
        .await?
        .into_iter()
        .find(|c| c.state == cri::ContainerState::ContainerRunning as i32)
        .ok_or_else(|| {
            Failure::bad_request(format!(
                "container {container} is not running in pod {}/{}",
                pod.namespace, pod.pod
            ))
        })
}

/// The pod's ready sandbox, for port forwarding.
pub async fn ready_sandbox(cri: &Cri, pod: PodPath<'_>) -> Result<cri::PodSandbox, Failure> {
    cri.list_pod_sandboxes(pod.selector())
        .await
        .map_err(Failure::internal)?
        .into_iter()
        .filter(|s| s.state == cri::PodSandboxState::SandboxReady as i32)
        .max_by_key(|s| s.created_at)
        .ok_or_else(|| Failure::not_found(format!("pod {}/{} not found", pod.namespace, pod.pod)))
}
