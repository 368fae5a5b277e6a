//! The kubelet against a real apiserver and a real containerd: pods bound
//! to the node by `spec.nodeName` run as containers and report upstream's
//! status. Each test has its own containerd, socket, bridge and pod CIDR.
//! Needs root, containerd, runc, the CNI plugins and busybox-static
//! (scripts/install-deps.sh).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Node, Pod, Secret};
use kube::api::{Api, DeleteParams, PostParams};
use rkube_kubelet::runtime::cri::{labels, selector};
use rkube_testkit::TestApiserver;
use support::*;

#[tokio::test(flavor = "multi_thread")]
async fn two_containers_reach_each_other_on_localhost_and_the_pod_succeeds() {
    let server = TestApiserver::start();
    let client = server.client().await;
    let node = TestNode::new(11);
    // The kubelet starts its own containerd and imports the images dir.
    let options = node.options("node-a");
    node.stage_images(&options);
    let kubelet = RunningKubelet::start(client.clone(), options);

    create_pod(
        &client,
        "node-a",
        example("pod-shared-localhost.yaml", "Pod"),
    )
    .await;
    // The client fetches from the server over localhost and exits 0; the
    // server keeps serving, so the pod stays Running (restartPolicy Never).
    let client_done = |p: &Pod| terminated(p, "client").is_some();
    let pod = wait_pod(&client, "two-containers", "client finished", client_done).await;
    let done = terminated(&pod, "client").unwrap();
    assert_eq!(
        (done.exit_code, done.reason.as_deref()),
        (0, Some("Completed")),
        "{:#?}",
        pod.status
    );
    assert_eq!(phase(&pod), "Running");
    let status = pod.status.as_ref().unwrap();
    assert!(
        status
            .pod_ip
            .as_deref()
            .is_some_and(|ip| ip.starts_with("10.88.11.")),
        "{status:#?}"
    );

    // The node registered with its facts and keeps a lease.
    let nodes: Api<Node> = Api::all(client.clone());
    let registered = nodes.get("node-a").await.unwrap();
    let labels = registered.metadata.labels.clone().unwrap();
    assert_eq!(
        labels.get("kubernetes.io/hostname").map(String::as_str),
        Some("node-a")
    );
    assert_eq!(
        labels.get("kubernetes.io/os").map(String::as_str),
        Some("linux")
    );
    let node_status = registered.status.unwrap();
    assert!(node_status
        .node_info
        .unwrap()
        .container_runtime_version
        .starts_with("containerd://"));
    let ready = node_status
        .conditions
        .unwrap()
        .into_iter()
        .find(|c| c.type_ == "Ready")
        .unwrap();
    assert_eq!(ready.status, "True", "{ready:?}");
    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-node-lease");
    assert!(leases
        .get("node-a")
        .await
        .unwrap()
        .spec
        .unwrap()
        .renew_time
        .is_some());

    kubelet
        .stop()
        .await
        .expect("the kubelet stops cleanly (pods, then containerd)");
}

#[tokio::test(flavor = "multi_thread")]
async fn config_reader_gets_its_config_map_and_secret_as_env_and_files() {
    let server = TestApiserver::start();
    let client = server.client().await;
    let mut node = TestNode::new(12);
    let options = node.start_containerd("node-b").await;
    let pods_dir = options.data_dir.join("pods");
    let _kubelet = RunningKubelet::start(client.clone(), options);

    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    cms.create(
        &PostParams::default(),
        &serde_json::from_value(example("config-and-secret.yaml", "ConfigMap")).unwrap(),
    )
    .await
    .unwrap();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "default");
    secrets
        .create(
            &PostParams::default(),
            &serde_json::from_value(example("config-and-secret.yaml", "Secret")).unwrap(),
        )
        .await
        .unwrap();
    let created = create_pod(&client, "node-b", example("config-and-secret.yaml", "Pod")).await;
    let pod = wait_pod(&client, "config-reader", "Succeeded", |p| {
        phase(p) == "Succeeded" || phase(p) == "Failed"
    })
    .await;
    assert_eq!(phase(&pod), "Succeeded", "{:#?}", pod.status);

    // What the container printed, from its CRI log file.
    let uid = created.metadata.uid.unwrap();
    let log = std::fs::read_to_string(pods_dir.join(&uid).join("logs/reader/0.log")).unwrap();
    for want in ["hello", "color=blue", "size=large", "s3cr3t"] {
        assert!(log.contains(want), "{want:?} missing from the log:\n{log}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_container_exiting_1_under_always_goes_to_crash_loop_back_off() {
    let server = TestApiserver::start();
    let client = server.client().await;
    let mut node = TestNode::new(13);
    let options = node.start_containerd("node-c").await;
    let _kubelet = RunningKubelet::start(client.clone(), options);

    create_pod(&client, "node-c", serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "crasher"},
        "spec": {"containers": [{"name": "c", "image": "docker.io/library/busybox:1.35", "command": ["sh", "-c", "exit 1"]}]}
    }))
    .await;
    let pod = wait_pod(&client, "crasher", "CrashLoopBackOff", |p| {
        waiting_reason(p, "c") == Some("CrashLoopBackOff")
    })
    .await;
    let status = &pod
        .status
        .as_ref()
        .unwrap()
        .container_statuses
        .as_ref()
        .unwrap()[0];
    assert!(status.restart_count >= 1, "{status:#?}");
    let last = status
        .last_state
        .as_ref()
        .unwrap()
        .terminated
        .as_ref()
        .unwrap();
    assert_eq!((last.exit_code, last.reason.as_deref()), (1, Some("Error")));
    assert_eq!(phase(&pod), "Running");
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_a_pod_stops_its_containers_and_removes_it() {
    let server = TestApiserver::start();
    let client = server.client().await;
    let mut node = TestNode::new(14);
    let options = node.start_containerd("node-d").await;
    let _kubelet = RunningKubelet::start(client.clone(), options);
    let cri = node.cri();

    let created = create_pod(&client, "node-d", serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "sleeper"},
        "spec": {"terminationGracePeriodSeconds": 5, "containers": [{"name": "c", "image": "docker.io/library/busybox:1.35",
                 "command": ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"]}]}
    }))
    .await;
    wait_pod(&client, "sleeper", "Running", |p| phase(p) == "Running").await;
    let uid = created.metadata.uid.unwrap();
    assert_eq!(
        cri.list_containers(selector(labels::POD_UID, &uid))
            .await
            .unwrap()
            .len(),
        1
    );

    let api: Api<Pod> = Api::namespaced(client.clone(), "default");
    api.delete("sleeper", &DeleteParams::default())
        .await
        .unwrap();
    let gone = tokio::time::timeout(
        POD_DEADLINE,
        kube::runtime::wait::await_condition(
            api.clone(),
            "sleeper",
            kube::runtime::wait::conditions::is_deleted(&uid),
        ),
    )
    .await;
    assert!(
        matches!(gone, Ok(Ok(_))),
        "the kubelet deletes the pod once its containers stopped"
    );
    assert!(cri
        .list_containers(selector(labels::POD_UID, &uid))
        .await
        .unwrap()
        .is_empty());
    assert!(cri
        .list_pod_sandboxes(selector(labels::POD_UID, &uid))
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_kubelet_restart_leaves_running_containers_running() {
    let server = TestApiserver::start();
    let client = server.client().await;
    let mut node = TestNode::new(15);
    let options = node.start_containerd("node-e").await;
    let first = RunningKubelet::start(client.clone(), options.clone());

    let long = |name: &str| {
        serde_json::json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "docker.io/library/busybox:1.35", "command": ["sleep", "3600"]}]}
        })
    };
    create_pod(&client, "node-e", long("survivor")).await;
    let before = wait_pod(&client, "survivor", "Running", |p| phase(p) == "Running").await;
    let id_of = |p: &Pod| {
        p.status
            .as_ref()
            .unwrap()
            .container_statuses
            .as_ref()
            .unwrap()[0]
            .container_id
            .clone()
    };
    first.stop().await.unwrap();

    let _second = RunningKubelet::start(client.clone(), options);
    // Once the new kubelet runs a new pod, it has synced the old one too.
    create_pod(&client, "node-e", long("newcomer")).await;
    wait_pod(&client, "newcomer", "Running", |p| phase(p) == "Running").await;
    let api: Api<Pod> = Api::namespaced(client.clone(), "default");
    let after = api.get("survivor").await.unwrap();
    assert_eq!(phase(&after), "Running");
    assert_eq!(
        id_of(&after),
        id_of(&before),
        "the same container, not a new one"
    );
    assert_eq!(
        after.status.unwrap().container_statuses.unwrap()[0].restart_count,
        0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn images_that_cannot_be_had_report_err_image_never_pull_and_err_image_pull() {
    let server = TestApiserver::start();
    let client = server.client().await;
    let mut node = TestNode::new(16);
    let options = node.start_containerd("node-f").await;
    let _kubelet = RunningKubelet::start(client.clone(), options);

    create_pod(&client, "node-f", serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "no-image"},
        "spec": {"containers": [
            {"name": "never", "image": "docker.io/library/absent:1.0", "imagePullPolicy": "Never"},
            {"name": "pull", "image": "127.0.0.1:1/absent:1.0", "imagePullPolicy": "IfNotPresent"}
        ]}
    }))
    .await;
    let pod = wait_pod(&client, "no-image", "waiting on images", |p| {
        waiting_reason(p, "never") == Some("ErrImageNeverPull")
            && matches!(
                waiting_reason(p, "pull"),
                Some("ErrImagePull") | Some("ImagePullBackOff")
            )
    })
    .await;
    assert_eq!(phase(&pod), "Pending");
}

#[tokio::test(flavor = "multi_thread")]
async fn exited_containers_report_their_termination_messages() {
    let server = TestApiserver::start();
    let client = server.client().await;
    let mut node = TestNode::new(17);
    let options = node.start_containerd("node-m").await;
    let _kubelet = RunningKubelet::start(client.clone(), options);

    let busybox = "docker.io/library/busybox:1.35";
    create_pod(&client, "node-m", serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "messages"},
        "spec": {"restartPolicy": "Never", "containers": [
            {"name": "file", "image": busybox,
             "command": ["sh", "-c", "printf bye > /dev/termination-log; exit 3"]},
            {"name": "custom-path", "image": busybox, "terminationMessagePath": "/tmp/said",
             "command": ["sh", "-c", "printf done > /tmp/said"]},
            {"name": "fallback", "image": busybox, "terminationMessagePolicy": "FallbackToLogsOnError",
             "command": ["sh", "-c", "echo oops >&2; exit 2"]},
            {"name": "fallback-ok", "image": busybox, "terminationMessagePolicy": "FallbackToLogsOnError",
             "command": ["sh", "-c", "echo fine"]}
        ]}
    }))
    .await;
    let pod = wait_pod(&client, "messages", "Failed", |p| phase(p) == "Failed").await;
    let statuses = pod.status.unwrap().container_statuses.unwrap();
    let message = |name: &str| {
        let status = statuses.iter().find(|s| s.name == name).unwrap();
        let terminated = status.state.as_ref().unwrap().terminated.as_ref().unwrap();
        terminated.message.clone()
    };
    assert_eq!(message("file").as_deref(), Some("bye"));
    assert_eq!(message("custom-path").as_deref(), Some("done"));
    assert_eq!(message("fallback").as_deref(), Some("oops\n"));
    // A success under FallbackToLogsOnError does not take the log.
    assert_eq!(message("fallback-ok"), None);
}
