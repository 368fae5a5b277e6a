//! A real `rkube server` process, driven by the real kubectl.

use std::ffi::OsStr;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::Duration;

use tempfile::TempDir;

use crate::ports::free_port;
use crate::ready::{wait_for_ready_line, Readiness};
use crate::stop_on_drop::{terminate, STOP_GRACE};
use crate::{Error, Result};

/// Where the tests expect kubectl (the machines have it there).
pub const KUBECTL: &str = "/usr/bin/kubectl";

/// What `rkube server` prints once the apiserver answers (`rkube::server`).
const READY_MARKERS: &[&str] = &["rkube is up"];

/// How long a server may take to start on a loaded, shared machine.
const READY_DEADLINE: Duration = Duration::from_secs(120);

/// How long one kubectl command may run before it counts as hung: longer than the longest
/// `--timeout` the tests give kubectl itself (`rollout status --timeout=180s`).
const KUBECTL_TIMEOUT_SECS: &str = "240";

/// `rkube server` on a free `127.0.0.1` port with its own data dir. Dropping
/// it kills the process; the data dir lives as long as the value.
#[derive(Debug)]
pub struct RkubeServer {
    child: Option<Child>,
    binary: PathBuf,
    args: Vec<String>,
    bind: IpAddr,
    port: u16,
    log_path: PathBuf,
    // Declared last: removed after the child is killed.
    dir: TempDir,
}

impl RkubeServer {
    /// Starts `binary server` with `extra_args` and waits until it is up.
    pub fn start(binary: impl Into<PathBuf>, extra_args: &[&str]) -> Result<Self> {
        Self::start_at(binary, IpAddr::V4(Ipv4Addr::LOCALHOST), extra_args)
    }

    /// [`start`](Self::start), listening on `bind` (e.g. a [`NetnsLab`](crate::NetnsLab)'s
    /// gateway, which its hosts reach) instead of 127.0.0.1.
    pub fn start_at(binary: impl Into<PathBuf>, bind: IpAddr, extra_args: &[&str]) -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("rkube-server-")
            .tempdir()
            .map_err(|source| Error::Io {
                what: "creating a temp dir for rkube server".into(),
                source,
            })?;
        let mut server = RkubeServer {
            child: None,
            binary: binary.into(),
            args: extra_args.iter().map(|a| a.to_string()).collect(),
            bind,
            port: 0,
            log_path: dir.path().join("server.log"),
            dir,
        };
        server.launch()?;
        Ok(server)
    }

    /// Starts the process again on the same data dir (after [`stop`](Self::stop)).
    pub fn restart(&mut self) -> Result<()> {
        self.launch()
    }

    /// Like [`restart`](Self::restart), with `extra_args` instead of the first start's.
    pub fn restart_with(&mut self, extra_args: &[&str]) -> Result<()> {
        self.args = extra_args.iter().map(|a| a.to_string()).collect();
        self.launch()
    }

    fn launch(&mut self) -> Result<()> {
        self.port = free_port()?;
        let mut child = Command::new(&self.binary)
            .arg("server")
            .arg("--data-dir")
            .arg(self.data_dir())
            .arg(format!("--bind-address={}", self.bind))
            .arg(format!("--https-listen-port={}", self.port))
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| Error::Io {
                what: format!("spawning {}", self.binary.display()),
                source,
            })?;
        let Some(stderr) = child.stderr.take() else {
            return Err(Error::Io {
                what: "taking rkube's stderr".into(),
                source: std::io::Error::other("stderr was not piped"),
            });
        };
        let readiness = wait_for_ready_line(
            "rkube server",
            &mut child,
            stderr,
            &self.log_path,
            READY_MARKERS,
            READY_DEADLINE,
        );
        // Owned before checking, so a failed start is still killed on drop.
        self.child = Some(child);
        match readiness? {
            Readiness::Ready => Ok(()),
            Readiness::Failed(failure) => Err(failure),
        }
    }

    /// Stops the server with SIGTERM, as Ctrl-C would, and waits for it.
    pub fn stop(&mut self) -> Result<ExitStatus> {
        let Some(mut child) = self.child.take() else {
            return Err(Error::Io {
                what: "stopping rkube server".into(),
                source: std::io::Error::other("it is not running"),
            });
        };
        let io = |what: &str| {
            let what = what.to_string();
            move |source| Error::Io { what, source }
        };
        Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status()
            .map_err(io("sending SIGTERM to rkube server"))?;
        child.wait().map_err(io("waiting for rkube server"))
    }

    /// The server's data dir (store, certificates, kubeconfig).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The admin kubeconfig the server wrote.
    pub fn kubeconfig(&self) -> PathBuf {
        self.data_dir().join("admin.kubeconfig")
    }

    /// The apiserver's URL.
    pub fn url(&self) -> String {
        format!("https://{}:{}", self.bind, self.port)
    }

    /// The HTTPS port the apiserver listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's log (its stderr), for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Runs the real kubectl against this server, killed after [`KUBECTL_TIMEOUT_SECS`].
    pub fn kubectl<I, S>(&self, args: I) -> Result<Output>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        Command::new("timeout")
            .arg(KUBECTL_TIMEOUT_SECS)
            .arg(KUBECTL)
            .arg("--kubeconfig")
            .arg(self.kubeconfig())
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|source| Error::Io {
                what: format!("running {KUBECTL}"),
                source,
            })
    }

    /// The log file's path.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }
}

impl Drop for RkubeServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGTERM first, so that a server running an agent stops its
            // containers and containerd instead of leaving them behind.
            terminate(&mut child, STOP_GRACE);
        }
    }
}
