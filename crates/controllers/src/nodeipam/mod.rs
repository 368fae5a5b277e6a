//! The node IPAM controller (upstream `pkg/controller/nodeipam`, range
//! allocator): every node gets `spec.podCIDR` / `spec.podCIDRs`, a block of
//! the cluster CIDR. Blocks already on nodes are taken at start, so
//! assignments survive restarts; a deleted node's block returns to the pool
//! when the next node is assigned.

pub mod cidr;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, PoisonError};

use futures::future::{BoxFuture, FutureExt};
use ipnet::Ipv4Net;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Patch, PatchParams};
use kube::runtime::reflector::Store;
use kube::{Api, Client};
use serde_json::json;

use self::cidr::{parse_cidr, CidrError, CidrSet};
use crate::framework::{run_controller, Action, Context, DefaultState, Triggers};
use crate::registry::Descriptor;

/// The `nodeipam` controller.
pub const DESCRIPTOR: Descriptor = Descriptor {
    name: "nodeipam",
    default: DefaultState::Enabled,
    start,
};

/// Why assigning a node's pod CIDR failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No block is free.
    #[error("could not allocate a pod CIDR for node {0}")]
    Allocate(String, #[source] CidrError),
    /// The node could not be patched.
    #[error("could not set the pod CIDR of node {0}")]
    Patch(String, #[source] kube::Error),
}

/// Which blocks belong to which nodes, as far as this controller knows.
struct Allocations {
    set: CidrSet,
    by_node: BTreeMap<String, Ipv4Net>,
}

impl Allocations {
    /// Brings the book in line with the nodes in the cache: blocks of nodes
    /// that are gone are released, blocks nodes already hold are taken.
    fn refresh(&mut self, nodes: &[Arc<Node>]) {
        let present: BTreeSet<&str> = nodes
            .iter()
            .filter_map(|n| n.metadata.name.as_deref())
            .collect();
        let gone: Vec<String> = self
            .by_node
            .keys()
            .filter(|n| !present.contains(n.as_str()))
            .cloned()
            .collect();
        for node in gone {
            if let Some(block) = self.by_node.remove(&node) {
                // A block of our own range: release cannot fail.
                let _ = self.set.release(block);
            }
        }
        for node in nodes {
            let (Some(name), Some(block)) = (node.metadata.name.as_ref(), pod_cidr(node)) else {
                continue;
            };
            if self.set.occupy(block).is_ok() {
                self.by_node.insert(name.clone(), block);
            }
        }
    }
}

struct State {
    client: Client,
    nodes: Store<Node>,
    allocations: Mutex<Allocations>,
}

fn pod_cidr(node: &Node) -> Option<Ipv4Net> {
    parse_cidr(node.spec.as_ref()?.pod_cidr.as_deref()?).ok()
}

fn start(ctx: Context) -> BoxFuture<'static, Result<(), crate::Error>> {
    async move {
        let settings = ctx.settings();
        let cluster = match parse_cidr(&settings.cluster_cidr) {
            Ok(c) => c,
            Err(e) => {
                return Err(crate::Error::Controller {
                    name: "nodeipam",
                    source: Box::new(e),
                });
            }
        };
        let set = CidrSet::new(cluster, settings.node_cidr_mask_size).map_err(|e| {
            crate::Error::Controller {
                name: "nodeipam",
                source: Box::new(e),
            }
        })?;
        let nodes = ctx.informer::<Node>();
        let triggers = Triggers::new().primary(&nodes);
        let state = Arc::new(State {
            client: ctx.client().clone(),
            nodes: nodes.store(),
            allocations: Mutex::new(Allocations {
                set,
                by_node: BTreeMap::new(),
            }),
        });
        run_controller(&ctx, "nodeipam", &nodes, triggers, state, sync).await;
        Ok(())
    }
    .boxed()
}

async fn sync(node: Arc<Node>, state: Arc<State>) -> Result<Action, Error> {
    let name = node.metadata.name.clone().unwrap_or_default();
    if pod_cidr(&node).is_some() || node.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let block = {
        let mut allocations = state
            .allocations
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        allocations.refresh(&state.nodes.state());
        match allocations.by_node.get(&name) {
            // Assigned by an earlier sync whose patch the cache has not shown yet.
            Some(block) => *block,
            None => {
                let block = allocations
                    .set
                    .allocate_next()
                    .map_err(|e| Error::Allocate(name.clone(), e))?;
                allocations.by_node.insert(name.clone(), block);
                block
            }
        }
    };
    let api: Api<Node> = Api::all(state.client.clone());
    let patch = json!({"spec": {"podCIDR": block.to_string(), "podCIDRs": [block.to_string()]}});
    match api
        .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Ok(_) => {
            tracing::info!(node = %name, pod_cidr = %block, "assigned pod CIDR");
            Ok(Action::await_change())
        }
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(Action::await_change()),
        Err(source) => {
            let mut allocations = state
                .allocations
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if allocations.by_node.remove(&name).is_some() {
                let _ = allocations.set.release(block);
            }
            Err(Error::Patch(name, source))
        }
    }
}
