//! Starting and stopping a set of simulated nodes: registration, then the
//! heartbeat loop and the pod loop as two tasks on one shutdown.

use std::future::Future;
use std::sync::Arc;

use futures::StreamExt;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::control::NodeControl;
use crate::error::{Error, Result};
use crate::node_object::{self, NodePlan};
use crate::options::SimOptions;
use crate::registration::register;
use crate::writes::Writes;
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
