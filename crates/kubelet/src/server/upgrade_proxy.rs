//! Passing an exec, attach or port-forward request on to the runtime's
//! streaming server (the URL CRI returned) and, once it switches protocols,
//! joining the two upgraded connections byte for byte — upstream's
//! `--redirect-container-streaming=false` proxy mode
//! (`pkg/kubelet/cri/streaming` + `apimachinery/pkg/util/proxy`). The bytes
//! are SPDY/3.1 framing that neither end here interprets.

use http::{header, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;

use super::response::{Body, Failure};

/// Sends `request` to `target` (an `http://host:port/path` URL) and answers
/// with the runtime's response; a 101 is followed by a spliced connection.
pub async fn forward<B>(mut request: Request<B>, target: &str) -> Response<Body> {
    match try_forward(&mut request, target).await {
        Ok(response) => response,
        Err(failure) => failure.into_response(),
    }
}

async fn try_forward<B>(request: &mut Request<B>, target: &str) -> Result<Response<Body>, Failure> {
    let uri: Uri = target
        .parse()
        .map_err(|e| Failure::internal(format!("runtime streaming URL {target:?}: {e}")))?;
    let authority = uri
        .authority()
        .ok_or_else(|| Failure::internal(format!("runtime streaming URL {target:?} has no host")))?
        .clone();
    let tcp = tokio::net::TcpStream::connect(authority.as_str())
        .await
        .map_err(|e| Failure::internal(format!("dialing the runtime's streaming server: {e}")))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .map_err(|e| Failure::internal(format!("runtime streaming handshake: {e}")))?;
    tokio::spawn(async move {
        if let Err(error) = connection.with_upgrades().await {
            tracing::debug!(%error, "runtime streaming connection ended");
        }
    });
    let mut outgoing = Request::builder()
        .method(request.method().clone())
        .uri(uri.path_and_query().map_or("/", |p| p.as_str()));
    for (name, value) in request.headers() {
        if name != header::HOST && name != header::AUTHORIZATION {
            outgoing = outgoing.header(name, value);
        }
    }
    let outgoing = outgoing
        .header(header::HOST, authority.as_str())
        .body(Empty::<bytes::Bytes>::new())
        .map_err(Failure::internal)?;
    let mut answer = sender
        .send_request(outgoing)
        .await
        .map_err(|e| Failure::internal(format!("runtime streaming request: {e}")))?;
    let mut response = Response::builder().status(answer.status());
    for (name, value) in answer.headers() {
        response = response.header(name, value);
    }
    if answer.status() != StatusCode::SWITCHING_PROTOCOLS {
        let body = answer.into_body();
        return response
            .body(body.map_err(std::io::Error::other).boxed())
            .map_err(Failure::internal);
    }
    let runtime_side = hyper::upgrade::on(&mut answer);
    let client_side = hyper::upgrade::on(request);
    tokio::spawn(async move {
        match tokio::try_join!(client_side, runtime_side) {
            Ok((client, runtime)) => {
                let _ = tokio::io::copy_bidirectional(
                    &mut TokioIo::new(client),
                    &mut TokioIo::new(runtime),
                )
                .await;
            }
            Err(error) => tracing::debug!(%error, "stream upgrade failed"),
        }
    });
    response
        .body(super::response::full(bytes::Bytes::new()))
        .map_err(Failure::internal)
}
