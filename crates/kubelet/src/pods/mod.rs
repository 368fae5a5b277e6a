//! Pods on this node: a watch on the pods bound here feeds one worker per
//! pod ([`worker`]); pods that left the API while we were away are cleaned
//! up from what the runtime still has.

mod backoff;
mod dns;
mod env;
mod expansion;
mod hooks;
mod observed;
pub mod probes;
mod resources;
mod runtime_config;
mod status;
mod termination_message;
mod volumes;
mod worker;

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::Api;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::{info, warn};

pub use dns::{parse_resolv_conf, ClusterDns};
pub use status::{init_progress, WaitingReason};
pub use worker::PodContext;

use crate::runtime::cri::labels;

/// A container's env or volumes could not be resolved
/// (CreateContainerConfigError); the messages are upstream's.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A referenced ConfigMap or Secret does not exist.
    #[error("{kind} \"{name}\" not found")]
    NotFound {
        /// `configmap` or `secret`.
        kind: &'static str,
        /// Its name.
        name: String,
    },
    /// A referenced key is not in the object.
    #[error("couldn't find key {key} in {kind} {object}")]
    MissingKey {
        /// `ConfigMap` or `Secret`.
        kind: &'static str,
        /// `namespace/name`.
        object: String,
        /// The key.
        key: String,
    },
    /// A volume could not be prepared.
    #[error("{0}")]
    Volume(String),
    /// The spec uses something this kubelet does not do yet.
    #[error("not supported by rkube's kubelet: {0}")]
    Unsupported(String),
}

impl ConfigError {
    fn not_found(kind: &'static str, name: &str) -> Self {
        ConfigError::NotFound {
            kind,
            name: name.to_string(),
        }
    }
}

/// Watches the pods bound to `node_name` and runs their workers until
/// `shutdown`; then the workers stop and the pods keep running.
pub async fn run(ctx: Arc<PodContext>, node_name: &str, shutdown: impl Future<Output = ()>) {
    let api: Api<Pod> = Api::all(ctx.client.clone());
    let config = watcher::Config::default().fields(&format!("spec.nodeName={node_name}"));
    let mut events = watcher::watcher(api, config).default_backoff().boxed();
    let mut workers: HashMap<String, watch::Sender<Option<Pod>>> = HashMap::new();
    let mut tasks: JoinSet<String> = JoinSet::new();
    let mut listing: Option<HashSet<String>> = None;
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                if let Ok(uid) = done {
                    // A pod that came back while the worker finished gets a new one.
                    if let Some(sender) = workers.remove(&uid) {
                        if let Some(pod) = sender.borrow().clone() {
                            spawn(&ctx, &mut workers, &mut tasks, uid, Some(pod));
                        }
                    }
                }
            }
            event = events.try_next() => match event {
                Ok(Some(Event::Init)) => listing = Some(HashSet::new()),
                Ok(Some(Event::InitApply(pod))) => {
                    if let (Some(seen), Some(uid)) = (listing.as_mut(), pod.metadata.uid.clone()) {
                        seen.insert(uid);
                    }
                    upsert(&ctx, &mut workers, &mut tasks, pod);
                }
                Ok(Some(Event::InitDone)) => {
                    let seen = listing.take().unwrap_or_default();
                    let gone: Vec<String> = workers.keys().filter(|uid| !seen.contains(*uid)).cloned().collect();
                    for uid in gone {
                        if let Some(sender) = workers.get(&uid) {
                            sender.send_replace(None);
                        }
                    }
                    adopt_orphans(&ctx, &seen, &mut workers, &mut tasks).await;
                }
                Ok(Some(Event::Apply(pod))) => upsert(&ctx, &mut workers, &mut tasks, pod),
                Ok(Some(Event::Delete(pod))) => {
                    if let Some(sender) = pod.metadata.uid.as_ref().and_then(|uid| workers.get(uid)) {
                        sender.send_replace(None);
                    }
                }
                Ok(None) => break,
                Err(e) => warn!(error = %e, "watching pods"),
            }
        }
    }
    drop(workers);
    tasks.shutdown().await;
    info!("pod workers stopped; pods keep running");
}

fn upsert(
    ctx: &Arc<PodContext>,
    workers: &mut HashMap<String, watch::Sender<Option<Pod>>>,
    tasks: &mut JoinSet<String>,
    pod: Pod,
) {
    let Some(uid) = pod.metadata.uid.clone() else {
        return;
    };
    match workers.get(&uid) {
        Some(sender) => {
            sender.send_replace(Some(pod));
        }
        None => spawn(ctx, workers, tasks, uid, Some(pod)),
    }
}

fn spawn(
    ctx: &Arc<PodContext>,
    workers: &mut HashMap<String, watch::Sender<Option<Pod>>>,
    tasks: &mut JoinSet<String>,
    uid: String,
    pod: Option<Pod>,
) {
    let (sender, receiver) = watch::channel(pod);
    workers.insert(uid.clone(), sender);
    let ctx = ctx.clone();
    tasks.spawn(async move {
        worker::run(ctx, uid.clone(), receiver).await;
        uid
    });
}

/// Sandboxes of pods the API no longer has (deleted while the kubelet was
/// down) get a worker that removes them.
async fn adopt_orphans(
    ctx: &Arc<PodContext>,
    known: &HashSet<String>,
    workers: &mut HashMap<String, watch::Sender<Option<Pod>>>,
    tasks: &mut JoinSet<String>,
) {
    let sandboxes = match ctx.cri.list_pod_sandboxes(Default::default()).await {
        Ok(s) => s,
        Err(e) => {
            warn!(error = %e, "listing sandboxes to find orphans");
            return;
        }
    };
    let orphans: HashSet<String> = sandboxes
        .into_iter()
        .filter_map(|s| s.labels.get(labels::POD_UID).cloned())
        .filter(|uid| !known.contains(uid) && !workers.contains_key(uid))
        .collect();
    for uid in orphans {
        spawn(ctx, workers, tasks, uid, None);
    }
}
