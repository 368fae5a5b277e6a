//! TCP socket actions: the probe passes when a connection opens
//! (pkg/probe/tcp/tcp.go).

use std::time::Duration;

use tokio::net::TcpStream;

use super::state::Outcome;

/// Dials `host:port` within `timeout`.
pub async fn run(host: &str, port: u16, timeout: Duration) -> Outcome {
    let address = super::address(host, port);
    match tokio::time::timeout(timeout, TcpStream::connect(&address)).await {
        Ok(Ok(_)) => Outcome::Success,
        Ok(Err(e)) => Outcome::Failure(format!("dial tcp {address}: {e}")),
        Err(_) => Outcome::Failure(format!("dial tcp {address}: i/o timeout")),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_listening_port_passes_and_a_closed_one_fails() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let open = listener.local_addr().unwrap().port();
        assert_eq!(
            run("127.0.0.1", open, Duration::from_secs(1)).await,
            Outcome::Success
        );
        drop(listener);
        let closed = run("127.0.0.1", open, Duration::from_secs(1)).await;
        assert!(matches!(closed, Outcome::Failure(m) if m.starts_with("dial tcp 127.0.0.1:")));
    }
}
