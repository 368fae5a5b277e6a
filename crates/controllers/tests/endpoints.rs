//! EndpointSlices and Endpoints follow pods' readiness, as a user sees them
//! with kubectl; the `kubernetes` Service points at the apiserver.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use common::{wait_for, Cluster};
use serde_json::Value;

const MANIFEST: &str = r#"
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector:
    app: web
  ports:
  - name: http
    port: 80
    targetPort: http
---
apiVersion: v1
kind: Pod
metadata:
  name: web-ready
  labels:
    app: web
spec:
  nodeName: sim-0001
  containers:
  - name: web
    image: nginx
    ports:
    - name: http
      containerPort: 8080
---
apiVersion: v1
kind: Pod
metadata:
  name: web-unready
  labels:
    app: web
  annotations:
    sim.rkube.io/ready: "false"
spec:
  nodeName: sim-0001
  containers:
  - name: web
    image: nginx
    ports:
    - name: http
      containerPort: 8080
"#;

/// (pod name, ready) of every endpoint in the Service's slices, sorted.
fn slice_endpoints(cluster: &Cluster) -> (Vec<(String, bool)>, Vec<i64>) {
    let out = cluster.kubectl(&[
        "get",
        "endpointslices",
        "-l",
        "kubernetes.io/service-name=web",
        "-o",
        "json",
    ]);
    let list: Value = serde_json::from_str(&out).unwrap();
    let mut endpoints = Vec::new();
    let mut ports = Vec::new();
    for slice in list["items"].as_array().into_iter().flatten() {
        assert_eq!(
            slice["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"],
            "endpointslice-controller.k8s.io"
        );
        for e in slice["endpoints"].as_array().into_iter().flatten() {
            endpoints.push((
                e["targetRef"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                e["conditions"]["ready"].as_bool().unwrap_or(false),
            ));
        }
        ports.extend(
            slice["ports"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| p["port"].as_i64()),
        );
    }
    endpoints.sort();
    (endpoints, ports)
}

fn endpoints_addresses(cluster: &Cluster) -> (usize, usize) {
    let out = cluster.kubectl(&["get", "endpoints", "web", "-o", "json"]);
    let e: Value = serde_json::from_str(&out).unwrap();
    let count = |key: &str| {
        e["subsets"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| s[key].as_array().map_or(0, Vec::len))
            .sum::<usize>()
    };
    (count("addresses"), count("notReadyAddresses"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_follow_pod_readiness() {
    let cluster = Cluster::start("endpoint,endpointslice", 1, |s| s).await;
    cluster
        .api
        .kubectl_stdin(&["apply", "-f", "-"], Some(MANIFEST));

    let want = vec![
        ("web-ready".to_string(), true),
        ("web-unready".to_string(), false),
    ];
    wait_for("slices listing one ready and one unready pod", || async {
        let (endpoints, ports) = slice_endpoints(&cluster);
        (endpoints == want && ports.iter().all(|p| *p == 8080) && !ports.is_empty()).then_some(())
    })
    .await;
    wait_for(
        "Endpoints with one ready and one not-ready address",
        || async {
            let got = cluster
                .api
                .kubectl(&["get", "endpoints", "web", "-o", "name"]);
            (got.status.success() && endpoints_addresses(&cluster) == (1, 1)).then_some(())
        },
    )
    .await;

    cluster.kubectl(&["delete", "pod", "web-ready", "--wait=false"]);
    wait_for("the deleted pod to leave the slices", || async {
        let (endpoints, _) = slice_endpoints(&cluster);
        (endpoints == vec![("web-unready".to_string(), false)]).then_some(())
    })
    .await;
    wait_for("the deleted pod to leave the Endpoints", || async {
        (endpoints_addresses(&cluster) == (0, 1)).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kubernetes_service_points_at_the_apiserver() {
    let cluster = Cluster::start("endpoint,endpointslice", 0, |s| s).await;
    let want = format!("{} {}", cluster.api.addr.ip(), cluster.api.addr.port());
    wait_for(
        "default/kubernetes Endpoints naming the apiserver",
        || async {
            let out = cluster.api.kubectl(&[
                "get",
                "endpoints",
                "kubernetes",
                "-o",
                "jsonpath={.subsets[0].addresses[0].ip} {.subsets[0].ports[0].port}",
            ]);
            (out.status.success() && String::from_utf8_lossy(&out.stdout) == want).then_some(())
        },
    )
    .await;
    wait_for(
        "default/kubernetes EndpointSlice naming the apiserver",
        || async {
            let out = cluster.api.kubectl(&[
                "get",
                "endpointslice",
                "kubernetes",
                "-o",
                "jsonpath={.endpoints[0].addresses[0]} {.ports[0].port}",
            ]);
            (out.status.success() && String::from_utf8_lossy(&out.stdout) == want).then_some(())
        },
    )
    .await;
}
