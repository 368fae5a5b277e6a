//! `rkube server`: the control plane on this machine.
//!
//! Opens the store (embedded in `<data-dir>/db` unless `--datastore-endpoint`
//! names an etcd), serves the Kubernetes API and runs the embedded components
//! until Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context};
use rkube_api::Catalog;
use rkube_store::Store;
use tracing::info;

use crate::cli::ServerArgs;
use crate::components::{client_from_kubeconfig, Components};
use crate::node::{self, NodeComponents};

/// Runs the server until a shutdown signal.
pub async fn run(args: ServerArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating data dir {}", args.data_dir.display()))?;

    let store = open_store(&args).await?;
    let mut config =
        rkube_apiserver::Config::new(&args.data_dir, store, Arc::new(Catalog::builtin()))
            .bind(SocketAddr::new(args.bind_address, args.https_listen_port));
    config.extra_sans.clone_from(&args.tls_san);
    let server = rkube_apiserver::bind(config)
        .await
        .context("starting the apiserver")?;

    info!(
        address = %server.local_addr(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "apiserver ready"
    );
    // Components first, so that on shutdown they stop (the agent stops its
    // pods) while the apiserver still answers them.
    let api_stop = tokio_util::sync::CancellationToken::new();
    let kubeconfig = server.kubeconfig_path().to_path_buf();
    let server_addr = server.local_addr();
    let mut api = tokio::spawn(server.run(api_stop.clone().cancelled_owned()));
    let client = client_from_kubeconfig(&kubeconfig).await?;
    let version = client
        .apiserver_version()
        .await
        .context("the apiserver does not answer its own client")?;
    info!(version = %version.git_version, "components connect through the API");
    let join_token = publish_join_info(&client, &args, server_addr).await?;
    // Printed once the join token exists too: "up" means ready to join.
    eprintln!(
        "rkube is up. Admin kubeconfig: {kc}\n  next: rkube kubectl --data-dir {dir} get nodes   (or: KUBECONFIG={kc} kubectl get ns)\n  join a node: rkube agent --server https://{addr} --token {join_token}",
        kc = kubeconfig.display(),
        dir = args.data_dir.display(),
        addr = advertised(server_addr),
    );
    let mut components = Components::new();
    if !args.disable_scheduler {
        let config = crate::scheduler::load_config(args.scheduler_config.as_deref())?;
        let client = client.clone();
        components.spawn("scheduler", |stop| async move {
            Ok(rkube_scheduler::run(client, config, stop).await?)
        });
    }
    let manager_client = client.clone();
    let settings = controller_settings(&args, server_addr);
    components.spawn("controller-manager", |stop| {
        crate::controller_manager::embedded(manager_client, settings, stop)
    });
    NodeComponents {
        node_name: node::name(),
        kubelet: (!args.disable_agent)
            .then(|| crate::kubelet::agent_options(&args.data_dir, None, &kubeconfig)),
        proxy: !args.disable_proxy && node::is_root(),
        dns: cluster_dns_listen(&args),
    }
    .spawn(&mut components, &client);

    let (outcome, api_running) = tokio::select! {
        outcome = components.run_until(shutdown_signal()) => (outcome, true),
        served = &mut api => (
            api_stopped(served).and_then(|()| Err(anyhow::anyhow!("the apiserver stopped on its own"))),
            false,
        ),
    };
    components.stop().await;
    api_stop.cancel();
    if api_running {
        api_stopped(api.await)?;
    }
    outcome?;
    info!("stopped");
    Ok(())
}

/// Where cluster DNS answers: `--cluster-dns-listen`, else port 53 on this
/// node's address when this server is also the node (as root), so that
/// the kube-dns Service's endpoint is this machine.
fn cluster_dns_listen(args: &ServerArgs) -> Option<SocketAddr> {
    args.cluster_dns_listen
        .or_else(|| (!args.disable_agent && node::is_root()).then(node::default_dns_listen))
}

/// The address others reach the apiserver at: this machine's address when
/// listening on all of them.
fn advertised(listening: SocketAddr) -> SocketAddr {
    if listening.ip().is_unspecified() {
        SocketAddr::new(rkube_kubelet::machine::node_ip(), listening.port())
    } else {
        listening
    }
}

/// Publishes the token-signed `cluster-info` for joining agents and
/// returns the server's own join token (made at first start).
async fn publish_join_info(
    client: &kube::Client,
    args: &ServerArgs,
    listening: SocketAddr,
) -> anyhow::Result<rkube_apiserver::bootstrap_token::BootstrapToken> {
    let ca_path = args.data_dir.join("tls").join("ca.crt");
    let ca_pem = std::fs::read_to_string(&ca_path)
        .with_context(|| format!("reading {}", ca_path.display()))?;
    let server_url = format!("https://{}", advertised(listening));
    let kubeconfig = crate::cluster_info::public_kubeconfig(&server_url, &ca_pem);
    crate::cluster_info::publish(client, Some(kubeconfig)).await?;
    let token = crate::token::ensure_server_token(client, &args.data_dir).await?;
    // A token made just now signed cluster-info already; one from an
    // earlier start is signed by the publish above.
    Ok(token)
}

/// What the controllers need to know about this cluster: the CA that
/// `kube-root-ca.crt` publishes and `csrsigning` signs with, and the
/// address the `kubernetes` Service's endpoints name.
fn controller_settings(args: &ServerArgs, listening: SocketAddr) -> rkube_controllers::Settings {
    let tls = args.data_dir.join("tls");
    rkube_controllers::Settings {
        root_ca_pem: std::fs::read_to_string(tls.join("ca.crt")).ok(),
        apiserver_endpoint: Some(advertised(listening)),
        cluster_signing_cert_file: Some(tls.join("ca.crt")),
        cluster_signing_key_file: Some(tls.join("ca.key")),
        ..rkube_controllers::Settings::default()
    }
}

/// The embedded store by default; etcd when `--datastore-endpoint etcd://…`.
async fn open_store(args: &ServerArgs) -> anyhow::Result<Arc<dyn Store>> {
    if args.restore.is_some() && args.datastore_endpoint.is_some() {
        bail!("--restore is for the embedded store; restore etcd with `etcdctl snapshot restore`");
    }
    match &args.datastore_endpoint {
        None => {
            if let Some(backup) = &args.restore {
                crate::backup::restore(backup, &args.data_dir)?;
                info!(backup = %backup.display(), "restored the store from a backup");
            }
            let path = crate::backup::store_dir(&args.data_dir);
            std::fs::create_dir_all(&path)?;
            let options = rkube_store::embedded::EmbeddedOptions::default();
            let store = rkube_store::embedded::EmbeddedStore::open(&path, options)
                .with_context(|| format!("opening the embedded store in {}", path.display()))?;
            Ok(Arc::new(store))
        }
        Some(endpoint) => {
            let Some(hosts) = endpoint.strip_prefix("etcd://") else {
                bail!("--datastore-endpoint {endpoint:?}: only etcd://host:port[,host:port…] is supported");
            };
            let endpoints: Vec<String> = hosts.split(',').map(|h| format!("http://{h}")).collect();
            let store = rkube_store::etcd::EtcdStore::connect(&endpoints)
                .await
                .with_context(|| format!("connecting to etcd at {endpoint}"))?;
            Ok(Arc::new(store))
        }
    }
}

/// The apiserver task's end as an error, unless it stopped because we
/// asked it to.
fn api_stopped(
    joined: Result<Result<(), rkube_apiserver::ServeError>, tokio::task::JoinError>,
) -> anyhow::Result<()> {
    joined
        .context("the apiserver panicked")?
        .context("serving the API")
}

/// Completes on Ctrl-C or SIGTERM.
pub(crate) async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = ctrl_c.await;
            return;
        }
    };
    tokio::select! {
        _ = ctrl_c => {}
        _ = term.recv() => {}
    }
    info!("shutting down");
}
