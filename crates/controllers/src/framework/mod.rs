//! The shared reconcile framework every controller is built on.
//!
//! It is upstream's `pkg/controller` pattern on kube-runtime's machinery:
//!
//! * **Informers** ([`SharedInformers`], [`Informer`]): one watch and one cache per kind for
//!   the whole manager. `ctx.informer::<Pod>()` returns the shared one.
//! * **Triggers** ([`Triggers`]): which changes enqueue which keys. Handlers only enqueue keys
//!   ([`Triggers::primary`], [`Triggers::owned`] via the controller ownerReference,
//!   [`Triggers::mapped`] for anything else), and every informer used is waited for before the
//!   first sync.
//! * **Work queue and workers** ([`run_controller`]): kube-runtime's `applier` deduplicates
//!   keys, never runs one key twice at once and runs `ctx.workers()` syncs concurrently; a
//!   failed sync retries with per-key exponential backoff (5 ms doubling to 1000 s, upstream's
//!   default); a sync returns an [`Action`] to requeue itself later.
//! * **Expectations** ([`Expectations`]): after creating or deleting children, record them;
//!   the next sync acts again only once the cache shows them (or after 5 minutes).
//! * **Events** ([`EventRecorder`], [`Reason`]): `kubectl describe` events, best effort.
//! * **Leader election** ([`LeaderElector`]): a Lease in `kube-system`; only the leader runs
//!   controllers.
//!
//! # Writing a controller
//!
//! A controller is one module with a pure-ish `sync` (read desired state from the object,
//! read actual state from caches, act through the client, return an [`Action`]) and a
//! [`Descriptor`](crate::registry::Descriptor) listed in [`crate::registry::all`]:
//!
//! ```no_run
//! use std::sync::Arc;
//! use futures::future::{BoxFuture, FutureExt};
//! use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
//! use kube::runtime::controller::Action;
//! use rkube_controllers::framework::{run_controller, Context, Triggers};
//! use rkube_controllers::registry::Descriptor;
//! use rkube_controllers::framework::DefaultState;
//!
//! pub const DESCRIPTOR: Descriptor = Descriptor {
//!     name: "example",
//!     default: DefaultState::Disabled,
//!     start,
//! };
//!
//! struct State {
//!     client: kube::Client,
//!     config_maps: kube::runtime::reflector::Store<ConfigMap>,
//! }
//!
//! #[derive(Debug, thiserror::Error)]
//! enum SyncError {
//!     #[error("could not create the ConfigMap")]
//!     Create(#[source] kube::Error),
//! }
//!
//! fn start(ctx: Context) -> BoxFuture<'static, Result<(), rkube_controllers::Error>> {
//!     async move {
//!         let namespaces = ctx.informer::<Namespace>();
//!         let config_maps = ctx.informer::<ConfigMap>();
//!         let triggers = Triggers::new().primary(&namespaces).waits_for(&config_maps);
//!         let state = Arc::new(State { client: ctx.client().clone(), config_maps: config_maps.store() });
//!         run_controller(&ctx, "example", &namespaces, triggers, state, sync).await;
//!         Ok(())
//!     }
//!     .boxed()
//! }
//!
//! async fn sync(ns: Arc<Namespace>, state: Arc<State>) -> Result<Action, SyncError> {
//!     // read desired (ns), read actual (state.config_maps), act (state.client) ...
//!     Ok(Action::await_change())
//! }
//! ```
//!
//! `ctx.recorder("example-controller")` gives an [`EventRecorder`];
//! `Arc<Expectations<K, Child>>` in the state guards creations/deletions.

mod backoff;
mod clock;
mod events;
mod expectations;
mod informer;
mod leader_election;
mod selection;
mod triggers;
mod worker;

use std::time::Duration;

use kube::Client;
use tokio_util::sync::CancellationToken;

pub use backoff::FailureBackoff;
pub use clock::{Clock, SystemClock};
pub use events::{EventRecorder, Reason};
pub use expectations::{CachedChild, ChildLookup, Expectations, EXPECTATIONS_TIMEOUT};
pub use informer::{Change, Informer, SharedInformers, Watchable};
pub use kube::runtime::controller::Action;
pub use leader_election::{claim, next_record, Claim, LeaderElector, Leadership, LeaseConfig};
pub use selection::{DefaultState, Selection, SelectionError};
pub use triggers::{controller_owner, Triggers};
pub use worker::{run_controller, ErrorChain};

/// Everything a controller gets when it starts: the client, the shared informers, its worker
/// count and the shutdown signal. Cheap to clone.
#[derive(Clone)]
pub struct Context {
    client: Client,
    informers: SharedInformers,
    workers: u16,
    identity: String,
    shutdown: CancellationToken,
    resync: Duration,
    settings: std::sync::Arc<crate::settings::Settings>,
}

impl Context {
    /// A context for controllers that stop when `shutdown` is cancelled.
    pub fn new(
        client: Client,
        workers: u16,
        identity: String,
        shutdown: CancellationToken,
    ) -> Self {
        Context {
            informers: SharedInformers::new(client.clone(), shutdown.clone()),
            client,
            workers: workers.max(1),
            identity,
            shutdown,
            resync: Duration::from_secs(5 * 60),
            settings: std::sync::Arc::default(),
        }
    }

    /// The same context with the controllers' command-line settings.
    pub fn with_settings(mut self, settings: crate::settings::Settings) -> Self {
        self.settings = std::sync::Arc::new(settings);
        self
    }

    /// The controllers' command-line settings (cluster CIDR, grace periods, CA, …).
    pub fn settings(&self) -> &crate::settings::Settings {
        &self.settings
    }

    /// The API client (acts as the controller manager).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The shared informer of kind `K`, all namespaces.
    pub fn informer<K: Watchable>(&self) -> Informer<K> {
        self.informers.get::<K>()
    }

    /// An event recorder reporting as `component` (upstream's event source name, e.g.
    /// `replicaset-controller`).
    pub fn recorder(&self, component: &str) -> EventRecorder {
        EventRecorder::new(self.client.clone(), component, &self.identity)
    }

    /// How many keys a controller syncs concurrently (upstream `--concurrent-*-syncs`).
    pub fn workers(&self) -> u16 {
        self.workers
    }

    /// Cancelled when the manager shuts down or loses leadership.
    pub fn shutdown(&self) -> &CancellationToken {
        &self.shutdown
    }

    /// How often a controller should re-sync an object nothing changed (a safety net against
    /// missed events; return `Action::requeue(ctx.resync())`).
    pub fn resync(&self) -> Duration {
        self.resync
    }
}
