//! HTTP GET actions (pkg/probe/http/http.go, request.go): a GET to
//! `scheme://host:port/path` with the spec's headers, `User-Agent:
//! kube-probe/…` and `Accept: */*` unless given, HTTPS without certificate
//! verification as upstream. A probe passes on 200–399; a lifecycle hook
//! only needs an answer.

use std::sync::Arc;
use std::time::Duration;

use http::{Request, StatusCode};
use http_body_util::Empty;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::state::Outcome;

/// The User-Agent upstream's prober sends (major.minor of the API we serve).
const USER_AGENT: &str = "kube-probe/1.34";

/// `http` or `https`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// Plain HTTP.
    Http,
    /// TLS, certificate not verified.
    Https,
}

impl Scheme {
    /// The spec's scheme (HTTP unless `HTTPS`).
    pub fn parse(scheme: Option<&str>) -> Scheme {
        match scheme {
            Some(s) if s.eq_ignore_ascii_case("https") => Scheme::Https,
            _ => Scheme::Http,
        }
    }
}

/// One GET to send.
#[derive(Debug, Clone)]
pub struct HttpGet {
    /// How.
    pub scheme: Scheme,
    /// Where (an IP or name).
    pub host: String,
    /// The port.
    pub port: u16,
    /// The path (and query).
    pub path: String,
    /// Extra headers; `Host` among them overrides the host.
    pub headers: Vec<(String, String)>,
}

/// Why a GET got no answer.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The request could not be built from the spec.
    #[error("invalid request: {0}")]
    Request(String),
    /// Connecting, TLS or the exchange failed.
    #[error("Get \"{url}\": {message}")]
    Transport {
        /// The URL.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// No answer in time.
    #[error(
        "Get \"{url}\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
    )]
    Timeout {
        /// The URL.
        url: String,
    },
}

impl HttpGet {
    /// The URL, for messages.
    pub fn url(&self) -> String {
        let scheme = match self.scheme {
            Scheme::Http => "http",
            Scheme::Https => "https",
        };
        format!(
            "{scheme}://{}{}",
            super::address(&self.host, self.port),
            self.path()
        )
    }

    fn path(&self) -> String {
        if self.path.starts_with('/') {
            self.path.clone()
        } else {
            format!("/{}", self.path)
        }
    }

    /// Sends the GET and returns the status, within `timeout`.
    pub async fn send(&self, timeout: Duration) -> Result<StatusCode, HttpError> {
        match tokio::time::timeout(timeout, self.exchange()).await {
            Ok(result) => result,
            Err(_) => Err(HttpError::Timeout { url: self.url() }),
        }
    }

    /// Sends the GET as a probe: 200–399 passes.
    pub async fn probe(&self, timeout: Duration) -> Outcome {
        match self.send(timeout).await {
            Ok(status) if (200..400).contains(&status.as_u16()) => Outcome::Success,
            Ok(status) => Outcome::Failure(format!(
                "HTTP probe failed with statuscode: {}",
                status.as_u16()
            )),
            Err(e) => Outcome::Failure(e.to_string()),
        }
    }

    async fn exchange(&self) -> Result<StatusCode, HttpError> {
        let transport = |e: &dyn std::fmt::Display| HttpError::Transport {
            url: self.url(),
            message: e.to_string(),
        };
        let stream = TcpStream::connect(super::address(&self.host, self.port))
            .await
            .map_err(|e| transport(&e))?;
        let request = self.request()?;
        match self.scheme {
            Scheme::Http => send_over(stream, request).await,
            Scheme::Https => {
                let name = ServerName::try_from(self.host.clone())
                    .map_err(|e| HttpError::Request(e.to_string()))?;
                let tls = tokio_rustls::TlsConnector::from(insecure_tls()?)
                    .connect(name, stream)
                    .await
                    .map_err(|e| transport(&e))?;
                send_over(tls, request).await
            }
        }
        .map_err(|e| transport(&e))
    }

    fn request(&self) -> Result<Request<Empty<Bytes>>, HttpError> {
        let has = |name: &str| {
            self.headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case(name))
        };
        let mut builder = Request::get(self.path());
        if !has("host") {
            builder = builder.header("Host", super::address(&self.host, self.port));
        }
        if !has("user-agent") {
            builder = builder.header("User-Agent", USER_AGENT);
        }
        if !has("accept") {
            builder = builder.header("Accept", "*/*");
        }
        for (name, value) in &self.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        builder
            .body(Empty::new())
            .map_err(|e| HttpError::Request(e.to_string()))
    }
}

async fn send_over<S>(stream: S, request: Request<Empty<Bytes>>) -> Result<StatusCode, hyper::Error>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    let driver = tokio::spawn(connection);
    let response = sender.send_request(request).await;
    driver.abort();
    Ok(response?.status())
}

/// A TLS client that accepts any certificate: upstream's prober sets
/// `InsecureSkipVerify` because pods serve self-signed certificates.
fn insecure_tls() -> Result<Arc<rustls::ClientConfig>, HttpError> {
    let config = rkube_api::tls::accept_any_server_cert()
        .map_err(|e| HttpError::Request(e.to_string()))?
        .with_no_client_auth();
    Ok(Arc::new(config))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Answers one request with `status` and returns what it received.
    async fn serve_once(status: u16) -> (u16, tokio::task::JoinHandle<String>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut received = Vec::new();
            let mut buf = [0u8; 1024];
            while !received.ends_with(b"\r\n\r\n") {
                let n = socket.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                received.extend_from_slice(&buf[..n]);
            }
            let reply = format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\n\r\n");
            socket.write_all(reply.as_bytes()).await.unwrap();
            String::from_utf8_lossy(&received).into_owned()
        });
        (port, task)
    }

    fn get(port: u16) -> HttpGet {
        HttpGet {
            scheme: Scheme::Http,
            host: "127.0.0.1".into(),
            port,
            path: "healthz".into(),
            headers: vec![("X-Probe".into(), "yes".into())],
        }
    }

    #[tokio::test]
    async fn statuses_200_to_399_pass_and_others_fail() {
        let cases = [
            (200, Outcome::Success),
            (302, Outcome::Success),
            (
                404,
                Outcome::Failure("HTTP probe failed with statuscode: 404".into()),
            ),
            (
                500,
                Outcome::Failure("HTTP probe failed with statuscode: 500".into()),
            ),
        ];
        for (status, want) in cases {
            let (port, server) = serve_once(status).await;
            assert_eq!(
                get(port).probe(Duration::from_secs(5)).await,
                want,
                "{status}"
            );
            server.await.unwrap();
        }
    }

    #[tokio::test]
    async fn the_request_carries_the_path_and_headers() {
        let (port, server) = serve_once(200).await;
        get(port).probe(Duration::from_secs(5)).await;
        let request = server.await.unwrap().to_ascii_lowercase();
        assert!(
            request.starts_with("get /healthz http/1.1\r\n"),
            "{request}"
        );
        for header in ["x-probe: yes", "user-agent: kube-probe/1.34", "accept: */*"] {
            assert!(request.contains(header), "{header} in {request}");
        }
    }

    #[tokio::test]
    async fn a_closed_port_fails_with_the_url() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let outcome = get(port).probe(Duration::from_secs(5)).await;
        let url = format!("Get \"http://127.0.0.1:{port}/healthz\"");
        assert!(
            matches!(&outcome, Outcome::Failure(m) if m.starts_with(&url)),
            "{outcome:?}"
        );
    }
}
