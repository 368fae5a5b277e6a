//! `rkube server` end to end: the real binary, driven by the real kubectl,
//! on the embedded store and on a real etcd.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use std::process::Output;

use rkube_testkit::{EtcdProcess, RkubeServer};

const RKUBE: &str = env!("CARGO_BIN_EXE_rkube");

/// These tests are about the control plane and its store: no node agent or
/// proxy (which would each need their own containerd and nftables table).
const CONTROL_PLANE_ONLY: &[&str] = &["--disable-agent", "--disable-proxy"];

/// `rkube server` with `extra` flags and without agent or proxy.
fn control_plane(extra: &[&str]) -> rkube_testkit::Result<RkubeServer> {
    RkubeServer::start(RKUBE, &[CONTROL_PLANE_ONLY, extra].concat())
}

fn ok(server: &RkubeServer, out: Output) -> String {
    assert!(
        out.status.success(),
        "kubectl failed: {}\n--- server log ---\n{}",
        String::from_utf8_lossy(&out.stderr),
        server.log()
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Creates the ConfigMap `settings` with `color: blue`.
fn create_settings(server: &RkubeServer) {
    let manifest = server.data_dir().join("settings.yaml");
    std::fs::write(
        &manifest,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  color: blue\n",
    )
    .unwrap();
    ok(
        server,
        server
            .kubectl(["apply", "-f", manifest.to_str().unwrap()])
            .unwrap(),
    );
}

/// `uid color` of the ConfigMap `settings`.
fn settings(server: &RkubeServer) -> String {
    ok(
        server,
        server
            .kubectl([
                "get",
                "configmap",
                "settings",
                "-o",
                "jsonpath={.metadata.uid} {.data.color}",
            ])
            .unwrap(),
    )
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

    create_settings(&server);
    let before = settings(&server);
    assert!(
        before.ends_with(" blue") && before.len() > " blue".len(),
        "{before}"
    );

    let status = server.stop().unwrap();
    assert!(
        status.success(),
        "SIGTERM must stop the server cleanly: {status}"
    );
    server.restart().unwrap();

    assert_eq!(settings(&server), before);

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
    let server = control_plane(&[]).unwrap();
    assert!(server.data_dir().join("db").exists());
    starts_serves_and_resumes(server);
}

#[test]
fn etcd_backed_server_starts_serves_and_resumes() {
    let etcd = EtcdProcess::start().unwrap();
    let endpoint = etcd
        .endpoint()
        .replace("http://", "--datastore-endpoint=etcd://");
    let server = control_plane(&[&endpoint]).unwrap();
    starts_serves_and_resumes(server);
    drop(etcd);
}

#[test]
fn a_bad_datastore_endpoint_is_refused_with_a_clear_error() {
    let err = control_plane(&["--datastore-endpoint=mysql://x"]).unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("only etcd://host:port"),
        "unexpected error: {message}"
    );
}

#[test]
fn a_backup_taken_while_serving_starts_a_new_cluster_with_the_same_objects() {
    let mut server = control_plane(&[]).unwrap();
    create_settings(&server);
    let before = settings(&server);

    let backup = server.data_dir().with_file_name("backup.db");
    let out = std::process::Command::new(RKUBE)
        .arg("backup")
        .arg("--data-dir")
        .arg(server.data_dir())
        .arg(&backup)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "rkube backup failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("at revision"));

    let restore = format!("--restore={}", backup.display());
    let restored = control_plane(&[&restore]).unwrap();
    assert_eq!(settings(&restored), before);

    // Restoring over a store that exists would lose it: refused.
    server.stop().unwrap();
    let err = server
        .restart_with(&[CONTROL_PLANE_ONLY, &[restore.as_str()]].concat())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("refusing to restore over the existing store"),
        "{err}"
    );
}
