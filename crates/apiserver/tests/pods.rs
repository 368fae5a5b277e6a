//! Pod lifecycle through the API: binding by the scheduler, graceful
//! deletion confirmed by the kubelet, eviction, and the subresources a
//! kubelet streams through (routed, not yet served).

mod common;

use common::{Authenticated, RawClient, RawHttp, TestServer};
use serde_json::json;

const JSON: (&str, &str) = ("Content-Type", "application/json");

fn create_pod(http: &RawClient, name: &str) {
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"containers": [{"name": "main", "image": "busybox:1.35"}]}});
    let r = http.request(
        "POST",
        "/api/v1/namespaces/default/pods",
        &[JSON],
        pod.to_string().as_bytes(),
    );
    assert_eq!(r.status, 201, "{}", r.text());
}

fn bind(http: &RawClient, name: &str, node: &str) -> common::RawResponse {
    let binding = json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name},
        "target": {"apiVersion": "v1", "kind": "Node", "name": node}});
    http.request(
        "POST",
        &format!("/api/v1/namespaces/default/pods/{name}/binding"),
        &[JSON],
        binding.to_string().as_bytes(),
    )
}

#[test]
fn a_pod_is_bound_once() {
    let server = TestServer::start();
    let http = server.http(Authenticated::Admin);
    create_pod(&http, "p");
    let r = bind(&http, "p", "n1");
    assert_eq!(r.status, 201, "{}", r.text());
    let pod = http.get("/api/v1/namespaces/default/pods/p").json();
    assert_eq!(pod["spec"]["nodeName"], "n1");
    let r = bind(&http, "p", "n2");
    assert_eq!(r.status, 409);
    assert_eq!(r.json()["reason"], "Conflict");
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap_or("")
            .contains("is already assigned to node \"n1\""),
        "{}",
        r.text()
    );
}

#[test]
fn a_scheduled_pod_stays_until_the_kubelet_confirms_its_deletion() {
    let server = TestServer::start();
    let http = server.http(Authenticated::Admin);
    create_pod(&http, "p");
    bind(&http, "p", "n1");
    let r = http.request("DELETE", "/api/v1/namespaces/default/pods/p", &[], b"");
    assert_eq!(r.status, 200, "{}", r.text());
    let pod = http.get("/api/v1/namespaces/default/pods/p").json();
    assert!(pod["metadata"]["deletionTimestamp"].is_string(), "{pod}");
    assert_eq!(pod["metadata"]["deletionGracePeriodSeconds"], 30);
    let r = http.request(
        "DELETE",
        "/api/v1/namespaces/default/pods/p?gracePeriodSeconds=0",
        &[],
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(http.get("/api/v1/namespaces/default/pods/p").status, 404);
}

#[test]
fn an_unscheduled_pod_is_deleted_at_once_and_eviction_deletes() {
    let server = TestServer::start();
    let http = server.http(Authenticated::Admin);
    create_pod(&http, "p");
    let r = http.request("DELETE", "/api/v1/namespaces/default/pods/p", &[], b"");
    assert_eq!(r.status, 200);
    assert_eq!(http.get("/api/v1/namespaces/default/pods/p").status, 404);
    create_pod(&http, "q");
    let eviction =
        json!({"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "q"}});
    let r = http.request(
        "POST",
        "/api/v1/namespaces/default/pods/q/eviction",
        &[JSON],
        eviction.to_string().as_bytes(),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(http.get("/api/v1/namespaces/default/pods/q").status, 404);
}

#[test]
fn status_writes_change_only_status_and_logs_are_routed() {
    let server = TestServer::start();
    let http = server.http(Authenticated::Admin);
    create_pod(&http, "p");
    let mut pod = http.get("/api/v1/namespaces/default/pods/p").json();
    pod["status"] = json!({"phase": "Running"});
    pod["spec"]["containers"][0]["image"] = json!("changed");
    let r = http.request(
        "PUT",
        "/api/v1/namespaces/default/pods/p/status",
        &[JSON],
        pod.to_string().as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let after = r.json();
    assert_eq!(after["status"]["phase"], "Running");
    assert_eq!(after["spec"]["containers"][0]["image"], "busybox:1.35");
    // Logs are routed to the pod's node; a pod without one gets upstream's 400.
    let r = http.get("/api/v1/namespaces/default/pods/p/log");
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json()["reason"], "BadRequest");
    assert!(
        r.json()["message"]
            .as_str()
            .is_some_and(|m| m.contains("does not have a host assigned")),
        "{}",
        r.text()
    );
}
