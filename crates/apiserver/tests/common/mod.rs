//! Shared helpers for the apiserver's integration tests: the in-process
//! apiserver fixture comes from rkube-testkit; raw HTTPS requests (for
//! protocol details kubectl hides) live here.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[allow(unused_imports)] // each test file uses a different subset
pub use rkube_testkit::{wait_for_line, TestApiserver as TestServer};

/// Raw HTTPS access to a test apiserver.
pub trait RawHttp {
    /// A raw HTTPS client trusting the cluster CA; with the admin
    /// certificate when `authenticated`.
    fn http(&self, authenticated: Authenticated) -> RawClient;
}

impl RawHttp for TestServer {
    fn http(&self, authenticated: Authenticated) -> RawClient {
        RawClient::new(self.dir.path().join("tls"), self.addr, authenticated)
    }
}

/// Whether a raw request presents the admin certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authenticated {
    /// With the admin client certificate.
    Admin,
    /// Without credentials.
    Anonymous,
}

/// A minimal HTTPS/1.1 client for raw protocol tests.
pub struct RawClient {
    config: Arc<rustls::ClientConfig>,
    addr: SocketAddr,
}

/// A raw response.
#[derive(Debug)]
pub struct RawResponse {
    /// Status code.
    pub status: u16,
    /// Headers, lower-case names.
    pub headers: Vec<(String, String)>,
    /// Body (de-chunked).
    pub body: Vec<u8>,
}

impl RawResponse {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// A header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

impl RawClient {
    fn new(tls_dir: PathBuf, addr: SocketAddr, auth: Authenticated) -> RawClient {
        let read = |n: &str| std::fs::read(tls_dir.join(n)).expect("read pki file");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        for c in rustls_pemfile::certs(&mut read("ca.crt").as_slice()) {
            roots.add(c.expect("ca pem")).expect("add ca");
        }
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("tls versions")
            .with_root_certificates(roots);
        let config = match auth {
            Authenticated::Admin => {
                let certs = rustls_pemfile::certs(&mut read("admin.crt").as_slice())
                    .collect::<Result<Vec<_>, _>>()
                    .expect("admin cert");
                let key = rustls_pemfile::private_key(&mut read("admin.key").as_slice())
                    .expect("admin key")
                    .expect("a key");
                builder
                    .with_client_auth_cert(certs, key)
                    .expect("client auth")
            }
            Authenticated::Anonymous => builder.with_no_client_auth(),
        };
        RawClient {
            config: Arc::new(config),
            addr,
        }
    }

    /// Sends one request (HTTP/1.1, `Connection: close`) and reads the answer.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> RawResponse {
        use std::io::{Read, Write};
        let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
        let mut conn = rustls::ClientConnection::new(self.config.clone(), name).expect("tls conn");
        let mut tcp = std::net::TcpStream::connect(self.addr).expect("connect");
        tcp.set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        let mut tls = rustls::Stream::new(&mut conn, &mut tcp);
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        tls.write_all(head.as_bytes()).expect("write head");
        tls.write_all(body).expect("write body");
        let mut raw = Vec::new();
        // The server closes after answering; an unclean TLS close is fine here.
        let _ = tls.read_to_end(&mut raw);
        parse_response(&raw)
    }

    /// GET with the admin identity's default headers.
    pub fn get(&self, path: &str) -> RawResponse {
        self.request("GET", path, &[], b"")
    }
}

fn parse_response(raw: &[u8]) -> RawResponse {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("response head");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .expect("status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"))
    {
        body = dechunk(&body);
    }
    RawResponse {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(pos) = data.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&data[..pos]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = pos + 2;
        out.extend_from_slice(&data[start..(start + size).min(data.len())]);
        data = &data[(start + size + 2).min(data.len())..];
    }
    out
}
