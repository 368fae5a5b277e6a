//! The controllers against a real apiserver, driven by the real kubectl as a user would.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Event as CoreEvent, Pod};
use kube::api::Api;
use kube::ResourceExt;
use rkube_testkit::TestApiserver;
use support::{until, Cluster};

fn web_yaml() -> String {
    TestApiserver::examples_dir()
        .join("web-deployment.yaml")
        .display()
        .to_string()
}

fn replica_sets_of<'a>(sets: &'a [Arc<ReplicaSet>], deployment: &str) -> Vec<&'a Arc<ReplicaSet>> {
    sets.iter()
        .filter(|rs| {
            rs.owner_references()
                .iter()
                .any(|owner| owner.kind == "Deployment" && owner.name == deployment)
        })
        .collect()
}

fn spec_replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.as_ref().and_then(|spec| spec.replicas).unwrap_or(0)
}

fn available(rs: &ReplicaSet) -> i32 {
    rs.status
        .as_ref()
        .and_then(|status| status.available_replicas)
        .unwrap_or(0)
}

fn image_of(rs: &ReplicaSet) -> String {
    rs.spec
        .as_ref()
        .and_then(|spec| spec.template.as_ref())
        .and_then(|t| t.spec.as_ref())
        .and_then(|spec| spec.containers.first())
        .and_then(|c| c.image.clone())
        .unwrap_or_default()
}

fn active_pods(pods: &[Arc<Pod>]) -> usize {
    pods.iter()
        .filter(|pod| {
            pod.metadata.deletion_timestamp.is_none()
                && pod.labels().get("app").map(String::as_str) == Some("web")
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_deployment_rolls_out_updates_rolls_back_scales_and_heals() {
    let cluster = Cluster::start().await;
    let rs_api: Api<ReplicaSet> = Api::namespaced(cluster.client.clone(), "default");
    let pod_api: Api<Pod> = Api::namespaced(cluster.client.clone(), "default");

    cluster.kubectl(&["apply", "-f", &web_yaml()]).await;
    let out = cluster
        .kubectl(&["rollout", "status", "deployment/web", "--timeout=60s"])
        .await;
    assert!(out.contains("successfully rolled out"), "{out}");
    let first = until(
        rs_api.clone(),
        "one ReplicaSet with 3 available",
        |_| {},
        |sets| matches!(replica_sets_of(sets, "web").as_slice(), [rs] if available(rs) == 3),
    )
    .await;
    let first_rs = replica_sets_of(&first, "web")[0].name_any();
    let hash = first[0]
        .labels()
        .get("pod-template-hash")
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        first_rs,
        format!("web-{hash}"),
        "ReplicaSets are named after the template hash"
    );
    let revision = first[0]
        .annotations()
        .get("deployment.kubernetes.io/revision")
        .cloned();
    assert_eq!(revision.as_deref(), Some("1"));

    // The controllers' Events are core/v1 Events, so `kubectl describe` shows them.
    let events: Api<CoreEvent> = Api::namespaced(cluster.client.clone(), "default");
    until(
        events,
        "ScalingReplicaSet and SuccessfulCreate events",
        |_| {},
        |events| {
            let has = |reason: &str, object: &str| {
                events.iter().any(|e| {
                    e.reason.as_deref() == Some(reason)
                        && e.involved_object.name.as_deref() == Some(object)
                })
            };
            has("ScalingReplicaSet", "web") && has("SuccessfulCreate", &first_rs)
        },
    )
    .await;
    let described = cluster.kubectl(&["describe", "deployment", "web"]).await;
    assert!(
        described.contains(&format!("Scaled up replica set {first_rs}")),
        "{described}"
    );

    // Rolling update: maxSurge 1, maxUnavailable 0 on 3 replicas. Record every state of the
    // ReplicaSets and check the bounds at each step.
    cluster
        .kubectl(&[
            "set",
            "image",
            "deployment/web",
            "httpd=docker.io/library/busybox:1.36",
        ])
        .await;
    let mut steps: Vec<(i32, i32, i32)> = Vec::new();
    until(
        rs_api.clone(),
        "the rollout to busybox:1.36",
        |sets| {
            let sets = replica_sets_of(sets, "web");
            let old: i32 = sets
                .iter()
                .filter(|rs| image_of(rs).ends_with("1.35"))
                .map(|rs| spec_replicas(rs))
                .sum();
            let new: i32 = sets
                .iter()
                .filter(|rs| image_of(rs).ends_with("1.36"))
                .map(|rs| spec_replicas(rs))
                .sum();
            let ready: i32 = sets.iter().map(|rs| available(rs)).sum();
            if steps.last() != Some(&(old, new, ready)) {
                steps.push((old, new, ready));
            }
            assert!(
                old + new <= 4,
                "more than replicas + maxSurge pods wanted: {steps:?}"
            );
            assert!(
                ready >= 3,
                "fewer than replicas - maxUnavailable available: {steps:?}"
            );
        },
        |sets| {
            let sets = replica_sets_of(sets, "web");
            sets.len() == 2
                && sets.iter().any(|rs| {
                    image_of(rs).ends_with("1.36") && spec_replicas(rs) == 3 && available(rs) == 3
                })
                && sets
                    .iter()
                    .any(|rs| image_of(rs).ends_with("1.35") && spec_replicas(rs) == 0)
        },
    )
    .await;
    println!("rolling update steps (old, new, available): {steps:?}");
    assert!(
        steps.iter().any(|(old, new, _)| *old > 0 && *new > 0),
        "old and new ran side by side: {steps:?}"
    );
    let out = cluster
        .kubectl(&["rollout", "status", "deployment/web", "--timeout=60s"])
        .await;
    assert!(out.contains("successfully rolled out"), "{out}");

    // Undo: back to the first template, whose ReplicaSet is reused at revision 3.
    cluster
        .kubectl(&["rollout", "undo", "deployment/web"])
        .await;
    let sets = until(
        rs_api.clone(),
        "the rollback to busybox:1.35",
        |_| {},
        |sets| {
            sets.iter()
                .any(|rs| rs.name_any() == first_rs && spec_replicas(rs) == 3 && available(rs) == 3)
                && replica_sets_of(sets, "web")
                    .iter()
                    .all(|rs| rs.name_any() == first_rs || spec_replicas(rs) == 0)
        },
    )
    .await;
    let reused = sets.iter().find(|rs| rs.name_any() == first_rs).unwrap();
    assert_eq!(
        reused
            .annotations()
            .get("deployment.kubernetes.io/revision")
            .map(String::as_str),
        Some("3")
    );
    let out = cluster
        .kubectl(&["rollout", "status", "deployment/web", "--timeout=60s"])
        .await;
    assert!(out.contains("successfully rolled out"), "{out}");
    let history = cluster
        .kubectl(&["rollout", "history", "deployment/web"])
        .await;
    assert!(history.contains('2') && history.contains('3'), "{history}");

    // Scale up and down.
    cluster
        .kubectl(&["scale", "deployment/web", "--replicas=5"])
        .await;
    until(
        pod_api.clone(),
        "5 web pods",
        |_| {},
        |pods| active_pods(pods) == 5,
    )
    .await;
    cluster
        .kubectl(&["rollout", "status", "deployment/web", "--timeout=60s"])
        .await;
    cluster
        .kubectl(&["scale", "deployment/web", "--replicas=2"])
        .await;
    until(
        pod_api.clone(),
        "2 web pods",
        |_| {},
        |pods| active_pods(pods) == 2 && pods.len() == 2,
    )
    .await;

    // A deleted pod is replaced.
    let pods = cluster
        .kubectl(&["get", "pods", "-l", "app=web", "-o", "name"])
        .await;
    let victim = pods
        .lines()
        .next()
        .unwrap()
        .trim_start_matches("pod/")
        .to_owned();
    cluster
        .kubectl(&["delete", "pod", &victim, "--wait=false"])
        .await;
    until(
        pod_api.clone(),
        "a replacement pod",
        |_| {},
        |pods| active_pods(pods) == 2 && pods.iter().all(|pod| pod.name_any() != victim),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn foreground_deletion_removes_dependents_first_and_orphaning_keeps_pods() {
    let cluster = Cluster::start().await;
    let rs_api: Api<ReplicaSet> = Api::namespaced(cluster.client.clone(), "default");
    let pod_api: Api<Pod> = Api::namespaced(cluster.client.clone(), "default");
    let deployment_api: Api<Deployment> = Api::namespaced(cluster.client.clone(), "default");

    cluster.kubectl(&["apply", "-f", &web_yaml()]).await;
    cluster
        .kubectl(&["rollout", "status", "deployment/web", "--timeout=60s"])
        .await;

    // Foreground: the deployment stays (deleting) until its ReplicaSet and pods are gone.
    let watch_deployment = {
        let api = deployment_api.clone();
        let pod_api = pod_api.clone();
        tokio::spawn(async move {
            until(api, "the deployment to go", |_| {}, <[_]>::is_empty).await;
            pod_api.list(&Default::default()).await.unwrap().items.len()
        })
    };
    cluster
        .kubectl(&[
            "delete",
            "deployment",
            "web",
            "--cascade=foreground",
            "--wait=false",
        ])
        .await;
    let remaining_pods_when_deployment_gone = watch_deployment.await.unwrap();
    assert_eq!(
        remaining_pods_when_deployment_gone, 0,
        "pods outlived their foreground-deleted deployment"
    );
    assert!(rs_api
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .is_empty());

    // Orphan: deleting a ReplicaSet with --cascade=orphan keeps its pods, without owner.
    cluster.kubectl(&["apply", "-f", &web_yaml()]).await;
    cluster
        .kubectl(&["rollout", "status", "deployment/web", "--timeout=60s"])
        .await;
    cluster
        .kubectl(&["delete", "deployment", "web", "--cascade=orphan"])
        .await;
    let sets = rs_api.list(&Default::default()).await.unwrap().items;
    assert_eq!(sets.len(), 1);
    let rs = sets[0].name_any();
    until(
        rs_api.clone(),
        "the ReplicaSet to be orphaned",
        |_| {},
        |sets| sets.iter().all(|rs| rs.owner_references().is_empty()),
    )
    .await;
    cluster
        .kubectl(&["delete", "rs", &rs, "--cascade=orphan"])
        .await;
    let pods = until(
        pod_api.clone(),
        "the pods to lose their owner",
        |_| {},
        |pods| pods.len() == 3 && pods.iter().all(|pod| pod.owner_references().is_empty()),
    )
    .await;
    let names: BTreeMap<String, ()> = pods.iter().map(|pod| (pod.name_any(), ())).collect();
    assert_eq!(names.len(), 3);

    // Background (the default): the pods of a deleted ReplicaSet go with it.
    cluster.kubectl(&["apply", "-f", &web_yaml()]).await;
    cluster.kubectl(&["delete", "deployment", "web"]).await;
    until(
        rs_api.clone(),
        "the ReplicaSets to go",
        |_| {},
        |sets| sets.is_empty(),
    )
    .await;
}
