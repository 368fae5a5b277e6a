//! Registration, as the kubelet's `registerWithAPIServer` and `nodelease`
//! controller do it: the Node with its status, then its Lease.

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Node;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;

use crate::error::{Error, Result};
use crate::node_object::{self, NodePlan, LEASE_NAMESPACE};
use crate::options::SimOptions;
use crate::writes::{is_already_exists, Writes};

/// Creates (or takes over) one Node, reports its status, and creates (or
/// takes over) its Lease, as the kubelet's `registerWithAPIServer` and
/// lease controller do.
pub async fn register(writes: &Writes, options: &SimOptions, plan: &NodePlan) -> Result<()> {
    let nodes: Api<Node> = Api::all(writes.client().clone());
    let params = PatchParams::default();
    let node = node_object::node(options, plan, Timestamp::now());
    match nodes.create(&PostParams::default(), &node).await {
        Ok(_) => {}
        Err(e) if is_already_exists(&e) => {
            // An existing node keeps its spec; our labels are merged in.
            let labels = Patch::Merge(json!({"metadata": {"labels": node.metadata.labels}}));
            writes
                .send(|| nodes.patch(&plan.name, &params, &labels))
                .await
                .map_err(registering(plan, "node"))?;
        }
        Err(e) => return Err(registering(plan, "node")(e)),
    }
    // The create may drop the status (a status subresource); report it.
    let status = Patch::Strategic(json!({"status": node.status}));
    writes
        .send(|| nodes.patch_status(&plan.name, &params, &status))
        .await
        .map_err(registering(plan, "node status"))?;
    ensure_lease(writes, options, plan).await
}

/// Creates the node's Lease, or takes over an existing one, owned by the
/// Node (the kubelet's `nodelease` controller recreates a missing Lease).
pub async fn ensure_lease(writes: &Writes, options: &SimOptions, plan: &NodePlan) -> Result<()> {
    let nodes: Api<Node> = Api::all(writes.client().clone());
    let params = PatchParams::default();
    let uid = nodes
        .get(&plan.name)
        .await
        .map_err(registering(plan, "node"))?
        .metadata
        .uid
        .unwrap_or_default();
    let leases: Api<Lease> = Api::namespaced(writes.client().clone(), LEASE_NAMESPACE);
    let lease = node_object::lease(options, &plan.name, &uid, Timestamp::now());
    match leases.create(&PostParams::default(), &lease).await {
        Ok(_) => Ok(()),
        Err(e) if is_already_exists(&e) => {
            let take_over = Patch::Merge(
                json!({"metadata": {"ownerReferences": lease.metadata.owner_references}, "spec": lease.spec}),
            );
            writes
                .send(|| leases.patch(&plan.name, &params, &take_over))
                .await
                .map_err(registering(plan, "lease"))?;
            Ok(())
        }
        Err(e) => Err(registering(plan, "lease")(e)),
    }
}

/// Turns an API error into a registration error naming `what` of `plan`.
fn registering(plan: &NodePlan, what: &str) -> impl FnOnce(kube::Error) -> Error {
    let what = format!("{what} {}", plan.name);
    move |source| Error::Register { what, source }
}
