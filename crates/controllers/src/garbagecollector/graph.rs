//! The ownership graph (upstream `garbagecollector/graph.go` and `graph_builder.go`): every
//! object that owns or is owned, by uid, with the reverse index from owner to dependents.
//! Applying a change returns the uids whose ownership decisions it may affect.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::core::ApiResource;

/// The finalizer asking the collector to orphan dependents before the owner goes.
pub const ORPHAN: &str = "orphan";
/// The finalizer asking the collector to delete blocking dependents before the owner goes.
pub const FOREGROUND: &str = "foregroundDeletion";

/// One object in the graph.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// Its resource (for API calls).
    pub resource: Arc<ApiResource>,
    /// Its namespace, if namespaced.
    pub namespace: Option<String>,
    /// Its name.
    pub name: String,
    /// Its uid.
    pub uid: String,
    /// Its resourceVersion (the precondition of our patches).
    pub resource_version: Option<String>,
    /// Its ownerReferences.
    pub owners: Vec<OwnerReference>,
    /// It has a deletionTimestamp.
    pub deleting: bool,
    /// Its finalizers.
    pub finalizers: Vec<String>,
}

impl Node {
    /// Whether it carries `finalizer`.
    pub fn has_finalizer(&self, finalizer: &str) -> bool {
        self.finalizers.iter().any(|f| f == finalizer)
    }

    /// Being deleted and waiting for the collector.
    fn awaits_collector(&self) -> bool {
        self.deleting && (self.has_finalizer(ORPHAN) || self.has_finalizer(FOREGROUND))
    }
}

/// All nodes and the owner → dependents index.
#[derive(Debug, Default)]
pub struct Graph {
    nodes: HashMap<String, Node>,
    dependents: HashMap<String, HashSet<String>>,
}

impl Graph {
    /// The node with `uid`.
    pub fn get(&self, uid: &str) -> Option<&Node> {
        self.nodes.get(uid)
    }

    /// The dependents of `uid` that are in the graph.
    pub fn dependents(&self, uid: &str) -> Vec<&Node> {
        self.dependents
            .get(uid)
            .into_iter()
            .flatten()
            .filter_map(|dependent| self.nodes.get(dependent))
            .collect()
    }

    /// Adds or updates a node; returns the uids to (re)process.
    pub fn upsert(&mut self, node: Node) -> Vec<String> {
        let mut affected = Vec::new();
        let old_owners: Vec<String> = self
            .nodes
            .get(&node.uid)
            .map(|old| old.owners.iter().map(|owner| owner.uid.clone()).collect())
            .unwrap_or_default();
        for owner in &old_owners {
            if let Some(set) = self.dependents.get_mut(owner) {
                set.remove(&node.uid);
                if set.is_empty() {
                    self.dependents.remove(owner);
                }
            }
        }
        for owner in &node.owners {
            self.dependents
                .entry(owner.uid.clone())
                .or_default()
                .insert(node.uid.clone());
        }
        // Its owners may wait on it (foreground) or have lost it (released).
        for owner in old_owners
            .iter()
            .chain(node.owners.iter().map(|owner| &owner.uid))
        {
            if self.nodes.get(owner).is_some_and(Node::awaits_collector) {
                affected.push(owner.clone());
            }
        }
        if !node.owners.is_empty() || node.awaits_collector() {
            affected.push(node.uid.clone());
        }
        if node.deleting && node.has_finalizer(FOREGROUND) {
            affected.extend(
                self.dependents
                    .get(&node.uid)
                    .into_iter()
                    .flatten()
                    .cloned(),
            );
        }
        self.nodes.insert(node.uid.clone(), node);
        affected.sort();
        affected.dedup();
        affected
    }

    /// Removes a node; returns the uids to (re)process: its dependents (their owner is gone)
    /// and owners waiting for it.
    pub fn remove(&mut self, uid: &str) -> Vec<String> {
        let Some(node) = self.nodes.remove(uid) else {
            return Vec::new();
        };
        let mut affected: Vec<String> = self
            .dependents
            .get(uid)
            .into_iter()
            .flatten()
            .cloned()
            .collect();
        for owner in &node.owners {
            if let Some(set) = self.dependents.get_mut(&owner.uid) {
                set.remove(uid);
                if set.is_empty() {
                    self.dependents.remove(&owner.uid);
                }
            }
            if self
                .nodes
                .get(&owner.uid)
                .is_some_and(Node::awaits_collector)
            {
                affected.push(owner.uid.clone());
            }
        }
        affected.sort();
        affected.dedup();
        affected
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn node(uid: &str, owners: &[(&str, bool)]) -> Node {
        Node {
            resource: Arc::new(ApiResource::erase::<k8s_openapi::api::core::v1::Pod>(&())),
            namespace: Some("default".to_owned()),
            name: uid.to_owned(),
            uid: uid.to_owned(),
            resource_version: None,
            owners: owners
                .iter()
                .map(|(owner, block)| OwnerReference {
                    uid: (*owner).to_owned(),
                    name: (*owner).to_owned(),
                    kind: "Pod".to_owned(),
                    api_version: "v1".to_owned(),
                    block_owner_deletion: Some(*block),
                    controller: Some(true),
                })
                .collect(),
            deleting: false,
            finalizers: Vec::new(),
        }
    }

    #[test]
    fn changes_wake_the_objects_whose_decisions_they_affect() {
        let mut graph = Graph::default();
        assert_eq!(
            graph.upsert(node("owner", &[])),
            Vec::<String>::new(),
            "an object without owners needs nothing"
        );
        assert_eq!(
            graph.upsert(node("child", &[("owner", true)])),
            vec!["child"],
            "a dependent checks its owners"
        );
        assert_eq!(graph.dependents("owner").len(), 1);

        let mut deleting = node("owner", &[]);
        deleting.deleting = true;
        deleting.finalizers = vec![FOREGROUND.to_owned()];
        assert_eq!(
            graph.upsert(deleting),
            vec!["child", "owner"],
            "foreground deletion wakes the owner and its dependents"
        );

        assert_eq!(
            graph.remove("child"),
            vec!["owner"],
            "a foreground owner rechecks when a dependent goes"
        );
        assert!(graph.dependents("owner").is_empty());
        assert_eq!(
            graph.upsert(node("child2", &[("gone", false)])),
            vec!["child2"]
        );
        assert_eq!(graph.remove("owner"), Vec::<String>::new());
    }
}
