//! Probes and lifecycle hooks on a real containerd: readiness (exec,
//! httpGet, tcpSocket) holds a pod unready until it passes, a failing
//! liveness probe restarts the container with `Unhealthy` and `Killing`
//! events, a startup probe holds liveness off, and postStart hooks run
//! before the main command sees the container (or kill it when they fail).
//! Each test has its own containerd, bridge and pod CIDR (nodes 50–59).
//! Needs root, containerd, runc, the CNI plugins and busybox-static
//! (scripts/install-deps.sh).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ContainerStatus, Event, Pod};
use kube::api::Api;
use kube::runtime::{watcher, WatchStreamExt};
use rkube_testkit::TestApiserver;
use serde_json::json;
use support::*;

const BUSYBOX: &str = "docker.io/library/busybox:1.35";

/// The status of container `name`.
fn container<'a>(pod: &'a Pod, name: &str) -> Option<&'a ContainerStatus> {
    pod.status
        .as_ref()?
        .container_statuses
        .as_ref()?
        .iter()
        .find(|c| c.name == name)
}

/// The status of pod condition `type_` ("True"/"False").
fn condition<'a>(pod: &'a Pod, type_: &str) -> Option<&'a str> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| c.status.as_str())
}

fn running(pod: &Pod, name: &str) -> bool {
    container(pod, name)
        .and_then(|c| c.state.as_ref())
        .is_some_and(|s| s.running.is_some())
}

/// Waits until an event about pod `pod` has `reason` and a message
/// containing `text`; panics after the deadline.
async fn wait_event(client: &kube::Client, pod: &str, reason: &str, text: &str) -> Event {
    let api: Api<Event> = Api::namespaced(client.clone(), "default");
    let matches = |e: &Event| {
        e.involved_object.name.as_deref() == Some(pod)
            && e.reason.as_deref() == Some(reason)
            && e.message.as_deref().is_some_and(|m| m.contains(text))
    };
    let found = tokio::time::timeout(POD_DEADLINE, async {
        let mut events = watcher::watcher(api.clone(), watcher::Config::default())
            .default_backoff()
            .applied_objects()
            .boxed();
        while let Some(event) = events.try_next().await.ok().flatten() {
            if matches(&event) {
                return Some(event);
            }
        }
        None
    })
    .await;
    match found {
        Ok(Some(event)) => event,
        _ => {
            let seen = api.list(&Default::default()).await.map(|l| {
                l.items
                    .into_iter()
                    .map(|e| (e.reason, e.message))
                    .collect::<Vec<_>>()
            });
            panic!("no {reason} event with {text:?} about {pod} within {POD_DEADLINE:?}; events: {seen:#?}")
        }
    }
}

async fn any_event(client: &kube::Client, pod: &str, reason: &str) -> bool {
    let api: Api<Event> = Api::namespaced(client.clone(), "default");
    api.list(&Default::default())
        .await
        .unwrap()
        .items
        .iter()
        .any(|e| {
            e.involved_object.name.as_deref() == Some(pod) && e.reason.as_deref() == Some(reason)
        })
}

/// A container that serves `port` with busybox httpd after `delay` seconds.
fn delayed_httpd(name: &str, port: u16, delay: u32) -> serde_json::Value {
    json!({
        "name": name,
        "image": BUSYBOX,
        "command": ["sh", "-c", format!(
            "sleep {delay}; mkdir -p /www; echo ok > /www/index.html; exec httpd -f -p {port} -h /www"
        )],
        "ports": [{"name": "http", "containerPort": port}],
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn readiness_probes_keep_the_pod_unready_until_each_passes() {
    let server = TestApiserver::start();
    let client = server.client().await;
    let mut node = TestNode::new(50);
    let options = node.start_containerd("node-50").await;
    let _kubelet = RunningKubelet::start(client.clone(), options);

    let mut web = delayed_httpd("web", 8080, 10);
    web["readinessProbe"] =
        json!({"httpGet": {"path": "/index.html", "port": "http"}, "periodSeconds": 1});
    let mut tcp = delayed_httpd("tcp", 9090, 10);
    tcp["readinessProbe"] = json!({"tcpSocket": {"port": 9090}, "periodSeconds": 1});
    let flag = json!({
        "name": "flag",
        "image": BUSYBOX,
        "command": ["sh", "-c", "sleep 10; touch /tmp/ready; exec sleep 3600"],
        "readinessProbe": {"exec": {"command": ["test", "-f", "/tmp/ready"]}, "periodSeconds": 1},
    });
    create_pod(
        &client,
        "node-50",
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "gated"},
            "spec": {"terminationGracePeriodSeconds": 1, "containers": [web, tcp, flag]},
        }),
    )
    .await;

    // Every container runs, none is ready yet: the pod is not Ready.
    let names = ["web", "tcp", "flag"];
    let pod = wait_pod(&client, "gated", "running but unready", |p| {
        names.iter().all(|n| running(p, n))
    })
    .await;
    for name in names {
        let c = container(&pod, name).unwrap();
        assert_eq!((c.ready, c.started), (false, Some(true)), "{name}: {c:#?}");
    }
    assert_eq!(condition(&pod, "Ready"), Some("False"), "{:#?}", pod.status);
    assert_eq!(condition(&pod, "ContainersReady"), Some("False"));

    // Once the port serves and the file exists, every probe passes.
    let pod = wait_pod(&client, "gated", "Ready", |p| {
        condition(p, "Ready") == Some("True")
    })
    .await;
    for name in names {
        assert!(container(&pod, name).unwrap().ready, "{name}");
    }
    assert_eq!(condition(&pod, "ContainersReady"), Some("True"));
    wait_event(&client, "gated", "Unhealthy", "Readiness probe failed: ").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_liveness_probe_restarts_the_container_with_events() {
    let server = TestApiserver::start();
    let client = server.client().await;
    let mut node = TestNode::new(51);
    let options = node.start_containerd("node-51").await;
    let _kubelet = RunningKubelet::start(client.clone(), options);

    create_pod(
        &client,
        "node-51",
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "doomed"},
            "spec": {
                "terminationGracePeriodSeconds": 1,
                "containers": [{
                    "name": "c",
                    "image": BUSYBOX,
                    "command": ["sleep", "3600"],
                    "livenessProbe": {
                        "exec": {"command": ["sh", "-c", "echo not alive; exit 1"]},
                        "periodSeconds": 1,
                        "failureThreshold": 2,
                    },
                }],
            },
        }),
    )
    .await;

    wait_pod(&client, "doomed", "restarted", |p| {
        container(p, "c").is_some_and(|c| c.restart_count >= 1)
    })
    .await;
    wait_event(
        &client,
        "doomed",
        "Unhealthy",
        "Liveness probe failed: not alive",
    )
    .await;
    wait_event(
        &client,
        "doomed",
        "Killing",
        "Container c failed liveness probe, will be restarted",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_startup_probe_holds_liveness_off_until_it_passes() {
    let server = TestApiserver::start();
    let client = server.client().await;
    let mut node = TestNode::new(52);
    let options = node.start_containerd("node-52").await;
    let _kubelet = RunningKubelet::start(client.clone(), options);

    // Liveness alone would kill this container within a second of starting.
    let check = json!({"command": ["test", "-f", "/tmp/started"]});
    create_pod(
        &client,
        "node-52",
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "slow-start"},
            "spec": {
                "terminationGracePeriodSeconds": 1,
                "containers": [{
                    "name": "c",
                    "image": BUSYBOX,
                    "command": ["sh", "-c", "sleep 8; touch /tmp/started; exec sleep 3600"],
                    "startupProbe": {"exec": check, "periodSeconds": 1, "failureThreshold": 60},
                    "livenessProbe": {"exec": check, "periodSeconds": 1, "failureThreshold": 1},
                }],
            },
        }),
    )
    .await;

    let pod = wait_pod(&client, "slow-start", "running, not started", |p| {
        running(p, "c")
    })
    .await;
    let c = container(&pod, "c").unwrap();
    assert_eq!((c.started, c.ready), (Some(false), false), "{c:#?}");
    let pod = wait_pod(&client, "slow-start", "started and Ready", |p| {
        container(p, "c").is_some_and(|c| c.started == Some(true))
            && condition(p, "Ready") == Some("True")
    })
    .await;
    assert_eq!(
        container(&pod, "c").unwrap().restart_count,
        0,
        "{:#?}",
        pod.status
    );
    wait_event(&client, "slow-start", "Unhealthy", "Startup probe failed: ").await;
    assert!(
        !any_event(&client, "slow-start", "Killing").await,
        "liveness must not have run before startup passed"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn post_start_hooks_run_before_the_command_sees_them_and_kill_it_when_they_fail() {
    let server = TestApiserver::start();
    let client = server.client().await;
    let mut node = TestNode::new(53);
    let options = node.start_containerd("node-53").await;
    let _kubelet = RunningKubelet::start(client.clone(), options);

    // The main command exits with the code the hook wrote.
    create_pod(
        &client,
        "node-53",
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "hooked"},
            "spec": {
                "restartPolicy": "Never",
                "containers": [{
                    "name": "c",
                    "image": BUSYBOX,
                    "command": ["sh", "-c",
                        "for i in $(seq 1 300); do [ -f /tmp/hook ] && exit $(cat /tmp/hook); sleep 0.1; done; exit 1"],
                    "lifecycle": {"postStart": {"exec": {"command": ["sh", "-c", "echo 7 > /tmp/hook"]}}},
                }],
            },
        }),
    )
    .await;
    // A hook that fails kills its container.
    create_pod(
        &client,
        "node-53",
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "bad-hook"},
            "spec": {
                "restartPolicy": "Never",
                "terminationGracePeriodSeconds": 1,
                "containers": [{
                    "name": "c",
                    "image": BUSYBOX,
                    "command": ["sleep", "3600"],
                    "lifecycle": {"postStart": {"exec": {"command": ["sh", "-c", "echo broken; exit 3"]}}},
                }],
            },
        }),
    )
    .await;

    let pod = wait_pod(&client, "hooked", "finished", |p| {
        terminated(p, "c").is_some()
    })
    .await;
    assert_eq!(
        terminated(&pod, "c").unwrap().exit_code,
        7,
        "{:#?}",
        pod.status
    );

    let pod = wait_pod(&client, "bad-hook", "killed", |p| {
        terminated(p, "c").is_some()
    })
    .await;
    assert_ne!(
        terminated(&pod, "c").unwrap().exit_code,
        0,
        "{:#?}",
        pod.status
    );
    assert_eq!(phase(&pod), "Failed");
    wait_event(
        &client,
        "bad-hook",
        "FailedPostStartHook",
        "Exec lifecycle hook",
    )
    .await;
}
