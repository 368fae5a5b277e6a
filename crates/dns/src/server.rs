//! The DNS server: binds UDP and TCP listeners, keeps the index current from
//! the API, and answers until shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use hickory_proto::rr::Name;
use hickory_server::Server;
use tokio::net::{TcpListener, UdpSocket};

use crate::answer::{PodRecords, Zone};
use crate::forward::Forwarder;
use crate::handler::DnsHandler;
use crate::index::ClusterIndex;
use crate::resolv_conf::read_nameservers;
use crate::watch::watch_cluster;
use crate::{Error, Result};

/// How long an idle TCP client connection is kept.
const TCP_IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// Responses queued per TCP connection (hickory's own tests use 32).
const TCP_RESPONSE_BUFFER: usize = 32;

/// Where upstream resolvers come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upstream {
    /// The `nameserver` lines of a resolv.conf file.
    ResolvConf(PathBuf),
    /// These servers, in order.
    Servers(Vec<SocketAddr>),
}

impl Default for Upstream {
    fn default() -> Self {
        Upstream::ResolvConf(PathBuf::from("/etc/resolv.conf"))
    }
}

/// How the DNS server runs.
#[derive(Debug, Clone)]
pub struct DnsOptions {
    /// Addresses to listen on, UDP and TCP each (port 0 picks a free port,
    /// the same for both protocols).
    pub listen: Vec<SocketAddr>,
    /// The cluster domain (`cluster.local`).
    pub cluster_domain: String,
    /// Where queries outside the cluster domain go.
    pub upstream: Upstream,
    /// How long to wait for one upstream before trying the next.
    pub upstream_timeout: Duration,
    /// TTL of cluster answers, in seconds (CoreDNS's default is 5).
    pub ttl: u32,
    /// Which pod records exist.
    pub pods: PodRecords,
}

impl DnsOptions {
    /// Defaults (cluster.local, /etc/resolv.conf, 2 s upstream timeout,
    /// TTL 5, `pods insecure`) listening on `listen`.
    pub fn new(listen: Vec<SocketAddr>) -> Self {
        Self {
            listen,
            cluster_domain: "cluster.local".to_owned(),
            upstream: Upstream::default(),
            upstream_timeout: Duration::from_secs(2),
            ttl: 5,
            pods: PodRecords::default(),
        }
    }

    /// Forwards to these upstream servers instead of resolv.conf's.
    pub fn with_upstream(mut self, upstream: Upstream) -> Self {
        self.upstream = upstream;
        self
    }

    /// Serves this cluster domain.
    pub fn with_cluster_domain(mut self, cluster_domain: impl Into<String>) -> Self {
        self.cluster_domain = cluster_domain.into();
        self
    }
}

/// A DNS server with its listeners bound, not yet serving.
pub struct DnsServer {
    server: Server<DnsHandler>,
    local_addrs: Vec<SocketAddr>,
    index: Arc<RwLock<ClusterIndex>>,
    synced: Arc<AtomicBool>,
    changes: Arc<tokio::sync::watch::Sender<u32>>,
}

impl DnsServer {
    /// Binds UDP and TCP on every listen address.
    pub async fn bind(options: &DnsOptions) -> Result<Self> {
        let domain = parse_domain(&options.cluster_domain)?;
        let servers = match &options.upstream {
            Upstream::Servers(servers) => servers.clone(),
            Upstream::ResolvConf(path) => read_nameservers(path)?,
        };
        let index = Arc::new(RwLock::new(ClusterIndex::default()));
        let synced = Arc::new(AtomicBool::new(false));
        let handler = DnsHandler {
            index: index.clone(),
            synced: synced.clone(),
            zone: Zone {
                domain,
                ttl: options.ttl,
                pods: options.pods,
            },
            forwarder: Forwarder::new(servers, options.upstream_timeout),
        };
        let mut server = Server::new(handler);
        let mut local_addrs = Vec::new();
        for listen in &options.listen {
            let (udp, tcp, bound) = bind_pair(*listen).await?;
            server.register_socket(udp);
            server.register_listener(tcp, TCP_IDLE_TIMEOUT, TCP_RESPONSE_BUFFER);
            local_addrs.push(bound);
        }
        Ok(Self {
            server,
            local_addrs,
            index,
            synced,
            changes: Arc::new(tokio::sync::watch::Sender::new(0)),
        })
    }

    /// The bound addresses (UDP and TCP alike).
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.local_addrs
    }

    /// Announces every change to the cluster state answers come from (the
    /// new SOA serial), so tests can wait for one instead of polling.
    pub fn changes(&self) -> tokio::sync::watch::Receiver<u32> {
        self.changes.subscribe()
    }

    /// Watches the cluster through `client` and answers until `shutdown`
    /// completes.
    pub async fn serve(
        mut self,
        client: kube::Client,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<()> {
        tracing::info!(addresses = ?self.local_addrs, "cluster DNS listening");
        let watchers = tokio::spawn(watch_cluster(
            client,
            self.index.clone(),
            self.synced.clone(),
            self.changes.clone(),
        ));
        let token = self.server.shutdown_token().clone();
        let served = self.server.block_until_done();
        tokio::pin!(served);
        let outcome = tokio::select! {
            done = &mut served => done,
            () = shutdown => {
                token.cancel();
                served.await
            }
        };
        watchers.abort();
        outcome.map_err(|error| Error::Serve(error.to_string()))?;
        tracing::info!("cluster DNS stopped");
        Ok(())
    }
}

/// Runs cluster DNS until `shutdown` completes: binds, watches, answers.
pub async fn run(
    client: kube::Client,
    options: DnsOptions,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<()> {
    DnsServer::bind(&options)
        .await?
        .serve(client, shutdown)
        .await
}

fn parse_domain(domain: &str) -> Result<Name> {
    let mut name = Name::from_ascii(domain).map_err(|error| Error::ClusterDomain {
        domain: domain.to_owned(),
        reason: error.to_string(),
    })?;
    name.set_fqdn(true);
    Ok(name.to_lowercase())
}

/// How often a pair on port 0 is tried again when TCP finds the port UDP
/// picked already taken.
const EPHEMERAL_PAIR_TRIES: usize = 8;

/// A UDP socket and a TCP listener on the same address. For port 0 the
/// kernel picks UDP's port, which TCP may find taken by someone else's
/// connection: then both are tried again on a new port.
async fn bind_pair(listen: SocketAddr) -> Result<(UdpSocket, TcpListener, SocketAddr)> {
    let mut tries = 0;
    loop {
        tries += 1;
        let bind_error = |address| move |source| Error::Bind { address, source };
        let udp = UdpSocket::bind(listen).await.map_err(bind_error(listen))?;
        let bound = udp.local_addr().map_err(bind_error(listen))?;
        match TcpListener::bind(bound).await {
            Ok(tcp) => return Ok((udp, tcp, bound)),
            Err(e)
                if listen.port() == 0
                    && e.kind() == std::io::ErrorKind::AddrInUse
                    && tries < EPHEMERAL_PAIR_TRIES => {}
            Err(source) => {
                return Err(Error::Bind {
                    address: bound,
                    source,
                })
            }
        }
    }
}
