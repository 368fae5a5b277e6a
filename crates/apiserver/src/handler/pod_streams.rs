//! `pods/log`, `pods/exec`, `pods/attach` and `pods/portforward`: find the
//! pod's node and its kubelet endpoint, then proxy the request — upgrade
//! included — to the kubelet over TLS with the apiserver's kubelet-client
//! certificate (upstream `pkg/registry/core/pod/rest/log.go`,
//! `subresources.go` and `pod/strategy.go` LogLocation/ExecLocation).
//!
//! WebSocket upgrades are refused with a non-101 Status: kubectl ≥ 1.30
//! tries WebSocket first and falls back to SPDY/3.1 on any upgrade failure
//! (client-go `FallbackExecutor`, port-forward `FallbackDialer`), and SPDY
//! bytes pass through to the kubelet and the runtime untouched
//! (docs/apiserver.md).

use std::net::IpAddr;
use std::sync::Arc;

use http::{header, Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use rkube_api::{ResourceDef, Subresource};
use rustls::pki_types::{PrivateKeyDer, ServerName};
use serde_json::Value;

use super::ApiServer;
use crate::negotiation::Body;
use crate::pki::CertAndKey;
use crate::registry::{ObjectRef, Query};
use crate::request_info::ResourceRequest;
use crate::status::{ApiError, ApiResult};

/// Upstream's kubelet port, when a Node does not report its own.
const DEFAULT_KUBELET_PORT: u16 = 10250;

/// The pod subresources that stream from the kubelet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PodStream {
    Log,
    Exec,
    Attach,
    PortForward,
}

impl PodStream {
    /// The stream a subresource names, if it is one.
    pub(super) fn of(sub: Subresource) -> Option<PodStream> {
        match sub {
            Subresource::Log => Some(PodStream::Log),
            Subresource::Exec => Some(PodStream::Exec),
            Subresource::Attach => Some(PodStream::Attach),
            Subresource::PortForward => Some(PodStream::PortForward),
            _ => None,
        }
    }
}

/// The apiserver's TLS client for kubelets: it presents the kubelet-client
/// certificate and, like upstream without `--kubelet-certificate-authority`,
/// does not verify the kubelet's self-signed serving certificate.
#[derive(Clone)]
pub struct KubeletClient {
    tls: tokio_rustls::TlsConnector,
}

impl std::fmt::Debug for KubeletClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeletClient").finish_non_exhaustive()
    }
}

impl KubeletClient {
    /// A client presenting `identity`.
    pub fn new(identity: &CertAndKey) -> Result<KubeletClient, String> {
        let certs = rustls_pemfile::certs(&mut identity.cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("kubelet client certificate: {e}"))?;
        let key: PrivateKeyDer<'static> =
            rustls_pemfile::private_key(&mut identity.key_pem.as_bytes())
                .map_err(|e| format!("kubelet client key: {e}"))?
                .ok_or("kubelet client key: no private key in PEM")?;
        let config = rkube_api::tls::accept_any_server_cert()
            .map_err(|e| e.to_string())?
            .with_client_auth_cert(certs, key)
            .map_err(|e| e.to_string())?;
        Ok(KubeletClient {
            tls: tokio_rustls::TlsConnector::from(Arc::new(config)),
        })
    }
}

/// Answers one streaming pod subresource request.
pub(super) async fn handle<B>(
    api: &ApiServer,
    request: Request<B>,
    def: &ResourceDef,
    r: &ResourceRequest,
    stream: PodStream,
    query: &Query,
) -> ApiResult<Response<Body>> {
    let name = r.name.as_deref().unwrap_or("");
    let namespace = r.namespace.as_deref().unwrap_or("");
    let pod = api
        .registry
        .get(&ObjectRef {
            def,
            namespace: Some(namespace),
            name,
        })
        .await?;
    if stream != PodStream::Log && is_websocket_upgrade(&request) {
        return Err(ApiError::bad_request(
            "WebSocket streaming is not supported by this server; use SPDY/3.1",
        ));
    }
    let node_name = pod
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| {
            ApiError::bad_request(format!("pod {name} does not have a host assigned"))
        })?;
    let path = match stream {
        PodStream::PortForward => format!("/portForward/{namespace}/{name}"),
        _ => {
            let container = container_of(&pod, name, query, stream)?;
            if stream == PodStream::Log {
                check_log_status(&pod, name, &container, query)?;
            }
            let prefix = match stream {
                PodStream::Log => "containerLogs",
                PodStream::Exec => "exec",
                _ => "attach",
            };
            format!("/{prefix}/{namespace}/{name}/{container}")
        }
    };
    let target = kubelet_address(api, node_name).await?;
    let client = api
        .kubelet_client
        .as_ref()
        .ok_or_else(|| ApiError::unavailable("this apiserver has no kubelet client certificate"))?;
    let uri = format!("{path}{}", kubelet_query(stream, query));
    forward(client, target, &uri, request).await
}

fn is_websocket_upgrade<B>(request: &Request<B>) -> bool {
    request
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

fn param<'a>(query: &'a Query, key: &str) -> Option<&'a str> {
    query
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// The container a request names, or the pod's only one (upstream
/// `pod.validateContainer` and its messages).
fn container_of(pod: &Value, name: &str, query: &Query, stream: PodStream) -> ApiResult<String> {
    let names = |field: &str| -> Vec<String> {
        pod.pointer(&format!("/spec/{field}"))
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .filter_map(|c| c.get("name").and_then(Value::as_str))
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default()
    };
    let containers = names("containers");
    let init = names("initContainers");
    let ephemeral = names("ephemeralContainers");
    match param(query, "container").filter(|c| !c.is_empty()) {
        Some(c) => {
            let known = containers
                .iter()
                .chain(&init)
                .chain(&ephemeral)
                .any(|n| n == c);
            if known {
                Ok(c.to_string())
            } else {
                Err(ApiError::bad_request(format!(
                    "container {c} is not valid for pod {name}"
                )))
            }
        }
        None => match containers.as_slice() {
            [only] => Ok(only.clone()),
            _ => {
                let mut message = format!(
                    "a container name must be specified for pod {name}, choose one of: [{}]",
                    containers.join(" ")
                );
                if stream == PodStream::Log && !init.is_empty() {
                    message.push_str(&format!(
                        " or one of the init containers: [{}]",
                        init.join(" ")
                    ));
                }
                Err(ApiError::bad_request(message))
            }
        },
    }
}

/// A container that never started has no log: upstream's kubelet answers
/// "is waiting to start" from the pod status.
fn check_log_status(pod: &Value, name: &str, container: &str, query: &Query) -> ApiResult<()> {
    let previous = matches!(param(query, "previous"), Some("true" | "1"));
    let status = ["containerStatuses", "initContainerStatuses"]
        .iter()
        .filter_map(|field| {
            pod.pointer(&format!("/status/{field}"))
                .and_then(Value::as_array)
        })
        .flatten()
        .find(|s| s.get("name").and_then(Value::as_str) == Some(container));
    if previous {
        return match status.and_then(|s| s.pointer("/lastState/terminated")) {
            Some(_) => Ok(()),
            None => Err(ApiError::bad_request(format!(
                "previous terminated container \"{container}\" in pod \"{name}\" not found"
            ))),
        };
    }
    let started = status.is_some_and(|s| {
        s.pointer("/state/running").is_some()
            || s.pointer("/state/terminated").is_some()
            || s.pointer("/lastState/terminated").is_some()
    });
    if started {
        return Ok(());
    }
    let reason = status
        .and_then(|s| s.pointer("/state/waiting/reason"))
        .and_then(Value::as_str)
        .unwrap_or("ContainerCreating");
    Err(ApiError::bad_request(format!(
        "container \"{container}\" in pod \"{name}\" is waiting to start: {reason}"
    )))
}

/// The kubelet's query: log options as given; for exec and attach, the
/// kubelet's names for the streams (`input`, `output`, `error`).
fn kubelet_query(stream: PodStream, query: &Query) -> String {
    let keep: &[(&str, &str)] = match stream {
        PodStream::Log => &[
            ("follow", "follow"),
            ("previous", "previous"),
            ("timestamps", "timestamps"),
            ("tailLines", "tailLines"),
            ("sinceSeconds", "sinceSeconds"),
            ("sinceTime", "sinceTime"),
            ("limitBytes", "limitBytes"),
        ],
        PodStream::Exec | PodStream::Attach => &[
            ("command", "command"),
            ("stdin", "input"),
            ("stdout", "output"),
            ("stderr", "error"),
            ("tty", "tty"),
        ],
        PodStream::PortForward => &[("ports", "port")],
    };
    let pairs: Vec<String> = query
        .iter()
        .filter_map(|(k, v)| {
            keep.iter()
                .find(|(from, _)| from == k)
                .map(|(_, to)| format!("{to}={}", encode(v)))
        })
        .collect();
    if pairs.is_empty() {
        String::new()
    } else {
        format!("?{}", pairs.join("&"))
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The node's InternalIP and kubelet port.
async fn kubelet_address(api: &ApiServer, node_name: &str) -> ApiResult<(IpAddr, u16)> {
    let nodes = api
        .registry
        .catalog()
        .get("", "v1", "nodes")
        .ok_or_else(|| ApiError::internal("the catalog has no nodes"))?
        .clone();
    let node = api
        .registry
        .get(&ObjectRef {
            def: &nodes,
            namespace: None,
            name: node_name,
        })
        .await?;
    let addresses = node
        .pointer("/status/addresses")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let address_of = |kind: &str| {
        addresses
            .iter()
            .filter(|a| a.get("type").and_then(Value::as_str) == Some(kind))
            .filter_map(|a| a.get("address").and_then(Value::as_str))
            .find_map(|a| a.parse::<IpAddr>().ok())
    };
    let ip = address_of("InternalIP")
        .or_else(|| address_of("ExternalIP"))
        .ok_or_else(|| {
            ApiError::internal(format!("node {node_name} reports no InternalIP address"))
        })?;
    let port = node
        .pointer("/status/daemonEndpoints/kubeletEndpoint/Port")
        .and_then(Value::as_u64)
        .and_then(|p| u16::try_from(p).ok())
        .filter(|p| *p != 0)
        .unwrap_or(DEFAULT_KUBELET_PORT);
    Ok((ip, port))
}

/// Sends the request to the kubelet and relays its answer; after a 101 the
/// two upgraded connections are spliced.
async fn forward<B>(
    client: &KubeletClient,
    (ip, port): (IpAddr, u16),
    uri: &str,
    mut request: Request<B>,
) -> ApiResult<Response<Body>> {
    let unreachable = |e: &dyn std::fmt::Display| {
        ApiError::internal(format!("kubelet https://{ip}:{port}{uri}: {e}"))
    };
    let tcp = tokio::net::TcpStream::connect((ip, port))
        .await
        .map_err(|e| unreachable(&e))?;
    let tls = client
        .tls
        .connect(ServerName::IpAddress(ip.into()), tcp)
        .await
        .map_err(|e| unreachable(&e))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .map_err(|e| unreachable(&e))?;
    tokio::spawn(async move {
        if let Err(error) = connection.with_upgrades().await {
            tracing::debug!(%error, "kubelet connection ended");
        }
    });
    let mut outgoing = Request::builder().method(request.method().clone()).uri(uri);
    for (name, value) in request.headers() {
        if name != header::HOST && name != header::AUTHORIZATION {
            outgoing = outgoing.header(name, value);
        }
    }
    let outgoing = outgoing
        .header(header::HOST, format!("{ip}:{port}"))
        .body(Empty::<bytes::Bytes>::new())
        .map_err(ApiError::internal)?;
    let mut answer = sender
        .send_request(outgoing)
        .await
        .map_err(|e| unreachable(&e))?;
    let mut response = Response::builder().status(answer.status());
    for (name, value) in answer.headers() {
        response = response.header(name, value);
    }
    if answer.status() != StatusCode::SWITCHING_PROTOCOLS {
        let body = Body::new(answer.into_body().map_err(std::io::Error::other));
        return response.body(body).map_err(ApiError::internal);
    }
    let kubelet_side = hyper::upgrade::on(&mut answer);
    let client_side = hyper::upgrade::on(&mut request);
    tokio::spawn(async move {
        match tokio::try_join!(client_side, kubelet_side) {
            Ok((client, kubelet)) => {
                let _ = tokio::io::copy_bidirectional(
                    &mut TokioIo::new(client),
                    &mut TokioIo::new(kubelet),
                )
                .await;
            }
            Err(error) => tracing::debug!(%error, "pod stream upgrade failed"),
        }
    });
    response.body(Body::empty()).map_err(ApiError::internal)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(status: Value) -> Value {
        json!({
            "spec": {
                "containers": [{"name": "app"}, {"name": "side"}],
                "initContainers": [{"name": "init"}],
            },
            "status": status,
        })
    }

    fn query(pairs: &[(&str, &str)]) -> Query {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_container_is_named_or_the_only_one() {
        let two = pod(json!({}));
        let cases: Vec<(&str, &Value, Query, Result<&str, &str>)> = vec![
            ("a named container", &two, query(&[("container", "side")]), Ok("side")),
            ("an init container", &two, query(&[("container", "init")]), Ok("init")),
            (
                "an unknown container",
                &two,
                query(&[("container", "nope")]),
                Err("container nope is not valid for pod p"),
            ),
            (
                "no name with two containers",
                &two,
                query(&[]),
                Err("a container name must be specified for pod p, choose one of: [app side] or one of the init containers: [init]"),
            ),
        ];
        for (name, pod, query, want) in cases {
            let got = container_of(pod, "p", &query, PodStream::Log).map_err(|e| e.message.clone());
            assert_eq!(
                got.as_deref(),
                want.map_err(String::from).as_deref(),
                "{name}"
            );
        }
        let one = json!({"spec": {"containers": [{"name": "only"}]}});
        assert_eq!(
            container_of(&one, "p", &query(&[]), PodStream::Exec).unwrap(),
            "only"
        );
    }

    #[test]
    fn logs_of_a_waiting_container_are_refused_with_its_reason() {
        let waiting = pod(json!({"containerStatuses": [
            {"name": "app", "state": {"waiting": {"reason": "ImagePullBackOff"}}},
        ]}));
        let err = check_log_status(&waiting, "p", "app", &query(&[])).unwrap_err();
        assert_eq!(
            err.message,
            "container \"app\" in pod \"p\" is waiting to start: ImagePullBackOff"
        );
        let pending = pod(json!({}));
        assert!(check_log_status(&pending, "p", "app", &query(&[]))
            .unwrap_err()
            .message
            .ends_with("ContainerCreating"));
        let running = pod(json!({"containerStatuses": [
            {"name": "app", "state": {"running": {}}},
        ]}));
        assert!(check_log_status(&running, "p", "app", &query(&[])).is_ok());
        assert!(check_log_status(&running, "p", "app", &query(&[("previous", "true")])).is_err());
        let restarted = pod(json!({"containerStatuses": [
            {"name": "app", "state": {"running": {}}, "lastState": {"terminated": {"exitCode": 1}}},
        ]}));
        assert!(check_log_status(&restarted, "p", "app", &query(&[("previous", "true")])).is_ok());
    }

    #[test]
    fn the_kubelet_query_uses_the_kubelet_names() {
        let exec = query(&[
            ("command", "sh"),
            ("command", "-c"),
            ("command", "echo a b"),
            ("stdin", "true"),
            ("stdout", "true"),
            ("container", "app"),
        ]);
        assert_eq!(
            kubelet_query(PodStream::Exec, &exec),
            "?command=sh&command=-c&command=echo%20a%20b&input=true&output=true"
        );
        let logs = query(&[("sinceTime", "2024-01-01T00:00:00Z"), ("container", "app")]);
        assert_eq!(
            kubelet_query(PodStream::Log, &logs),
            "?sinceTime=2024-01-01T00%3A00%3A00Z"
        );
        assert_eq!(kubelet_query(PodStream::PortForward, &query(&[])), "");
    }
}
