//! What the binary's end-to-end tests share: kubectl that must succeed,
//! waiting on conditions under deadlines, and the offline images.

#![allow(dead_code)] // each test binary uses its own part

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use rkube_testkit::RkubeServer;

/// kubectl `args` against `server`; its stdout, or a failed test with the
/// server's log.
pub fn ok(server: &RkubeServer, args: &[&str]) -> String {
    let out: Output = server.kubectl(args).unwrap();
    assert!(
        out.status.success(),
        "kubectl {args:?} failed: {}\n{}\n--- server log (tail) ---\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout),
        tail(&server.log(), 80),
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The last `lines` lines of `text`.
pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Polls `probe` until it returns Some, or fails the test after `deadline`
/// with `diagnose()`'s account of the cluster.
pub fn wait_until<T>(
    what: &str,
    deadline: Duration,
    diagnose: impl Fn() -> String,
    probe: impl Fn() -> Option<T>,
) -> T {
    let end = Instant::now() + deadline;
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(
            Instant::now() < end,
            "timed out waiting for {what}\n{}",
            diagnose()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// [`wait_until`], reporting the pods and the server's log.
pub fn wait_for<T>(
    server: &RkubeServer,
    what: &str,
    deadline: Duration,
    probe: impl Fn() -> Option<T>,
) -> T {
    wait_until(what, deadline, || pods_and_log(server), probe)
}

/// Every pod and the tail of the server's log.
pub fn pods_and_log(server: &RkubeServer) -> String {
    let pods = server
        .kubectl(["get", "pods", "-A", "-o", "wide"])
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    format!(
        "--- pods ---\n{pods}\n--- server log (tail) ---\n{}",
        tail(&server.log(), 120)
    )
}

/// The names of the nodes whose Ready condition is True.
pub fn ready_nodes(server: &RkubeServer) -> Vec<String> {
    let out = ok(
        server,
        &[
            "get",
            "nodes",
            "-o",
            r#"jsonpath={range .items[*]}{.metadata.name} {.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}"#,
        ],
    );
    out.lines()
        .filter_map(|l| l.strip_suffix(" True").map(str::to_owned))
        .collect()
}

/// A pod that is Running, Ready and not terminating.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadyPod {
    /// Its name.
    pub name: String,
    /// The node it runs on.
    pub node: String,
    /// Its IP.
    pub ip: String,
}

/// The pods with `selector` (in the default namespace) that are Running,
/// Ready and not terminating.
pub fn ready_pods(server: &RkubeServer, selector: &str) -> Vec<ReadyPod> {
    let out = ok(
        server,
        &[
            "get",
            "pods",
            "-l",
            selector,
            "-o",
            r#"jsonpath={range .items[*]}{.metadata.name} {.spec.nodeName} {.status.podIP} {.status.phase} {.status.conditions[?(@.type=="Ready")].status} {.metadata.deletionTimestamp}{"\n"}{end}"#,
        ],
    );
    out.lines()
        .filter_map(|l| match l.split_whitespace().collect::<Vec<_>>()[..] {
            [name, node, ip, "Running", "True"] => Some(ReadyPod {
                name: name.to_owned(),
                node: node.to_owned(),
                ip: ip.to_owned(),
            }),
            _ => None,
        })
        .collect()
}

/// Builds the offline images once per run (scripts/build-test-images.sh).
pub fn test_images() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("quickstart-images");
    if !dir.join("busybox-1.35.tar").exists() {
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/build-test-images.sh");
        let status = Command::new("bash").arg(script).arg(&dir).status().unwrap();
        assert!(status.success(), "build-test-images.sh failed");
    }
    dir
}
