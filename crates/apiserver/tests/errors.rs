//! Raw HTTP: every error class answers with upstream's Status (code,
//! reason, details, field order, trailing newline).

mod common;

use common::{Authenticated, RawHttp, TestServer};
use serde_json::json;

const JSON: (&str, &str) = ("Content-Type", "application/json");

fn create_configmap(server: &TestServer, name: &str) {
    let body = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}});
    let r = server.http(Authenticated::Admin).request(
        "POST",
        "/api/v1/namespaces/default/configmaps",
        &[JSON],
        body.to_string().as_bytes(),
    );
    assert_eq!(r.status, 201, "{}", r.text());
}

#[test]
fn anonymous_requests_are_unauthorized_except_health_and_version() {
    let server = TestServer::start();
    let anon = server.http(Authenticated::Anonymous);
    let r = anon.get("/api/v1/namespaces");
    assert_eq!(r.status, 401);
    assert_eq!(
        r.text(),
        "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":\"Unauthorized\",\"reason\":\"Unauthorized\",\"code\":401}\n"
    );
    for path in ["/healthz", "/livez", "/readyz"] {
        let r = anon.get(path);
        assert_eq!((r.status, r.text()), (200, "ok".to_string()), "{path}");
    }
    let version = anon.get("/version").json();
    assert_eq!(version["major"], "1");
    assert_eq!(version["minor"], "34");
}

#[test]
fn a_missing_object_is_a_404_with_upstreams_exact_bytes() {
    let server = TestServer::start();
    let r = server
        .http(Authenticated::Admin)
        .get("/api/v1/namespaces/default/pods/x");
    assert_eq!(r.status, 404);
    assert_eq!(
        r.text(),
        "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":\"pods \\\"x\\\" not found\",\"reason\":\"NotFound\",\"details\":{\"name\":\"x\",\"kind\":\"pods\"},\"code\":404}\n"
    );
    let r = server
        .http(Authenticated::Admin)
        .get("/apis/nope/v1/things");
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["reason"], "NotFound");
}

#[test]
fn malformed_bodies_and_mismatched_kinds_are_bad_requests() {
    let server = TestServer::start();
    let http = server.http(Authenticated::Admin);
    let path = "/api/v1/namespaces/default/configmaps";
    let r = http.request("POST", path, &[JSON], b"{not json");
    assert_eq!(
        (r.status, r.json()["reason"].clone()),
        (400, json!("BadRequest")),
        "{}",
        r.text()
    );
    let wrong = json!({"apiVersion": "apps/v1", "kind": "ConfigMap", "metadata": {"name": "a"}});
    let r = http.request("POST", path, &[JSON], wrong.to_string().as_bytes());
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["message"],
        "the API version in the data (apps/v1) does not match the expected API version (v1)"
    );
    let r = http.request(
        "POST",
        path,
        &[("Content-Type", "application/yaml")],
        b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\n",
    );
    assert_eq!(r.status, 201, "{}", r.text());
}

#[test]
fn duplicates_and_stale_versions_are_conflicts() {
    let server = TestServer::start();
    create_configmap(&server, "c");
    let http = server.http(Authenticated::Admin);
    let body = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}});
    let r = http.request(
        "POST",
        "/api/v1/namespaces/default/configmaps",
        &[JSON],
        body.to_string().as_bytes(),
    );
    assert_eq!(r.status, 409);
    assert_eq!(r.json()["reason"], "AlreadyExists");
    assert_eq!(r.json()["message"], "configmaps \"c\" already exists");
    let stale = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "resourceVersion": "1"}, "data": {"a": "b"}});
    let r = http.request(
        "PUT",
        "/api/v1/namespaces/default/configmaps/c",
        &[JSON],
        stale.to_string().as_bytes(),
    );
    assert_eq!(r.status, 409);
    assert_eq!(r.json()["reason"], "Conflict");
    assert_eq!(
        r.json()["message"],
        "Operation cannot be fulfilled on configmaps \"c\": the object has been modified; please apply your changes to the latest version and try again"
    );
}

#[test]
fn invalid_objects_are_422_with_field_causes() {
    let server = TestServer::start();
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"image": "busybox"}]}});
    let r = server.http(Authenticated::Admin).request(
        "POST",
        "/api/v1/namespaces/default/pods",
        &[JSON],
        pod.to_string().as_bytes(),
    );
    assert_eq!(r.status, 422, "{}", r.text());
    let status = r.json();
    assert_eq!(status["reason"], "Invalid");
    assert!(
        status["message"]
            .as_str()
            .unwrap_or("")
            .starts_with("Pod \"p\" is invalid: spec.containers[0].name: Required value"),
        "{status}"
    );
    assert_eq!(
        status["details"]["causes"][0]["field"],
        "spec.containers[0].name"
    );
    assert_eq!(
        status["details"]["causes"][0]["reason"],
        "FieldValueRequired"
    );
}

#[test]
fn oversized_bodies_are_413_and_unsupported_methods_405() {
    let server = TestServer::start();
    let http = server.http(Authenticated::Admin);
    let big = vec![b' '; 3 * 1024 * 1024 + 1];
    let r = http.request(
        "POST",
        "/api/v1/namespaces/default/configmaps",
        &[JSON],
        &big,
    );
    assert_eq!(r.status, 413, "{}", r.text());
    assert_eq!(r.json()["reason"], "RequestEntityTooLarge");
    let r = http.request("POST", "/api/v1/configmaps", &[JSON], b"{}");
    assert_eq!(r.status, 405);
    assert_eq!(r.json()["reason"], "MethodNotAllowed");
}

#[test]
fn a_watch_from_a_too_old_version_gets_an_expired_event() {
    let server = TestServer::start();
    let http = server.http(Authenticated::Admin);
    // The cache remembers from its start; revision 1 predates it.
    let r = http
        .get("/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=1&timeoutSeconds=1");
    assert_eq!(r.status, 200);
    let event: serde_json::Value =
        serde_json::from_slice(r.body.split(|b| *b == b'\n').next().unwrap_or_default())
            .expect("an event line");
    assert_eq!(event["type"], "ERROR");
    assert_eq!(event["object"]["code"], 410);
    assert_eq!(event["object"]["reason"], "Expired");
}

#[test]
fn lists_paginate_with_continue_tokens() {
    let server = TestServer::start();
    for name in ["a", "b", "c"] {
        create_configmap(&server, name);
    }
    let http = server.http(Authenticated::Admin);
    let first = http
        .get("/api/v1/namespaces/default/configmaps?limit=2")
        .json();
    assert_eq!(first["items"].as_array().map(Vec::len), Some(2));
    let token = first["metadata"]["continue"]
        .as_str()
        .expect("a continue token")
        .to_string();
    let second = http
        .get(&format!(
            "/api/v1/namespaces/default/configmaps?limit=2&continue={token}"
        ))
        .json();
    assert_eq!(second["items"][0]["metadata"]["name"], "c");
    assert!(second["metadata"].get("continue").is_none(), "{second}");
    let r = http.get("/api/v1/namespaces/default/configmaps?limit=2&continue=garbage");
    assert_eq!(r.status, 400);
}

#[test]
fn watch_streams_newline_delimited_events() {
    let server = TestServer::start();
    create_configmap(&server, "w");
    let http = server.http(Authenticated::Admin);
    let r = http.get("/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=1");
    assert_eq!(r.status, 200);
    let text = r.text();
    let first: serde_json::Value =
        serde_json::from_str(text.lines().next().unwrap_or("")).expect("a JSON line");
    assert_eq!(first["type"], "ADDED");
    assert_eq!(first["object"]["metadata"]["name"], "w");
}

#[test]
fn aggregated_discovery_answers_with_its_content_type() {
    let server = TestServer::start();
    let accept =
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json";
    let r = server
        .http(Authenticated::Admin)
        .request("GET", "/apis", &[("Accept", accept)], b"");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList")
    );
    let doc = r.json();
    assert_eq!(doc["kind"], "APIGroupDiscoveryList");
    assert!(doc["items"]
        .as_array()
        .is_some_and(|i| i.iter().any(|g| g["metadata"]["name"] == "apps")));
}

#[test]
fn a_static_token_authenticates_and_a_wrong_one_does_not() {
    let tokens = tempfile::tempdir().expect("temp dir");
    let path = tokens.path().join("tokens.csv");
    std::fs::write(&path, "s3cret,alice,1001,\"dev\"\n").expect("write token file");
    let server = TestServer::start_with(move |c| c.token_file(&path));
    let anon = server.http(Authenticated::Anonymous);
    let ok = anon.request(
        "GET",
        "/api/v1/namespaces",
        &[("Authorization", "Bearer s3cret")],
        b"",
    );
    assert_eq!(ok.status, 200, "{}", ok.text());
    let wrong = anon.request(
        "GET",
        "/api/v1/namespaces",
        &[("Authorization", "Bearer nope")],
        b"",
    );
    assert_eq!(wrong.status, 401);
}
