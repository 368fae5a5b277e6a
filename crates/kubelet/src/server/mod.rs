//! The kubelet's HTTPS API (upstream `pkg/kubelet/server`): what the
//! apiserver calls for `kubectl logs`, `exec`, `attach` and `port-forward`,
//! plus `/healthz` and `/metrics`.
//!
//! Callers authenticate with an x509 client certificate signed by the
//! cluster CA (the apiserver's kubelet-client certificate); anyone else
//! gets 401, except on `/healthz`.

mod container_logs;
mod locate;
mod metrics;
mod query;
mod response;
mod streaming;
mod tls;
mod upgrade_proxy;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::{Method, Request, Response};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use self::locate::PodPath;
use self::query::Query;
use self::response::{Body, Failure};
use self::streaming::StreamKind;
pub use self::tls::TlsError;
use crate::runtime::cri::Cri;

/// Upstream's kubelet port.
pub const DEFAULT_PORT: u16 = 10250;

/// How long a client may take for the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The port could not be bound.
    #[error("binding the kubelet port {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The TLS configuration is unusable.
    #[error(transparent)]
    Tls(#[from] TlsError),
}

/// Who the server is and whom it trusts.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// Where to listen; port 0 picks a free one.
    pub bind: SocketAddr,
    /// The node's name (in the serving certificate).
    pub node_name: String,
    /// The node's IP (in the serving certificate).
    pub node_ip: String,
    /// The cluster CA that signs callers' client certificates.
    pub client_ca_pem: Option<String>,
}

/// A bound server, not yet serving.
pub struct KubeletServer {
    listener: TcpListener,
    tls: TlsAcceptor,
    addr: SocketAddr,
}

impl std::fmt::Debug for KubeletServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeletServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl KubeletServer {
    /// Binds the port and makes the TLS configuration. When the port is
    /// taken (another kubelet on this machine), a free one is used: the
    /// Node's `status.daemonEndpoints` tells the apiserver which.
    pub async fn bind(settings: &ServerSettings) -> Result<KubeletServer, ServerError> {
        let listener = match TcpListener::bind(settings.bind).await {
            Ok(listener) => listener,
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && settings.bind.port() != 0 => {
                tracing::warn!(addr = %settings.bind, "kubelet port in use; picking a free one");
                let any = SocketAddr::new(settings.bind.ip(), 0);
                TcpListener::bind(any)
                    .await
                    .map_err(|source| ServerError::Bind { addr: any, source })?
            }
            Err(source) => {
                return Err(ServerError::Bind {
                    addr: settings.bind,
                    source,
                })
            }
        };
        let addr = listener.local_addr().map_err(|source| ServerError::Bind {
            addr: settings.bind,
            source,
        })?;
        let config = tls::server_config(
            &settings.node_name,
            &settings.node_ip,
            settings.client_ca_pem.as_deref(),
        )?;
        Ok(KubeletServer {
            listener,
            tls: TlsAcceptor::from(Arc::new(config)),
            addr,
        })
    }

    /// The port actually bound.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Serves until `shutdown` completes.
    pub async fn run(self, cri: Cri, shutdown: impl Future<Output = ()>) {
        tracing::info!(addr = %self.addr, "kubelet API listening");
        let cri = Arc::new(cri);
        let mut connections = JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                accepted = self.listener.accept() => match accepted {
                    Ok((tcp, peer)) => {
                        connections.spawn(serve_connection(self.tls.clone(), cri.clone(), tcp, peer));
                    }
                    Err(error) => tracing::warn!(%error, "kubelet API accept failed"),
                },
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
        connections.shutdown().await;
    }
}

/// Whether the caller presented a certificate the CA signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    Authenticated,
    Anonymous,
}

async fn serve_connection(
    tls: TlsAcceptor,
    cri: Arc<Cri>,
    tcp: tokio::net::TcpStream,
    peer: SocketAddr,
) {
    let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.accept(tcp)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(error)) => {
            tracing::debug!(%peer, %error, "kubelet tls handshake failed");
            return;
        }
        Err(_) => return,
    };
    // rustls only accepts a certificate that chains to the client CA.
    let caller = if stream
        .get_ref()
        .1
        .peer_certificates()
        .is_some_and(|c| !c.is_empty())
    {
        Caller::Authenticated
    } else {
        Caller::Anonymous
    };
    let service = service_fn(move |request| {
        let cri = cri.clone();
        async move { Ok::<_, std::convert::Infallible>(route(&cri, caller, request).await) }
    });
    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    if let Err(error) = builder
        .serve_connection_with_upgrades(TokioIo::new(stream), service)
        .await
    {
        tracing::debug!(%peer, %error, "kubelet API connection ended with an error");
    }
}

/// Dispatches on the path, as upstream's restful routes.
async fn route<B>(cri: &Cri, caller: Caller, request: Request<B>) -> Response<Body> {
    let path = request.uri().path().to_string();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    if segments == ["healthz"] {
        return response::text("ok");
    }
    if caller == Caller::Anonymous {
        return Failure::unauthorized().into_response();
    }
    let method = request.method().clone();
    // kubectl upgrades with POST (SPDY) or GET (WebSocket).
    let streaming_method = method == Method::GET || method == Method::POST;
    match segments.as_slice() {
        ["containerLogs", namespace, pod, container] if method == Method::GET => {
            let query = Query::parse(request.uri().query());
            container_logs::serve(cri, PodPath { namespace, pod }, container, &query).await
        }
        [verb @ ("exec" | "attach"), namespace, pod, container] if streaming_method => {
            let kind = if *verb == "exec" {
                StreamKind::Exec
            } else {
                StreamKind::Attach
            };
            let pod = PodPath { namespace, pod };
            streaming::serve(cri, kind, request, pod, Some(container)).await
        }
        ["portForward", namespace, pod] if streaming_method => {
            let pod = PodPath { namespace, pod };
            streaming::serve(cri, StreamKind::PortForward, request, pod, None).await
        }
        ["metrics"] if method == Method::GET => metrics::serve(cri).await,
        _ => Failure::not_found(format!("no handler for {method} {path}")).into_response(),
    }
}
