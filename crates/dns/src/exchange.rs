//! Sending one DNS message to a server and reading its reply, over UDP or
//! TCP (RFC 1035 §4.2; TCP messages carry a two-byte length prefix). Used
//! by the forwarder, and by tests and benchmarks as a client.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

/// The largest UDP reply read (the largest EDNS payload a server may send).
const MAX_UDP_REPLY: usize = 65_535;

/// Which transport carries a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// One datagram each way.
    Udp,
    /// A fresh connection, length-prefixed messages.
    Tcp,
}

/// Why an exchange failed.
#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    /// Binding, connecting, sending or receiving failed.
    #[error("{transport:?} exchange with {server} failed: {source}")]
    Io {
        /// The transport.
        transport: Transport,
        /// The server.
        server: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// No reply came in time.
    #[error("{transport:?} exchange with {server} timed out after {timeout:?}")]
    Timeout {
        /// The transport.
        transport: Transport,
        /// The server.
        server: SocketAddr,
        /// How long we waited.
        timeout: Duration,
    },
    /// The message is shorter than a DNS header or too long for TCP.
    #[error("a DNS message of {0} bytes cannot be exchanged")]
    BadLength(usize),
}

/// Sends `message` (wire format) to `server` and returns the reply with the
/// same ID, or fails after `timeout`.
pub async fn exchange(
    server: SocketAddr,
    message: &[u8],
    transport: Transport,
    timeout: Duration,
) -> Result<Vec<u8>, ExchangeError> {
    let id = match message {
        [high, low, ..] => [*high, *low],
        _ => return Err(ExchangeError::BadLength(message.len())),
    };
    let io = |source| ExchangeError::Io {
        transport,
        server,
        source,
    };
    let work = async {
        match transport {
            Transport::Udp => udp(server, message, id).await.map_err(io),
            Transport::Tcp => tcp(server, message).await.map_err(io),
        }
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(reply) => reply,
        Err(_) => Err(ExchangeError::Timeout {
            transport,
            server,
            timeout,
        }),
    }
}

async fn udp(server: SocketAddr, message: &[u8], id: [u8; 2]) -> std::io::Result<Vec<u8>> {
    let local: SocketAddr = if server.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(local).await?;
    socket.connect(server).await?;
    socket.send(message).await?;
    let mut buffer = vec![0; MAX_UDP_REPLY];
    loop {
        let len = socket.recv(&mut buffer).await?;
        // A stray or late datagram for another ID is not our reply.
        if buffer.get(..2) == Some(&id[..]) {
            buffer.truncate(len);
            return Ok(buffer);
        }
    }
}

async fn tcp(server: SocketAddr, message: &[u8]) -> std::io::Result<Vec<u8>> {
    let len = u16::try_from(message.len()).map_err(|_| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, "message too long for TCP")
    })?;
    let mut stream = TcpStream::connect(server).await?;
    stream.set_nodelay(true)?;
    let mut framed = Vec::with_capacity(message.len() + 2);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(message);
    stream.write_all(&framed).await?;
    let reply_len = stream.read_u16().await?;
    let mut reply = vec![0; usize::from(reply_len)];
    stream.read_exact(&mut reply).await?;
    Ok(reply)
}
