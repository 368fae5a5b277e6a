//! Serving: the TLS listener (rustls with the ring provider, HTTP/1.1 and
//! h2 by ALPN), one task per connection, and start-up (certificates, admin
//! kubeconfig, system namespaces, watch caches).

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use crate::authn::Authenticator;
use crate::config::Config;
use crate::handler::{ApiServer, KubeletClient};
use crate::pki::Pki;
use crate::registry::Registry;

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Certificates could not be loaded or made.
    #[error(transparent)]
    Pki(#[from] crate::pki::PkiError),
    /// The token file is unreadable.
    #[error(transparent)]
    TokenFile(#[from] crate::authn::TokenFileError),
    /// Binding or accepting failed.
    #[error("listening on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The TLS configuration is unusable.
    #[error("tls: {0}")]
    Tls(String),
    /// Initialising the API state failed.
    #[error("start-up: {0}")]
    Startup(#[from] crate::status::ApiError),
}

/// Server results.
pub type Result<T, E = ServeError> = std::result::Result<T, E>;

/// How long a client may take for the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A bound, initialised server, not yet accepting.
pub struct Server {
    listener: TcpListener,
    tls: TlsAcceptor,
    api: Arc<ApiServer>,
    addr: SocketAddr,
    kubeconfig: PathBuf,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// Binds, prepares certificates and state, and writes the admin kubeconfig.
pub async fn bind(config: Config) -> Result<Server> {
    // Clients reach a server bound to one address at that address: the
    // serving certificate must name it (the admin kubeconfig does).
    let mut sans = config.extra_sans.clone();
    if !config.bind.ip().is_unspecified() {
        sans.push(config.bind.ip().to_string());
    }
    let pki = Pki::load_or_create(&config.tls_dir(), &sans)?;
    let listener = TcpListener::bind(config.bind)
        .await
        .map_err(|source| ServeError::Listen {
            addr: config.bind,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| ServeError::Listen {
        addr: config.bind,
        source,
    })?;
    let host = if addr.ip().is_unspecified() {
        "127.0.0.1".to_string()
    } else {
        addr.ip().to_string()
    };
    let server_url = format!("https://{host}:{}", addr.port());
    let kubeconfig = config.kubeconfig_path();
    crate::kubeconfig::write(&kubeconfig, &server_url, &pki.ca.cert_pem, &pki.admin)?;

    let mut authn = Authenticator::new();
    if let Some(path) = &config.token_file {
        authn = authn.with_token_file(path)?;
    }
    let registry = Registry::new(config.store.clone(), config.catalog.clone())
        .node_port_range(config.service_node_port_range.clone());
    crate::registry::ensure_system_namespaces(&registry).await?;
    crate::registry::ensure_kubernetes_service(&registry, addr.port()).await?;
    registry.start_caches().await?;
    let kubelet_client = KubeletClient::new(&pki.kubelet_client).map_err(ServeError::Tls)?;
    let api = Arc::new(ApiServer::new(registry, authn, addr).kubelet_client(kubelet_client));
    Ok(Server {
        listener,
        tls: TlsAcceptor::from(Arc::new(tls_config(&pki)?)),
        api,
        addr,
        kubeconfig,
    })
}

/// Binds and serves until `shutdown` completes.
pub async fn serve(config: Config, shutdown: impl Future<Output = ()>) -> Result<()> {
    bind(config).await?.run(shutdown).await
}

impl Server {
    /// The address actually bound (for `127.0.0.1:0`).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where the admin kubeconfig was written.
    pub fn kubeconfig_path(&self) -> &std::path::Path {
        &self.kubeconfig
    }

    /// Accepts connections until `shutdown` completes; then closes them all.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<()> {
        tracing::info!(addr = %self.addr, "apiserver listening");
        let mut connections = JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                accepted = self.listener.accept() => {
                    let (tcp, peer) = match accepted {
                        Ok(a) => a,
                        Err(error) => {
                            // Out of file descriptors and the like: keep serving.
                            tracing::warn!(%error, "accept failed");
                            continue;
                        }
                    };
                    let _ = tcp.set_nodelay(true);
                    connections.spawn(serve_connection(self.tls.clone(), self.api.clone(), tcp, peer));
                }
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
        connections.shutdown().await;
        tracing::info!(addr = %self.addr, "apiserver stopped");
        Ok(())
    }
}

async fn serve_connection(
    tls: TlsAcceptor,
    api: Arc<ApiServer>,
    tcp: tokio::net::TcpStream,
    peer: SocketAddr,
) {
    let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.accept(tcp)).await {
        Ok(Ok(s)) => s,
        Ok(Err(error)) => {
            tracing::debug!(%peer, %error, "tls handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!(%peer, "tls handshake timed out");
            return;
        }
    };
    let client_cert: Option<Arc<Vec<u8>>> = stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|chain| chain.first())
        .map(|c| Arc::new(c.as_ref().to_vec()));
    let service = service_fn(move |req| {
        let api = api.clone();
        let cert = client_cert.clone();
        async move {
            Ok::<_, std::convert::Infallible>(
                api.handle(req, cert.as_deref().map(Vec::as_slice)).await,
            )
        }
    });
    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    if let Err(error) = builder
        .serve_connection_with_upgrades(TokioIo::new(stream), service)
        .await
    {
        tracing::debug!(%peer, %error, "connection ended with an error");
    }
}

fn tls_config(pki: &Pki) -> Result<rustls::ServerConfig> {
    let tls = |e: &dyn std::fmt::Display| ServeError::Tls(e.to_string());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for ca in certs(&pki.ca.cert_pem)? {
        roots.add(ca).map_err(|e| tls(&e))?;
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .allow_unauthenticated()
        .build()
        .map_err(|e| tls(&e))?;
    let mut chain = certs(&pki.serving.cert_pem)?;
    chain.extend(certs(&pki.ca.cert_pem)?);
    let key: PrivateKeyDer<'static> =
        rustls_pemfile::private_key(&mut pki.serving.key_pem.as_bytes())
            .map_err(|e| tls(&e))?
            .ok_or_else(|| ServeError::Tls("serving key: no private key in PEM".into()))?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls(&e))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|e| tls(&e))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

fn certs(pem: &str) -> Result<Vec<CertificateDer<'static>>> {
    rustls_pemfile::certs(&mut pem.as_bytes())
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| ServeError::Tls(format!("certificate PEM: {e}")))
}
