//! A node plus the pods the scheduler believes run on it, with running totals
//! of their requests and host ports (upstream `framework.NodeInfo`).

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Node;

use crate::framework::pod_info::{HostPort, PodInfo, ANY_IP};
use crate::resources::{node_allocatable, Resources};
use crate::selector::Labels;

/// A node and its pods.
#[derive(Debug, Clone)]
pub struct NodeInfo {
    node: Arc<Node>,
    name: Arc<str>,
    allocatable: Resources,
    pods: Vec<Arc<PodInfo>>,
    requested: Resources,
    non_zero_requested: Resources,
    used_ports: Vec<HostPort>,
    pods_with_affinity: usize,
    pods_with_required_anti_affinity: usize,
    /// Normalized image name → size in bytes, from `status.images`.
    images: BTreeMap<String, i64>,
}

/// Upstream compares images with an explicit tag: a name without a tag or
/// digest means `:latest` (imagelocality's `normalizedImageName`).
pub fn normalized_image_name(name: &str) -> String {
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    if name[last_slash..].contains(':') || name.contains('@') {
        name.to_string()
    } else {
        format!("{name}:latest")
    }
}

fn node_images(node: &Node) -> BTreeMap<String, i64> {
    let mut images = BTreeMap::new();
    for image in node.status.iter().flat_map(|s| s.images.iter().flatten()) {
        for name in image.names.iter().flatten() {
            images.insert(normalized_image_name(name), image.size_bytes.unwrap_or(0));
        }
    }
    images
}

impl NodeInfo {
    /// A node without pods.
    pub fn new(node: Arc<Node>) -> Self {
        NodeInfo {
            name: Arc::from(node.metadata.name.as_deref().unwrap_or_default()),
            allocatable: node_allocatable(&node),
            images: node_images(&node),
            node,
            pods: Vec::new(),
            requested: Resources::default(),
            non_zero_requested: Resources::default(),
            used_ports: Vec::new(),
            pods_with_affinity: 0,
            pods_with_required_anti_affinity: 0,
        }
    }

    /// Replaces the node object, keeping the pods.
    pub fn set_node(&mut self, node: Arc<Node>) {
        let pods = std::mem::take(&mut self.pods);
        *self = NodeInfo::new(node);
        for pod in pods {
            self.add_pod(pod);
        }
    }

    /// The node object.
    pub fn node(&self) -> &Node {
        &self.node
    }

    /// The node's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The node's name, shared (cheap to clone into score lists).
    pub fn shared_name(&self) -> &Arc<str> {
        &self.name
    }

    /// The node's labels.
    pub fn labels(&self) -> Option<&Labels> {
        self.node.metadata.labels.as_ref()
    }

    /// The value of one node label.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels().and_then(|l| l.get(key)).map(String::as_str)
    }

    /// What the node offers to pods.
    pub fn allocatable(&self) -> &Resources {
        &self.allocatable
    }

    /// Sum of the requests of the pods on the node.
    pub fn requested(&self) -> &Resources {
        &self.requested
    }

    /// Sum of the requests with upstream's non-zero defaults.
    pub fn non_zero_requested(&self) -> &Resources {
        &self.non_zero_requested
    }

    /// The pods on the node.
    pub fn pods(&self) -> &[Arc<PodInfo>] {
        &self.pods
    }

    /// True when some pod on the node has (anti-)affinity terms.
    pub fn has_pods_with_affinity(&self) -> bool {
        self.pods_with_affinity > 0
    }

    /// True when some pod on the node has required anti-affinity terms.
    pub fn has_pods_with_required_anti_affinity(&self) -> bool {
        self.pods_with_required_anti_affinity > 0
    }

    /// Size of an image present on the node, by normalized name.
    pub fn image_size(&self, normalized_name: &str) -> Option<i64> {
        self.images.get(normalized_name).copied()
    }

    /// Normalized names of the images on the node.
    pub fn image_names(&self) -> impl Iterator<Item = &str> {
        self.images.keys().map(String::as_str)
    }

    /// True when `port` clashes with a port already used on the node: same
    /// protocol and number, and the same IP or either side on all addresses
    /// (upstream `HostPortInfo.CheckConflict`).
    pub fn port_conflicts(&self, port: &HostPort) -> bool {
        self.used_ports.iter().any(|used| {
            used.port == port.port
                && used.protocol == port.protocol
                && (used.ip == port.ip || used.ip == ANY_IP || port.ip == ANY_IP)
        })
    }

    /// Adds a pod and its requests.
    pub fn add_pod(&mut self, pod: Arc<PodInfo>) {
        self.requested.add(&pod.request);
        self.non_zero_requested.add(&pod.non_zero_request);
        self.used_ports.extend(pod.host_ports.iter().cloned());
        if pod.has_affinity() {
            self.pods_with_affinity += 1;
        }
        if !pod.required_anti_affinity.is_empty() {
            self.pods_with_required_anti_affinity += 1;
        }
        self.pods.push(pod);
    }

    /// Removes the pod with `key`, returning it if it was there.
    pub fn remove_pod(&mut self, key: &str) -> Option<Arc<PodInfo>> {
        let index = self.pods.iter().position(|p| p.key() == key)?;
        let pod = self.pods.swap_remove(index);
        self.requested.sub(&pod.request);
        self.non_zero_requested.sub(&pod.non_zero_request);
        for port in &pod.host_ports {
            if let Some(i) = self.used_ports.iter().position(|p| p == port) {
                self.used_ports.swap_remove(i);
            }
        }
        if pod.has_affinity() {
            self.pods_with_affinity -= 1;
        }
        if !pod.required_anti_affinity.is_empty() {
            self.pods_with_required_anti_affinity -= 1;
        }
        Some(pod)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{node, pod};

    #[test]
    fn image_names_get_latest_when_untagged() {
        let cases = [
            ("nginx", "nginx:latest"),
            ("nginx:1.25", "nginx:1.25"),
            ("registry:5000/app", "registry:5000/app:latest"),
            ("registry:5000/app:v1", "registry:5000/app:v1"),
            ("app@sha256:abc", "app@sha256:abc"),
        ];
        for (input, want) in cases {
            assert_eq!(normalized_image_name(input), want, "{input}");
        }
    }

    #[test]
    fn adding_and_removing_pods_keeps_totals() {
        let mut info = NodeInfo::new(Arc::new(node("n1").cpu("4").build()));
        let a = Arc::new(PodInfo::new(Arc::new(
            pod("a").cpu("1").host_port(80).build(),
        )));
        let b = Arc::new(PodInfo::new(Arc::new(pod("b").cpu("500m").build())));
        info.add_pod(a.clone());
        info.add_pod(b);
        assert_eq!(info.requested().milli_cpu, 1500);
        assert!(info.port_conflicts(&a.host_ports[0]));
        assert!(info.remove_pod(a.key()).is_some());
        assert_eq!(info.requested().milli_cpu, 500);
        assert_eq!(info.pods().len(), 1);
        assert!(!info.port_conflicts(&a.host_ports[0]));
        assert!(info.remove_pod("missing").is_none());
    }
}
