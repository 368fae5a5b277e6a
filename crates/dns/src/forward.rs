//! Forwarding queries for names outside the cluster to the upstream
//! resolvers, in order, each under a timeout (CoreDNS `forward` with the
//! `sequential` policy). A truncated UDP reply is retried over TCP.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RecordType};

use crate::exchange::{exchange, ExchangeError, Transport};

/// Why no upstream answered.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    /// There are no upstream resolvers configured.
    #[error("no upstream resolvers are configured")]
    NoUpstream,
    /// Every upstream failed; this is the last failure.
    #[error("every upstream resolver failed")]
    Failed(#[source] ExchangeError),
    /// An upstream's reply was not a DNS message.
    #[error("upstream {server} sent a malformed reply: {reason}")]
    Malformed {
        /// The upstream.
        server: SocketAddr,
        /// What was wrong.
        reason: String,
    },
    /// Building the query failed.
    #[error("encoding a query for {name}: {reason}")]
    Encode {
        /// The name.
        name: Name,
        /// What was wrong.
        reason: String,
    },
}

/// The upstream resolvers.
#[derive(Debug, Clone)]
pub struct Forwarder {
    servers: Vec<SocketAddr>,
    timeout: Duration,
}

impl Forwarder {
    /// Forwards to `servers`, in order, waiting `timeout` for each.
    pub fn new(servers: Vec<SocketAddr>, timeout: Duration) -> Self {
        Self { servers, timeout }
    }

    /// Sends a client's query (wire format, the client's ID kept) upstream
    /// and returns the first reply.
    pub async fn forward(
        &self,
        query: &[u8],
        transport: Transport,
    ) -> Result<Message, ForwardError> {
        let mut last = None;
        for server in &self.servers {
            match self.ask(*server, query, transport).await {
                Ok(reply) => return Ok(reply),
                Err(ForwardError::Failed(error)) => {
                    tracing::debug!(%server, %error, "upstream failed, trying the next");
                    last = Some(error);
                }
                Err(error) => return Err(error),
            }
        }
        Err(last.map_or(ForwardError::NoUpstream, ForwardError::Failed))
    }

    /// Looks up `name`/`record_type` upstream with a fresh query, for
    /// following CNAMEs out of the cluster.
    pub async fn lookup(
        &self,
        name: &Name,
        record_type: RecordType,
    ) -> Result<Message, ForwardError> {
        let mut message = Message::new(rand::random(), MessageType::Query, OpCode::Query);
        message.metadata.recursion_desired = true;
        message.add_query(Query::query(name.clone(), record_type));
        let bytes = message.to_vec().map_err(|error| ForwardError::Encode {
            name: name.clone(),
            reason: error.to_string(),
        })?;
        self.forward(&bytes, Transport::Udp).await
    }

    async fn ask(
        &self,
        server: SocketAddr,
        query: &[u8],
        transport: Transport,
    ) -> Result<Message, ForwardError> {
        let reply = self.ask_once(server, query, transport).await?;
        if transport == Transport::Udp && reply.metadata.truncation {
            return self.ask_once(server, query, Transport::Tcp).await;
        }
        Ok(reply)
    }

    async fn ask_once(
        &self,
        server: SocketAddr,
        query: &[u8],
        transport: Transport,
    ) -> Result<Message, ForwardError> {
        let bytes = exchange(server, query, transport, self.timeout)
            .await
            .map_err(ForwardError::Failed)?;
        Message::from_vec(&bytes).map_err(|error| ForwardError::Malformed {
            server,
            reason: error.to_string(),
        })
    }
}
