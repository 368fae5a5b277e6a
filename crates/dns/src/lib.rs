//! rkube's cluster DNS: answers `<svc>.<ns>.svc.<cluster-domain>` and the
//! other names of the Kubernetes DNS specification from Services and
//! EndpointSlices watched through the API (what CoreDNS's kubernetes plugin
//! does), and forwards every other name to the upstream resolvers.
//!
//! It runs inside each agent: [`run`] serves UDP and TCP on the node's
//! address, [`publish_endpoint`] points the `kube-dns` Service (made by
//! [`ensure_kube_dns_service`]) at it.
//!
//! - `name`: what a query name asks about;
//! - `index`, `objects`: the cluster state DNS keeps;
//! - `answer`: answers, computed purely from the index;
//! - `watch`: keeps the index current;
//! - `exchange`, `forward`, `resolv_conf`: upstream resolvers;
//! - `handler`, `server`: the hickory server glue;
//! - `kube_dns`: the Service and its per-node endpoints.

pub mod answer;
pub mod exchange;
mod forward;
mod handler;
pub mod index;
mod kube_dns;
pub mod name;
pub mod objects;
mod resolv_conf;
mod server;
mod watch;

pub use answer::PodRecords;
pub use exchange::{exchange, ExchangeError, Transport};
pub use kube_dns::{
    ensure_kube_dns_service, publish_endpoint, KUBE_DNS_NAMESPACE, KUBE_DNS_SERVICE,
};
pub use resolv_conf::ResolvConfError;
pub use server::{run, DnsOptions, DnsServer, Upstream};

use std::net::SocketAddr;

/// Why cluster DNS could not start, keep serving, or publish itself.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A listen address could not be bound.
    #[error("binding {address}: {source}")]
    Bind {
        /// The address.
        address: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The cluster domain is not a DNS name.
    #[error("cluster domain {domain:?} is not a DNS name: {reason}")]
    ClusterDomain {
        /// The domain as given.
        domain: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The upstream resolvers could not be read.
    #[error(transparent)]
    Upstream(#[from] ResolvConfError),
    /// The server stopped with an error.
    #[error("the DNS server failed: {0}")]
    Serve(String),
    /// An API request failed.
    #[error("{what}: {source}")]
    Api {
        /// What was being done.
        what: String,
        /// The cause.
        #[source]
        source: kube::Error,
    },
    /// An object we build did not convert to its API type (a bug here).
    #[error("building an API object: {0}")]
    Object(#[source] serde_json::Error),
}

/// A cluster DNS result.
pub type Result<T, E = Error> = std::result::Result<T, E>;
