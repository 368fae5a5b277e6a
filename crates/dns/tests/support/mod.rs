//! Shared by the integration tests and the benchmark: a fake upstream
//! resolver, a DNS client, and waiting for an answer under a deadline.

#![allow(dead_code)] // each test binary uses a different part

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, Metadata, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use hickory_server::net::runtime::Time;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;
use hickory_server::Server;
use rkube_dns::{exchange, Transport};
use tokio::net::{TcpListener, UdpSocket};

/// How long one test query may take.
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a test waits for the DNS server to see a change.
pub const CHANGE_DEADLINE: Duration = Duration::from_secs(30);

/// The zone the fake upstream answers: every `<x>.example.test.` A query
/// gets 192.0.2.1, anything else NXDOMAIN.
pub const UPSTREAM_ZONE: &str = "example.test.";
/// The address the fake upstream answers with.
pub const UPSTREAM_ADDRESS: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);

struct FakeUpstream {
    zone: Name,
}

#[async_trait::async_trait]
impl RequestHandler for FakeUpstream {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response: R,
    ) -> ResponseInfo {
        let mut metadata = Metadata::response_from_request(&request.metadata);
        metadata.recursion_available = true;
        let mut answers = Vec::new();
        match request.request_info() {
            Ok(info)
                if self
                    .zone
                    .zone_of(&info.query.original().name.to_lowercase()) =>
            {
                if info.query.query_type() == RecordType::A {
                    answers.push(Record::from_rdata(
                        info.query.original().name.clone(),
                        60,
                        RData::A(A(UPSTREAM_ADDRESS)),
                    ));
                }
            }
            _ => metadata.response_code = ResponseCode::NXDomain,
        }
        let built = MessageResponseBuilder::new(&request.queries, None).build(
            metadata,
            answers.iter(),
            std::iter::empty(),
            std::iter::empty(),
            std::iter::empty(),
        );
        response
            .send_response(built)
            .await
            .expect("fake upstream reply")
    }
}

/// A fake upstream resolver on loopback (UDP and TCP on one port), serving
/// until dropped.
pub struct Upstream {
    /// Where it listens.
    pub addr: SocketAddr,
    _server: Server<FakeUpstream>,
}

impl Upstream {
    /// Starts it on a free loopback port.
    pub async fn start() -> Upstream {
        let udp = UdpSocket::bind("127.0.0.1:0")
            .await
            .expect("bind upstream udp");
        let addr = udp.local_addr().expect("upstream addr");
        let tcp = TcpListener::bind(addr).await.expect("bind upstream tcp");
        let mut server = Server::new(FakeUpstream {
            zone: Name::from_ascii(UPSTREAM_ZONE).expect("zone"),
        });
        server.register_socket(udp);
        server.register_listener(tcp, Duration::from_secs(5), 32);
        Upstream {
            addr,
            _server: server,
        }
    }
}

/// Asks `server` one question.
pub async fn query(
    server: SocketAddr,
    name: &str,
    record_type: RecordType,
    transport: Transport,
) -> Message {
    let mut message = Message::new(rand::random(), MessageType::Query, OpCode::Query);
    message.metadata.recursion_desired = true;
    message.add_query(Query::query(
        Name::from_ascii(name).expect("query name"),
        record_type,
    ));
    let bytes = message.to_vec().expect("encode query");
    let reply = exchange(server, &bytes, transport, QUERY_TIMEOUT)
        .await
        .expect("DNS exchange");
    let reply = Message::from_vec(&reply).expect("decode reply");
    assert_eq!(
        reply.metadata.id, message.metadata.id,
        "reply for another query"
    );
    reply
}

/// A reply's response code and answers as "TYPE rdata", sorted.
pub fn summary(reply: &Message) -> (ResponseCode, Vec<String>) {
    let mut answers: Vec<String> = reply
        .answers
        .iter()
        .map(|record| format!("{} {}", record.record_type(), record.data))
        .collect();
    answers.sort();
    (reply.metadata.response_code, answers)
}

/// Asks until `accept` takes the reply, asking again after each change the
/// DNS server reports through `changes` (never on a timer), and failing
/// after [`CHANGE_DEADLINE`] with the last reply's summary.
pub async fn wait_for(
    server: SocketAddr,
    changes: &mut tokio::sync::watch::Receiver<u32>,
    question: (&str, RecordType, Transport),
    wanted: &str,
    accept: impl Fn(&Message) -> bool,
) -> Message {
    let (name, record_type, transport) = question;
    let deadline = tokio::time::Instant::now() + CHANGE_DEADLINE;
    loop {
        // Marked seen before asking, so a change after the question wakes us.
        changes.borrow_and_update();
        let reply = query(server, name, record_type, transport).await;
        if accept(&reply) {
            return reply;
        }
        let changed = tokio::time::timeout_at(deadline, changes.changed()).await;
        assert!(
            matches!(changed, Ok(Ok(()))),
            "{name} {record_type} over {transport:?}: still {:?} after {CHANGE_DEADLINE:?}, want {wanted}",
            summary(&reply)
        );
    }
}

/// Waits until the reply's summary is `want`.
pub async fn wait_for_answer(
    server: SocketAddr,
    changes: &mut tokio::sync::watch::Receiver<u32>,
    name: &str,
    record_type: RecordType,
    transport: Transport,
    want: (ResponseCode, Vec<&str>),
) -> Message {
    let want = (
        want.0,
        want.1.into_iter().map(str::to_owned).collect::<Vec<_>>(),
    );
    let wanted = format!("{want:?}");
    wait_for(
        server,
        changes,
        (name, record_type, transport),
        &wanted,
        |reply| summary(reply) == want,
    )
    .await
}

/// Waits until the reply's code is `want`, whatever the answers.
pub async fn wait_for_answer_code(
    server: SocketAddr,
    changes: &mut tokio::sync::watch::Receiver<u32>,
    name: &str,
    record_type: RecordType,
    transport: Transport,
    want: ResponseCode,
) -> Message {
    let wanted = want.to_string();
    wait_for(
        server,
        changes,
        (name, record_type, transport),
        &wanted,
        |reply| reply.metadata.response_code == want,
    )
    .await
}
