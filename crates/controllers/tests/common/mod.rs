//! A cluster for controller tests: an in-process apiserver, the selected
//! controllers of this crate, and (optionally) simulated nodes; everything
//! stops when the value is dropped.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use std::future::Future;
use std::time::{Duration, Instant};

use kube::Client;
use rkube_controllers::framework::Selection;
use rkube_controllers::{registry, Options, Settings};
use rkube_simnode::{SimOptions, SimulatedNodes};
use rkube_testkit::TestApiserver;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How long any awaited condition may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// The apiserver, the controller manager and the simulated nodes.
pub struct Cluster {
    /// The apiserver (kubectl runs against it).
    pub api: TestApiserver,
    /// An admin client.
    pub client: Client,
    /// The simulated nodes, if any.
    pub nodes: Option<SimulatedNodes>,
    stop: Option<oneshot::Sender<()>>,
    manager: Option<JoinHandle<()>>,
}

impl Cluster {
    /// Starts the apiserver, `sim_nodes` simulated nodes (heartbeats every
    /// 300 ms) and the controllers named in `controllers`.
    pub async fn start(
        controllers: &str,
        sim_nodes: usize,
        adjust: impl FnOnce(Settings) -> Settings,
    ) -> Cluster {
        // Controller logs show in the output of a failed test.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("rkube_controllers=info"))
            .with_test_writer()
            .try_init();
        let api = TestApiserver::start();
        let client = api.client().await;
        let nodes = if sim_nodes > 0 {
            let options =
                SimOptions::new(sim_nodes).with_lease_renew_interval(Duration::from_millis(300));
            Some(
                SimulatedNodes::start(client.clone(), options)
                    .await
                    .expect("simulated nodes"),
            )
        } else {
            None
        };
        let ca = std::fs::read_to_string(api.data_dir().join("tls").join("ca.crt")).ok();
        // As `rkube server` does: the CA and the apiserver's own address.
        let settings = adjust(Settings {
            root_ca_pem: ca,
            apiserver_endpoint: Some(api.addr),
            ..Settings::default()
        });
        let selection = Selection::parse(controllers, registry::names()).expect("controllers");
        let options = Options::new("controllers-test")
            .controllers(selection)
            .settings(settings);
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let manager_client = client.clone();
        let manager = tokio::spawn(async move {
            let shutdown = async move {
                let _ = stop_rx.await;
            };
            if let Err(error) = rkube_controllers::run(manager_client, options, shutdown).await {
                panic!("controller manager failed: {error}");
            }
        });
        Cluster {
            api,
            client,
            nodes,
            stop: Some(stop_tx),
            manager: Some(manager),
        }
    }

    /// Runs kubectl and returns its stdout; fails the test on error.
    pub fn kubectl(&self, args: &[&str]) -> String {
        self.api.kubectl_ok(args)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(manager) = self.manager.take() {
            manager.abort();
        }
    }
}

/// Polls `check` until it returns `Some`, failing the test with `what` after
/// [`DEADLINE`].
pub async fn wait_for<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(started.elapsed() < DEADLINE, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
