//! One loop keeps every node's Lease renewed and its status fresh, as each
//! kubelet's `nodelease` controller and `syncNodeStatus` would.
//!
//! Nodes are split into slices that take turns over the renew interval, so
//! a thousand nodes make a steady trickle of writes rather than a burst
//! every ten seconds. The status is reported every
//! `status_report_frequency` (kubelet `nodeStatusReportFrequency`) and at
//! once when a stopped node resumes.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Node;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::control::NodeControl;
use crate::node_object::{node_status, NodePlan, LEASE_NAMESPACE};
use crate::options::SimOptions;
use crate::registration::ensure_lease;
use crate::writes::{Writes, Written};

/// At most this many slices per renew interval.
const MAX_SLICES: usize = 10;

/// What one node needs this turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Due {
    /// Renew the Lease only.
    Lease,
    /// Renew the Lease and report the status.
    LeaseAndStatus,
}

/// Per-node heartbeat bookkeeping.
struct NodeBeat {
    last_status: Instant,
    /// Ready since: reset when the node resumes (the node lifecycle
    /// controller will have marked it Unknown meanwhile).
    ready_since: Timestamp,
}

/// The heartbeat loop; returns when `stop` is cancelled.
pub async fn run(
    writes: Writes,
    options: Arc<SimOptions>,
    plans: Arc<[NodePlan]>,
    control: NodeControl,
    mut resumed: mpsc::UnboundedReceiver<usize>,
    stop: CancellationToken,
) {
    let started = Instant::now();
    let now = Timestamp::now();
    let mut beats: Vec<NodeBeat> = plans
        .iter()
        .map(|_| NodeBeat {
            last_status: started,
            ready_since: now,
        })
        .collect();
    let slices = plans.len().clamp(1, MAX_SLICES);
    let period = options.lease_renew_interval / u32::try_from(slices).unwrap_or(1);
    let mut ticker = tokio::time::interval(period.max(Duration::from_millis(1)));
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut slice = 0;
    loop {
        let due: Vec<(usize, Due)> = tokio::select! {
            () = stop.cancelled() => return,
            _ = ticker.tick() => {
                let current = slice;
                slice = (slice + 1) % slices;
                let now = Instant::now();
                (current..plans.len())
                    .step_by(slices)
                    .filter(|i| control.is_active(*i))
                    .map(|i| {
                        let stale = beats.get(i).is_some_and(|b| now.duration_since(b.last_status) >= options.status_report_frequency);
                        (i, if stale { Due::LeaseAndStatus } else { Due::Lease })
                    })
                    .collect()
            }
            Some(index) = resumed.recv() => {
                if let Some(beat) = beats.get_mut(index) {
                    beat.ready_since = Timestamp::now();
                }
                vec![(index, Due::LeaseAndStatus)]
            }
        };
        let now = Timestamp::now();
        for (i, what) in &due {
            if let (Due::LeaseAndStatus, Some(beat)) = (what, beats.get_mut(*i)) {
                beat.last_status = Instant::now();
            }
        }
        let work = due.into_iter().filter_map(|(i, what)| {
            let plan = plans.get(i)?;
            let ready_since = beats.get(i)?.ready_since;
            Some(beat(&writes, &options, plan, what, now, ready_since))
        });
        // Stopping mid-turn abandons the rest of the turn.
        tokio::select! {
            () = stop.cancelled() => return,
            () = futures::stream::iter(work).for_each_concurrent(options.write_concurrency, |f| f) => {}
        }
    }
}

/// One node's writes for this turn.
async fn beat(
    writes: &Writes,
    options: &SimOptions,
    plan: &NodePlan,
    due: Due,
    now: Timestamp,
    ready_since: Timestamp,
) {
    let leases: Api<Lease> = Api::namespaced(writes.client().clone(), LEASE_NAMESPACE);
    let params = PatchParams::default();
    let renew =
        Patch::Merge(json!({"spec": {"renewTime": MicroTime(now), "holderIdentity": plan.name}}));
    let renewed = writes
        .send(|| leases.patch(&plan.name, &params, &renew))
        .await;
    match renewed {
        Ok(Written::Gone) => {
            if let Err(e) = ensure_lease(writes, options, plan).await {
                warn!(node = %plan.name, error = %e, "recreating the lease failed");
            }
        }
        Ok(Written::Done) => debug!(node = %plan.name, "lease renewed"),
        Err(e) => warn!(node = %plan.name, error = %e, "renewing the lease failed"),
    }
    if due == Due::LeaseAndStatus {
        let nodes: Api<Node> = Api::all(writes.client().clone());
        let status =
            Patch::Strategic(json!({"status": node_status(options, plan, now, ready_since)}));
        let reported = writes
            .send(|| nodes.patch_status(&plan.name, &params, &status))
            .await;
        match reported {
            Ok(written) => debug!(node = %plan.name, ?written, "status reported"),
            Err(e) => warn!(node = %plan.name, error = %e, "reporting the node status failed"),
        }
    }
}
