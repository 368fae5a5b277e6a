//! The README's Quickstart, end to end: one `rkube server` (apiserver,
//! scheduler, controllers, kubelet on its own containerd, proxy, DNS) driven
//! by the real kubectl, with the offline images, on the embedded store and on
//! a real etcd. Needs root and the packages of scripts/install-deps.sh, as CI
//! has.
//!
//! Both tests run a whole node on this machine (its hostname as node name,
//! the `rkube0` bridge, the `rkube-proxy` nftables table, DNS on the node IP),
//! so they take turns through [`ONE_NODE_AT_A_TIME`].

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use rkube_testkit::{EtcdProcess, KillOnDrop, RkubeServer};

mod support;
use support::{ok, test_images, wait_for};

const RKUBE: &str = env!("CARGO_BIN_EXE_rkube");
const ROLLOUT_TIMEOUT: &str = "--timeout=180s";

/// Held by each test for its whole run: one node per machine.
static ONE_NODE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

/// Names of the pods with `selector` that are Running, Ready and not terminating.
fn ready_pods(server: &RkubeServer, selector: &str) -> Vec<String> {
    support::ready_pods(server, selector)
        .into_iter()
        .map(|p| p.name)
        .collect()
}

/// `GET path` on `addr` from this host (no proxy in between but the node's
/// nftables rules); the body on a 200.
fn http_get(addr: &str, path: &str) -> Option<String> {
    let timeout = Duration::from_secs(3);
    let mut stream = TcpStream::connect_timeout(&addr.parse().ok()?, timeout).ok()?;
    stream.set_read_timeout(Some(timeout)).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?;
    (status == "200").then(|| body.to_owned())
}

/// Whether the proxy's nftables table exists on this machine.
fn proxy_table_exists() -> bool {
    let out = Command::new("nft")
        .args(["list", "tables"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).contains("rkube-proxy")
}

#[test]
fn the_quickstart_runs_on_a_single_node_cluster() {
    let _node = ONE_NODE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let server = RkubeServer::start(RKUBE, &[]).unwrap();
    quickstart(server);
}

#[test]
fn the_quickstart_runs_on_an_etcd_backed_cluster() {
    let _node = ONE_NODE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let etcd = EtcdProcess::start().unwrap();
    let datastore = etcd
        .endpoint()
        .replace("http://", "--datastore-endpoint=etcd://");
    let server = RkubeServer::start(RKUBE, &[&datastore]).unwrap();
    quickstart(server);
}

/// The Quickstart's steps on `server`, asserting what a user would see.
fn quickstart(mut server: RkubeServer) {
    let images = test_images();
    let data_dir = server.data_dir();

    // The node registers and turns Ready; its images are imported.
    let node = wait_for(&server, "a Ready node", Duration::from_secs(120), || {
        support::ready_nodes(&server).into_iter().next()
    });
    let import = Command::new(RKUBE)
        .args(["image", "import", "--data-dir"])
        .arg(&data_dir)
        .arg(images.join("busybox-1.35.tar"))
        .arg(images.join("pause-3.10.tar"))
        .output()
        .unwrap();
    assert!(
        import.status.success(),
        "{}",
        String::from_utf8_lossy(&import.stderr)
    );

    // Apply the web Deployment + Service and the labelled pods.
    let web = examples().join("web-deployment.yaml");
    let labels = examples().join("labels.yaml");
    let out = ok(
        &server,
        &[
            "apply",
            "-f",
            web.to_str().unwrap(),
            "-f",
            labels.to_str().unwrap(),
        ],
    );
    assert!(out.contains("deployment.apps/web created"), "{out}");
    ok(
        &server,
        &["rollout", "status", "deployment/web", ROLLOUT_TIMEOUT],
    );
    let wide = ok(&server, &["get", "pods", "-l", "app=web", "-o", "wide"]);
    assert_eq!(
        wide.lines()
            .filter(|l| l.contains("Running") && l.contains(&node))
            .count(),
        3,
        "{wide}"
    );

    // Set-based selectors.
    let selected = ok(
        &server,
        &[
            "get",
            "pods",
            "-l",
            "environment in (production, qa)",
            "-o",
            "name",
        ],
    );
    assert!(
        selected.contains("pod/frontend-prod") && selected.contains("pod/frontend-qa"),
        "{selected}"
    );
    assert!(!selected.contains("backend-dev"), "{selected}");

    // The Service answers from a pod, by DNS name, through the proxy.
    let client = r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"curl"},"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"docker.io/library/busybox:1.35","command":["sh","-c","for i in $(seq 1 30); do timeout 2 wget -qO- http://web.default.svc.cluster.local/index.html | grep -q 'hello from web-' && exit 0; sleep 1; done; exit 1"]}]}}"#;
    let manifest = data_dir.join("curl.json");
    std::fs::write(&manifest, client).unwrap();
    ok(&server, &["apply", "-f", manifest.to_str().unwrap()]);
    let phase = wait_for(
        &server,
        "the curl pod to finish",
        Duration::from_secs(120),
        || {
            let phase = ok(
                &server,
                &["get", "pod", "curl", "-o", "jsonpath={.status.phase}"],
            );
            (phase == "Succeeded" || phase == "Failed").then_some(phase)
        },
    );
    assert_eq!(
        phase, "Succeeded",
        "the web Service did not answer from a pod"
    );

    // kubectl logs, exec (with stdin) and port-forward reach the pods
    // through the apiserver and the kubelet's API.
    let printer = r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"printer"},"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"docker.io/library/busybox:1.35","command":["sh","-c","for i in 1 2 3; do echo line $i; done"]}]}}"#;
    let manifest = data_dir.join("printer.json");
    std::fs::write(&manifest, printer).unwrap();
    ok(&server, &["apply", "-f", manifest.to_str().unwrap()]);
    wait_for(
        &server,
        "the printer pod to finish",
        Duration::from_secs(120),
        || {
            let phase = ok(
                &server,
                &["get", "pod", "printer", "-o", "jsonpath={.status.phase}"],
            );
            (phase == "Succeeded").then_some(())
        },
    );
    assert_eq!(
        ok(&server, &["logs", "printer"]),
        "line 1\nline 2\nline 3\n"
    );
    assert_eq!(ok(&server, &["logs", "printer", "--tail=1"]), "line 3\n");
    let web_pod = ready_pods(&server, "app=web")[0].clone();
    assert_eq!(
        ok(&server, &["exec", &web_pod, "--", "hostname"]).trim(),
        web_pod
    );
    let echoed = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(server.kubeconfig())
        .args(["exec", "-i", &web_pod, "--", "cat"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            child.stdin.take().unwrap().write_all(b"through stdin\n")?;
            child.wait_with_output()
        })
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&echoed.stdout), "through stdin\n");
    let missing = server.kubectl(["logs", &web_pod, "-c", "nope"]).unwrap();
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("container nope is not valid"),
        "{missing:?}"
    );
    let local_port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let _forward = KillOnDrop(
        Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(server.kubeconfig())
            .args([
                "port-forward",
                &format!("pod/{web_pod}"),
                &format!("{local_port}:8080"),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let forwarded = format!("127.0.0.1:{local_port}");
    let body = wait_for(
        &server,
        "kubectl port-forward",
        Duration::from_secs(60),
        || http_get(&forwarded, "/index.html"),
    );
    assert_eq!(body.trim(), format!("hello from {web_pod}"));

    // Scale to 5.
    ok(&server, &["scale", "deployment/web", "--replicas=5"]);
    ok(
        &server,
        &["rollout", "status", "deployment/web", ROLLOUT_TIMEOUT],
    );
    assert_eq!(ready_pods(&server, "app=web").len(), 5);

    // Roll out a new version, then undo it.
    ok(&server, &["set", "env", "deployment/web", "VERSION=2"]);
    ok(
        &server,
        &["rollout", "status", "deployment/web", ROLLOUT_TIMEOUT],
    );
    let history = ok(&server, &["rollout", "history", "deployment/web"]);
    assert!(history.contains('2'), "{history}");
    ok(&server, &["rollout", "undo", "deployment/web"]);
    ok(
        &server,
        &["rollout", "status", "deployment/web", ROLLOUT_TIMEOUT],
    );
    let env = ok(
        &server,
        &[
            "get",
            "deployment",
            "web",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].env}",
        ],
    );
    assert!(
        !env.contains("VERSION"),
        "undo kept the new template: {env}"
    );

    // Kill a pod: a replacement comes back.
    let before = ready_pods(&server, "app=web");
    let victim = before[0].clone();
    ok(
        &server,
        &["delete", "pod", &victim, "--wait=true", "--timeout=120s"],
    );
    wait_for(
        &server,
        "a replacement pod",
        Duration::from_secs(180),
        || {
            let now = ready_pods(&server, "app=web");
            (now.len() == 5 && !now.contains(&victim)).then_some(())
        },
    );

    // The Service through a NodePort, from this host: on the node's IP and on
    // 127.0.0.1 (route_localnet, as upstream's kube-proxy).
    ok(
        &server,
        &[
            "expose",
            "deployment",
            "web",
            "--type=NodePort",
            "--name=web-nodeport",
            "--port=80",
            "--target-port=http",
        ],
    );
    let node_port = ok(
        &server,
        &[
            "get",
            "service",
            "web-nodeport",
            "-o",
            "jsonpath={.spec.ports[0].nodePort}",
        ],
    );
    let node_ip = ok(
        &server,
        &[
            "get",
            "node",
            &node,
            "-o",
            r#"jsonpath={.status.addresses[?(@.type=="InternalIP")].address}"#,
        ],
    );
    for host in [node_ip.as_str(), "127.0.0.1"] {
        let addr = format!("{host}:{node_port}");
        let body = wait_for(
            &server,
            &format!("the NodePort on {addr}"),
            Duration::from_secs(60),
            || http_get(&addr, "/index.html"),
        );
        assert!(body.contains("hello from web-"), "{addr}: {body}");
    }

    // Ctrl-C stops everything cleanly; starting again resumes the cluster
    // with its workloads.
    let status = server.stop().unwrap();
    assert!(status.success(), "rkube server exited with {status}");
    assert!(
        !proxy_table_exists(),
        "the proxy left its nftables table behind"
    );
    server.restart().unwrap();
    ok(
        &server,
        &["rollout", "status", "deployment/web", ROLLOUT_TIMEOUT],
    );
    let addr = format!("127.0.0.1:{node_port}");
    wait_for(
        &server,
        "the NodePort after a restart",
        Duration::from_secs(120),
        || http_get(&addr, "/index.html").filter(|body| body.contains("hello from web-")),
    );
    wait_for(
        &server,
        "5 ready pods after a restart",
        Duration::from_secs(120),
        || (ready_pods(&server, "app=web").len() == 5).then_some(()),
    );

    // Everything in a namespace goes away with it.
    ok(&server, &["create", "namespace", "scratch"]);
    ok(
        &server,
        &[
            "create",
            "deployment",
            "tmp",
            "-n",
            "scratch",
            "--image=docker.io/library/busybox:1.35",
            "--",
            "sleep",
            "3600",
        ],
    );
    ok(
        &server,
        &[
            "rollout",
            "status",
            "deployment/tmp",
            "-n",
            "scratch",
            ROLLOUT_TIMEOUT,
        ],
    );
    ok(
        &server,
        &[
            "delete",
            "namespace",
            "scratch",
            "--wait=true",
            "--timeout=180s",
        ],
    );
    let gone = server.kubectl(["get", "namespace", "scratch"]).unwrap();
    assert!(!gone.status.success(), "the namespace is still there");
}
