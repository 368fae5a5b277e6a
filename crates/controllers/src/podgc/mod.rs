//! The pod garbage collector (upstream `pkg/controller/podgc`): every
//! period it deletes the oldest finished pods over the threshold, pods bound
//! to nodes that no longer exist, and terminating pods that were never
//! scheduled. It has no per-object key, so it runs as a periodic pass over
//! the shared caches rather than on the work queue.

pub mod select;

use std::collections::BTreeSet;

use futures::future::{BoxFuture, FutureExt};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::DeleteParams;
use kube::{Api, Client};

use self::select::{Collect, Reason};
use crate::framework::{Context, DefaultState};
use crate::registry::Descriptor;

/// The `podgc` controller.
pub const DESCRIPTOR: Descriptor = Descriptor {
    name: "podgc",
    default: DefaultState::Enabled,
    start,
};

fn start(ctx: Context) -> BoxFuture<'static, Result<(), crate::Error>> {
    async move {
        let settings = ctx.settings();
        let (period, threshold) = (settings.pod_gc_period, settings.terminated_pod_gc_threshold);
        let pods = ctx.informer::<Pod>();
        let nodes = ctx.informer::<Node>();
        tokio::select! {
            () = ctx.shutdown().cancelled() => return Ok(()),
            _ = futures::future::join(pods.synced(), nodes.synced()) => {}
        }
        let (pod_store, node_store) = (pods.store(), nodes.store());
        let mut ticks = tokio::time::interval(period);
        loop {
            tokio::select! {
                () = ctx.shutdown().cancelled() => return Ok(()),
                _ = ticks.tick() => {}
            }
            let all: Vec<Pod> = pod_store.state().iter().map(|p| (**p).clone()).collect();
            let node_names: BTreeSet<String> = node_store
                .state()
                .iter()
                .filter_map(|n| n.metadata.name.clone())
                .collect();
            for victim in select::select(&all, Some(&node_names), threshold) {
                collect(ctx.client(), &victim).await;
            }
        }
    }
    .boxed()
}

/// Deletes one pod; orphans and never-scheduled pods at once (no kubelet
/// will confirm a graceful deletion), finished pods normally.
async fn collect(client: &Client, victim: &Collect) {
    let api: Api<Pod> = Api::namespaced(client.clone(), &victim.namespace);
    let params = match victim.reason {
        Reason::TerminatedOverThreshold => DeleteParams::default(),
        Reason::OrphanedByNode | Reason::UnscheduledTerminating => DeleteParams {
            grace_period_seconds: Some(0),
            ..DeleteParams::default()
        },
    };
    match api.delete(&victim.name, &params).await {
        Ok(_) => {
            tracing::info!(pod = %victim.name, namespace = %victim.namespace, reason = ?victim.reason, "garbage collected pod")
        }
        Err(kube::Error::Api(e)) if e.code == 404 => {}
        // Best effort: the next period tries again.
        Err(error) => {
            tracing::warn!(pod = %victim.name, namespace = %victim.namespace, %error, "could not garbage collect pod")
        }
    }
}
