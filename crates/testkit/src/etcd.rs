//! A real etcd for tests and benchmarks.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tempfile::TempDir;

use crate::ports::free_port;
use crate::ready::{wait_for_ready_line, Readiness};
use crate::{Error, Result};

/// Where Debian's `etcd-server` package installs etcd.
pub const ETCD_BINARY: &str = "/usr/bin/etcd";

/// How long etcd may take to elect itself and open its client port. It is
/// usually well under a second; the margin is for a loaded, shared machine.
const READY_DEADLINE: Duration = Duration::from_secs(60);

/// How often to try new ports when etcd cannot bind the ones we picked
/// (another process took them between our probe and etcd's bind).
const START_ATTEMPTS: usize = 3;

/// What etcd 3.4 logs (zap logger) once it serves clients: it is logged after
/// the server is ready and its client listener is bound (`embed/serve.go`).
/// The first is logged for insecure listeners, the second by other versions.
const READY_MARKERS: &[&str] = &[
    "serving client traffic insecurely",
    "ready to serve client requests",
];

/// etcd's default `--max-request-bytes` is 1.5 MiB for the whole request, so a
/// value of exactly the store's 1.5 MiB limit plus its key would be refused.
/// 3 MiB leaves room for the key and the transaction around it.
const MAX_REQUEST_BYTES: &str = "3145728";

/// A single-member etcd on free `127.0.0.1` ports with a temporary data dir.
/// Dropping it kills the process and removes the data dir.
#[derive(Debug)]
pub struct EtcdProcess {
    child: Child,
    endpoint: String,
    log_path: PathBuf,
    // Declared last: removed after the child is killed.
    dir: TempDir,
}

impl EtcdProcess {
    /// Starts [`ETCD_BINARY`] and waits until it serves clients.
    ///
    /// Blocking; from async code call it through `spawn_blocking`.
    pub fn start() -> Result<Self> {
        let mut last_failure = None;
        for _ in 0..START_ATTEMPTS {
            match Self::start_once()? {
                Ok(etcd) => return Ok(etcd),
                // Retried because the usual cause is a port taken since we probed it.
                Err(failure @ Error::Exited { .. }) => last_failure = Some(failure),
                Err(failure) => return Err(failure),
            }
        }
        Err(last_failure.unwrap_or_else(|| Error::Io {
            what: "starting etcd".into(),
            source: std::io::Error::other("no attempt was made"),
        }))
    }

    /// One attempt: `Err` for errors worth giving up on at once, `Ok(Err)`
    /// for a start that failed and may succeed on other ports.
    fn start_once() -> Result<Result<Self>> {
        let dir = tempfile::Builder::new()
            .prefix("rkube-etcd-")
            .tempdir()
            .map_err(|source| Error::Io {
                what: "creating a temp dir for etcd".into(),
                source,
            })?;
        let client_url = format!("http://127.0.0.1:{}", free_port()?);
        let peer_url = format!("http://127.0.0.1:{}", free_port()?);
        let log_path = dir.path().join("etcd.log");
        let data_dir = dir.path().join("data");

        let mut child = Command::new(ETCD_BINARY)
            .arg("--name=rkube-test")
            .arg(format!("--data-dir={}", data_dir.display()))
            .arg(format!("--listen-client-urls={client_url}"))
            .arg(format!("--advertise-client-urls={client_url}"))
            .arg(format!("--listen-peer-urls={peer_url}"))
            .arg(format!("--initial-advertise-peer-urls={peer_url}"))
            .arg(format!("--initial-cluster=rkube-test={peer_url}"))
            .arg(format!("--max-request-bytes={MAX_REQUEST_BYTES}"))
            .arg("--logger=zap")
            .arg("--log-outputs=stderr")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| Error::Io {
                what: format!("spawning {ETCD_BINARY} (install Debian's etcd-server)"),
                source,
            })?;
        let Some(stderr) = child.stderr.take() else {
            return Err(Error::Io {
                what: "taking etcd's stderr".into(),
                source: std::io::Error::other("stderr was not piped"),
            });
        };
        // From here on `etcd` owns the child: any early return kills it.
        let mut etcd = EtcdProcess {
            child,
            endpoint: client_url,
            log_path,
            dir,
        };
        let readiness = wait_for_ready_line(
            "etcd",
            &mut etcd.child,
            stderr,
            &etcd.log_path,
            READY_MARKERS,
            READY_DEADLINE,
        )?;
        Ok(match readiness {
            Readiness::Ready => Ok(etcd),
            Readiness::Failed(failure) => Err(failure),
        })
    }

    /// The client URL, e.g. `http://127.0.0.1:40123`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// etcd's data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// etcd's log file (its stderr).
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }
}

impl Drop for EtcdProcess {
    fn drop(&mut self) {
        // kill fails only if the child is already gone; wait reaps it either way.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpStream;

    use super::*;

    /// etcd answers plain HTTP on its client port; `/health` is its probe.
    fn health(endpoint: &str) -> String {
        let addr = endpoint.trim_start_matches("http://");
        let mut conn = TcpStream::connect(addr).unwrap();
        write!(conn, "GET /health HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
        let mut answer = String::new();
        conn.read_to_string(&mut answer).unwrap();
        answer
    }

    #[test]
    fn a_started_etcd_is_healthy_and_gone_after_drop() {
        let etcd = EtcdProcess::start().unwrap();
        let answer = health(etcd.endpoint());
        assert!(answer.contains("\"health\":\"true\""), "{answer}");

        let endpoint = etcd.endpoint().to_string();
        let data_dir = etcd.data_dir();
        assert!(data_dir.exists());
        drop(etcd);
        let addr = endpoint.trim_start_matches("http://");
        assert!(
            TcpStream::connect(addr).is_err(),
            "etcd still listens on {addr}"
        );
        assert!(!data_dir.exists());
    }

    #[test]
    fn two_etcds_run_side_by_side() {
        let a = EtcdProcess::start().unwrap();
        let b = EtcdProcess::start().unwrap();
        assert_ne!(a.endpoint(), b.endpoint());
        assert!(health(b.endpoint()).contains("\"health\":\"true\""));
        assert!(health(a.endpoint()).contains("\"health\":\"true\""));
    }
}
