//! `run`: the controller manager (upstream `cmd/kube-controller-manager`): elect a leader if
//! asked, then run the selected controllers until shutdown.

use std::future::Future;

use kube::Client;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::framework::{Context, LeaderElector, Leadership, LeaseConfig, Selection};
use crate::registry::{self, Descriptor};
use crate::{Error, Result};

/// Whether this manager competes for the leader Lease before running controllers.
#[derive(Clone, Debug)]
pub enum LeaderElection {
    /// Run controllers at once (a single manager).
    Disabled,
    /// Run controllers only while holding this Lease.
    Enabled(LeaseConfig),
}

/// How to run the manager.
#[derive(Clone, Debug)]
pub struct Options {
    /// Which controllers run (`--controllers`).
    pub controllers: Selection,
    /// Concurrent syncs per controller (upstream's `--concurrent-*-syncs`, default 5).
    pub workers: u16,
    /// Leader election (`--leader-elect`).
    pub leader_election: LeaderElection,
    /// This manager's identity in Events and the Lease.
    pub identity: String,
    /// The individual controllers' settings.
    pub settings: crate::Settings,
}

impl Options {
    /// Every default controller, 5 workers, no leader election.
    pub fn new(identity: impl Into<String>) -> Self {
        Options {
            controllers: Selection::default(),
            workers: 5,
            leader_election: LeaderElection::Disabled,
            identity: identity.into(),
            settings: crate::Settings::default(),
        }
    }

    /// Sets the individual controllers' settings.
    pub fn settings(mut self, settings: crate::Settings) -> Self {
        self.settings = settings;
        self
    }

    /// Selects controllers.
    pub fn controllers(mut self, controllers: Selection) -> Self {
        self.controllers = controllers;
        self
    }

    /// Sets concurrent syncs per controller.
    pub fn workers(mut self, workers: u16) -> Self {
        self.workers = workers;
        self
    }

    /// Competes for kube-controller-manager's Lease in kube-system with upstream timings.
    pub fn leader_elect(mut self) -> Self {
        self.leader_election =
            LeaderElection::Enabled(LeaseConfig::controller_manager(self.identity.clone()));
        self
    }
}

/// Runs the controller manager until `shutdown` completes, then stops every controller and
/// returns Ok(()). Returns an error if leadership is lost or a controller fails.
pub async fn run(
    client: Client,
    options: Options,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<()> {
    let stop = CancellationToken::new();
    let selected: Vec<Descriptor> = registry::all()
        .into_iter()
        .filter(|descriptor| {
            options
                .controllers
                .runs(descriptor.name, descriptor.default)
        })
        .collect();
    let manage = async {
        match &options.leader_election {
            LeaderElection::Disabled => run_controllers(&client, &options, &selected, &stop).await,
            LeaderElection::Enabled(config) => {
                let mut elector = LeaderElector::new(client.clone(), config.clone());
                if !elector.acquire(&stop).await {
                    return Ok(());
                }
                // Controllers get their own token: losing the Lease stops them without
                // waiting for the manager's shutdown.
                let leading = stop.child_token();
                let controllers = run_controllers(&client, &options, &selected, &leading);
                tokio::pin!(controllers);
                tokio::select! {
                    leadership = elector.hold(&stop) => {
                        leading.cancel();
                        let result = controllers.await;
                        match leadership {
                            Leadership::Lost => Err(Error::LeaderElectionLost),
                            Leadership::ShutDown => result,
                        }
                    }
                    result = &mut controllers => result,
                }
            }
        }
    };
    tokio::pin!(manage);
    tokio::pin!(shutdown);
    tokio::select! {
        result = &mut manage => {
            stop.cancel();
            result
        }
        () = &mut shutdown => {
            stop.cancel();
            manage.await
        }
    }
}

/// Starts `selected` on one context and waits for all of them; the first failure stops the
/// rest.
async fn run_controllers(
    client: &Client,
    options: &Options,
    selected: &[Descriptor],
    stop: &CancellationToken,
) -> Result<()> {
    // Informers and controllers stop on this token, cancelled on return whatever the reason.
    let running = stop.child_token();
    let _stop_on_return = running.clone().drop_guard();
    let ctx = Context::new(
        client.clone(),
        options.workers,
        options.identity.clone(),
        running.clone(),
    )
    .with_settings(options.settings.clone());
    let mut tasks = JoinSet::new();
    for descriptor in selected {
        tracing::info!(controller = descriptor.name, "starting controller");
        let name = descriptor.name;
        let start = (descriptor.start)(ctx.clone());
        tasks.spawn(async move { (name, start.await) });
    }
    let mut outcome = Ok(());
    while let Some(joined) = tasks.join_next().await {
        let failure = match joined {
            Ok((_, Ok(()))) => continue,
            Ok((_, Err(error))) => error,
            Err(join_error) => Error::Controller {
                name: "unknown",
                source: Box::new(join_error),
            },
        };
        running.cancel();
        if outcome.is_ok() {
            outcome = Err(failure);
        }
    }
    outcome
}
