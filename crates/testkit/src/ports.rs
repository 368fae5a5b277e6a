//! Free loopback ports.

use std::net::{Ipv4Addr, TcpListener};

use crate::{Error, Result};

/// Asks the kernel for a port that is free on 127.0.0.1 right now.
///
/// The port is released before the caller's process binds it, so another
/// process may take it in between; callers that start a server retry with new
/// ports when the server fails to start.
pub(crate) fn free_port() -> Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(|source| Error::Io {
        what: "binding 127.0.0.1:0 to find a free port".into(),
        source,
    })?;
    let port = listener
        .local_addr()
        .map_err(|source| Error::Io {
            what: "reading the address of a bound listener".into(),
            source,
        })?
        .port();
    Ok(port)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn a_free_port_can_be_bound() {
        let port = free_port().unwrap();
        assert_ne!(port, 0);
        TcpListener::bind((Ipv4Addr::LOCALHOST, port)).unwrap();
    }
}
