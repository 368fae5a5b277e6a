//! The scheduler's view of the cluster between informer updates: nodes, the
//! pods bound to them, and pods *assumed* on a node by a decision whose bind
//! has not been confirmed yet, so the next cycle already sees them (upstream
//! pkg/scheduler/backend/cache).
//!
//! Node infos are shared with snapshots copy-on-write, and only nodes changed
//! since the last snapshot are swapped in, so a snapshot update costs the
//! number of changed nodes, not the cluster size.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::framework::{pod_key, NodeInfo, PodInfo, PodKey, Snapshot};
use crate::selector::Labels;

/// A cache operation that does not fit the cache's state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CacheError {
    /// Assuming a pod the cache already holds.
    #[error("pod {0} is already in the cache")]
    AlreadyPresent(PodKey),
    /// Acting on a pod the cache does not hold.
    #[error("pod {0} is not in the cache")]
    NotFound(PodKey),
    /// Forgetting or finishing a pod that is not assumed.
    #[error("pod {0} is not assumed")]
    NotAssumed(PodKey),
    /// A pod without `spec.nodeName` cannot be added as bound.
    #[error("pod {0} is not bound to a node")]
    NotBound(PodKey),
}

#[derive(Debug, Clone)]
struct CachedNode {
    info: Arc<NodeInfo>,
    /// False while only pods refer to the node (it was deleted, or its pods
    /// arrived first); such nodes are kept for their pods but not scheduled on.
    known: bool,
}

#[derive(Debug, Clone)]
struct PodState {
    node: String,
    assumed: bool,
    /// When an assumed pod whose binding finished expires.
    deadline: Option<Instant>,
}

/// Nodes, bound pods and assumed pods.
#[derive(Debug, Default)]
pub struct Cache {
    nodes: BTreeMap<String, CachedNode>,
    pods: HashMap<PodKey, PodState>,
    namespaces: HashMap<String, Labels>,
    /// How long an assumed pod whose bind finished waits for confirmation;
    /// `None` (upstream's current default) keeps it until confirmed or forgotten.
    assumed_ttl: Option<Duration>,
    dirty: HashSet<String>,
    known_nodes: usize,
    nodes_changed: bool,
    images_changed: bool,
    namespaces_changed: bool,
}

fn node_name_of(pod: &Pod) -> Option<&str> {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .filter(|n| !n.is_empty())
}

fn placeholder_node(name: &str) -> Arc<Node> {
    Arc::new(Node {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            ..Default::default()
        },
        ..Default::default()
    })
}

impl Cache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Expires assumed pods `ttl` after their binding finished.
    pub fn with_assumed_ttl(mut self, ttl: Duration) -> Self {
        self.assumed_ttl = Some(ttl);
        self
    }

    fn node_mut(&mut self, name: &str) -> &mut NodeInfo {
        self.dirty.insert(name.to_string());
        let cached = self
            .nodes
            .entry(name.to_string())
            .or_insert_with(|| CachedNode {
                info: Arc::new(NodeInfo::new(placeholder_node(name))),
                known: false,
            });
        Arc::make_mut(&mut cached.info)
    }

    /// Adds or replaces a node.
    pub fn add_node(&mut self, node: Node) {
        let name = node.metadata.name.clone().unwrap_or_default();
        let was_known = self.nodes.get(&name).is_some_and(|n| n.known);
        let images = |info: &NodeInfo| info.image_names().map(str::to_string).collect::<Vec<_>>();
        let old_images = self.nodes.get(&name).map(|n| images(&n.info));
        let info = self.node_mut(&name);
        info.set_node(Arc::new(node));
        self.images_changed |= old_images != Some(images(info));
        if let Some(cached) = self.nodes.get_mut(&name) {
            cached.known = true;
        }
        if !was_known {
            self.known_nodes += 1;
            self.nodes_changed = true;
        }
    }

    /// Removes a node; its pods stay until they are removed themselves.
    pub fn remove_node(&mut self, name: &str) {
        if !self.nodes.get(name).is_some_and(|n| n.known) {
            return;
        }
        self.known_nodes -= 1;
        let has_pods = self
            .nodes
            .get(name)
            .is_some_and(|n| !n.info.pods().is_empty());
        if has_pods {
            let info = self.node_mut(name);
            info.set_node(placeholder_node(name));
            if let Some(cached) = self.nodes.get_mut(name) {
                cached.known = false;
            }
        } else {
            self.nodes.remove(name);
        }
        self.nodes_changed = true;
    }

    /// Sets a namespace's labels (for affinity `namespaceSelector`).
    pub fn set_namespace(&mut self, name: &str, labels: Labels) {
        self.namespaces.insert(name.to_string(), labels);
        self.namespaces_changed = true;
    }

    fn place(&mut self, info: Arc<PodInfo>, node: &str, assumed: bool) {
        let key = info.key().to_string();
        self.node_mut(node).add_pod(info);
        self.pods.insert(
            key,
            PodState {
                node: node.to_string(),
                assumed,
                deadline: None,
            },
        );
    }

    fn unplace(&mut self, key: &str) -> Option<PodState> {
        let state = self.pods.remove(key)?;
        let node = state.node.clone();
        self.node_mut(&node).remove_pod(key);
        let orphaned = self
            .nodes
            .get(&node)
            .is_some_and(|n| !n.known && n.info.pods().is_empty());
        if orphaned {
            self.nodes.remove(&node);
            self.dirty.remove(&node);
        }
        Some(state)
    }

    /// Records the scheduler's decision before the bind completes.
    pub fn assume_pod(&mut self, pod: Arc<PodInfo>, node: &str) -> Result<(), CacheError> {
        let key = pod.key().to_string();
        if self.pods.contains_key(&key) {
            return Err(CacheError::AlreadyPresent(key));
        }
        self.place(pod, node, true);
        Ok(())
    }

    /// The bind call returned; start the expiry clock if one is configured.
    pub fn finish_binding(&mut self, key: &str, now: Instant) -> Result<(), CacheError> {
        let ttl = self.assumed_ttl;
        let state = self
            .pods
            .get_mut(key)
            .ok_or_else(|| CacheError::NotFound(key.to_string()))?;
        if !state.assumed {
            return Err(CacheError::NotAssumed(key.to_string()));
        }
        state.deadline = ttl.map(|t| now + t);
        Ok(())
    }

    /// The bind failed: drop the assumed pod.
    pub fn forget_pod(&mut self, key: &str) -> Result<(), CacheError> {
        match self.pods.get(key) {
            None => Err(CacheError::NotFound(key.to_string())),
            Some(s) if !s.assumed => Err(CacheError::NotAssumed(key.to_string())),
            Some(_) => {
                self.unplace(key);
                Ok(())
            }
        }
    }

    /// A bound pod arrived from the informer: confirms an assumed pod (moving
    /// it if it was bound elsewhere) or adds it.
    pub fn add_pod(&mut self, pod: Pod) -> Result<(), CacheError> {
        let key = pod_key(&pod);
        let node = node_name_of(&pod)
            .ok_or_else(|| CacheError::NotBound(key.clone()))?
            .to_string();
        if let Some(state) = self.pods.get(&key) {
            if !state.assumed {
                return Err(CacheError::AlreadyPresent(key));
            }
            self.unplace(&key);
        }
        self.place(Arc::new(PodInfo::new(Arc::new(pod))), &node, false);
        Ok(())
    }

    /// A bound pod changed.
    pub fn update_pod(&mut self, pod: Pod) -> Result<(), CacheError> {
        let key = pod_key(&pod);
        let node = node_name_of(&pod)
            .ok_or_else(|| CacheError::NotBound(key.clone()))?
            .to_string();
        self.unplace(&key)
            .ok_or_else(|| CacheError::NotFound(key.clone()))?;
        self.place(Arc::new(PodInfo::new(Arc::new(pod))), &node, false);
        Ok(())
    }

    /// A bound (or assumed) pod was deleted.
    pub fn remove_pod(&mut self, key: &str) -> Result<(), CacheError> {
        self.unplace(key)
            .map(|_| ())
            .ok_or_else(|| CacheError::NotFound(key.to_string()))
    }

    /// Drops assumed pods whose binding finished more than the TTL ago;
    /// returns their keys.
    pub fn cleanup_expired(&mut self, now: Instant) -> Vec<PodKey> {
        let expired: Vec<PodKey> = self
            .pods
            .iter()
            .filter(|(_, s)| s.assumed && s.deadline.is_some_and(|d| d <= now))
            .map(|(k, _)| k.clone())
            .collect();
        for key in &expired {
            tracing::warn!(pod = %key, "assumed pod expired without bind confirmation");
            self.unplace(key);
        }
        expired
    }

    /// True when the pod is assumed and not yet confirmed.
    pub fn is_assumed(&self, key: &str) -> bool {
        self.pods.get(key).is_some_and(|s| s.assumed)
    }

    /// The node a cached pod is on.
    pub fn pod_node(&self, key: &str) -> Option<&str> {
        self.pods.get(key).map(|s| s.node.as_str())
    }

    /// Number of known nodes.
    pub fn node_count(&self) -> usize {
        self.known_nodes
    }

    /// Brings `snapshot` up to date with the cache.
    pub fn update_snapshot(&mut self, snapshot: &mut Snapshot) {
        // Incremental updates assume `snapshot` is the one this cache updated
        // last; anything else gets rebuilt.
        let same_nodes = snapshot.nodes().len() == self.node_count()
            && self.dirty.iter().all(|name| {
                snapshot.get(name).is_some() || self.nodes.get(name).is_none_or(|n| !n.known)
            });
        if self.nodes_changed || self.namespaces_changed || !same_nodes {
            let nodes = self
                .nodes
                .values()
                .filter(|n| n.known)
                .map(|n| n.info.clone())
                .collect();
            *snapshot = Snapshot::from_shared(nodes).with_namespace_labels(self.namespaces.clone());
        } else if !self.dirty.is_empty() {
            for name in &self.dirty {
                if let Some(cached) = self.nodes.get(name).filter(|n| n.known) {
                    snapshot.replace(cached.info.clone());
                }
            }
            snapshot.refresh_indexes(self.images_changed);
        }
        self.dirty.clear();
        self.nodes_changed = false;
        self.images_changed = false;
        self.namespaces_changed = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{node, pod};

    fn info(p: Pod) -> Arc<PodInfo> {
        Arc::new(PodInfo::new(Arc::new(p)))
    }

    fn requested(snapshot: &Snapshot, node: &str) -> i64 {
        snapshot.get(node).map_or(-1, |n| n.requested().milli_cpu)
    }

    #[test]
    fn assumed_pods_are_visible_until_forgotten() {
        let mut cache = Cache::new();
        cache.add_node(node("n1").cpu("4").build());
        let mut snap = Snapshot::default();
        let p = info(pod("p").cpu("1").build());
        assert_eq!(cache.assume_pod(p.clone(), "n1"), Ok(()));
        assert_eq!(
            cache.assume_pod(p.clone(), "n1"),
            Err(CacheError::AlreadyPresent(p.key().to_string()))
        );
        cache.update_snapshot(&mut snap);
        assert_eq!(requested(&snap, "n1"), 1000);
        assert!(cache.is_assumed(p.key()));
        assert_eq!(cache.forget_pod(p.key()), Ok(()));
        cache.update_snapshot(&mut snap);
        assert_eq!(requested(&snap, "n1"), 0);
    }

    #[test]
    fn informer_confirmation_replaces_the_assumed_pod() {
        let mut cache = Cache::new();
        cache.add_node(node("n1").cpu("4").build());
        cache.add_node(node("n2").cpu("4").build());
        let p = pod("p").cpu("1").build();
        assert_eq!(cache.assume_pod(info(p.clone()), "n1"), Ok(()));
        // Another scheduler instance won the race: the pod is bound to n2.
        let bound = pod("p").cpu("1").node_name("n2").build();
        assert_eq!(cache.add_pod(bound), Ok(()));
        let mut snap = Snapshot::default();
        cache.update_snapshot(&mut snap);
        assert_eq!((requested(&snap, "n1"), requested(&snap, "n2")), (0, 1000));
        assert!(!cache.is_assumed("default/p"));
        assert_eq!(
            cache.forget_pod("default/p"),
            Err(CacheError::NotAssumed("default/p".into()))
        );
    }

    #[test]
    fn assumed_pods_expire_only_after_binding_finished_and_ttl() {
        let start = Instant::now();
        let mut cache = Cache::new().with_assumed_ttl(Duration::from_secs(30));
        cache.add_node(node("n1").build());
        let p = info(pod("p").build());
        assert_eq!(cache.assume_pod(p.clone(), "n1"), Ok(()));
        assert!(
            cache
                .cleanup_expired(start + Duration::from_secs(3600))
                .is_empty(),
            "no deadline before binding finished"
        );
        assert_eq!(cache.finish_binding(p.key(), start), Ok(()));
        assert!(cache
            .cleanup_expired(start + Duration::from_secs(29))
            .is_empty());
        assert_eq!(
            cache.cleanup_expired(start + Duration::from_secs(30)),
            vec![p.key().to_string()]
        );
        assert_eq!(cache.pod_node(p.key()), None);
    }

    #[test]
    fn snapshots_follow_node_and_pod_changes() {
        let mut cache = Cache::new();
        let mut snap = Snapshot::default();
        cache.add_node(node("a").cpu("2").build());
        cache.add_node(node("b").cpu("2").build());
        cache.update_snapshot(&mut snap);
        assert_eq!(snap.nodes().len(), 2);
        let old = snap.clone();

        assert_eq!(
            cache.add_pod(pod("x").cpu("1").node_name("a").build()),
            Ok(())
        );
        assert_eq!(
            cache.update_pod(pod("x").cpu("2").node_name("a").build()),
            Ok(())
        );
        cache.update_snapshot(&mut snap);
        assert_eq!(requested(&snap, "a"), 2000);
        assert_eq!(requested(&old, "a"), 0, "older snapshots are not mutated");

        // A pod on a node the cache does not know yet is kept, but the node
        // is not schedulable until it arrives.
        assert_eq!(cache.add_pod(pod("y").node_name("c").build()), Ok(()));
        cache.update_snapshot(&mut snap);
        assert!(snap.get("c").is_none());
        cache.add_node(node("c").cpu("8").build());
        cache.update_snapshot(&mut snap);
        assert_eq!(snap.get("c").map(|n| n.pods().len()), Some(1));

        cache.remove_node("b");
        assert_eq!(cache.remove_pod("default/x"), Ok(()));
        cache.update_snapshot(&mut snap);
        assert_eq!(
            snap.nodes().iter().map(|n| n.name()).collect::<Vec<_>>(),
            vec!["a", "c"]
        );
        assert_eq!(requested(&snap, "a"), 0);
        assert_eq!(
            cache.remove_pod("default/x"),
            Err(CacheError::NotFound("default/x".into()))
        );
        assert_eq!(
            cache.add_pod(pod("z").build()),
            Err(CacheError::NotBound("default/z".into()))
        );
    }

    #[test]
    fn incremental_snapshots_track_affinity_pods() {
        let mut cache = Cache::new();
        let mut snap = Snapshot::default();
        cache.add_node(node("a").build());
        cache.add_node(node("b").build());
        cache.update_snapshot(&mut snap);
        let anti = pod("p")
            .pod_anti_affinity(crate::testing::term(
                &[("app", "x")],
                "kubernetes.io/hostname",
            ))
            .build();
        assert_eq!(cache.assume_pod(info(anti), "b"), Ok(()));
        cache.update_snapshot(&mut snap);
        let names = |s: &Snapshot| {
            s.nodes_with_required_anti_affinity_pods()
                .map(|n| n.name().to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&snap), vec!["b"]);
        assert_eq!(cache.forget_pod("default/p"), Ok(()));
        cache.update_snapshot(&mut snap);
        assert!(names(&snap).is_empty());
    }
}
