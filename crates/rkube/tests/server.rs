//! `rkube server` end to end: the real binary, driven by the real kubectl,
//! on the embedded store and on a real etcd.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use std::process::Output;

use rkube_testkit::{EtcdProcess, RkubeServer};

const RKUBE: &str = env!("CARGO_BIN_EXE_rkube");

fn ok(server: &RkubeServer, out: Output) -> String {
    assert!(
        out.status.success(),
        "kubectl failed: {}\n--- server log ---\n{}",
        String::from_utf8_lossy(&out.stderr),
        server.log()
    );
    String::from_utf8(out.stdout).unwrap()
}

/// What a user does first: look at namespaces, create something, restart the
/// server (Ctrl-C, start again) and find it as it was.
fn starts_serves_and_resumes(mut server: RkubeServer) {
    let namespaces = ok(
        &server,
        server.kubectl(["get", "namespaces", "-o", "name"]).unwrap(),
    );
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        assert!(
            namespaces.contains(&format!("namespace/{ns}\n")),
            "{namespaces}"
        );
    }

    // `kubectl apply` sends JSON; `kubectl create configmap` would send
    // protobuf, which rkube does not decode yet.
    let manifest = server.data_dir().join("settings.yaml");
    std::fs::write(
        &manifest,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  color: blue\n",
    )
    .unwrap();
    ok(
        &server,
        server
            .kubectl(["apply", "-f", manifest.to_str().unwrap()])
            .unwrap(),
    );
    let uid = ok(
        &server,
        server
            .kubectl([
                "get",
                "configmap",
                "settings",
                "-o",
                "jsonpath={.metadata.uid}",
            ])
            .unwrap(),
    );
    assert!(!uid.is_empty());

    let status = server.stop().unwrap();
    assert!(
        status.success(),
        "SIGTERM must stop the server cleanly: {status}"
    );
    server.restart().unwrap();

    let after = ok(
        &server,
        server
            .kubectl([
                "get",
                "configmap",
                "settings",
                "-o",
                "jsonpath={.metadata.uid} {.data.color}",
            ])
            .unwrap(),
    );
    assert_eq!(after, format!("{uid} blue"));

    // A second start keeps the certificates: the old kubeconfig still works,
    // which the kubectl calls above already prove; the namespaces are not
    // created twice either.
    let namespaces_again = ok(
        &server,
        server.kubectl(["get", "namespaces", "-o", "name"]).unwrap(),
    );
    assert_eq!(namespaces_again, namespaces);
}

#[test]
fn embedded_store_server_starts_serves_and_resumes() {
    let server = RkubeServer::start(RKUBE, &[]).unwrap();
    assert!(server.data_dir().join("db").exists());
    starts_serves_and_resumes(server);
}

#[test]
fn etcd_backed_server_starts_serves_and_resumes() {
    let etcd = EtcdProcess::start().unwrap();
    let endpoint = etcd
        .endpoint()
        .replace("http://", "--datastore-endpoint=etcd://");
    let server = RkubeServer::start(RKUBE, &[&endpoint]).unwrap();
    starts_serves_and_resumes(server);
    drop(etcd);
}

#[test]
fn a_bad_datastore_endpoint_is_refused_with_a_clear_error() {
    let err = RkubeServer::start(RKUBE, &["--datastore-endpoint=mysql://x"]).unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("only etcd://host:port"),
        "unexpected error: {message}"
    );
}
