//! Simulated nodes against a real apiserver: registration, leases, the pod
//! lifecycle through pods/binding, deletion, and stopping a node.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::wait::{await_condition, conditions, Condition};
use rkube_simnode::{
    SimOptions, SimulatedNodes, EXIT_CODE_ANNOTATION, READY_ANNOTATION, RUN_SECONDS_ANNOTATION,
};
use rkube_testkit::TestApiserver;
use serde_json::json;

/// Generous: the machine is shared and slow; conditions usually hold in
/// well under a second.
const DEADLINE: Duration = Duration::from_secs(60);

struct Cluster {
    // Dropped last: the simulator must stop before the apiserver does.
    nodes: Option<SimulatedNodes>,
    client: kube::Client,
    server: TestApiserver,
}

impl Cluster {
    async fn start(options: SimOptions) -> Cluster {
        let server = TestApiserver::start();
        let client = server.client().await;
        let nodes = SimulatedNodes::start(client.clone(), options)
            .await
            .expect("start simulated nodes");
        Cluster {
            nodes: Some(nodes),
            client,
            server,
        }
    }

    fn nodes(&self) -> &SimulatedNodes {
        self.nodes.as_ref().unwrap()
    }

    fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.client.clone(), "default")
    }

    fn leases(&self) -> Api<Lease> {
        Api::namespaced(self.client.clone(), "kube-node-lease")
    }

    /// Creates a pod with `annotations` and `restart_policy` and binds it
    /// to `node` through pods/binding, as the scheduler would.
    async fn bind_pod(
        &self,
        name: &str,
        node: &str,
        restart_policy: &str,
        annotations: serde_json::Value,
    ) -> String {
        let pod: Pod = serde_json::from_value(json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "annotations": annotations},
            "spec": {
                "restartPolicy": restart_policy,
                "containers": [{"name": "app", "image": "busybox:1.36"}],
            },
        }))
        .unwrap();
        let created = self
            .pods()
            .create(&PostParams::default(), &pod)
            .await
            .expect("create pod");
        let binding = json!({
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": name},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node},
        });
        let _: serde_json::Value = self
            .pods()
            .create_subresource("binding", name, &PostParams::default(), &binding)
            .await
            .expect("bind pod");
        created.metadata.uid.unwrap()
    }

    async fn wait_pod(&self, name: &str, what: &str, cond: impl Condition<Pod>) -> Pod {
        wait(what, await_condition(self.pods(), name, cond))
            .await
            .expect("the pod exists")
    }

    async fn stop(mut self) {
        self.nodes
            .take()
            .unwrap()
            .stop()
            .await
            .expect("stop simulated nodes");
    }
}

async fn wait<T, E: std::fmt::Debug>(
    what: &str,
    fut: impl std::future::Future<Output = Result<T, E>>,
) -> T {
    tokio::time::timeout(DEADLINE, fut)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
        .unwrap_or_else(|e| panic!("waiting for {what}: {e:?}"))
}

fn phase(pod: Option<&Pod>) -> Option<&str> {
    pod?.status.as_ref()?.phase.as_deref()
}

fn condition<'a>(pod: &'a Pod, type_: &str) -> Option<&'a str> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| c.status.as_str())
}

fn renew_time(lease: Option<&Lease>) -> Option<Timestamp> {
    lease?.spec.as_ref()?.renew_time.as_ref().map(|t| t.0)
}

/// Waits until `node`'s lease is renewed after `after`; returns the new time.
async fn renewed_after(leases: &Api<Lease>, node: &str, after: Timestamp) -> Timestamp {
    let lease = wait(
        &format!("{node}'s lease to be renewed after {after}"),
        await_condition(leases.clone(), node, move |l: Option<&Lease>| {
            renew_time(l).is_some_and(|t| t > after)
        }),
    )
    .await;
    renew_time(lease.as_ref()).unwrap()
}

#[tokio::test]
async fn nodes_register_ready_with_topology_labels() {
    let cluster = Cluster::start(SimOptions::new(3).with_zones(2)).await;
    let out = cluster.server.kubectl_ok(&[
        "get",
        "nodes",
        "-o",
        r#"jsonpath={range .items[*]}{.metadata.name} {.metadata.labels.topology\.kubernetes\.io/zone} {.status.conditions[?(@.type=="Ready")].status} {.status.allocatable.pods}{"\n"}{end}"#,
    ]);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "sim-0001 zone-0 True 110",
            "sim-0002 zone-1 True 110",
            "sim-0003 zone-0 True 110"
        ]
    );
    let table = cluster.server.kubectl_ok(&["get", "nodes"]);
    assert_eq!(
        table.lines().filter(|l| l.contains(" Ready ")).count(),
        3,
        "{table}"
    );
    let leases =
        cluster
            .server
            .kubectl_ok(&["get", "leases", "-n", "kube-node-lease", "-o", "name"]);
    assert_eq!(leases.lines().count(), 3, "{leases}");
    cluster.stop().await;
}

#[tokio::test]
async fn leases_renew_until_a_node_is_stopped_and_again_when_resumed() {
    let options = SimOptions::new(2).with_lease_renew_interval(Duration::from_millis(200));
    let cluster = Cluster::start(options).await;
    let leases = cluster.leases();
    let first = renew_time(leases.get("sim-0001").await.ok().as_ref()).unwrap();
    renewed_after(&leases, "sim-0001", first).await;

    let control = cluster.nodes().control();
    control.stop_heartbeats("sim-0001").unwrap();
    // The loop renews slice by slice and finishes a slice before the next:
    // once the other node renewed twice, no renewal of sim-0001 is in flight.
    let now = Timestamp::now();
    let t = renewed_after(&leases, "sim-0002", now).await;
    renewed_after(&leases, "sim-0002", t).await;
    let frozen = renew_time(leases.get("sim-0001").await.ok().as_ref()).unwrap();
    let t = renewed_after(&leases, "sim-0002", Timestamp::now()).await;
    let t = renewed_after(&leases, "sim-0002", t).await;
    renewed_after(&leases, "sim-0002", t).await;
    let still = renew_time(leases.get("sim-0001").await.ok().as_ref()).unwrap();
    assert_eq!(still, frozen, "a stopped node's lease is not renewed");

    control.resume_heartbeats("sim-0001").unwrap();
    renewed_after(&leases, "sim-0001", frozen).await;
    assert!(control.stop_heartbeats("sim-9999").is_err());
    cluster.stop().await;
}

#[tokio::test]
async fn a_bound_pod_runs_ready_with_an_address_and_is_deleted_for_good() {
    let cluster = Cluster::start(SimOptions::new(2)).await;
    let uid = cluster
        .bind_pod("web", "sim-0002", "Always", json!({}))
        .await;
    let pod = cluster
        .wait_pod("web", "web to run and be ready", |p: Option<&Pod>| {
            phase(p) == Some("Running") && p.and_then(|p| condition(p, "Ready")) == Some("True")
        })
        .await;
    let status = pod.status.as_ref().unwrap();
    assert_eq!(status.host_ip.as_deref(), Some("172.16.0.2"));
    assert_eq!(
        status.pod_ip.as_deref(),
        Some("100.64.1.2"),
        "the first address of sim-0002's fake range"
    );
    assert!(status.start_time.is_some());
    for type_ in [
        "PodReadyToStartContainers",
        "Initialized",
        "ContainersReady",
        "PodScheduled",
    ] {
        assert_eq!(condition(&pod, type_), Some("True"), "{type_}");
    }
    let container = &status.container_statuses.as_ref().unwrap()[0];
    assert!(container.ready && container.started == Some(true));
    assert_eq!(container.restart_count, 0);
    assert!(container
        .container_id
        .as_deref()
        .unwrap()
        .starts_with("sim://"));
    assert!(container.state.as_ref().unwrap().running.is_some());
    let wide = cluster
        .server
        .kubectl_ok(&["get", "pod", "web", "-o", "wide"]);
    assert!(
        wide.contains("Running") && wide.contains("1/1") && wide.contains("100.64.1.2"),
        "{wide}"
    );

    // A second pod on the same node gets the next address.
    cluster
        .bind_pod("web-2", "sim-0002", "Always", json!({}))
        .await;
    let second = cluster
        .wait_pod("web-2", "web-2 to run", |p: Option<&Pod>| {
            phase(p) == Some("Running")
        })
        .await;
    assert_eq!(second.status.unwrap().pod_ip.as_deref(), Some("100.64.1.3"));

    // A graceful delete: the simulated kubelet stops the pod and finalises.
    cluster
        .pods()
        .delete("web", &DeleteParams::default())
        .await
        .expect("delete");
    wait(
        "web to be deleted",
        await_condition(cluster.pods(), "web", conditions::is_deleted(&uid)),
    )
    .await;
    let out = cluster.server.kubectl(&["get", "pod", "web"]);
    assert!(!out.status.success(), "the pod is gone");
    cluster.stop().await;
}

#[tokio::test]
async fn a_pod_on_a_node_with_a_pod_cidr_gets_an_address_from_it() {
    let cluster = Cluster::start(SimOptions::new(1)).await;
    let nodes: Api<Node> = Api::all(cluster.client.clone());
    let cidr =
        Patch::Merge(json!({"spec": {"podCIDR": "10.42.7.0/24", "podCIDRs": ["10.42.7.0/24"]}}));
    nodes
        .patch("sim-0001", &PatchParams::default(), &cidr)
        .await
        .expect("set podCIDR");
    // The simulator learns the CIDR from its node watch; a pod bound after
    // it saw the change gets an address from it. Wait until it did by
    // binding pods until one lands in the range (each attempt is a fresh pod).
    let mut found = None;
    for attempt in 0..50 {
        let name = format!("p{attempt}");
        cluster
            .bind_pod(&name, "sim-0001", "Always", json!({}))
            .await;
        let pod = cluster
            .wait_pod(&name, "the pod to run", |p: Option<&Pod>| {
                phase(p) == Some("Running")
            })
            .await;
        let ip = pod.status.unwrap().pod_ip.unwrap();
        if ip.starts_with("10.42.7.") {
            found = Some(ip);
            break;
        }
    }
    assert_eq!(found.as_deref(), Some("10.42.7.2"));
    cluster.stop().await;
}

#[tokio::test]
async fn annotations_make_pods_succeed_fail_restart_or_stay_unready() {
    let cluster = Cluster::start(SimOptions::new(1)).await;
    let quick = |code: &str| json!({RUN_SECONDS_ANNOTATION: "0.2", EXIT_CODE_ANNOTATION: code});
    cluster
        .bind_pod("ok", "sim-0001", "Never", quick("0"))
        .await;
    cluster
        .bind_pod("bad", "sim-0001", "Never", quick("3"))
        .await;
    cluster
        .bind_pod("retry", "sim-0001", "OnFailure", quick("1"))
        .await;
    cluster
        .bind_pod("loop", "sim-0001", "Always", quick("0"))
        .await;
    cluster
        .bind_pod(
            "unready",
            "sim-0001",
            "Always",
            json!({READY_ANNOTATION: "false"}),
        )
        .await;

    let ok = cluster
        .wait_pod("ok", "ok to succeed", |p: Option<&Pod>| {
            phase(p) == Some("Succeeded")
        })
        .await;
    let terminated = |pod: &Pod| {
        let c = &pod
            .status
            .as_ref()
            .unwrap()
            .container_statuses
            .as_ref()
            .unwrap()[0];
        let t = c.state.as_ref().unwrap().terminated.clone().unwrap();
        (t.exit_code, t.reason.unwrap())
    };
    assert_eq!(terminated(&ok), (0, "Completed".to_string()));
    assert_eq!(condition(&ok, "Ready"), Some("False"));

    let bad = cluster
        .wait_pod("bad", "bad to fail", |p: Option<&Pod>| {
            phase(p) == Some("Failed")
        })
        .await;
    assert_eq!(terminated(&bad), (3, "Error".to_string()));

    let restarts = |p: Option<&Pod>| {
        p.and_then(|p| {
            p.status
                .as_ref()?
                .container_statuses
                .as_ref()?
                .first()
                .map(|c| c.restart_count)
        })
        .unwrap_or(0)
    };
    for name in ["retry", "loop"] {
        let pod = cluster
            .wait_pod(
                name,
                &format!("{name} to restart twice"),
                move |p: Option<&Pod>| restarts(p) >= 2,
            )
            .await;
        assert_eq!(phase(Some(&pod)), Some("Running"), "{name} keeps running");
    }

    let unready = cluster
        .wait_pod("unready", "unready to run", |p: Option<&Pod>| {
            phase(p) == Some("Running")
        })
        .await;
    assert_eq!(condition(&unready, "Ready"), Some("False"));
    assert_eq!(condition(&unready, "ContainersReady"), Some("False"));
    let out = cluster.server.kubectl_ok(&["get", "pod", "unready"]);
    assert!(out.contains("0/1") && out.contains("Running"), "{out}");
    cluster.stop().await;
}

#[tokio::test]
async fn a_stopped_node_leaves_new_pods_pending_until_it_resumes() {
    let cluster = Cluster::start(SimOptions::new(2)).await;
    let control = cluster.nodes().control();
    control.stop_heartbeats("sim-0001").unwrap();
    cluster
        .bind_pod("waiting", "sim-0001", "Always", json!({}))
        .await;
    // One loop handles pod events in order: once a pod bound later to the
    // active node runs, the simulator has seen (and held back) the first.
    cluster
        .bind_pod("marker", "sim-0002", "Always", json!({}))
        .await;
    cluster
        .wait_pod("marker", "the marker pod to run", |p: Option<&Pod>| {
            phase(p) == Some("Running")
        })
        .await;
    let pod = cluster.pods().get("waiting").await.unwrap();
    assert_eq!(phase(Some(&pod)), Some("Pending"));
    control.resume_heartbeats("sim-0001").unwrap();
    cluster
        .wait_pod(
            "waiting",
            "the pod to run after the resume",
            |p: Option<&Pod>| phase(p) == Some("Running"),
        )
        .await;
    cluster.stop().await;
}

#[tokio::test]
async fn a_deleted_lease_is_recreated_for_its_node() {
    let options = SimOptions::new(1).with_lease_renew_interval(Duration::from_millis(200));
    let cluster = Cluster::start(options).await;
    let leases = cluster.leases();
    let old = leases.get("sim-0001").await.unwrap().metadata.uid.unwrap();
    leases
        .delete("sim-0001", &DeleteParams::default())
        .await
        .unwrap();
    wait(
        "the lease to be deleted",
        await_condition(leases.clone(), "sim-0001", conditions::is_deleted(&old)),
    )
    .await;
    let lease = wait(
        "a new lease",
        await_condition(leases.clone(), "sim-0001", move |l: Option<&Lease>| {
            l.and_then(|l| l.metadata.uid.as_deref())
                .is_some_and(|uid| uid != old)
        }),
    )
    .await
    .unwrap();
    let node: Node = Api::all(cluster.client.clone())
        .get("sim-0001")
        .await
        .unwrap();
    let owner = &lease.metadata.owner_references.unwrap()[0];
    assert_eq!(
        Some(&owner.uid),
        node.metadata.uid.as_ref(),
        "owned by its node"
    );
    cluster.stop().await;
}
