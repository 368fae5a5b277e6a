//! An apiserver running in this process over an embedded store in a temp
//! dir, for integration tests of the components that talk to it (scheduler,
//! controllers, kubelet, proxy, DNS): real HTTPS, real kubectl, and a kube-rs
//! client from the admin kubeconfig.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

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

use crate::KUBECTL;

/// How long one kubectl command may take.
pub const KUBECTL_DEADLINE: Duration = Duration::from_secs(60);

/// A running apiserver on its own runtime thread; stopped on drop.
pub struct TestApiserver {
    /// The temp dir holding the store, certificates and kubeconfig.
    pub dir: tempfile::TempDir,
    /// Where it listens.
    pub addr: SocketAddr,
    /// The admin kubeconfig.
    pub kubeconfig: PathBuf,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl TestApiserver {
    /// Starts a server with the built-in catalog and an empty store.
    pub fn start() -> TestApiserver {
        Self::start_with(|c| c)
    }

    /// Starts a server after `adjust` changed its config.
    pub fn start_with(adjust: impl FnOnce(Config) -> Config + Send + 'static) -> TestApiserver {
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
            .recv_timeout(Duration::from_secs(180))
            .expect("apiserver did not start within 180s");
        TestApiserver {
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

    /// The repository's `examples/`: the manifests users apply (README Quickstart).
    pub fn examples_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
    }

    /// A kube-rs client authenticated with the admin certificate.
    pub async fn client(&self) -> kube::Client {
        crate::kube_client(&self.kubeconfig)
            .await
            .expect("kube client from the admin kubeconfig")
    }

    /// The temp dir holding the store, certificates and kubeconfig.
    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for TestApiserver {
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
