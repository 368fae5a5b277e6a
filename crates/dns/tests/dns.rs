//! Cluster DNS against a real apiserver: services created through the API,
//! questions asked over UDP and TCP on loopback, other names forwarded to a
//! fake upstream resolver.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use rkube_dns::{DnsOptions, DnsServer, Transport, Upstream as UpstreamServers};
use rkube_testkit::TestApiserver;
use support::{query, summary, wait_for_answer, Upstream, UPSTREAM_ADDRESS};
use tokio::sync::watch;

const NOERROR: ResponseCode = ResponseCode::NoError;
const NXDOMAIN: ResponseCode = ResponseCode::NXDomain;

/// A question and the response code and answers it should get.
type Case<'a> = (&'a str, RecordType, (ResponseCode, Vec<&'a str>));

/// A running DNS server for one test; stopped when dropped.
struct RunningDns {
    addr: SocketAddr,
    changes: watch::Receiver<u32>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn start_dns(
    client: Client,
    upstream: Vec<SocketAddr>,
    upstream_timeout: Duration,
) -> RunningDns {
    let mut options = DnsOptions::new(vec!["127.0.0.1:0".parse().expect("listen")])
        .with_upstream(UpstreamServers::Servers(upstream));
    options.upstream_timeout = upstream_timeout;
    let server = DnsServer::bind(&options).await.expect("bind DNS");
    let addr = server.local_addrs()[0];
    let changes = server.changes();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server.serve(client, async move {
        let _ = stopped.await;
    }));
    RunningDns {
        addr,
        changes,
        _stop: stop,
    }
}

async fn create<K>(client: &Client, namespace: &str, object: serde_json::Value) -> K
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + serde::Serialize
        + std::fmt::Debug,
{
    let object: K = serde_json::from_value(object).expect("object");
    Api::<K>::namespaced(client.clone(), namespace)
        .create(&PostParams::default(), &object)
        .await
        .expect("create")
}

/// web (ClusterIP with a named port), db (headless, one slice with a
/// hostname endpoint, a plain one and a not-ready one), ext (ExternalName
/// into the fake upstream's zone).
async fn create_services(client: &Client) {
    create::<Service>(
        client,
        "default",
        serde_json::json!({
            "metadata": {"name": "web"},
            "spec": {"clusterIP": "10.43.0.50", "selector": {"app": "web"},
                "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]},
        }),
    )
    .await;
    create::<Service>(
        client,
        "default",
        serde_json::json!({
            "metadata": {"name": "db"},
            "spec": {"clusterIP": "None", "selector": {"app": "db"},
                "ports": [{"name": "pg", "port": 5432, "protocol": "TCP"}]},
        }),
    )
    .await;
    create::<EndpointSlice>(
        client,
        "default",
        serde_json::json!({
            "metadata": {"name": "db-1", "labels": {"kubernetes.io/service-name": "db"}},
            "addressType": "IPv4",
            "endpoints": [
                {"addresses": ["10.42.0.7"], "hostname": "db-0", "conditions": {"ready": true}},
                {"addresses": ["10.42.0.8"], "conditions": {"ready": true}},
                {"addresses": ["10.42.0.9"], "conditions": {"ready": false}},
            ],
            "ports": [{"name": "pg", "port": 5432, "protocol": "TCP"}],
        }),
    )
    .await;
    create::<Service>(
        client,
        "default",
        serde_json::json!({
            "metadata": {"name": "ext"},
            "spec": {"type": "ExternalName", "externalName": "db.example.test"},
        }),
    )
    .await;
}

#[tokio::test]
async fn cluster_names_are_answered_over_udp_and_tcp() {
    let apiserver = TestApiserver::start();
    let client = apiserver.client().await;
    let upstream = Upstream::start().await;
    let mut dns = start_dns(client.clone(), vec![upstream.addr], Duration::from_secs(2)).await;
    create_services(&client).await;
    // The last object created is answered once every watcher has seen it.
    wait_for_answer(
        dns.addr,
        &mut dns.changes,
        "db.default.svc.cluster.local.",
        RecordType::A,
        Transport::Udp,
        (NOERROR, vec!["A 10.42.0.7", "A 10.42.0.8"]),
    )
    .await;
    wait_for_answer(
        dns.addr,
        &mut dns.changes,
        "ext.default.svc.cluster.local.",
        RecordType::CNAME,
        Transport::Udp,
        (NOERROR, vec!["CNAME db.example.test."]),
    )
    .await;

    let cases: [Case; 12] = [
        (
            "web.default.svc.cluster.local.",
            RecordType::A,
            (NOERROR, vec!["A 10.43.0.50"]),
        ),
        (
            "Web.Default.SVC.cluster.local.",
            RecordType::A,
            (NOERROR, vec!["A 10.43.0.50"]),
        ),
        (
            "web.default.svc.cluster.local.",
            RecordType::AAAA,
            (NOERROR, vec![]),
        ),
        (
            "nothing.default.svc.cluster.local.",
            RecordType::A,
            (NXDOMAIN, vec![]),
        ),
        (
            "_http._tcp.web.default.svc.cluster.local.",
            RecordType::SRV,
            (NOERROR, vec!["SRV 0 100 80 web.default.svc.cluster.local."]),
        ),
        (
            "db-0.db.default.svc.cluster.local.",
            RecordType::A,
            (NOERROR, vec!["A 10.42.0.7"]),
        ),
        (
            "_pg._tcp.db.default.svc.cluster.local.",
            RecordType::SRV,
            (
                NOERROR,
                vec![
                    "SRV 0 50 5432 10-42-0-8.db.default.svc.cluster.local.",
                    "SRV 0 50 5432 db-0.db.default.svc.cluster.local.",
                ],
            ),
        ),
        (
            "ext.default.svc.cluster.local.",
            RecordType::A,
            (NOERROR, vec!["A 192.0.2.1", "CNAME db.example.test."]),
        ),
        (
            "10-42-0-99.default.pod.cluster.local.",
            RecordType::A,
            (NOERROR, vec!["A 10.42.0.99"]),
        ),
        (
            "50.0.43.10.in-addr.arpa.",
            RecordType::PTR,
            (NOERROR, vec!["PTR web.default.svc.cluster.local."]),
        ),
        (
            "7.0.42.10.in-addr.arpa.",
            RecordType::PTR,
            (NOERROR, vec!["PTR db-0.db.default.svc.cluster.local."]),
        ),
        (
            "www.example.test.",
            RecordType::A,
            (NOERROR, vec!["A 192.0.2.1"]),
        ),
    ];
    for transport in [Transport::Udp, Transport::Tcp] {
        for (name, record_type, (code, answers)) in &cases {
            let reply = query(dns.addr, name, *record_type, transport).await;
            let want = (
                *code,
                answers.iter().map(|a| (*a).to_owned()).collect::<Vec<_>>(),
            );
            assert_eq!(
                summary(&reply),
                want,
                "{name} {record_type} over {transport:?}"
            );
            if reply.answers.is_empty() {
                let soa = reply
                    .authorities
                    .iter()
                    .any(|r| r.record_type() == RecordType::SOA);
                assert!(
                    soa,
                    "{name} {record_type}: a negative answer carries the SOA"
                );
            }
        }
    }
    let srv = query(
        dns.addr,
        "_http._tcp.web.default.svc.cluster.local.",
        RecordType::SRV,
        Transport::Udp,
    )
    .await;
    let additionals: Vec<String> = srv
        .additionals
        .iter()
        .map(|r| format!("{} {}", r.name, r.data))
        .collect();
    assert_eq!(additionals, ["web.default.svc.cluster.local. 10.43.0.50"]);
    assert_eq!(UPSTREAM_ADDRESS.to_string(), "192.0.2.1");
}

#[tokio::test]
async fn service_changes_show_up_in_answers() {
    let apiserver = TestApiserver::start();
    let client = apiserver.client().await;
    let upstream = Upstream::start().await;
    let mut dns = start_dns(client.clone(), vec![upstream.addr], Duration::from_secs(2)).await;
    let name = "moving.default.svc.cluster.local.";
    wait_for_answer(
        dns.addr,
        &mut dns.changes,
        name,
        RecordType::CNAME,
        Transport::Udp,
        (NXDOMAIN, vec![]),
    )
    .await;

    create::<Service>(
        &client,
        "default",
        serde_json::json!({
            "metadata": {"name": "moving"},
            "spec": {"type": "ExternalName", "externalName": "one.example.test"},
        }),
    )
    .await;
    wait_for_answer(
        dns.addr,
        &mut dns.changes,
        name,
        RecordType::CNAME,
        Transport::Udp,
        (NOERROR, vec!["CNAME one.example.test."]),
    )
    .await;

    let services: Api<Service> = Api::namespaced(client.clone(), "default");
    services
        .patch(
            "moving",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"spec": {"externalName": "two.example.test"}})),
        )
        .await
        .expect("patch");
    wait_for_answer(
        dns.addr,
        &mut dns.changes,
        name,
        RecordType::CNAME,
        Transport::Tcp,
        (NOERROR, vec!["CNAME two.example.test."]),
    )
    .await;

    services
        .delete("moving", &DeleteParams::default())
        .await
        .expect("delete");
    wait_for_answer(
        dns.addr,
        &mut dns.changes,
        name,
        RecordType::CNAME,
        Transport::Udp,
        (NXDOMAIN, vec![]),
    )
    .await;
}

#[tokio::test]
async fn forwarding_failures_are_servfail() {
    let apiserver = TestApiserver::start();
    let client = apiserver.client().await;
    // A bound socket that never answers: every forwarded query times out.
    let silent = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let silent_addr = silent.local_addr().expect("addr");
    let dns = start_dns(client, vec![silent_addr], Duration::from_millis(200)).await;
    let reply = query(dns.addr, "www.example.test.", RecordType::A, Transport::Udp).await;
    assert_eq!(summary(&reply), (ResponseCode::ServFail, vec![]));
}

#[tokio::test]
async fn the_kube_dns_service_and_node_endpoints_are_published_idempotently() {
    let apiserver = TestApiserver::start();
    let client = apiserver.client().await;
    let upstream = Upstream::start().await;
    let mut dns = start_dns(client.clone(), vec![upstream.addr], Duration::from_secs(2)).await;
    let cluster_ip = "10.43.0.10".parse().expect("ip");
    for _ in 0..2 {
        rkube_dns::ensure_kube_dns_service(client.clone(), cluster_ip)
            .await
            .expect("service");
        rkube_dns::publish_endpoint(
            client.clone(),
            "node-1",
            "127.0.0.1".parse().expect("ip"),
            dns.addr.port(),
        )
        .await
        .expect("endpoint");
    }
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), "kube-system");
    let slice = slices.get("kube-dns-node-1").await.expect("slice");
    let ports: Vec<_> = slice
        .ports
        .unwrap_or_default()
        .into_iter()
        .map(|p| (p.name, p.port))
        .collect();
    assert_eq!(
        ports,
        [
            (Some("dns".to_owned()), Some(i32::from(dns.addr.port()))),
            (Some("dns-tcp".to_owned()), Some(i32::from(dns.addr.port())))
        ]
    );
    let service = Api::<Service>::namespaced(client, "kube-system")
        .get("kube-dns")
        .await
        .expect("service");
    assert_eq!(
        service.spec.and_then(|s| s.cluster_ip).as_deref(),
        Some("10.43.0.10")
    );

    wait_for_answer(
        dns.addr,
        &mut dns.changes,
        "kube-dns.kube-system.svc.cluster.local.",
        RecordType::A,
        Transport::Udp,
        (NOERROR, vec!["A 10.43.0.10"]),
    )
    .await;
    let ns = query(
        dns.addr,
        "ns.dns.cluster.local.",
        RecordType::A,
        Transport::Udp,
    )
    .await;
    assert_eq!(summary(&ns), (NOERROR, vec!["A 10.43.0.10".to_owned()]));
    let ptr = query(
        dns.addr,
        "1.0.0.127.in-addr.arpa.",
        RecordType::PTR,
        Transport::Udp,
    )
    .await;
    assert_eq!(
        summary(&ptr),
        (
            NOERROR,
            vec!["PTR 127-0-0-1.kube-dns.kube-system.svc.cluster.local.".to_owned()]
        )
    );
}
