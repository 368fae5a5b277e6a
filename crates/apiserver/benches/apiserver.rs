//! API server benchmark: the apiserver in-process over real HTTPS + JSON,
//! once over the embedded store and once over a real etcd, in the same run.
//!
//! ```sh
//! cargo bench -p rkube-apiserver --bench apiserver
//! ```
//!
//! For each backend: CREATE pods/s with concurrent clients (pods spread over
//! ten namespaces), GET p50/p99 of single pods with all of them stored, LIST
//! p50/p99 of one namespace, watch fan-out (many watchers on one namespace,
//! pods created one by one, create-issued → event-received per watcher), and
//! the process RSS once all pods are stored. Then the embedded/etcd ratios.
//!
//! The client is HTTP/2 (the server offers `h2` by ALPN) with the admin
//! client certificate, many streams multiplexed over a few connections, so
//! a thousand watchers need only a handful of file descriptors.
//!
//! Without `--bench` (as `cargo test --all-targets` runs it) it does a small
//! smoke run: every phase, a few pods and watchers, figures not meaningful.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http2::SendRequest;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rkube_api::Catalog;
use rkube_store::embedded::{EmbeddedOptions, EmbeddedStore};
use rkube_store::etcd::EtcdStore;
use rkube_store::Store;
use rkube_testkit::{EtcdProcess, Latencies};

/// Namespaces the created pods are spread over.
const NAMESPACES: usize = 10;
/// HTTP/2 connections the clients share (each carries many streams).
const CONNECTIONS: usize = 8;
/// How long any single step may take before the run fails.
const STEP_DEADLINE: Duration = Duration::from_secs(60);

/// The sizes of one run.
#[derive(Debug, Clone, Copy)]
struct Budget {
    /// Pods created (and then stored while reading).
    pods: usize,
    /// Concurrent creating clients.
    creators: usize,
    /// Single-pod GETs measured.
    gets: usize,
    /// Namespace LISTs measured (each namespace holds `pods / NAMESPACES`).
    lists: usize,
    /// Concurrent watchers.
    watchers: usize,
    /// Pods created one by one while the watchers watch.
    watched_creates: usize,
}

const FULL: Budget = Budget {
    pods: 10_000,
    creators: 64,
    gets: 2_000,
    lists: 100,
    watchers: 1_000,
    watched_creates: 50,
};

const SMOKE: Budget = Budget {
    pods: 50,
    creators: 8,
    gets: 20,
    lists: 5,
    watchers: 5,
    watched_creates: 3,
};

/// What one backend achieved.
struct Figures {
    backend: &'static str,
    create_per_sec: f64,
    create: Latencies,
    get: Latencies,
    list: Latencies,
    watch: Latencies,
    rss_mib: f64,
}

fn main() -> anyhow::Result<()> {
    let budget = rkube_testkit::bench_size(FULL, SMOKE);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let dir = tempfile::tempdir()?;
        let embedded_dir = dir.path().join("embedded");
        std::fs::create_dir_all(embedded_dir.join("db"))?;
        let store = EmbeddedStore::open(embedded_dir.join("db"), EmbeddedOptions::default())?;
        let embedded = run_backend("embedded", &embedded_dir, Arc::new(store), budget).await?;

        let etcd = EtcdProcess::start()?;
        let store = EtcdStore::connect(&[etcd.endpoint()]).await?;
        let etcd_dir = dir.path().join("etcd");
        std::fs::create_dir_all(&etcd_dir)?;
        let remote = run_backend("etcd", &etcd_dir, Arc::new(store), budget).await?;

        print_table(&[&embedded, &remote], budget);
        print_ratios(&embedded, &remote);
        Ok(())
    })
}

/// Starts an apiserver over `store`, runs every phase against it, stops it.
async fn run_backend(
    backend: &'static str,
    data_dir: &Path,
    store: Arc<dyn Store>,
    budget: Budget,
) -> anyhow::Result<Figures> {
    let config = rkube_apiserver::Config::new(data_dir, store, Arc::new(Catalog::builtin()))
        .bind(SocketAddr::from(([127, 0, 0, 1], 0)));
    let server = rkube_apiserver::bind(config).await?;
    let addr = server.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));

    let client = Client::connect(&data_dir.join("tls"), addr).await?;
    for n in 0..NAMESPACES {
        client.create_namespace(&format!("bench-{n}")).await?;
    }
    client.create_namespace("watched").await?;

    let (create_per_sec, create) = create_phase(&client, budget).await?;
    let rss_mib = rss_mib();
    let get = get_phase(&client, budget).await?;
    let list = list_phase(&client, budget).await?;
    let watch = watch_phase(&client, budget).await?;
    eprintln!("{backend}: done");

    let _ = stop.send(());
    serving.await??;
    Ok(Figures {
        backend,
        create_per_sec,
        create,
        get,
        list,
        watch,
        rss_mib,
    })
}

/// The name of the `i`-th bench pod and its namespace.
fn pod_at(i: usize) -> (String, String) {
    (format!("bench-{}", i % NAMESPACES), format!("pod-{i}"))
}

/// A small valid pod.
fn pod_body(name: &str) -> Bytes {
    Bytes::from(
        serde_json::json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "labels": {"app": "bench"}},
            "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.9"}]},
        })
        .to_string(),
    )
}

/// Creates `budget.pods` pods with `budget.creators` concurrent clients.
async fn create_phase(client: &Client, budget: Budget) -> anyhow::Result<(f64, Latencies)> {
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..budget.creators {
        let client = client.clone();
        let next = next.clone();
        tasks.spawn(async move {
            let mut samples = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= budget.pods {
                    return anyhow::Ok(samples);
                }
                let (namespace, name) = pod_at(i);
                let issued = Instant::now();
                client
                    .expect_status(
                        "POST",
                        &format!("/api/v1/namespaces/{namespace}/pods"),
                        pod_body(&name),
                        201,
                    )
                    .await?;
                samples.push(issued.elapsed());
            }
        });
    }
    let mut samples = Vec::with_capacity(budget.pods);
    while let Some(done) = tasks.join_next().await {
        samples.extend(done??);
    }
    let rate = budget.pods as f64 / start.elapsed().as_secs_f64();
    Ok((rate, Latencies::new(samples)))
}

/// Sequential GETs of single pods spread over all stored pods.
async fn get_phase(client: &Client, budget: Budget) -> anyhow::Result<Latencies> {
    let mut samples = Vec::with_capacity(budget.gets);
    for k in 0..budget.gets {
        // A stride coprime with the pod count visits pods all over the range.
        let (namespace, name) = pod_at((k * 7_919) % budget.pods);
        let issued = Instant::now();
        client
            .expect_status(
                "GET",
                &format!("/api/v1/namespaces/{namespace}/pods/{name}"),
                Bytes::new(),
                200,
            )
            .await?;
        samples.push(issued.elapsed());
    }
    Ok(Latencies::new(samples))
}

/// Sequential LISTs of one namespace (`pods / NAMESPACES` pods each).
async fn list_phase(client: &Client, budget: Budget) -> anyhow::Result<Latencies> {
    let expected = budget.pods / NAMESPACES;
    let mut samples = Vec::with_capacity(budget.lists);
    for k in 0..budget.lists {
        let issued = Instant::now();
        let body = client
            .expect_status(
                "GET",
                &format!("/api/v1/namespaces/bench-{}/pods", k % NAMESPACES),
                Bytes::new(),
                200,
            )
            .await?;
        samples.push(issued.elapsed());
        let list: serde_json::Value = serde_json::from_slice(&body)?;
        let items = list["items"].as_array().map_or(0, Vec::len);
        anyhow::ensure!(
            items == expected,
            "listed {items} pods, expected {expected}"
        );
    }
    Ok(Latencies::new(samples))
}

/// Opens `budget.watchers` watches on the `watched` namespace, then creates
/// pods there one by one; each watcher records, for every pod, the time from
/// the create being issued to its ADDED event arriving.
async fn watch_phase(client: &Client, budget: Budget) -> anyhow::Result<Latencies> {
    let list = client
        .expect_status("GET", "/api/v1/namespaces/watched/pods", Bytes::new(), 200)
        .await?;
    let list: serde_json::Value = serde_json::from_slice(&list)?;
    let rv = list["metadata"]["resourceVersion"]
        .as_str()
        .context("list without resourceVersion")?
        .to_string();

    // Issue instants, indexed by pod number; set before each create is sent.
    let issued: Arc<std::sync::Mutex<Vec<Option<Instant>>>> =
        Arc::new(std::sync::Mutex::new(vec![None; budget.watched_creates]));
    // Per pod, how many watchers have seen it.
    let seen: Arc<Vec<AtomicUsize>> = Arc::new(
        (0..budget.watched_creates)
            .map(|_| AtomicUsize::new(0))
            .collect(),
    );
    let mut watchers = tokio::task::JoinSet::new();
    for _ in 0..budget.watchers {
        let mut body = client
            .open(
                "GET",
                &format!(
                    "/api/v1/namespaces/watched/pods?watch=true&resourceVersion={rv}&allowWatchBookmarks=false"
                ),
                Bytes::new(),
            )
            .await?;
        anyhow::ensure!(body.status() == 200, "watch answered {}", body.status());
        let issued = issued.clone();
        let seen = seen.clone();
        let wanted = budget.watched_creates;
        watchers.spawn(async move {
            let mut samples = Vec::with_capacity(wanted);
            let mut pending = Vec::new();
            while samples.len() < wanted {
                let frame = body
                    .frame()
                    .await
                    .context("watch ended early")?
                    .map_err(anyhow::Error::from)?;
                let Ok(data) = frame.into_data() else {
                    continue;
                };
                let at = Instant::now();
                pending.extend_from_slice(&data);
                while let Some(end) = pending.iter().position(|&b| b == b'\n') {
                    let line: Vec<u8> = pending.drain(..=end).collect();
                    if let Some(k) = watched_pod_number(&line) {
                        let when = issued.lock().ok().and_then(|v| v.get(k).copied().flatten());
                        if let (Some(when), Some(count)) = (when, seen.get(k)) {
                            samples.push(at.saturating_duration_since(when));
                            count.fetch_add(1, Ordering::Release);
                        }
                    }
                }
            }
            anyhow::Ok(samples)
        });
    }

    for k in 0..budget.watched_creates {
        let name = format!("watched-{k}");
        if let Some(slot) = issued.lock().ok().as_mut().and_then(|v| v.get_mut(k)) {
            *slot = Some(Instant::now());
        }
        client
            .expect_status(
                "POST",
                "/api/v1/namespaces/watched/pods",
                pod_body(&name),
                201,
            )
            .await?;
        // Next create only once every watcher has this one, so events do
        // not queue behind each other.
        let deadline = Instant::now() + STEP_DEADLINE;
        while seen.get(k).map_or(0, |c| c.load(Ordering::Acquire)) < budget.watchers {
            anyhow::ensure!(Instant::now() < deadline, "watchers did not all see {name}");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    let mut samples = Vec::with_capacity(budget.watchers * budget.watched_creates);
    while let Some(done) = watchers.join_next().await {
        samples.extend(done??);
    }
    Ok(Latencies::new(samples))
}

/// The `k` of an ADDED event line for pod `watched-k`, found by scanning
/// rather than parsing so a thousand watchers cost the client little.
fn watched_pod_number(line: &[u8]) -> Option<usize> {
    let text = std::str::from_utf8(line).ok()?;
    if !text.contains("\"ADDED\"") {
        return None;
    }
    let start = text.find("\"name\":\"watched-")? + "\"name\":\"watched-".len();
    let digits: String = text
        .get(start..)?
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// The VmRSS of this process (server and client together), in MiB.
fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// An HTTP/2 client with the admin certificate over a few connections.
#[derive(Clone)]
struct Client {
    connections: Arc<Vec<SendRequest<Full<Bytes>>>>,
    next: Arc<AtomicUsize>,
}

impl Client {
    /// Opens `CONNECTIONS` HTTP/2 connections to `addr`, trusting the CA in
    /// `tls_dir` and presenting the admin certificate found there.
    async fn connect(tls_dir: &Path, addr: SocketAddr) -> anyhow::Result<Client> {
        let read = |name: &str| std::fs::read(tls_dir.join(name));
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls_pemfile::certs(&mut read("ca.crt")?.as_slice()) {
            roots.add(cert?)?;
        }
        let certs = rustls_pemfile::certs(&mut read("admin.crt")?.as_slice())
            .collect::<Result<Vec<_>, _>>()?;
        let key = rustls_pemfile::private_key(&mut read("admin.key")?.as_slice())?
            .context("no admin key")?;
        let mut tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_client_auth_cert(certs, key)?;
        tls.alpn_protocols = vec![b"h2".to_vec()];
        let connector = tokio_rustls::TlsConnector::from(Arc::new(tls));
        let mut connections = Vec::with_capacity(CONNECTIONS);
        for _ in 0..CONNECTIONS {
            let tcp = tokio::net::TcpStream::connect(addr).await?;
            tcp.set_nodelay(true)?;
            let name = rustls::pki_types::ServerName::try_from("localhost")?;
            let stream = connector.connect(name, tcp).await?;
            let (send, connection) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
                .handshake(TokioIo::new(stream))
                .await?;
            tokio::spawn(connection);
            connections.push(send);
        }
        Ok(Client {
            connections: Arc::new(connections),
            next: Arc::new(AtomicUsize::new(0)),
        })
    }

    /// Sends one request on the next connection in turn; returns the
    /// response with its body still streaming.
    async fn open(
        &self,
        method: &str,
        path: &str,
        body: Bytes,
    ) -> anyhow::Result<hyper::Response<hyper::body::Incoming>> {
        let index = self.next.fetch_add(1, Ordering::Relaxed) % self.connections.len();
        let mut send = self
            .connections
            .get(index)
            .context("no connection")?
            .clone();
        let request = hyper::Request::builder()
            .method(method)
            .uri(format!("https://localhost{path}"))
            .header("content-type", "application/json")
            .header("accept", "application/json")
            .body(Full::new(body))?;
        let response = tokio::time::timeout(STEP_DEADLINE, send.send_request(request))
            .await
            .context("request timed out")??;
        Ok(response)
    }

    /// Sends one request, reads the whole body, and checks the status.
    async fn expect_status(
        &self,
        method: &str,
        path: &str,
        body: Bytes,
        status: u16,
    ) -> anyhow::Result<Bytes> {
        let response = self.open(method, path, body).await?;
        let got = response.status();
        let body = tokio::time::timeout(STEP_DEADLINE, response.into_body().collect())
            .await
            .context("body timed out")??
            .to_bytes();
        anyhow::ensure!(
            got.as_u16() == status,
            "{method} {path} answered {got}: {}",
            String::from_utf8_lossy(&body)
        );
        Ok(body)
    }

    /// Creates namespace `name`.
    async fn create_namespace(&self, name: &str) -> anyhow::Result<()> {
        let body = serde_json::json!({
            "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name},
        });
        self.expect_status(
            "POST",
            "/api/v1/namespaces",
            Bytes::from(body.to_string()),
            201,
        )
        .await?;
        Ok(())
    }
}

fn print_table(figures: &[&Figures], budget: Budget) {
    println!(
        "\napiserver over HTTPS (HTTP/2, {CONNECTIONS} connections): {} pods in {NAMESPACES} namespaces, {} creators, {} watchers × {} events",
        budget.pods, budget.creators, budget.watchers, budget.watched_creates
    );
    println!(
        "| backend | CREATE/s | CREATE p50 | CREATE p99 | GET p50 | GET p99 | LIST ({} pods) p50 | LIST p99 | watch p50 | watch p99 | RSS |",
        budget.pods / NAMESPACES
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for f in figures {
        println!(
            "| {} | {:.0} | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms | {:.1} ms | {:.1} ms | {:.2} ms | {:.2} ms | {:.0} MiB |",
            f.backend,
            f.create_per_sec,
            f.create.percentile_ms(50.0),
            f.create.percentile_ms(99.0),
            f.get.percentile_ms(50.0),
            f.get.percentile_ms(99.0),
            f.list.percentile_ms(50.0),
            f.list.percentile_ms(99.0),
            f.watch.percentile_ms(50.0),
            f.watch.percentile_ms(99.0),
            f.rss_mib,
        );
    }
}

fn print_ratios(embedded: &Figures, etcd: &Figures) {
    println!("\nembedded / etcd (CREATE: higher is better; latencies: lower is better)");
    println!("| CREATE/s | GET p99 | LIST p99 | watch p99 |");
    println!("| ---: | ---: | ---: | ---: |");
    println!(
        "| {:.2}× | {:.2}× | {:.2}× | {:.2}× |",
        embedded.create_per_sec / etcd.create_per_sec,
        embedded.get.percentile_ms(99.0) / etcd.get.percentile_ms(99.0),
        embedded.list.percentile_ms(99.0) / etcd.list.percentile_ms(99.0),
        embedded.watch.percentile_ms(99.0) / etcd.watch.percentile_ms(99.0),
    );
}
