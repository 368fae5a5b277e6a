//! Namespace lifecycle as a user sees it: a new namespace gets its `default`
//! ServiceAccount and `kube-root-ca.crt`; deleting a namespace removes
//! everything in it, reporting what holds it up.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use common::{wait_for, Cluster};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_namespace_gets_its_service_account_and_root_ca() {
    let cluster = Cluster::start("serviceaccount,root-ca-cert-publisher", 0, |s| s).await;
    let ca = cluster.api.data_dir().join("tls").join("ca.crt");
    let ca = std::fs::read_to_string(ca).unwrap();
    cluster.kubectl(&["create", "namespace", "team-a"]);
    wait_for("the default ServiceAccount", || async {
        cluster
            .api
            .kubectl(&["-n", "team-a", "get", "serviceaccount", "default"])
            .status
            .success()
            .then_some(())
    })
    .await;
    let read_ca = || {
        let out = cluster.api.kubectl(&[
            "-n",
            "team-a",
            "get",
            "configmap",
            "kube-root-ca.crt",
            "-o",
            "json",
        ]);
        out.status.success().then(|| {
            let cm: Value = serde_json::from_slice(&out.stdout).unwrap();
            cm["data"]["ca.crt"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
    };
    wait_for("kube-root-ca.crt with the cluster CA", || async {
        read_ca().filter(|c| *c == ca)
    })
    .await;

    cluster.kubectl(&["-n", "team-a", "delete", "configmap", "kube-root-ca.crt"]);
    wait_for("kube-root-ca.crt restored after deletion", || async {
        read_ca().filter(|c| *c == ca)
    })
    .await;

    cluster.kubectl(&[
        "-n",
        "team-a",
        "patch",
        "configmap",
        "kube-root-ca.crt",
        "--type=merge",
        "-p",
        r#"{"data":{"ca.crt":"forged"}}"#,
    ]);
    wait_for("kube-root-ca.crt restored after an edit", || async {
        read_ca().filter(|c| *c == ca)
    })
    .await;

    cluster.kubectl(&["-n", "team-a", "delete", "serviceaccount", "default"]);
    wait_for("the default ServiceAccount restored", || async {
        cluster
            .api
            .kubectl(&["-n", "team-a", "get", "serviceaccount", "default"])
            .status
            .success()
            .then_some(())
    })
    .await;
}

const CONTENT: &str = r#"
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: doomed
data:
  a: "1"
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: held
  namespace: doomed
  finalizers:
  - example.com/hold
---
apiVersion: v1
kind: Secret
metadata:
  name: token
  namespace: doomed
stringData:
  t: x
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: doomed
spec:
  selector:
    app: web
  ports:
  - port: 80
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: doomed
spec:
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: web
        image: nginx
"#;

fn condition(cluster: &Cluster, kind: &str) -> Option<(String, String)> {
    let out = cluster
        .api
        .kubectl(&["get", "namespace", "doomed", "-o", "json"]);
    let ns: Value = serde_json::from_slice(&out.stdout).ok()?;
    ns["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == kind)
        .map(|c| {
            (
                c["status"].as_str().unwrap_or_default().to_string(),
                c["message"].as_str().unwrap_or_default().to_string(),
            )
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_namespace_removes_everything_in_it() {
    let cluster = Cluster::start("namespace", 0, |s| s).await;
    cluster.kubectl(&["create", "namespace", "doomed"]);
    cluster
        .api
        .kubectl_stdin(&["apply", "-f", "-"], Some(CONTENT));
    cluster.kubectl(&["delete", "namespace", "doomed", "--wait=false"]);

    let phase = cluster.kubectl(&[
        "get",
        "namespace",
        "doomed",
        "-o",
        "jsonpath={.status.phase}",
    ]);
    assert_eq!(phase, "Terminating");
    let (status, message) = wait_for("the finalizer holding the namespace reported", || async {
        condition(&cluster, "NamespaceFinalizersRemaining").filter(|(s, _)| s == "True")
    })
    .await;
    assert_eq!(status, "True");
    assert!(
        message.contains("example.com/hold in 1 resource instances"),
        "{message}"
    );
    let (_, remaining) = condition(&cluster, "NamespaceContentRemaining").unwrap();
    assert!(
        remaining.contains("configmaps has 1 resource instances"),
        "{remaining}"
    );
    for kind in ["deployments", "services", "secrets"] {
        let left = cluster.kubectl(&["-n", "doomed", "get", kind, "-o", "name"]);
        assert_eq!(left, "", "{kind} left in the namespace");
    }

    cluster.kubectl(&[
        "-n",
        "doomed",
        "patch",
        "configmap",
        "held",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":null}}"#,
    ]);
    wait_for("the namespace to disappear", || async {
        let out = cluster.api.kubectl(&["get", "namespace", "doomed"]);
        (!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("NotFound"))
            .then_some(())
    })
    .await;
}
