//! An immutable view of all nodes for one scheduling cycle (upstream
//! `internal/cache/snapshot.go`), plus the indexes plugins ask for: nodes with
//! affinity pods, how many nodes hold each image, namespace labels.

use std::collections::HashMap;
use std::sync::Arc;

use crate::framework::node_info::NodeInfo;
use crate::selector::Labels;

/// All nodes and their pods as of one moment.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    nodes: Vec<Arc<NodeInfo>>,
    /// Shared so that copies with one node replaced (preemption) are cheap.
    index: Arc<HashMap<String, usize>>,
    with_affinity: Vec<usize>,
    with_required_anti_affinity: Vec<usize>,
    nodes_per_image: HashMap<String, usize>,
    /// Set when a replaced node changed whether it hosts affinity pods.
    affinity_stale: bool,
    namespace_labels: HashMap<String, Labels>,
}

impl Snapshot {
    /// A snapshot of the given nodes, in the given order.
    pub fn new(nodes: Vec<NodeInfo>) -> Self {
        Self::from_shared(nodes.into_iter().map(Arc::new).collect())
    }

    /// A snapshot sharing already-built node infos.
    pub fn from_shared(nodes: Vec<Arc<NodeInfo>>) -> Self {
        let mut snapshot = Snapshot {
            nodes,
            ..Default::default()
        };
        snapshot.reindex();
        snapshot.recount_images();
        snapshot
    }

    /// Sets the labels of each namespace, for `namespaceSelector` in pod
    /// affinity terms.
    pub fn with_namespace_labels(mut self, labels: HashMap<String, Labels>) -> Self {
        self.namespace_labels = labels;
        self
    }

    /// Replaces one node's info in place (the cache's incremental update);
    /// call [`Snapshot::refresh_indexes`] after a batch of replacements.
    pub(crate) fn replace(&mut self, info: Arc<NodeInfo>) -> bool {
        match self.index.get(info.name()) {
            Some(&i) => {
                if let Some(slot) = self.nodes.get_mut(i) {
                    self.affinity_stale |= slot.has_pods_with_affinity()
                        != info.has_pods_with_affinity()
                        || slot.has_pods_with_required_anti_affinity()
                            != info.has_pods_with_required_anti_affinity();
                    *slot = info;
                }
                true
            }
            None => false,
        }
    }

    /// A copy of this snapshot with one node's info replaced (the node must
    /// already be in the snapshot).
    pub fn with_node_replaced(&self, info: Arc<NodeInfo>) -> Snapshot {
        let mut copy = self.clone();
        copy.replace(info);
        if copy.affinity_stale {
            copy.recount_affinity();
        }
        copy
    }

    /// Recomputes the affinity indexes and, when `images_changed`, the image
    /// spread counts.
    pub(crate) fn refresh_indexes(&mut self, images_changed: bool) {
        if self.affinity_stale {
            self.recount_affinity();
        }
        if images_changed {
            self.recount_images();
        }
    }

    fn reindex(&mut self) {
        self.index = Arc::new(
            self.nodes
                .iter()
                .enumerate()
                .map(|(i, n)| (n.name().to_string(), i))
                .collect(),
        );
        self.recount_affinity();
    }

    fn recount_affinity(&mut self) {
        self.affinity_stale = false;
        self.with_affinity.clear();
        self.with_required_anti_affinity.clear();
        for (i, n) in self.nodes.iter().enumerate() {
            if n.has_pods_with_affinity() {
                self.with_affinity.push(i);
            }
            if n.has_pods_with_required_anti_affinity() {
                self.with_required_anti_affinity.push(i);
            }
        }
    }

    fn recount_images(&mut self) {
        self.nodes_per_image.clear();
        for n in &self.nodes {
            for image in n.image_names() {
                *self.nodes_per_image.entry(image.to_string()).or_insert(0) += 1;
            }
        }
    }

    /// All nodes.
    pub fn nodes(&self) -> &[Arc<NodeInfo>] {
        &self.nodes
    }

    /// The node with `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<NodeInfo>> {
        self.index.get(name).and_then(|&i| self.nodes.get(i))
    }

    /// Nodes where some pod has (anti-)affinity terms.
    pub fn nodes_with_affinity_pods(&self) -> impl Iterator<Item = &Arc<NodeInfo>> {
        self.with_affinity.iter().filter_map(|&i| self.nodes.get(i))
    }

    /// Nodes where some pod has required anti-affinity terms.
    pub fn nodes_with_required_anti_affinity_pods(&self) -> impl Iterator<Item = &Arc<NodeInfo>> {
        self.with_required_anti_affinity
            .iter()
            .filter_map(|&i| self.nodes.get(i))
    }

    /// How many nodes hold the image (by normalized name).
    pub fn nodes_with_image(&self, normalized_name: &str) -> usize {
        self.nodes_per_image
            .get(normalized_name)
            .copied()
            .unwrap_or(0)
    }

    /// The labels of a namespace, when known.
    pub fn namespace_labels(&self, namespace: &str) -> Option<&Labels> {
        self.namespace_labels.get(namespace)
    }
}
