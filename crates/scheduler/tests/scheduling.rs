//! The scheduler against a real apiserver: nodes and pods created through
//! the API, decisions observed as bindings, conditions and events.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;

use common::{node, node_of, pod, scheduled_condition, Cluster};
use k8s_openapi::api::scheduling::v1::PriorityClass;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_too_big_for_every_node_waits_until_a_big_enough_node_arrives() {
    let (cluster, scheduler) = Cluster::with_scheduler().await;
    cluster
        .create_node(node("small", "2", json!({}), json!([])))
        .await;
    cluster
        .create_pod(pod("big", "4", json!({}), json!({})))
        .await;

    let message = cluster.wait_unschedulable("big").await;
    assert_eq!(
        message,
        "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."
    );
    let event = cluster.wait_event("big", "FailedScheduling").await;
    assert_eq!(event, message);

    cluster
        .create_node(node("large", "8", json!({}), json!([])))
        .await;
    assert_eq!(cluster.wait_bound("big").await, "large");
    let scheduled = cluster.wait_event("big", "Scheduled").await;
    assert_eq!(scheduled, "Successfully assigned default/big to large");
    scheduler.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_selector_and_required_node_affinity_pick_the_labelled_node() {
    let (cluster, scheduler) = Cluster::with_scheduler().await;
    for (name, zone, disk) in [("a", "z1", "ssd"), ("b", "z2", "hdd"), ("c", "z3", "hdd")] {
        let labels = json!({"topology.kubernetes.io/zone": zone, "disk": disk});
        cluster
            .create_node(node(name, "4", labels, json!([])))
            .await;
    }
    cluster
        .create_pod(pod(
            "ssd",
            "100m",
            json!({}),
            json!({"nodeSelector": {"disk": "ssd"}}),
        ))
        .await;
    let affinity = json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [
            {"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["z2"]}
        ]}]
    }}}});
    cluster
        .create_pod(pod("zoned", "100m", json!({}), affinity))
        .await;
    cluster
        .create_pod(pod(
            "nowhere",
            "100m",
            json!({}),
            json!({"nodeSelector": {"disk": "nvme"}}),
        ))
        .await;

    assert_eq!(cluster.wait_bound("ssd").await, "a");
    assert_eq!(cluster.wait_bound("zoned").await, "b");
    let message = cluster.wait_unschedulable("nowhere").await;
    assert!(
        message.starts_with(
            "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector."
        ),
        "{message}"
    );
    scheduler.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_pods_that_tolerate_a_taint_land_on_the_tainted_node() {
    let (cluster, scheduler) = Cluster::with_scheduler().await;
    let taints = json!([{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]);
    cluster
        .create_node(node("gpu", "4", json!({}), taints))
        .await;
    cluster
        .create_pod(pod("plain", "100m", json!({}), json!({})))
        .await;
    let tolerations = json!({"tolerations": [
        {"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}
    ]});
    cluster
        .create_pod(pod("tolerant", "100m", json!({}), tolerations))
        .await;

    assert_eq!(cluster.wait_bound("tolerant").await, "gpu");
    let message = cluster.wait_unschedulable("plain").await;
    assert!(
        message.starts_with(
            "0/1 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}."
        ),
        "{message}"
    );
    scheduler.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_asking_for_the_same_host_port_never_share_a_node() {
    let (cluster, scheduler) = Cluster::with_scheduler().await;
    for name in ["n1", "n2"] {
        cluster
            .create_node(node(name, "4", json!({}), json!([])))
            .await;
    }
    let ports = json!({"ports": [{"containerPort": 80, "hostPort": 8080}]});
    for name in ["web-1", "web-2", "web-3"] {
        cluster
            .create_pod(pod(name, "100m", json!({}), ports.clone()))
            .await;
    }
    let mut nodes = Vec::new();
    let mut pending = Vec::new();
    for name in ["web-1", "web-2", "web-3"] {
        let p = cluster
            .wait_pod(name, "bound or unschedulable", |p| {
                node_of(p).is_some() || scheduled_condition(p).is_some_and(|c| c.0 == "False")
            })
            .await;
        match node_of(&p) {
            Some(n) => nodes.push(n),
            None => pending.push(scheduled_condition(&p).unwrap_or_default().2),
        }
    }
    nodes.sort();
    assert_eq!(nodes, vec!["n1", "n2"]);
    assert_eq!(pending.len(), 1);
    assert!(
        pending[0].starts_with("0/2 nodes are available: 2 node(s) didn't have free ports for the requested pod ports."),
        "{}",
        pending[0]
    );
    scheduler.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn required_pod_anti_affinity_spreads_replicas_one_per_node() {
    let (cluster, scheduler) = Cluster::with_scheduler().await;
    for name in ["n1", "n2", "n3"] {
        cluster
            .create_node(node(name, "4", json!({}), json!([])))
            .await;
    }
    let anti = json!({"affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{
        "labelSelector": {"matchLabels": {"app": "web"}},
        "topologyKey": "kubernetes.io/hostname",
    }]}}});
    for i in 0..3 {
        let name = format!("web-{i}");
        cluster
            .create_pod(pod(&name, "100m", json!({"app": "web"}), anti.clone()))
            .await;
    }
    let mut nodes = Vec::new();
    for i in 0..3 {
        nodes.push(cluster.wait_bound(&format!("web-{i}")).await);
    }
    nodes.sort();
    assert_eq!(nodes, vec!["n1", "n2", "n3"]);
    cluster
        .create_pod(pod("web-3", "100m", json!({"app": "web"}), anti))
        .await;
    let message = cluster.wait_unschedulable("web-3").await;
    assert!(
        message.starts_with(
            "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules."
        ),
        "{message}"
    );
    scheduler.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topology_spread_puts_the_same_number_of_pods_in_each_zone() {
    let (cluster, scheduler) = Cluster::with_scheduler().await;
    for i in 0..6 {
        let labels = json!({"topology.kubernetes.io/zone": format!("z{}", i % 3)});
        cluster
            .create_node(node(&format!("n{i}"), "4", labels, json!([])))
            .await;
    }
    let spread = json!({"topologySpreadConstraints": [{
        "maxSkew": 1,
        "topologyKey": "topology.kubernetes.io/zone",
        "whenUnsatisfiable": "DoNotSchedule",
        "labelSelector": {"matchLabels": {"app": "spread"}},
    }]});
    for i in 0..6 {
        let name = format!("s-{i}");
        cluster
            .create_pod(pod(&name, "100m", json!({"app": "spread"}), spread.clone()))
            .await;
    }
    let mut per_zone: BTreeMap<String, usize> = BTreeMap::new();
    for i in 0..6 {
        let node = cluster.wait_bound(&format!("s-{i}")).await;
        let index: usize = node.trim_start_matches('n').parse().unwrap();
        *per_zone.entry(format!("z{}", index % 3)).or_default() += 1;
    }
    let want: BTreeMap<String, usize> = [("z0", 2), ("z1", 2), ("z2", 2)]
        .into_iter()
        .map(|(z, n)| (z.to_string(), n))
        .collect();
    assert_eq!(per_zone, want);
    scheduler.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_high_priority_pod_preempts_a_low_priority_one() {
    let cluster = Cluster::start().await;
    for (name, value) in [("low", 10), ("high", 1000)] {
        let class = json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
            "metadata": {"name": name}, "value": value});
        cluster.create::<PriorityClass>(class).await;
    }
    let scheduler = cluster.scheduler(None);
    cluster
        .create_node(node("n1", "1", json!({}), json!([])))
        .await;
    cluster
        .create_pod(pod(
            "victim",
            "800m",
            json!({}),
            json!({"priorityClassName": "low"}),
        ))
        .await;
    assert_eq!(cluster.wait_bound("victim").await, "n1");

    cluster
        .create_pod(pod(
            "preemptor",
            "800m",
            json!({}),
            json!({"priorityClassName": "high"}),
        ))
        .await;
    let nominated = cluster
        .wait_pod("preemptor", "a nominated node", |p| {
            p.status
                .as_ref()
                .and_then(|s| s.nominated_node_name.as_deref())
                == Some("n1")
        })
        .await;
    assert!(node_of(&nominated).is_none());
    let victim = cluster
        .wait_pod("victim", "eviction", |p| {
            p.metadata.deletion_timestamp.is_some()
        })
        .await;
    let disruption = victim
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "DisruptionTarget"))
        .map(|c| (c.status.clone(), c.reason.clone().unwrap_or_default()));
    assert_eq!(
        disruption,
        Some(("True".to_string(), "PreemptionByScheduler".to_string()))
    );
    cluster.wait_event("victim", "Preempted").await;

    // No kubelet here: finish the victim's graceful deletion as one would.
    cluster.force_delete("victim").await;
    assert_eq!(cluster.wait_bound("preemptor").await, "n1");
    scheduler.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_schedulers_side_by_side_each_take_only_their_own_pods() {
    let (cluster, default_scheduler) = Cluster::with_scheduler().await;
    cluster
        .create_node(node("n1", "4", json!({}), json!([])))
        .await;
    cluster
        .create_pod(pod(
            "theirs",
            "100m",
            json!({}),
            json!({"schedulerName": "other-scheduler"}),
        ))
        .await;
    cluster
        .create_pod(pod("ours", "100m", json!({}), json!({})))
        .await;
    assert_eq!(cluster.wait_bound("ours").await, "n1");
    let theirs = cluster.pods().get("theirs").await.unwrap();
    assert!(
        node_of(&theirs).is_none(),
        "the default scheduler bound another scheduler's pod"
    );
    assert!(
        scheduled_condition(&theirs).is_none(),
        "the default scheduler reported on another scheduler's pod"
    );

    let other = cluster.scheduler(Some(
        "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\nprofiles:\n- schedulerName: other-scheduler\n",
    ));
    assert_eq!(cluster.wait_bound("theirs").await, "n1");
    let event = cluster.wait_event("theirs", "Scheduled").await;
    assert_eq!(event, "Successfully assigned default/theirs to n1");
    other.stop().await;
    default_scheduler.stop().await;
}
