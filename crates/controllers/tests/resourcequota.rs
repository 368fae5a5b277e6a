//! ResourceQuota end to end: the controller fills in `status.used`, `kubectl describe quota`
//! shows it, the apiserver refuses creates over a quota with upstream's 403 messages,
//! usage drops when pods go, and concurrent creates cannot overrun a quota.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use common::{wait_for, Cluster};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, PostParams};
use serde_json::{json, Value};

fn used(cluster: &Cluster, namespace: &str, quota: &str, resource: &str) -> Option<String> {
    let out = cluster
        .api
        .kubectl(&["get", "quota", quota, "-n", namespace, "-o", "json"]);
    let quota: Value = serde_json::from_slice(&out.stdout).ok()?;
    quota["status"]["used"][resource].as_str().map(String::from)
}

async fn wait_used(cluster: &Cluster, namespace: &str, quota: &str, resource: &str, want: &str) {
    wait_for(&format!("{quota} to use {resource}={want}"), || async {
        (used(cluster, namespace, quota, resource).as_deref() == Some(want)).then_some(())
    })
    .await;
}

fn pod_yaml(name: &str, cpu_limit: Option<&str>) -> String {
    let resources = cpu_limit
        .map(|cpu| format!("    resources:\n      limits:\n        cpu: {cpu}\n"))
        .unwrap_or_default();
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  containers:\n  - name: {name}\n    image: busybox\n{resources}"
    )
}

/// kubectl apply of a pod; its stderr when refused.
fn apply_pod(cluster: &Cluster, name: &str, cpu_limit: Option<&str>) -> Result<(), String> {
    let out = cluster
        .api
        .kubectl_stdin(&["apply", "-f", "-"], Some(&pod_yaml(name, cpu_limit)));
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quotas_count_usage_and_refuse_creates_over_them() {
    let cluster = Cluster::start("resourcequota", 0, |s| s).await;
    cluster.kubectl(&["create", "quota", "compute", "--hard=limits.cpu=1"]);
    cluster.kubectl(&["create", "quota", "pods", "--hard=pods=2,services=5"]);
    wait_used(&cluster, "default", "compute", "limits.cpu", "0").await;
    wait_used(&cluster, "default", "pods", "pods", "0").await;

    assert_eq!(
        apply_pod(&cluster, "bare", None),
        Err("Error from server (Forbidden): error when creating \"STDIN\": pods \"bare\" is forbidden: failed quota: compute: must specify limits.cpu for: bare".to_owned())
    );
    apply_pod(&cluster, "a", Some("100m")).unwrap();
    apply_pod(&cluster, "b", Some("200m")).unwrap();
    assert_eq!(
        apply_pod(&cluster, "c", Some("100m")),
        Err("Error from server (Forbidden): error when creating \"STDIN\": pods \"c\" is forbidden: exceeded quota: pods, requested: pods=1, used: pods=2, limited: pods=2".to_owned())
    );
    assert_eq!(
        used(&cluster, "default", "compute", "limits.cpu").as_deref(),
        Some("300m")
    );

    let described = cluster.kubectl(&["describe", "quota", "pods"]);
    let rows: Vec<Vec<&str>> = described
        .lines()
        .map(|line| line.split_whitespace().collect())
        .collect();
    assert!(
        rows.contains(&vec!["Resource", "Used", "Hard"]),
        "{described}"
    );
    assert!(rows.contains(&vec!["pods", "2", "2"]), "{described}");
    // The apiserver's own `kubernetes` Service lives in `default`.
    assert!(rows.contains(&vec!["services", "1", "5"]), "{described}");

    // Unscheduled pods go at once; the controller gives their usage back.
    cluster.kubectl(&["delete", "pod", "a"]);
    wait_used(&cluster, "default", "pods", "pods", "1").await;
    wait_used(&cluster, "default", "compute", "limits.cpu", "200m").await;
    apply_pod(&cluster, "c", Some("100m")).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_cannot_overrun_a_quota() {
    let cluster = Cluster::start("resourcequota", 0, |s| s).await;
    cluster.kubectl(&["create", "namespace", "race"]);
    cluster.kubectl(&["create", "quota", "three", "-n", "race", "--hard=pods=3"]);
    wait_used(&cluster, "race", "three", "pods", "0").await;
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), "race");
    let creates = (0..8).map(|i| {
        let pods = pods.clone();
        async move {
            let pod: Pod = serde_json::from_value(json!({
                "metadata": {"name": format!("p{i}")},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]}
            }))
            .unwrap();
            pods.create(&PostParams::default(), &pod).await
        }
    });
    let results = futures::future::join_all(creates).await;
    let created = results.iter().filter(|r| r.is_ok()).count();
    let refused: Vec<String> = results
        .iter()
        .filter_map(|r| match r {
            Err(kube::Error::Api(e)) if e.code == 403 => Some(e.message.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(created, 3, "{results:?}");
    assert_eq!(refused.len(), 5, "{results:?}");
    assert!(
        refused.iter().all(|m| m
            .contains("exceeded quota: three, requested: pods=1, used: pods=3, limited: pods=3")),
        "{refused:?}"
    );
    assert_eq!(
        used(&cluster, "race", "three", "pods").as_deref(),
        Some("3")
    );
}
