//! The sync loop: reflectors of Services and EndpointSlices feed one
//! "something changed" signal; changes closer together than the minimum
//! sync period are coalesced into one re-render, and the table is only
//! re-applied when its text changed (which also keeps ClientIP affinity
//! state across no-op syncs). Periodically the table is checked and put
//! back if someone removed it (upstream `pkg/proxy/runner.go` plays the
//! same min/max period game).

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Client};
use tokio::sync::Notify;
use tracing::{debug, info, warn};

use crate::error::{Error, Result};
use crate::incremental::transaction;
use crate::metrics::Metrics;
use crate::nftables::{NftCommand, Nftables};
use crate::options::{LocalhostNodePorts, ProxyOptions};
use crate::ruleset::{render, RenderConfig, Ruleset};
use crate::service_ports::collect;

/// Where loopback addresses become routable, so that DNAT from
/// 127.0.0.1:NodePort to a pod works (upstream's iptables mode sets it).
const ROUTE_LOCALNET: &str = "/proc/sys/net/ipv4/conf/all/route_localnet";

/// Runs the proxy with the real `nft` until `shutdown` completes, then
/// removes its table.
pub async fn run(
    client: Client,
    options: ProxyOptions,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<()> {
    run_with(
        client,
        options,
        Arc::new(NftCommand::default()),
        Arc::new(Metrics::default()),
        shutdown,
    )
    .await
}

/// [`run`] with a given nftables backend and metrics (which a binary may
/// serve with [`Metrics::render`]).
pub async fn run_with(
    client: Client,
    options: ProxyOptions,
    nft: Arc<dyn Nftables>,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<()> {
    tokio::pin!(shutdown);
    if options.localhost_node_ports == LocalhostNodePorts::Enabled {
        if let Err(source) = tokio::fs::write(ROUTE_LOCALNET, "1\n").await {
            let e = Error::Sysctl {
                path: ROUTE_LOCALNET,
                source,
            };
            warn!(error = %e, "NodePorts on 127.0.0.1 will not answer");
        }
    }
    let changed = Arc::new(Notify::new());
    let (services, services_writer) = reflector::store::<Service>();
    let (slices, slices_writer) = reflector::store::<EndpointSlice>();
    let watch_services = signal_changes(
        "services",
        reflector::reflector(
            services_writer,
            watcher(
                Api::<Service>::all(client.clone()),
                watcher::Config::default(),
            ),
        )
        .default_backoff(),
        changed.clone(),
    );
    let watch_slices = signal_changes(
        "endpointslices",
        reflector::reflector(
            slices_writer,
            watcher(
                Api::<EndpointSlice>::all(client),
                watcher::Config::default(),
            ),
        )
        .default_backoff(),
        changed.clone(),
    );
    let syncer = Syncer {
        options: &options,
        nft: nft.as_ref(),
        metrics: &metrics,
        services,
        slices,
        applied: None,
    };
    let outcome = tokio::select! {
        () = &mut shutdown => Ok(()),
        e = watch_services => Err(e),
        e = watch_slices => Err(e),
        e = syncer.run(&changed) => Err(e),
    };
    // Clean shutdown: leave no rules behind that point at pods this node
    // no longer keeps track of.
    match nft.delete_table(&options.table).await {
        Ok(()) => info!(table = %options.table, "removed the nftables table"),
        Err(e) => warn!(table = %options.table, error = %e, "could not remove the nftables table"),
    }
    outcome
}

/// Drives a reflector stream, signalling every event; returns only when the
/// stream ends.
async fn signal_changes<K>(
    what: &'static str,
    stream: impl Stream<Item = Result<watcher::Event<K>, watcher::Error>>,
    changed: Arc<Notify>,
) -> Error {
    tokio::pin!(stream);
    while let Some(event) = stream.next().await {
        match event {
            Ok(_) => changed.notify_one(),
            Err(e) => warn!(resource = what, error = %e, "watch failed; retrying"),
        }
    }
    Error::WatchEnded(what)
}

struct Syncer<'a> {
    options: &'a ProxyOptions,
    nft: &'a dyn Nftables,
    metrics: &'a Metrics,
    services: Store<Service>,
    slices: Store<EndpointSlice>,
    /// The table last applied, when the kernel is known to hold it.
    applied: Option<Ruleset>,
}

impl Syncer<'_> {
    /// Syncs on changes and periodically; returns only on a broken store.
    async fn run(mut self, changed: &Notify) -> Error {
        for (store_ready, what) in [
            (self.services.wait_until_ready().await, "services"),
            (self.slices.wait_until_ready().await, "endpointslices"),
        ] {
            if store_ready.is_err() {
                return Error::WatchEnded(what);
            }
        }
        let mut periodic = tokio::time::interval(self.options.sync_period);
        periodic.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        periodic.tick().await;
        loop {
            if let Err(e) = self.sync().await {
                self.metrics.record_error();
                warn!(table = %self.options.table, error = %e, "applying the ruleset failed; retrying");
                tokio::time::sleep(self.options.min_sync_period).await;
                continue;
            }
            tokio::select! {
                () = changed.notified() => {
                    // Let a burst of changes land before rendering once.
                    tokio::time::sleep(self.options.min_sync_period).await;
                }
                _ = periodic.tick() => {
                    match self.nft.table_exists(&self.options.table).await {
                        Ok(true) => {}
                        Ok(false) => {
                            warn!(table = %self.options.table, "the table is gone; restoring it");
                            self.applied = None;
                        }
                        Err(e) => warn!(error = %e, "could not check the table"),
                    }
                }
            }
        }
    }

    async fn sync(&mut self) -> Result<()> {
        let started = Instant::now();
        let services = self.services.state();
        let slices = self.slices.state();
        let ports = collect(
            services.iter().map(|s| s.as_ref()),
            slices.iter().map(|s| s.as_ref()),
            self.options.node_name.as_deref(),
        );
        let ruleset = render(
            &ports,
            &RenderConfig {
                table: self.options.table.clone(),
                cluster_cidr: self.options.cluster_cidr,
                localhost_node_ports: self.options.localhost_node_ports,
            },
        );
        let incremental = self
            .applied
            .as_ref()
            .and_then(|applied| transaction(&self.options.table, applied, &ruleset));
        // Until this sync succeeds the kernel's state is in doubt: a failure
        // leads to a full replace next time.
        self.applied = None;
        match incremental.as_deref() {
            Some("") => {
                debug!("ruleset unchanged");
                self.applied = Some(ruleset);
                return Ok(());
            }
            Some(tx) => self.nft.apply(tx).await?,
            None => {
                self.nft
                    .replace_table(&self.options.table, &ruleset.text)
                    .await?
            }
        }
        let took = started.elapsed();
        self.metrics.record_sync(took, ruleset.rules);
        debug!(
            ports = ports.len(),
            rules = ruleset.rules,
            incremental = incremental.is_some(),
            took_ms = took.as_millis() as u64,
            "applied the ruleset"
        );
        self.applied = Some(ruleset);
        Ok(())
    }
}
