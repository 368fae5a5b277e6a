//! Request handling: authentication, routing derived from the catalog (no
//! per-kind routes), metrics and one debug log line per request.

mod csr;
mod field_validation;
mod nonresource;
mod patch;
mod pod_streams;
mod query;
mod resource;
mod watch;

use std::net::SocketAddr;
use std::time::Instant;

use http::{Method, Request, Response};

pub use self::pod_streams::KubeletClient;
use crate::authn::Authenticator;
use crate::discovery::Discovery;
use crate::metrics::{Metrics, RequestLabels};
use crate::negotiation::{error_response, Body};
use crate::openapi::SharedOpenApi;
use crate::registry::Registry;
use crate::request_info::{self, Target, Verb};
use crate::status::ApiError;

/// The state every request handler shares.
pub struct ApiServer {
    registry: Registry,
    authn: Authenticator,
    metrics: Metrics,
    discovery: Discovery,
    openapi: SharedOpenApi,
    openapi_routes: axum::Router,
    kubelet_client: Option<KubeletClient>,
}

impl std::fmt::Debug for ApiServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiServer").finish_non_exhaustive()
    }
}

/// Paths anyone may read (upstream's `system:public-info-viewer`).
fn is_public(path: &str) -> bool {
    ["/healthz", "/livez", "/readyz", "/version"]
        .iter()
        .any(|p| {
            path == *p
                || path
                    .strip_prefix(p)
                    .is_some_and(|rest| rest.starts_with('/'))
        })
}

impl ApiServer {
    /// Shared state over a registry.
    pub fn new(registry: Registry, authn: Authenticator, addr: SocketAddr) -> Self {
        let discovery = Discovery::new(registry.catalog(), addr);
        let openapi = SharedOpenApi::new((**registry.catalog()).clone());
        ApiServer {
            registry,
            authn,
            metrics: Metrics::default(),
            discovery,
            openapi_routes: crate::openapi::router(openapi.clone()),
            openapi,
            kubelet_client: None,
        }
    }

    /// Proxies pod logs, exec, attach and port-forward to kubelets with
    /// this client.
    pub fn kubelet_client(mut self, client: KubeletClient) -> Self {
        self.kubelet_client = Some(client);
        self
    }

    /// Answers one request. `client_cert` is the verified peer certificate.
    pub async fn handle<B>(&self, req: Request<B>, client_cert: Option<&[u8]>) -> Response<Body>
    where
        B: hyper::body::Body<Data = bytes::Bytes> + Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let started = Instant::now();
        let method = req.method().clone();
        let path = req.uri().path().to_string();
        let query = query::parse(req.uri().query());
        let watch = query
            .iter()
            .any(|(k, v)| k == "watch" && (v == "true" || v == "1"));
        let target = request_info::parse(&method, &path, watch);
        let authorization = req
            .headers()
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let user = self
            .authn
            .authenticate_request(&self.registry, client_cert, authorization)
            .await;
        let response = if user.is_none() && !is_public(&path) {
            error_response(&ApiError::unauthorized())
        } else {
            let result = match &target {
                Target::Resource(r) => resource::handle(self, req, r, &query, user.as_ref()).await,
                Target::NonResource => nonresource::handle(self, &req, &path).await,
                discovery => nonresource::discovery(self, &req, discovery),
            };
            result.unwrap_or_else(|e| error_response(&e))
        };
        let code = response.status().as_u16();
        let labels = metric_labels(&method, &target);
        tracing::debug!(
            verb = %labels.verb,
            path = %path,
            user = user.as_ref().map(|u| u.name.as_str()).unwrap_or("system:anonymous"),
            code,
            elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
            "request"
        );
        self.metrics.observe(labels, code, started.elapsed());
        response
    }
}

/// Upstream's metric labels: resource requests by verb (`LIST`, `WATCH`
/// distinguished from `GET`), others by method.
fn metric_labels(method: &Method, target: &Target) -> RequestLabels {
    match target {
        Target::Resource(r) => RequestLabels {
            verb: match r.verb {
                Verb::Get => "GET",
                Verb::List => "LIST",
                Verb::Watch => "WATCH",
                Verb::Create => "POST",
                Verb::Update => "PUT",
                Verb::Patch => "PATCH",
                Verb::Delete => "DELETE",
                Verb::DeleteCollection => "DELETECOLLECTION",
            }
            .to_string(),
            group: r.group.clone(),
            version: r.version.clone(),
            resource: r.resource.clone(),
            subresource: r.subresource.clone().unwrap_or_default(),
            scope: match (&r.namespace, &r.name) {
                (_, Some(_)) => "resource",
                (Some(_), None) => "namespace",
                (None, None) => "cluster",
            }
            .to_string(),
        },
        _ => RequestLabels {
            verb: method.as_str().to_string(),
            ..RequestLabels::default()
        },
    }
}
