//! Shared helpers for tests that drive a real apiserver: start one on
//! 127.0.0.1:0 over an embedded store in a temp dir, run the real kubectl
//! against it with deadlines, and speak raw HTTPS to it.
//!
//! Later component tests reuse this module (`#[path]` include or copy of
//! the include line), so it depends only on the public API.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rkube_api::Catalog;
use rkube_apiserver::Config;
use rkube_store::embedded::{EmbeddedOptions, EmbeddedStore};

/// The real kubectl.
pub const KUBECTL: &str = "/usr/bin/kubectl";

/// How long one kubectl command may take.
pub const KUBECTL_DEADLINE: Duration = Duration::from_secs(60);

/// A running apiserver on its own runtime thread; stopped on drop.
pub struct TestServer {
    /// The temp dir holding the store, certificates and kubeconfig.
    pub dir: tempfile::TempDir,
    /// Where it listens.
    pub addr: SocketAddr,
    /// The admin kubeconfig.
    pub kubeconfig: PathBuf,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl TestServer {
    /// Starts a server with the built-in catalog and an empty store.
    pub fn start() -> TestServer {
        Self::start_with(|c| c)
    }

    /// Starts a server after `adjust` changed its config.
    pub fn start_with(adjust: impl FnOnce(Config) -> Config + Send + 'static) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let data_dir = dir.path().to_path_buf();
        let (ready_tx, ready_rx) = mpsc::channel();
        let (shutdown_tx, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                std::fs::create_dir_all(data_dir.join("db")).expect("store dir");
                let store = EmbeddedStore::open(data_dir.join("db"), EmbeddedOptions::default())
                    .expect("open store");
                let config = adjust(
                    Config::new(&data_dir, Arc::new(store), Arc::new(Catalog::builtin()))
                        .bind(SocketAddr::from(([127, 0, 0, 1], 0))),
                );
                let server = rkube_apiserver::bind(config).await.expect("bind apiserver");
                let _ =
                    ready_tx.send((server.local_addr(), server.kubeconfig_path().to_path_buf()));
                server
                    .run(async {
                        let _ = shutdown_rx.await;
                    })
                    .await
                    .expect("serve");
            });
        });
        let (addr, kubeconfig) = ready_rx
            .recv_timeout(Duration::from_secs(60))
            .expect("apiserver did not start within 60s");
        TestServer {
            dir,
            addr,
            kubeconfig,
            shutdown: Some(shutdown_tx),
            thread: Some(thread),
        }
    }

    /// `kubectl --kubeconfig … args`, with a deadline.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        self.kubectl_stdin(args, None)
    }

    /// kubectl with `stdin` piped in.
    pub fn kubectl_stdin(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = Command::new(KUBECTL);
        cmd.arg("--kubeconfig").arg(&self.kubeconfig).args(args);
        cmd.env("HOME", self.dir.path());
        cmd.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = KillOnDrop(cmd.spawn().expect("spawn kubectl"));
        if let (Some(input), Some(mut pipe)) = (stdin, child.0.stdin.take()) {
            use std::io::Write;
            pipe.write_all(input.as_bytes())
                .expect("write kubectl stdin");
        }
        wait_output(child, KUBECTL_DEADLINE, args)
    }

    /// kubectl that must succeed; returns stdout.
    pub fn kubectl_ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Starts a long-running kubectl (e.g. `get -w`) whose stdout lines
    /// arrive on the returned receiver; killed on drop.
    pub fn kubectl_stream(&self, args: &[&str]) -> (KillOnDrop, mpsc::Receiver<String>) {
        let mut cmd = Command::new(KUBECTL);
        cmd.arg("--kubeconfig").arg(&self.kubeconfig).args(args);
        cmd.env("HOME", self.dir.path());
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = cmd.spawn().expect("spawn kubectl");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        (KillOnDrop(child), rx)
    }

    /// The directory of the shared examples (beside the repository in CI).
    pub fn examples_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/examples")
    }

    /// A raw HTTPS client trusting the cluster CA; with the admin
    /// certificate when `authenticated`.
    pub fn http(&self, authenticated: Authenticated) -> RawClient {
        RawClient::new(self.dir.path().join("tls"), self.addr, authenticated)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Waits for a line satisfying `pred` within `deadline`.
pub fn wait_for_line(
    rx: &mpsc::Receiver<String>,
    deadline: Duration,
    pred: impl Fn(&str) -> bool,
) -> Result<String, Vec<String>> {
    let end = Instant::now() + deadline;
    let mut seen = Vec::new();
    loop {
        let left = end.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if pred(&line) => return Ok(line),
            Ok(line) => seen.push(line),
            Err(_) => return Err(seen),
        }
    }
}

/// A child process killed when dropped, even if the test panics.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_output(mut child: KillOnDrop, deadline: Duration, args: &[&str]) -> Output {
    let stdout = child.0.stdout.take();
    let stderr = child.0.stderr.take();
    let read = |pipe: Option<std::process::ChildStdout>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                use std::io::Read;
                let _ = p.read_to_end(&mut buf);
            }
            buf
        })
    };
    let out_thread = read(stdout);
    let err_thread = std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut p) = stderr {
            use std::io::Read;
            let _ = p.read_to_end(&mut buf);
        }
        buf
    });
    // The pipes close when the child exits (or is killed at the deadline).
    let (tx, rx) = mpsc::channel();
    let pid = child.0.id();
    std::thread::spawn(move || {
        let out = out_thread.join().unwrap_or_default();
        let err = err_thread.join().unwrap_or_default();
        let _ = tx.send((out, err));
    });
    let (out, err) = match rx.recv_timeout(deadline) {
        Ok(pair) => pair,
        Err(_) => {
            drop(child);
            panic!("kubectl {args:?} (pid {pid}) did not finish within {deadline:?}");
        }
    };
    let status = child.0.wait().expect("wait kubectl");
    Output {
        status,
        stdout: out,
        stderr: err,
    }
}

/// Whether a raw request presents the admin certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authenticated {
    /// With the admin client certificate.
    Admin,
    /// Without credentials.
    Anonymous,
}

/// A minimal HTTPS/1.1 client for raw protocol tests.
pub struct RawClient {
    config: Arc<rustls::ClientConfig>,
    addr: SocketAddr,
}

/// A raw response.
#[derive(Debug)]
pub struct RawResponse {
    /// Status code.
    pub status: u16,
    /// Headers, lower-case names.
    pub headers: Vec<(String, String)>,
    /// Body (de-chunked).
    pub body: Vec<u8>,
}

impl RawResponse {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// A header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

impl RawClient {
    fn new(tls_dir: PathBuf, addr: SocketAddr, auth: Authenticated) -> RawClient {
        let read = |n: &str| std::fs::read(tls_dir.join(n)).expect("read pki file");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        for c in rustls_pemfile::certs(&mut read("ca.crt").as_slice()) {
            roots.add(c.expect("ca pem")).expect("add ca");
        }
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("tls versions")
            .with_root_certificates(roots);
        let config = match auth {
            Authenticated::Admin => {
                let certs = rustls_pemfile::certs(&mut read("admin.crt").as_slice())
                    .collect::<Result<Vec<_>, _>>()
                    .expect("admin cert");
                let key = rustls_pemfile::private_key(&mut read("admin.key").as_slice())
                    .expect("admin key")
                    .expect("a key");
                builder
                    .with_client_auth_cert(certs, key)
                    .expect("client auth")
            }
            Authenticated::Anonymous => builder.with_no_client_auth(),
        };
        RawClient {
            config: Arc::new(config),
            addr,
        }
    }

    /// Sends one request (HTTP/1.1, `Connection: close`) and reads the answer.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> RawResponse {
        use std::io::{Read, Write};
        let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
        let mut conn = rustls::ClientConnection::new(self.config.clone(), name).expect("tls conn");
        let mut tcp = std::net::TcpStream::connect(self.addr).expect("connect");
        tcp.set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        let mut tls = rustls::Stream::new(&mut conn, &mut tcp);
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        tls.write_all(head.as_bytes()).expect("write head");
        tls.write_all(body).expect("write body");
        let mut raw = Vec::new();
        // The server closes after answering; an unclean TLS close is fine here.
        let _ = tls.read_to_end(&mut raw);
        parse_response(&raw)
    }

    /// GET with the admin identity's default headers.
    pub fn get(&self, path: &str) -> RawResponse {
        self.request("GET", path, &[], b"")
    }
}

fn parse_response(raw: &[u8]) -> RawResponse {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("response head");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .expect("status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"))
    {
        body = dechunk(&body);
    }
    RawResponse {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(pos) = data.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&data[..pos]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = pos + 2;
        out.extend_from_slice(&data[start..(start + size).min(data.len())]);
        data = &data[(start + size + 2).min(data.len())..];
    }
    out
}
