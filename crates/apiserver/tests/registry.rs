//! The generic registry's verbs over raw HTTP: generateName, dry runs,
//! deletecollection with selectors, the scale subresource and watch-list.

mod common;

use common::{Authenticated, RawClient, RawHttp, TestServer};
use serde_json::json;

const JSON: (&str, &str) = ("Content-Type", "application/json");
const CONFIGMAPS: &str = "/api/v1/namespaces/default/configmaps";

fn post(http: &RawClient, path: &str, body: serde_json::Value) -> common::RawResponse {
    http.request("POST", path, &[JSON], body.to_string().as_bytes())
}

#[test]
fn generate_name_and_dry_run_create() {
    let server = TestServer::start();
    let http = server.http(Authenticated::Admin);
    let r = post(
        &http,
        CONFIGMAPS,
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "gen-"}}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let name = r.json()["metadata"]["name"]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(name.starts_with("gen-") && name.len() == 9, "{name}");
    let r = post(
        &http,
        &format!("{CONFIGMAPS}?dryRun=All"),
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "dry"}}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(http.get(&format!("{CONFIGMAPS}/dry")).status, 404);
}

#[test]
fn delete_collection_removes_only_selected_objects() {
    let server = TestServer::start();
    let http = server.http(Authenticated::Admin);
    for (name, app) in [("a", "web"), ("b", "web"), ("c", "db")] {
        let r = post(
            &http,
            CONFIGMAPS,
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": {"app": app}}}),
        );
        assert_eq!(r.status, 201);
    }
    let r = http.request(
        "DELETE",
        &format!("{CONFIGMAPS}?labelSelector=app%3Dweb"),
        &[],
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["items"].as_array().map(Vec::len), Some(2));
    let left = http.get(CONFIGMAPS).json();
    let names: Vec<&str> = left["items"]
        .as_array()
        .map(|i| {
            i.iter()
                .filter_map(|o| o["metadata"]["name"].as_str())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(names, vec!["c"]);
}

#[test]
fn the_scale_subresource_reads_and_writes_replicas() {
    let server = TestServer::start();
    let http = server.http(Authenticated::Admin);
    let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}});
    let r = post(
        &http,
        "/apis/apps/v1/namespaces/default/deployments",
        deployment,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let path = "/apis/apps/v1/namespaces/default/deployments/web/scale";
    let scale = http.get(path).json();
    assert_eq!(scale["kind"], "Scale");
    assert_eq!(scale["apiVersion"], "autoscaling/v1");
    assert_eq!(scale["spec"]["replicas"], 2);
    assert_eq!(scale["status"]["selector"], "app=web");
    let r = http.request("PUT", path, &[JSON], json!({"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": {"name": "web"}, "spec": {"replicas": 4}}).to_string().as_bytes());
    assert_eq!(r.status, 200, "{}", r.text());
    let d = http
        .get("/apis/apps/v1/namespaces/default/deployments/web")
        .json();
    assert_eq!(d["spec"]["replicas"], 4);
    assert_eq!(d["metadata"]["generation"], 2);
}

#[test]
fn a_watch_list_sends_initial_events_then_a_bookmark() {
    let server = TestServer::start();
    let http = server.http(Authenticated::Admin);
    post(
        &http,
        CONFIGMAPS,
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}),
    );
    let r = http.get(&format!(
        "{CONFIGMAPS}?watch=true&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan&timeoutSeconds=1"
    ));
    let events: Vec<serde_json::Value> = r
        .text()
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON event"))
        .collect();
    assert_eq!(events[0]["type"], "ADDED");
    assert_eq!(events[1]["type"], "BOOKMARK");
    assert_eq!(
        events[1]["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"],
        "true"
    );
}

#[test]
fn finalizing_a_terminating_namespace_removes_it() {
    let server = TestServer::start();
    let http = server.http(Authenticated::Admin);
    let r = post(
        &http,
        "/api/v1/namespaces",
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "gone"}}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["spec"]["finalizers"], json!(["kubernetes"]));
    let r = http.request("DELETE", "/api/v1/namespaces/gone", &[], b"");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        http.get("/api/v1/namespaces/gone").json()["status"]["phase"],
        "Terminating"
    );
    let finalize = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "gone"}, "spec": {"finalizers": []}});
    let r = http.request(
        "PUT",
        "/api/v1/namespaces/gone/finalize",
        &[JSON],
        finalize.to_string().as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(http.get("/api/v1/namespaces/gone").status, 404);
}
