//! The host's upstream resolvers, from resolv.conf (`nameserver` lines, as
//! resolv.conf(5) describes; CoreDNS's default `forward . /etc/resolv.conf`).

use std::net::{IpAddr, SocketAddr};
use std::path::Path;

/// The port nameservers listen on.
const DNS_PORT: u16 = 53;

/// Why resolv.conf gave no resolvers.
#[derive(Debug, thiserror::Error)]
pub enum ResolvConfError {
    /// The file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file names no nameserver.
    #[error("{0} names no nameserver")]
    NoNameserver(String),
}

/// The nameservers `path` lists, on port 53.
pub fn read_nameservers(path: &Path) -> Result<Vec<SocketAddr>, ResolvConfError> {
    let text = std::fs::read_to_string(path).map_err(|source| ResolvConfError::Read {
        path: path.display().to_string(),
        source,
    })?;
    let servers = parse_nameservers(&text);
    if servers.is_empty() {
        return Err(ResolvConfError::NoNameserver(path.display().to_string()));
    }
    Ok(servers)
}

/// The `nameserver` addresses in resolv.conf text. Link-local IPv6
/// addresses with a `%zone` suffix are skipped (they need an interface
/// scope that a socket address string cannot carry portably).
pub fn parse_nameservers(text: &str) -> Vec<SocketAddr> {
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            match (words.next(), words.next()) {
                (Some("nameserver"), Some(address)) => address.parse::<IpAddr>().ok(),
                _ => None,
            }
        })
        .map(|ip| SocketAddr::new(ip, DNS_PORT))
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn nameserver_lines_become_port_53_addresses() {
        let cases: [(&str, &[&str]); 4] = [
            ("nameserver 10.0.0.2\n", &["10.0.0.2:53"]),
            (
                "# comment\nsearch example.com\nnameserver 1.1.1.1\nnameserver ::1\noptions ndots:5\n",
                &["1.1.1.1:53", "[::1]:53"],
            ),
            ("nameserver fe80::1%eth0\nnameserver not-an-ip\n", &[]),
            ("", &[]),
        ];
        for (text, want) in cases {
            let got: Vec<String> = parse_nameservers(text)
                .iter()
                .map(ToString::to_string)
                .collect();
            assert_eq!(got, want, "{text:?}");
        }
    }
}
