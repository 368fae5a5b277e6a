//! `/exec`, `/attach` and `/portForward`: ask the runtime for a streaming
//! URL (CRI Exec/Attach/PortForward), then proxy the upgraded connection to
//! it.
//!
//! containerd 1.6's streaming server speaks SPDY/3.1 and only the old
//! WebSocket protocols, while kubectl ≥ 1.30 first asks for WebSocket
//! `v5.channel.k8s.io` (exec) or SPDY-over-WebSocket tunnelling
//! (port-forward). A WebSocket upgrade is therefore refused with a non-101
//! answer, which client-go's fallback executor/dialer treat as an upgrade
//! failure and retry with SPDY (docs/kubelet.md).

use http::{header, Request, Response};
use k8s_cri::v1 as cri;

use super::locate::{self, PodPath};
use super::query::Query;
use super::response::{Body, Failure};
use super::upgrade_proxy;
use crate::runtime::cri::Cri;

/// Which streaming call a request makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    /// Run a command in a container.
    Exec,
    /// Attach to a container's main process.
    Attach,
    /// Forward ports into the pod's network namespace.
    PortForward,
}

/// Whether the client asks to switch to WebSocket.
pub fn is_websocket_upgrade<B>(request: &Request<B>) -> bool {
    request
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// Answers one streaming request for `pod` (and `container`, except for
/// port forwarding).
pub async fn serve<B>(
    cri: &Cri,
    kind: StreamKind,
    request: Request<B>,
    pod: PodPath<'_>,
    container: Option<&str>,
) -> Response<Body> {
    if is_websocket_upgrade(&request) {
        return Failure::bad_request(
            "WebSocket streaming is not supported by this kubelet; use SPDY/3.1",
        )
        .into_response();
    }
    let query = Query::parse(request.uri().query());
    match streaming_url(cri, kind, &query, pod, container).await {
        Ok(url) => upgrade_proxy::forward(request, &url).await,
        Err(failure) => failure.into_response(),
    }
}

/// The runtime URL for the call; the query uses upstream's kubelet
/// parameter names (`command`, `input`, `output`, `error`, `tty`).
async fn streaming_url(
    cri: &Cri,
    kind: StreamKind,
    query: &Query,
    pod: PodPath<'_>,
    container: Option<&str>,
) -> Result<String, Failure> {
    kind.check(query)?;
    let streams = Streams::from_query(query);
    let container_id = match (kind, container) {
        (StreamKind::PortForward, _) => None,
        (_, Some(name)) => Some(locate::running_container(cri, pod, name).await?.id),
        (_, None) => return Err(Failure::bad_request("a container name is required")),
    };
    let call = match (kind, container_id) {
        (StreamKind::Exec, Some(container_id)) => {
            let cmd = query.all("command");
            if cmd.is_empty() {
                return Err(Failure::bad_request("you must specify at least 1 command"));
            }
            cri.exec(cri::ExecRequest {
                container_id,
                cmd,
                tty: streams.tty,
                stdin: streams.stdin,
                stdout: streams.stdout,
                stderr: streams.stderr,
            })
            .await
        }
        (StreamKind::Attach, Some(container_id)) => {
            cri.attach(cri::AttachRequest {
                container_id,
                stdin: streams.stdin,
                tty: streams.tty,
                stdout: streams.stdout,
                stderr: streams.stderr,
            })
            .await
        }
        _ => {
            let sandbox = locate::ready_sandbox(cri, pod).await?;
            cri.port_forward(&sandbox.id).await
        }
    };
    call.map_err(|e| Failure::internal(e.message()))
}

/// The standard streams a command gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Streams {
    stdin: bool,
    stdout: bool,
    stderr: bool,
    tty: bool,
}

impl Streams {
    /// Upstream (`remotecommand.NewOptions`): at least one stream, and no
    /// separate stderr with a TTY.
    fn from_query(query: &Query) -> Streams {
        let tty = query.flag("tty");
        Streams {
            stdin: query.flag("input"),
            stdout: query.flag("output"),
            stderr: query.flag("error") && !tty,
            tty,
        }
    }

    fn any(&self) -> bool {
        self.stdin || self.stdout || self.stderr
    }
}

impl StreamKind {
    /// Whether the query asks for at least one stream where one is needed.
    pub fn check(self, query: &Query) -> Result<(), Failure> {
        match self {
            StreamKind::PortForward => Ok(()),
            _ if Streams::from_query(query).any() => Ok(()),
            _ => Err(Failure::bad_request(
                "you must specify at least 1 of stdin, stdout, stderr",
            )),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn streams_follow_the_query() {
        let cases = [
            ("input=1&output=1&error=1", (true, true, true, false)),
            ("output=1&error=1&tty=1", (false, true, false, true)),
            ("", (false, false, false, false)),
        ];
        for (query, (stdin, stdout, stderr, tty)) in cases {
            let got = Streams::from_query(&Query::parse(Some(query)));
            assert_eq!(
                got,
                Streams {
                    stdin,
                    stdout,
                    stderr,
                    tty
                },
                "{query}"
            );
        }
    }

    #[test]
    fn exec_without_streams_is_refused_but_port_forward_needs_none() {
        let empty = Query::parse(None);
        assert!(StreamKind::Exec.check(&empty).is_err());
        assert!(StreamKind::Attach.check(&empty).is_err());
        assert!(StreamKind::PortForward.check(&empty).is_ok());
        assert!(StreamKind::Exec
            .check(&Query::parse(Some("output=1")))
            .is_ok());
    }

    #[test]
    fn a_websocket_upgrade_is_recognised() {
        let ws = Request::builder()
            .header(header::UPGRADE, "WebSocket")
            .body(())
            .unwrap();
        let spdy = Request::builder()
            .header(header::UPGRADE, "SPDY/3.1")
            .body(())
            .unwrap();
        assert!(is_websocket_upgrade(&ws));
        assert!(!is_websocket_upgrade(&spdy));
    }
}
