//! Joining a node with a bootstrap token, end to end: the real `rkube
//! server` (no agent of its own), `rkube token create`, and `rkube agent
//! --server … --token …` running one simulated node with the identity it
//! got through a CertificateSigningRequest.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use std::path::Path;
use std::process::{Command, Output, Stdio};

use base64::Engine;
use rkube_testkit::{KillOnDrop, RkubeServer};

const RKUBE: &str = env!("CARGO_BIN_EXE_rkube");

/// How long the join may take on a loaded, shared machine (`timeout`'s
/// argument, so that a hung command fails the test instead of hanging it).
const DEADLINE_SECS: &str = "120";

fn ok(server: &RkubeServer, out: Output) -> String {
    assert!(
        out.status.success(),
        "command failed: {}\n--- server log ---\n{}",
        String::from_utf8_lossy(&out.stderr),
        server.log()
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `rkube ARGS` under `timeout`.
fn rkube(args: &[&str]) -> Output {
    Command::new("timeout")
        .arg(DEADLINE_SECS)
        .arg(RKUBE)
        .args(args)
        .output()
        .unwrap()
}

/// The CN of the client certificate a kubeconfig carries.
fn client_common_name(kubeconfig: &Path) -> String {
    let text = std::fs::read_to_string(kubeconfig).unwrap();
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let b64 = doc["users"][0]["user"]["client-certificate-data"]
        .as_str()
        .unwrap();
    let pem = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    let (_, pem) = x509_parser::pem::parse_x509_pem(&pem).unwrap();
    let cert = pem.parse_x509().unwrap();
    let cn = cert.subject().iter_common_name().next().unwrap();
    cn.as_str().unwrap().to_string()
}

/// `rkube agent` joining `url` with `token` as one simulated node
/// `joined-0001`, logging to `<dir>/agent.log`.
fn start_agent(url: &str, token: &str, dir: &Path) -> KillOnDrop {
    let log = std::fs::File::create(dir.join("agent.log")).unwrap();
    KillOnDrop(
        Command::new(RKUBE)
            .args([
                "agent",
                "--server",
                url,
                "--token",
                token,
                "--simulate",
                "1",
                "--node-name-prefix",
                "joined-",
                "--node-name",
                "joined-0001",
                "--data-dir",
                dir.to_str().unwrap(),
            ])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    )
}

/// Waits until the agent in `dir` has registered its node.
fn wait_for_node(server: &RkubeServer, dir: &Path) {
    let waited = server
        .kubectl(["wait", "--for=create", "node/joined-0001", "--timeout=55s"])
        .unwrap();
    assert!(
        waited.status.success(),
        "the node did not appear: {}\n--- agent log ---\n{}\n--- server log ---\n{}",
        String::from_utf8_lossy(&waited.stderr),
        std::fs::read_to_string(dir.join("agent.log")).unwrap_or_default(),
        server.log()
    );
}

#[test]
fn a_node_joins_with_a_token_wrong_tokens_are_refused_and_expired_ones_removed() {
    let server = RkubeServer::start(RKUBE, &["--disable-agent", "--disable-proxy"]).unwrap();
    let data_dir = server.data_dir();
    let kubeconfig = server.kubeconfig();
    let url = format!("https://127.0.0.1:{}", server.port());

    // The server made its own token at first start, readable only by root.
    let server_token = std::fs::read_to_string(data_dir.join("token")).unwrap();
    assert_eq!(server_token.trim().len(), 23, "{server_token:?}");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data_dir.join("token"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let token = ok(
        &server,
        rkube(&[
            "token",
            "create",
            "--ttl",
            "1h",
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
        ]),
    );
    let token = token.trim();
    let listed = ok(
        &server,
        rkube(&[
            "token",
            "list",
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
        ]),
    );
    assert!(listed.contains(token), "{listed}");
    assert!(listed.contains(server_token.trim()), "{listed}");

    // A token past its TTL is removed by the controller manager.
    let short = ok(
        &server,
        rkube(&[
            "token",
            "create",
            "--ttl",
            "1s",
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
        ]),
    );
    let short_secret = format!("secret/bootstrap-token-{}", &short.trim()[..6]);
    ok(
        &server,
        server
            .kubectl([
                "wait",
                "--for=delete",
                "-n",
                "kube-system",
                &short_secret,
                "--timeout=55s",
            ])
            .unwrap(),
    );
    // Logged before the delete request, so already in the log now.
    let log = server.log();
    assert!(
        log.lines()
            .any(|l| l.contains("deleting expired bootstrap token")
                && l.contains(&short_secret["secret/".len()..])),
        "the cleaner did not delete {short_secret}:\n{log}"
    );

    // A wrong token: a clear error and a failed exit, no credentials.
    let refused_dir = tempfile::tempdir().unwrap();
    let refused = rkube(&[
        "agent",
        "--server",
        &url,
        "--token",
        "abcdef.0000000000000000",
        "--simulate",
        "1",
        "--data-dir",
        refused_dir.path().to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "{stderr}");
    assert!(stderr.contains("refused token abcdef"), "{stderr}");
    assert!(!refused_dir.path().join("kubelet.kubeconfig").exists());

    // The right one: the agent joins and runs its node as system:node:<name>.
    let agent_dir = tempfile::tempdir().unwrap();
    let agent = start_agent(&url, token, agent_dir.path());
    wait_for_node(&server, agent_dir.path());
    let joined = agent_dir.path().join("kubelet.kubeconfig");
    assert_eq!(client_common_name(&joined), "system:node:joined-0001");
    let csrs = ok(
        &server,
        server.kubectl(["get", "csr", "--no-headers"]).unwrap(),
    );
    assert!(
        csrs.contains("kubernetes.io/kube-apiserver-client-kubelet")
            && csrs.contains("Approved,Issued")
            && csrs.contains(&format!("system:bootstrap:{}", &token[..6])),
        "{csrs}"
    );
    // The issued credentials work on their own.
    let as_node = Command::new(rkube_testkit::KUBECTL)
        .args([
            "--kubeconfig",
            joined.to_str().unwrap(),
            "get",
            "node",
            "joined-0001",
            "-o",
            "name",
        ])
        .output()
        .unwrap();
    assert_eq!(ok(&server, as_node).trim(), "node/joined-0001");

    // Restarted, the agent uses its own credentials and ignores the token:
    // even a wrong one does not stop it from registering its node again.
    drop(agent);
    ok(
        &server,
        server.kubectl(["delete", "node", "joined-0001"]).unwrap(),
    );
    let _agent = start_agent(&url, "abcdef.0000000000000000", agent_dir.path());
    wait_for_node(&server, agent_dir.path());
    let csrs = ok(
        &server,
        server.kubectl(["get", "csr", "-o", "name"]).unwrap(),
    );
    assert_eq!(csrs.lines().count(), 1, "{csrs}");
}
