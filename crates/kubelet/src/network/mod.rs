//! The node's share of the pod network, as flannel's host-gw backend (which
//! k3s embeds) does it: the node bridges its own pods (the CNI config in
//! `runtime::containerd_config`), routes every other node's pod CIDR via
//! that node's address ([`routes`]), and masquerades what its pods send off
//! the cluster network ([`masquerade`]). Pods on different nodes thus reach
//! each other by pod IP and see each other's real addresses. Nodes must
//! share a link (L2) for host-gw; other backends (VXLAN) are not built.

pub mod masquerade;
pub mod routes;

use std::future::Future;
use std::net::Ipv4Addr;
use std::time::Duration;

use futures::StreamExt;
use ipnet::Ipv4Net;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Patch, PatchParams};
use kube::runtime::{reflector, watcher, WatchStreamExt};
use kube::Api;
use rkube_proxy::nftables::{NftCommand, Nftables};
use tracing::{debug, info, warn};

/// How often the routes are compared with the kernel's even when no Node
/// changed (someone may have deleted one by hand).
const RESYNC: Duration = Duration::from_secs(30);

/// This node's place in the pod network.
#[derive(Debug, Clone)]
pub struct PodNetwork {
    /// The Node's name.
    pub node_name: String,
    /// Where other nodes send traffic for this node's pods.
    pub node_ip: Ipv4Addr,
    /// This node's pods' addresses (`spec.podCIDR`).
    pub pod_cidr: Ipv4Net,
    /// All pods' addresses, on every node.
    pub cluster_cidr: Ipv4Net,
    /// The CNI bridge (names the masquerade table).
    pub bridge: String,
}

/// Keeps the masquerade table and the routes to other nodes in place until
/// `shutdown`, then removes both. Failures are logged, never fatal: a node
/// whose routes fail still runs its own pods.
pub async fn run(client: kube::Client, network: PodNetwork, shutdown: impl Future<Output = ()>) {
    let nft = NftCommand::default();
    let table = masquerade::table_name(&network.bridge);
    let definition = masquerade::definition(&table, network.pod_cidr, network.cluster_cidr);
    if let Err(e) = nft.replace_table(&table, &definition).await {
        warn!(error = %e, "installing the pod masquerade table: pods cannot reach beyond the cluster network");
    }
    let nodes: Api<Node> = Api::all(client);
    if let Err(e) = announce(&nodes, &network).await {
        warn!(error = %e, "annotating the node: other nodes will not route to its pods");
    }

    let (store, writer) = reflector::store::<Node>();
    let mut events = reflector::reflector(writer, watcher(nodes, watcher::Config::default()))
        .default_backoff()
        .boxed();
    let mut resync = tokio::time::interval(RESYNC);
    let mut listed = false;
    let mut applied: Option<routes::RouteTable> = None;
    tokio::pin!(shutdown);
    loop {
        let force = tokio::select! {
            _ = &mut shutdown => break,
            _ = resync.tick() => true,
            event = events.next() => match event {
                Some(Ok(watcher::Event::InitDone)) => { listed = true; true }
                Some(Ok(_)) => false,
                Some(Err(e)) => { debug!(error = %e, "watching nodes"); continue }
                None => break,
            },
        };
        // Before the first full list the cache may miss nodes, and syncing
        // would delete their routes for a moment.
        if !listed {
            continue;
        }
        let own = routes::OwnNode {
            name: &network.node_name,
            ip: network.node_ip,
            pod_cidr: network.pod_cidr,
        };
        let desired = routes::desired(store.state().iter().map(|n| n.as_ref()), own);
        let changed = applied.as_ref() != Some(&desired);
        if changed {
            info!(routes = desired.len(), "routing other nodes' pod CIDRs");
        }
        if force || changed {
            sync_routes(&desired).await;
            applied = Some(desired);
        }
    }

    sync_routes(&routes::RouteTable::new()).await;
    if let Err(e) = nft.delete_table(&table).await {
        warn!(error = %e, "removing the pod masquerade table");
    }
}

/// Tells other nodes where to route this node's pods.
async fn announce(nodes: &Api<Node>, network: &PodNetwork) -> Result<(), kube::Error> {
    let patch = serde_json::json!({
        "metadata": { "annotations": { routes::GATEWAY_ANNOTATION: network.node_ip.to_string() } }
    });
    nodes
        .patch(
            &network.node_name,
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await?;
    Ok(())
}

async fn sync_routes(desired: &routes::RouteTable) {
    match routes::sync(desired).await {
        Ok(failed) if failed.is_empty() => {
            debug!(routes = desired.len(), "pod network routes in place");
        }
        Ok(failed) => {
            for e in failed {
                warn!(error = %e, "a route to another node's pods failed (host-gw needs nodes on one link)");
            }
        }
        Err(e) => warn!(error = %e, "reading the pod network routes"),
    }
}
