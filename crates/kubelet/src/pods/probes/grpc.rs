//! gRPC actions: grpc.health.v1 `Health/Check` over plaintext HTTP/2; the
//! probe passes when the service answers SERVING (pkg/probe/grpc/grpc.go).
//! The two messages are declared here rather than pulled from a crate.

use std::time::Duration;

use http::uri::PathAndQuery;
use tonic::transport::Endpoint;

use super::state::Outcome;

/// `grpc.health.v1.HealthCheckRequest`.
#[derive(Clone, PartialEq, prost::Message)]
struct HealthCheckRequest {
    #[prost(string, tag = "1")]
    service: String,
}

/// `grpc.health.v1.HealthCheckResponse`; the status enum travels as its number.
#[derive(Clone, PartialEq, prost::Message)]
struct HealthCheckResponse {
    #[prost(int32, tag = "1")]
    status: i32,
}

/// `ServingStatus.SERVING`.
const SERVING: i32 = 1;

fn status_name(status: i32) -> &'static str {
    match status {
        0 => "UNKNOWN",
        1 => "SERVING",
        2 => "NOT_SERVING",
        3 => "SERVICE_UNKNOWN",
        _ => "UNRECOGNIZED",
    }
}

/// Asks `host:port` about `service` (empty: the whole server) within `timeout`.
pub async fn run(host: &str, port: u16, service: &str, timeout: Duration) -> Outcome {
    let address = super::address(host, port);
    match tokio::time::timeout(timeout, check(&address, service, timeout)).await {
        Err(_) => Outcome::Failure(format!(
            "timeout: health rpc did not complete within {}s",
            timeout.as_secs()
        )),
        Ok(Err(message)) => Outcome::Failure(message),
        Ok(Ok(SERVING)) => Outcome::Success,
        Ok(Ok(status)) => Outcome::Failure(format!(
            "service unhealthy (responded with \"{}\")",
            status_name(status)
        )),
    }
}

async fn check(address: &str, service: &str, timeout: Duration) -> Result<i32, String> {
    let endpoint = Endpoint::from_shared(format!("http://{address}"))
        .map_err(|e| format!("invalid address {address}: {e}"))?
        .connect_timeout(timeout);
    let channel = endpoint.connect().await.map_err(|e| {
        format!(
            "failed to connect service \"{address}\" within {}s: {e}",
            timeout.as_secs()
        )
    })?;
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|e| format!("health rpc failed: {e}"))?;
    let request = tonic::Request::new(HealthCheckRequest {
        service: service.to_string(),
    });
    let path = PathAndQuery::from_static("/grpc.health.v1.Health/Check");
    let codec: tonic_prost::ProstCodec<HealthCheckRequest, HealthCheckResponse> =
        tonic_prost::ProstCodec::default();
    let response = grpc
        .unary(request, path, codec)
        .await
        .map_err(|status| format!("health rpc failed: {}", status.message()))?;
    Ok(response.into_inner().status)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn statuses_read_as_upstream_names_them() {
        let cases = [
            (0, "UNKNOWN"),
            (1, "SERVING"),
            (2, "NOT_SERVING"),
            (3, "SERVICE_UNKNOWN"),
            (9, "UNRECOGNIZED"),
        ];
        for (status, want) in cases {
            assert_eq!(status_name(status), want, "{status}");
        }
    }

    #[tokio::test]
    async fn nothing_listening_fails() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let outcome = run("127.0.0.1", port, "", Duration::from_secs(1)).await;
        assert!(matches!(outcome, Outcome::Failure(_)), "{outcome:?}");
    }
}
