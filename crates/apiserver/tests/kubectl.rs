//! The real kubectl drives the apiserver unchanged.

mod common;

use common::TestServer;

#[test]
fn kubectl_creates_gets_and_deletes_a_configmap() {
    let server = TestServer::start();
    let manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c1\ndata:\n  a: b\n";
    let out = server.kubectl_stdin(&["create", "--validate=false", "-f", "-"], Some(manifest));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = String::from_utf8_lossy(&out.stdout);
    assert!(out.contains("configmap/c1 created"), "{out}");
    let out = server.kubectl_ok(&["get", "configmap", "c1", "-o", "jsonpath={.data.a}"]);
    assert_eq!(out, "b");
    let out = server.kubectl_ok(&["get", "configmaps"]);
    assert!(out.contains("c1") && out.contains("DATA"), "{out}");
    let out = server.kubectl_ok(&["delete", "configmap", "c1"]);
    assert!(out.contains("configmap \"c1\" deleted"), "{out}");
    let out = server.kubectl(&["get", "configmap", "c1"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("configmaps \"c1\" not found"), "{err}");
}
