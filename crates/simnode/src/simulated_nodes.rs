//! Starting and stopping a set of simulated nodes: registration, then the
//! heartbeat loop and the pod loop as two tasks on one shutdown.

use std::future::Future;
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Node;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::control::NodeControl;
use crate::error::{Error, Result};
use crate::node_object::{self, NodePlan, LEASE_NAMESPACE};
use crate::options::SimOptions;
use crate::writes::{is_already_exists, Writes};
use crate::{heartbeat, pods};

/// Running simulated nodes. Dropping it without [`SimulatedNodes::stop`]
/// stops the loops too (they are cancelled), without waiting for them.
pub struct SimulatedNodes {
    control: NodeControl,
    writes: Writes,
    stop: CancellationToken,
    tasks: Vec<(&'static str, JoinHandle<()>)>,
}

impl SimulatedNodes {
    /// Registers the nodes and their Leases (creating them, or taking over
    /// existing ones of the same names), then starts heartbeating and
    /// running the pods bound to them.
    pub async fn start(client: kube::Client, options: SimOptions) -> Result<Self> {
        options.validate().map_err(Error::InvalidOptions)?;
        let options = Arc::new(options);
        let writes = Writes::new(client, options.write_concurrency);
        let plans: Arc<[NodePlan]> = node_object::plan(&options).into();
        let started = std::time::Instant::now();
        futures::stream::iter(plans.iter())
            .map(|plan| register(&writes, &options, plan))
            .buffer_unordered(options.write_concurrency)
            .collect::<Vec<Result<()>>>()
            .await
            .into_iter()
            .collect::<Result<()>>()?;
        info!(
            nodes = plans.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "simulated nodes registered"
        );
        let names = plans.iter().map(|p| p.name.clone()).collect();
        let (control, mut resumed) = NodeControl::new(names, 2);
        let (Some(pods_resumed), Some(beats_resumed)) = (resumed.pop(), resumed.pop()) else {
            unreachable!("NodeControl::new returns one receiver per listener");
        };
        let stop = CancellationToken::new();
        let tasks = vec![
            (
                "heartbeat",
                tokio::spawn(heartbeat::run(
                    writes.clone(),
                    options.clone(),
                    plans.clone(),
                    control.clone(),
                    beats_resumed,
                    stop.clone(),
                )),
            ),
            (
                "pods",
                tokio::spawn(pods::run(
                    writes.clone(),
                    plans,
                    control.clone(),
                    pods_resumed,
                    stop.clone(),
                )),
            ),
        ];
        Ok(SimulatedNodes {
            control,
            writes,
            stop,
            tasks,
        })
    }

    /// The handle to stop and resume single nodes.
    pub fn control(&self) -> NodeControl {
        self.control.clone()
    }

    /// The node names, in order.
    pub fn node_names(&self) -> &[String] {
        self.control.node_names()
    }

    /// How many API writes (requests) the simulator sent so far.
    pub fn api_writes(&self) -> u64 {
        self.writes.total()
    }

    /// Stops renewing and reporting; the Node objects stay.
    pub async fn stop(mut self) -> Result<()> {
        self.stop.cancel();
        for (task, handle) in self.tasks.drain(..) {
            handle
                .await
                .map_err(|source| Error::Task { task, source })?;
        }
        info!("simulated nodes stopped");
        Ok(())
    }
}

impl Drop for SimulatedNodes {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Runs `options.count` simulated nodes until `shutdown` completes, then
/// stops renewing their Leases (the Node objects stay, as they would when
/// kubelets stop).
pub async fn run(
    client: kube::Client,
    options: SimOptions,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<()> {
    let nodes = SimulatedNodes::start(client, options).await?;
    shutdown.await;
    nodes.stop().await
}

/// Creates (or takes over) one Node, reports its status, and creates (or
/// takes over) its Lease, as the kubelet's `registerWithAPIServer` and
/// lease controller do.
async fn register(writes: &Writes, options: &SimOptions, plan: &NodePlan) -> Result<()> {
    let registering = |what: &str| {
        let what = format!("{what} {}", plan.name);
        move |source| Error::Register { what, source }
    };
    let nodes: Api<Node> = Api::all(writes.client().clone());
    let params = PatchParams::default();
    let now = Timestamp::now();
    let node = node_object::node(options, plan, now);
    match nodes.create(&PostParams::default(), &node).await {
        Ok(_) => {}
        Err(e) if is_already_exists(&e) => {
            // An existing node keeps its spec; our labels are merged in.
            let labels = Patch::Merge(json!({"metadata": {"labels": node.metadata.labels}}));
            writes
                .send(|| nodes.patch(&plan.name, &params, &labels))
                .await
                .map_err(registering("node"))?;
        }
        Err(e) => return Err(registering("node")(e)),
    }
    // The create may drop the status (a status subresource); report it.
    let status = Patch::Strategic(json!({"status": node.status}));
    writes
        .send(|| nodes.patch_status(&plan.name, &params, &status))
        .await
        .map_err(registering("node status"))?;
    let uid = nodes
        .get(&plan.name)
        .await
        .map_err(registering("node"))?
        .metadata
        .uid
        .unwrap_or_default();
    let leases: Api<Lease> = Api::namespaced(writes.client().clone(), LEASE_NAMESPACE);
    let lease = node_object::lease(options, &plan.name, &uid, now);
    match leases.create(&PostParams::default(), &lease).await {
        Ok(_) => Ok(()),
        Err(e) if is_already_exists(&e) => {
            let take_over = Patch::Merge(
                json!({"metadata": {"ownerReferences": lease.metadata.owner_references}, "spec": lease.spec}),
            );
            writes
                .send(|| leases.patch(&plan.name, &params, &take_over))
                .await
                .map_err(registering("lease"))?;
            Ok(())
        }
        Err(e) => Err(registering("lease")(e)),
    }
}
