//! The proxy against the real kernel: backends are busybox httpd servers in
//! their own network namespaces, Services and EndpointSlices are created
//! through a real apiserver, and connections from the host go through the
//! proxy's nftables table. Needs root, `ip`, `nft` and busybox.
//!
//! Each test uses its own /24s under 10.200.0.0/16, its own service IPs,
//! NodePorts and table name, so tests can run in parallel.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::PostParams;
use kube::Api;
use rkube_proxy::{Metrics, ProxyOptions};
use rkube_testkit::TestApiserver;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const DEADLINE: Duration = Duration::from_secs(30);

fn sh(args: &[&str]) {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A backend: a netns joined to the host by a veth pair on 10.200.`net`.0/24
/// (host .1, backend .2), serving its name over HTTP on port 8080.
struct Backend {
    netns: String,
    host_link: String,
    httpd: Option<Child>,
    _root: tempfile::TempDir,
    ip: Ipv4Addr,
}

impl Backend {
    fn start(net: u8) -> Backend {
        let id = format!("{}{net}", std::process::id() % 100_000);
        let netns = format!("rkp-{id}");
        let host_link = format!("rkph{id}");
        let ip = Ipv4Addr::new(10, 200, net, 2);
        // Remove leftovers of a crashed earlier run with the same names.
        let _ = Command::new("ip").args(["netns", "del", &netns]).output();
        let _ = Command::new("ip")
            .args(["link", "del", &host_link])
            .output();
        let root = tempfile::tempdir().expect("temp dir");
        std::fs::write(root.path().join("index.html"), format!("backend-{net}")).expect("page");
        let mut backend = Backend {
            netns: netns.clone(),
            host_link: host_link.clone(),
            httpd: None,
            _root: root,
            ip,
        };
        sh(&["ip", "netns", "add", &netns]);
        sh(&[
            "ip", "link", "add", &host_link, "type", "veth", "peer", "name", "eth0", "netns",
            &netns,
        ]);
        sh(&[
            "ip",
            "addr",
            "add",
            &format!("10.200.{net}.1/24"),
            "dev",
            &host_link,
        ]);
        sh(&["ip", "link", "set", &host_link, "up"]);
        let in_ns = |args: &[&str]| {
            let mut all = vec!["ip", "netns", "exec", &netns];
            all.extend_from_slice(args);
            sh(&all);
        };
        in_ns(&["ip", "addr", "add", &format!("{ip}/24"), "dev", "eth0"]);
        in_ns(&["ip", "link", "set", "eth0", "up"]);
        in_ns(&["ip", "link", "set", "lo", "up"]);
        in_ns(&[
            "ip",
            "route",
            "add",
            "default",
            "via",
            &format!("10.200.{net}.1"),
        ]);
        let dir = backend
            ._root
            .path()
            .to_str()
            .expect("utf-8 path")
            .to_string();
        backend.httpd = Some(
            Command::new("ip")
                .args([
                    "netns", "exec", &netns, "busybox", "httpd", "-f", "-p", "8080", "-h", &dir,
                ])
                .stdout(Stdio::null())
                .spawn()
                .expect("start httpd"),
        );
        backend
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        if let Some(mut httpd) = self.httpd.take() {
            let _ = httpd.kill();
            let _ = httpd.wait();
        }
        let _ = Command::new("ip")
            .args(["link", "del", &self.host_link])
            .output();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.netns])
            .output();
    }
}

/// Deletes the table even when a test fails before the proxy stops.
struct TableGuard(String);

impl Drop for TableGuard {
    fn drop(&mut self) {
        let _ = Command::new("nft")
            .args(["delete", "table", "ip", &self.0])
            .output();
    }
}

fn table_exists(table: &str) -> bool {
    Command::new("nft")
        .args(["list", "table", "ip", table])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// What an HTTP GET to `addr` answered: the body, or the connect error.
async fn get(addr: SocketAddr) -> std::io::Result<String> {
    let mut stream = tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(addr))
        .await
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))??;
    stream.write_all(b"GET / HTTP/1.0\r\n\r\n").await?;
    let mut response = String::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_string(&mut response))
        .await
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))??;
    Ok(response.rsplit("\r\n\r\n").next().unwrap_or("").to_string())
}

/// Waits until a GET to `addr` gives a body.
async fn wait_for_answer(addr: SocketAddr) -> String {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        match get(addr).await {
            Ok(body) if !body.is_empty() => return body,
            other => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "{addr} never answered: {other:?}"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

async fn create_service(
    api: &TestApiserver,
    name: &str,
    spec: serde_json::Value,
    backends: &[&Backend],
) {
    let client = api.client().await;
    let services: Api<Service> = Api::namespaced(client.clone(), "default");
    let svc: Service = serde_json::from_value(json!({
        "metadata": {"name": name}, "spec": spec,
    }))
    .expect("service");
    services
        .create(&PostParams::default(), &svc)
        .await
        .expect("create service");
    let endpoints: Vec<_> = backends
        .iter()
        .map(|b| json!({"addresses": [b.ip.to_string()], "conditions": {"ready": true}}))
        .collect();
    let slice: EndpointSlice = serde_json::from_value(json!({
        "metadata": {"name": format!("{name}-1"), "labels": {"kubernetes.io/service-name": name}},
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
        "endpoints": endpoints,
    }))
    .expect("slice");
    Api::<EndpointSlice>::namespaced(client, "default")
        .create(&PostParams::default(), &slice)
        .await
        .expect("create slice");
}

/// A running proxy on its own table; stopped with [`Proxy::stop`].
struct Proxy {
    table: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<rkube_proxy::Result<()>>,
    _guard: TableGuard,
}

impl Proxy {
    async fn start(api: &TestApiserver, test: &str) -> Proxy {
        let table = format!("rkp-{test}-{}", std::process::id());
        let options = ProxyOptions::default()
            .table(table.clone())
            .cluster_cidr("10.42.0.0/16".parse().expect("cidr"))
            .min_sync_period(Duration::from_millis(10));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let client = api.client().await;
        let task = tokio::spawn(rkube_proxy::run_with(
            client,
            options,
            Arc::new(rkube_proxy::nftables::NftCommand::default()),
            Arc::new(Metrics::default()),
            async {
                let _ = stopped.await;
            },
        ));
        Proxy {
            _guard: TableGuard(table.clone()),
            table,
            stop: Some(stop),
            task,
        }
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let outcome = tokio::time::timeout(DEADLINE, &mut self.task)
            .await
            .expect("the proxy did not stop; is its shutdown future polled?");
        outcome.expect("proxy task").expect("proxy run");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_ips_spread_node_ports_answer_on_loopback_and_empty_services_refuse() {
    let a = Backend::start(11);
    let b = Backend::start(12);
    wait_for_answer(SocketAddr::from((a.ip, 8080))).await;
    wait_for_answer(SocketAddr::from((b.ip, 8080))).await;
    let api = TestApiserver::start();
    create_service(
        &api,
        "web",
        json!({"type": "NodePort", "clusterIP": "10.43.211.10",
               "ports": [{"name": "http", "port": 80, "targetPort": 8080, "nodePort": 31811}]}),
        &[&a, &b],
    )
    .await;
    create_service(
        &api,
        "empty",
        json!({"clusterIP": "10.43.211.11", "ports": [{"name": "http", "port": 80}]}),
        &[],
    )
    .await;
    let proxy = Proxy::start(&api, "spread").await;

    let cluster_ip = SocketAddr::from(([10, 43, 211, 10], 80));
    wait_for_answer(cluster_ip).await;
    let mut seen = BTreeSet::new();
    for _ in 0..60 {
        seen.insert(get(cluster_ip).await.expect("the ClusterIP answers"));
        if seen.len() == 2 {
            break;
        }
    }
    assert_eq!(
        seen,
        BTreeSet::from(["backend-11".to_string(), "backend-12".to_string()]),
        "60 tries should reach both backends"
    );

    let body = wait_for_answer(SocketAddr::from(([127, 0, 0, 1], 31811))).await;
    assert!(
        body.starts_with("backend-1"),
        "NodePort on loopback answered {body:?}"
    );

    let refused = get(SocketAddr::from(([10, 43, 211, 11], 80))).await;
    assert_eq!(
        refused.as_ref().map_err(std::io::Error::kind).err(),
        Some(std::io::ErrorKind::ConnectionRefused),
        "a Service without endpoints refuses: {refused:?}"
    );

    let table = proxy.table.clone();
    assert!(table_exists(&table));
    proxy.stop().await;
    assert!(!table_exists(&table), "the table is removed on shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_ip_affinity_pins_a_client_to_one_backend() {
    let a = Backend::start(21);
    let b = Backend::start(22);
    wait_for_answer(SocketAddr::from((a.ip, 8080))).await;
    wait_for_answer(SocketAddr::from((b.ip, 8080))).await;
    let api = TestApiserver::start();
    create_service(
        &api,
        "sticky",
        json!({"clusterIP": "10.43.221.10", "sessionAffinity": "ClientIP",
               "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 600}},
               "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}),
        &[&a, &b],
    )
    .await;
    let proxy = Proxy::start(&api, "affinity").await;
    let cluster_ip = SocketAddr::from(([10, 43, 221, 10], 80));
    let first = wait_for_answer(cluster_ip).await;
    for _ in 0..20 {
        assert_eq!(
            get(cluster_ip).await.expect("answers"),
            first,
            "affinity pins the client"
        );
    }
    proxy.stop().await;
}
