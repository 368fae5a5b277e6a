//! Service cluster IPs and NodePorts through the real API: requested values
//! honoured, conflicts refused with 422 field causes, type changes allocate
//! and release, deletes release, headless stays headless.

mod common;

use common::{Authenticated, RawHttp, TestServer};
use serde_json::{json, Value};

const JSON: (&str, &str) = ("Content-Type", "application/json");
const SERVICES: &str = "/api/v1/namespaces/default/services";

fn service(name: &str, spec: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec})
}

/// POSTs a Service; returns the status code and body.
fn create(server: &TestServer, body: &Value) -> (u16, Value) {
    let r = server.http(Authenticated::Admin).request(
        "POST",
        SERVICES,
        &[JSON],
        body.to_string().as_bytes(),
    );
    (r.status, r.json())
}

/// PUTs a Service (without resourceVersion: unconditional).
fn replace(server: &TestServer, body: &Value) -> (u16, Value) {
    let name = body["metadata"]["name"].as_str().unwrap_or_default();
    let r = server.http(Authenticated::Admin).request(
        "PUT",
        &format!("{SERVICES}/{name}"),
        &[JSON],
        body.to_string().as_bytes(),
    );
    (r.status, r.json())
}

fn cause_field(status: &Value) -> &str {
    status["details"]["causes"][0]["field"]
        .as_str()
        .unwrap_or("")
}

#[test]
fn requested_addresses_and_ports_are_honoured_and_conflicts_are_invalid() {
    let server = TestServer::start();
    let cases = [
        (
            "the DNS address is free for kube-dns",
            service(
                "dns",
                json!({"clusterIP": "10.43.0.10", "ports": [{"port": 53, "protocol": "UDP"}]}),
            ),
            201,
            "",
        ),
        (
            "a taken address is refused",
            service(
                "dns2",
                json!({"clusterIP": "10.43.0.10", "ports": [{"port": 53}]}),
            ),
            422,
            "spec.clusterIPs",
        ),
        (
            "an address outside the service CIDR is refused",
            service(
                "far",
                json!({"clusterIP": "10.99.0.1", "ports": [{"port": 80}]}),
            ),
            422,
            "spec.clusterIPs",
        ),
        (
            "a requested node port is honoured",
            service(
                "np",
                json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 30123}]}),
            ),
            201,
            "",
        ),
        (
            "a taken node port is refused",
            service(
                "np2",
                json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 30123}]}),
            ),
            422,
            "spec.ports[0].nodePort",
        ),
        (
            "a node port outside the range is refused",
            service(
                "np3",
                json!({"type": "NodePort", "ports": [{"name": "a", "port": 80}, {"name": "b", "port": 81, "nodePort": 8081}]}),
            ),
            422,
            "spec.ports[1].nodePort",
        ),
    ];
    for (what, body, code, field) in cases {
        let (status, answer) = create(&server, &body);
        assert_eq!(status, code, "{what}: {answer}");
        if code == 422 {
            assert_eq!(answer["reason"], "Invalid", "{what}");
            assert_eq!(cause_field(&answer), field, "{what}: {answer}");
        } else if let Some(ip) = body["spec"]["clusterIP"].as_str() {
            assert_eq!(answer["spec"]["clusterIP"], ip, "{what}");
            assert_eq!(answer["spec"]["clusterIPs"], json!([ip]), "{what}");
        }
    }
    let (_, np) = create(
        &server,
        &service("np4", json!({"type": "NodePort", "ports": [{"port": 80}]})),
    );
    let port = np["spec"]["ports"][0]["nodePort"]
        .as_i64()
        .unwrap_or_default();
    assert!(
        (30000..=32767).contains(&port) && port != 30123,
        "allocated {port}"
    );
    let (_, headless) = create(
        &server,
        &service(
            "headless",
            json!({"clusterIP": "None", "ports": [{"port": 80}]}),
        ),
    );
    assert_eq!(headless["spec"]["clusterIP"], "None");
}

#[test]
fn type_changes_allocate_and_release_and_deletes_release() {
    let server = TestServer::start();
    let cluster_ip = service(
        "web",
        json!({"clusterIP": "10.43.7.7", "ports": [{"port": 80}]}),
    );
    assert_eq!(create(&server, &cluster_ip).0, 201);

    // ClusterIP → NodePort: a node port appears, the address stays.
    let (status, np) = replace(
        &server,
        &service("web", json!({"type": "NodePort", "ports": [{"port": 80}]})),
    );
    assert_eq!(status, 200, "{np}");
    assert_eq!(np["spec"]["clusterIP"], "10.43.7.7");
    let node_port = np["spec"]["ports"][0]["nodePort"]
        .as_i64()
        .unwrap_or_default();
    assert!((30000..=32767).contains(&node_port), "{np}");

    // Changing the address is refused.
    let (status, answer) = replace(
        &server,
        &service(
            "web",
            json!({"type": "NodePort", "clusterIP": "10.43.7.8", "ports": [{"port": 80}]}),
        ),
    );
    assert_eq!(
        (status, cause_field(&answer)),
        (422, "spec.clusterIPs[0]"),
        "{answer}"
    );

    // NodePort → ClusterIP releases the port: another Service may take it.
    let (status, back) = replace(
        &server,
        &service(
            "web",
            json!({"type": "ClusterIP", "clusterIP": "10.43.7.7", "ports": [{"port": 80, "nodePort": node_port}]}),
        ),
    );
    assert_eq!(status, 200, "{back}");
    assert!(back["spec"]["ports"][0].get("nodePort").is_none(), "{back}");
    let taker = service(
        "taker",
        json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": node_port}]}),
    );
    assert_eq!(create(&server, &taker).0, 201);

    // ClusterIP → ExternalName releases the address.
    let (status, external) = replace(
        &server,
        &service(
            "web",
            json!({"type": "ExternalName", "externalName": "example.invalid", "ports": [{"port": 80}]}),
        ),
    );
    assert_eq!(status, 200, "{external}");
    assert!(external["spec"].get("clusterIP").is_none(), "{external}");
    let reuse = service(
        "reuse",
        json!({"clusterIP": "10.43.7.7", "ports": [{"port": 80}]}),
    );
    assert_eq!(create(&server, &reuse).0, 201, "the address is free again");

    // ExternalName → ClusterIP allocates a new one.
    let (status, again) = replace(
        &server,
        &service("web", json!({"type": "ClusterIP", "ports": [{"port": 80}]})),
    );
    assert_eq!(status, 200, "{again}");
    assert!(again["spec"]["clusterIP"]
        .as_str()
        .is_some_and(|ip| ip.starts_with("10.43.") && ip != "10.43.7.7"));

    // A delete releases the address (kubectl, as users do it).
    server.kubectl_ok(&["delete", "service", "reuse"]);
    assert_eq!(
        create(
            &server,
            &service(
                "reuse2",
                json!({"clusterIP": "10.43.7.7", "ports": [{"port": 80}]})
            )
        )
        .0,
        201
    );
}
