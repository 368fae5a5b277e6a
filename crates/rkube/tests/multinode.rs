//! Three real nodes on one machine: network namespaces on a bridge
//! (testkit's [`NetnsLab`]), each running `rkube agent` with its own
//! containerd, joined with the server's token to one `rkube server` in the
//! root namespace. Pods on different nodes reach each other by pod IP and
//! see each other's own addresses (no NAT); a Service answers from pods on
//! every node; a node cut off from the network goes NotReady, its pods are
//! recreated on the other two, and the Service keeps answering. Needs root
//! and the packages of scripts/install-deps.sh, as CI has.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use rkube_kubelet::network::routes::ROUTE_PROTOCOL;
use rkube_testkit::{NetnsLab, RkubeServer, StopOnDrop};
use tempfile::TempDir;

mod support;
use support::{ok, pods_and_log, ready_nodes, ready_pods, tail, test_images, wait_until, ReadyPod};

const RKUBE: &str = env!("CARGO_BIN_EXE_rkube");

/// The lab's name (bridge, namespaces `rkmn-0`…, links `rkmnv0`…) and its
/// network, 10.201.61.0/24: this test's own, removed by the next run if a
/// killed one left it behind.
const LAB: &str = "rkmn";
const LAB_OCTET: u8 = 61;
const NODES: usize = 3;

/// Echo pods answer `GET /cgi-bin/ip` with the caller's address, one per
/// node (spread by hostname); client pods are pinned, one per node. Both
/// tolerate an unreachable node for 2 s only, so the test need not wait
/// upstream's default 300 s for the eviction.
const WORKLOADS: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: echo}
spec:
  replicas: 3
  selector: {matchLabels: {app: echo}}
  template:
    metadata: {labels: {app: echo}}
    spec:
      terminationGracePeriodSeconds: 1
      topologySpreadConstraints:
      - maxSkew: 1
        topologyKey: kubernetes.io/hostname
        whenUnsatisfiable: DoNotSchedule
        nodeTaintsPolicy: Honor
        labelSelector: {matchLabels: {app: echo}}
      tolerations:
      - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 2}
      - {key: node.kubernetes.io/not-ready, operator: Exists, effect: NoExecute, tolerationSeconds: 2}
      containers:
      - name: echo
        image: docker.io/library/busybox:1.35
        imagePullPolicy: Never
        command:
        - sh
        - -c
        - |
          mkdir -p /www/cgi-bin
          printf '#!/bin/sh\necho Content-Type: text/plain\necho\necho $REMOTE_ADDR\n' > /www/cgi-bin/ip
          chmod +x /www/cgi-bin/ip
          exec httpd -f -p 8080 -h /www
        readinessProbe:
          httpGet: {path: /cgi-bin/ip, port: 8080}
          periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata: {name: echo}
spec:
  selector: {app: echo}
  ports: [{port: 80, targetPort: 8080}]
"#;

fn node_name(index: usize) -> String {
    format!("mn-{index}")
}

fn client_pod(index: usize) -> String {
    format!(
        r#"
---
apiVersion: v1
kind: Pod
metadata: {{name: client-{index}, labels: {{app: client}}}}
spec:
  nodeName: {node}
  terminationGracePeriodSeconds: 1
  containers:
  - name: client
    image: docker.io/library/busybox:1.35
    imagePullPolicy: Never
    command: [sh, -c, "trap 'exit 0' TERM; sleep 3600 & wait"]
"#,
        node = node_name(index)
    )
}

/// One node: `rkube agent` inside a lab host, stopped with SIGTERM on drop.
struct Agent {
    process: StopOnDrop,
    dir: TempDir,
}

impl Agent {
    fn start(
        lab: &NetnsLab,
        index: usize,
        server: &RkubeServer,
        token: &str,
        images: &Path,
    ) -> Agent {
        let dir = tempfile::Builder::new()
            .prefix("rkube-agent-")
            .tempdir()
            .unwrap();
        // Imported at the agent's start: no registry in the lab.
        let image_dir = dir.path().join("agent").join("images");
        std::fs::create_dir_all(&image_dir).unwrap();
        for image in ["busybox-1.35.tar", "pause-3.10.tar"] {
            std::fs::copy(images.join(image), image_dir.join(image)).unwrap();
        }
        let log = std::fs::File::create(dir.path().join("agent.log")).unwrap();
        let process = lab
            .command(index, RKUBE)
            .args(["agent", "--server", &server.url(), "--token", token])
            .args(["--node-name", &node_name(index), "--data-dir"])
            .arg(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        Agent {
            process: StopOnDrop(process),
            dir,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("agent.log")).unwrap_or_default()
    }
}

/// The cluster under test, for waiting and for failure reports.
struct Cluster<'a> {
    lab: &'a NetnsLab,
    server: &'a RkubeServer,
    agents: &'a [Agent],
}

impl Cluster<'_> {
    fn diagnose(&self) -> String {
        let mut report = pods_and_log(self.server);
        let nodes = self
            .server
            .kubectl(["get", "nodes", "-o", "wide"])
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        report.push_str(&format!("\n--- nodes ---\n{nodes}"));
        for (i, agent) in self.agents.iter().enumerate() {
            report.push_str(&format!(
                "\n--- agent {i} (pid {}) log (tail) ---\n{}",
                agent.process.0.id(),
                tail(&agent.log(), 40)
            ));
        }
        report
    }

    fn wait<T>(&self, what: &str, secs: u64, probe: impl Fn() -> Option<T>) -> T {
        wait_until(what, Duration::from_secs(secs), || self.diagnose(), probe)
    }

    /// What `pod` gets from `url` (busybox wget under a timeout, as
    /// RUNTIME-NOTES.md advises), or None if the request failed.
    fn fetch(&self, pod: &str, url: &str) -> Option<String> {
        let out = self
            .server
            .kubectl(["exec", pod, "--", "timeout", "5", "wget", "-qO-", url])
            .unwrap();
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The routes rkube installed on lab host `index`.
    fn routes(&self, index: usize) -> Vec<String> {
        let out = self
            .lab
            .command(index, "ip")
            .args(["-4", "route", "show", "proto"])
            .arg(ROUTE_PROTOCOL.to_string())
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

/// busybox httpd's REMOTE_ADDR, `[::ffff:10.42.1.5]`, as a plain IPv4 address.
fn remote_addr(body: &str) -> String {
    let addr = body.trim().trim_start_matches('[').trim_end_matches(']');
    addr.trim_start_matches("::ffff:").to_owned()
}

fn write_manifest(dir: &Path) -> PathBuf {
    let mut manifest = WORKLOADS.to_owned();
    for i in 0..NODES {
        manifest.push_str(&client_pod(i));
    }
    let path = dir.join("workloads.yaml");
    std::fs::write(&path, manifest).unwrap();
    path
}

#[test]
fn pods_on_three_nodes_share_one_flat_network_and_survive_a_lost_node() {
    // Declared in this order so that drops run agents → server → lab.
    let lab = NetnsLab::create(LAB, LAB_OCTET, NODES).unwrap();
    let server = RkubeServer::start_at(
        RKUBE,
        lab.gateway().into(),
        &["--disable-agent", "--disable-proxy"],
    )
    .unwrap();
    let token = std::fs::read_to_string(server.data_dir().join("token")).unwrap();
    let images = test_images();
    let agents: Vec<Agent> = (0..NODES)
        .map(|i| Agent::start(&lab, i, &server, token.trim(), &images))
        .collect();
    let cluster = Cluster {
        lab: &lab,
        server: &server,
        agents: &agents,
    };

    // Three Ready nodes, each with its own pod CIDR and a route to each
    // other node's pods via that node's lab address.
    cluster.wait(&format!("{NODES} Ready nodes"), 240, || {
        (ready_nodes(&server).len() == NODES).then_some(())
    });
    let cidrs = ok(
        &server,
        &["get", "nodes", "-o", "jsonpath={.items[*].spec.podCIDR}"],
    );
    let cidrs: BTreeSet<&str> = cidrs.split_whitespace().collect();
    assert_eq!(cidrs.len(), NODES, "{cidrs:?}");
    for i in 0..NODES {
        let routes = cluster.wait(&format!("routes on node {i}"), 60, || {
            let routes = cluster.routes(i);
            (routes.len() == NODES - 1).then_some(routes)
        });
        for (j, other) in lab.hosts().iter().enumerate().filter(|(j, _)| *j != i) {
            assert!(
                routes
                    .iter()
                    .any(|r| r.contains(&format!("via {}", other.ip))),
                "node {i} has no route via node {j}: {routes:?}"
            );
        }
    }

    // An echo pod on every node and a client pod on every node.
    let manifest = write_manifest(server.data_dir().as_path());
    ok(&server, &["apply", "-f", manifest.to_str().unwrap()]);
    let echoes = cluster.wait("an echo pod Ready on every node", 240, || {
        let pods = ready_pods(&server, "app=echo");
        let nodes: BTreeSet<&String> = pods.iter().map(|p| &p.node).collect();
        (pods.len() == NODES && nodes.len() == NODES).then_some(pods)
    });
    let clients = cluster.wait("a client pod Ready on every node", 120, || {
        let pods = ready_pods(&server, "app=client");
        (pods.len() == NODES).then_some(pods)
    });

    // Every client reaches every echo pod by its pod IP, on its own node and
    // across nodes, and is seen with its own pod IP: no NAT between pods.
    for ReadyPod {
        name: client,
        node: client_node,
        ip: client_ip,
    } in &clients
    {
        for ReadyPod {
            name: echo,
            node: echo_node,
            ip: echo_ip,
        } in &echoes
        {
            let url = format!("http://{echo_ip}:8080/cgi-bin/ip");
            let body = cluster.wait(
                &format!("{client} ({client_node}) → {echo} ({echo_node}) by pod IP"),
                30,
                || cluster.fetch(client, &url),
            );
            assert_eq!(
                remote_addr(&body),
                *client_ip,
                "{echo} saw {client} as {body:?}"
            );
        }
    }

    // The Service, by name through cluster DNS, answers from every node, and
    // also sees the client's own address.
    for ReadyPod {
        name: client,
        node: client_node,
        ip: client_ip,
    } in &clients
    {
        let body = cluster.wait(
            &format!("{client} ({client_node}) → Service echo"),
            60,
            || cluster.fetch(client, "http://echo/cgi-bin/ip"),
        );
        assert_eq!(remote_addr(&body), *client_ip, "through the Service");
    }

    // Cut the last node off: it goes NotReady, its echo pod is recreated on
    // the other two, and the Service keeps answering there.
    let lost = NODES - 1;
    lab.set_link(lost, false).unwrap();
    let lost_node = node_name(lost);
    cluster.wait(&format!("{lost_node} not Ready"), 180, || {
        let status = ok(
            &server,
            &[
                "get",
                "node",
                &lost_node,
                "-o",
                r#"jsonpath={.status.conditions[?(@.type=="Ready")].status}"#,
            ],
        );
        (status.trim() != "True").then_some(())
    });
    cluster.wait("3 echo pods Ready on the remaining nodes", 240, || {
        let pods = ready_pods(&server, "app=echo");
        (pods.len() == NODES && pods.iter().all(|p| p.node != lost_node)).then_some(())
    });
    for ReadyPod {
        name: client,
        node: client_node,
        ..
    } in clients.iter().filter(|p| p.node != lost_node)
    {
        cluster.wait(
            &format!("{client} ({client_node}) → Service echo without {lost_node}"),
            60,
            || cluster.fetch(client, "http://echo/cgi-bin/ip"),
        );
    }
    // Back on the network, so that its agent can stop its pods cleanly.
    lab.set_link(lost, true).unwrap();
}
