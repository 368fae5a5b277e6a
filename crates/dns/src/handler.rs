//! The hickory request handler: answers cluster names from the index,
//! forwards the rest, and writes the response.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use hickory_proto::op::{Edns, Message, Metadata, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Record, RecordType};
use hickory_server::net::runtime::Time;
use hickory_server::net::xfer::Protocol;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;

use crate::answer::{resolve, Answer, Resolution, Zone};
use crate::exchange::Transport;
use crate::forward::Forwarder;
use crate::index::ClusterIndex;

/// The EDNS payload size we advertise (the DNS flag day 2020 value).
const EDNS_PAYLOAD: u16 = 1232;

/// Answers one request at a time; cheap to share between listeners.
pub struct DnsHandler {
    /// The cluster state answers come from.
    pub index: Arc<RwLock<ClusterIndex>>,
    /// Whether every watcher has listed once; before that a missing name may
    /// only be missing from our cache, so it is SERVFAIL, not NXDOMAIN
    /// (CoreDNS `handler.go`: `!k.APIConn.HasSynced()`).
    pub synced: Arc<AtomicBool>,
    /// The zone.
    pub zone: Zone,
    /// The upstream resolvers.
    pub forwarder: Forwarder,
}

/// The sections of a response, owned.
struct Reply {
    code: ResponseCode,
    authoritative: bool,
    answers: Vec<Record>,
    authorities: Vec<Record>,
    additionals: Vec<Record>,
}

impl Reply {
    fn failure(code: ResponseCode) -> Self {
        Self {
            code,
            authoritative: false,
            answers: Vec::new(),
            authorities: Vec::new(),
            additionals: Vec::new(),
        }
    }

    fn from_upstream(message: Message) -> Self {
        Self {
            code: message.metadata.response_code,
            authoritative: false,
            answers: message.answers,
            authorities: message.authorities,
            additionals: message.additionals,
        }
    }
}

impl DnsHandler {
    async fn reply(&self, request: &Request) -> Reply {
        if request.metadata.op_code != OpCode::Query {
            return Reply::failure(ResponseCode::NotImp);
        }
        let query = match request.request_info() {
            Ok(info) => info.query.original().clone(),
            Err(_) => return Reply::failure(ResponseCode::FormErr),
        };
        let resolution = match self.index.read() {
            Ok(index) => resolve(&index, &self.zone, &query),
            // A writer panicked; the index may be half updated.
            Err(_) => return Reply::failure(ResponseCode::ServFail),
        };
        match resolution {
            Resolution::Answer(answer) => self.cluster_reply(&query, answer).await,
            Resolution::Forward => {
                let transport = match request.protocol() {
                    Protocol::Udp => Transport::Udp,
                    _ => Transport::Tcp,
                };
                match self.forwarder.forward(request.as_slice(), transport).await {
                    Ok(message) => Reply::from_upstream(message),
                    Err(error) => {
                        tracing::debug!(name = %query.name, %error, "forwarding failed");
                        Reply::failure(ResponseCode::ServFail)
                    }
                }
            }
        }
    }

    async fn cluster_reply(&self, query: &Query, answer: Answer) -> Reply {
        if answer.code == ResponseCode::NXDomain && !self.synced.load(Ordering::Acquire) {
            return Reply::failure(ResponseCode::ServFail);
        }
        let mut reply = Reply {
            code: answer.code,
            authoritative: true,
            answers: answer.answers,
            authorities: answer.authorities,
            additionals: answer.additionals,
        };
        if let Some(target) = answer.chase {
            // The CNAME is ours; the target's addresses come from upstream
            // when it answers (CoreDNS resolves ExternalName targets the
            // same way, and answers with the CNAME alone when it cannot).
            if matches!(query.query_type, RecordType::A | RecordType::AAAA) {
                if let Ok(upstream) = self.forwarder.lookup(&target, query.query_type).await {
                    reply.answers.extend(upstream.answers);
                }
            }
        }
        reply
    }
}

#[async_trait::async_trait]
impl RequestHandler for DnsHandler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        let reply = self.reply(request).await;
        let mut metadata = Metadata::response_from_request(&request.metadata);
        metadata.response_code = reply.code;
        metadata.authoritative = reply.authoritative;
        metadata.recursion_available = true;
        let edns = request.edns.as_ref().map(|_| {
            let mut edns = Edns::new();
            edns.set_max_payload(EDNS_PAYLOAD);
            edns
        });
        let mut builder = MessageResponseBuilder::new(&request.queries, None);
        if let Some(edns) = &edns {
            builder.edns(edns);
        }
        let response = builder.build(
            metadata,
            reply.answers.iter(),
            reply.authorities.iter(),
            std::iter::empty(),
            reply.additionals.iter(),
        );
        match response_handle.send_response(response).await {
            Ok(info) => info,
            Err(error) => {
                tracing::debug!(src = %request.src(), %error, "sending a response failed");
                let mut failed = Metadata::response_from_request(&request.metadata);
                failed.response_code = ResponseCode::ServFail;
                ResponseInfo::from(hickory_proto::op::Header {
                    metadata: failed,
                    counts: Default::default(),
                })
            }
        }
    }
}
