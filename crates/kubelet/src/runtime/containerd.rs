//! The agent's own containerd: writes its config into the data dir, starts
//! it, waits until its CRI answers, and stops it (pods first) at shutdown
//! (DESIGN.md §4.5; RUNTIME-NOTES.md).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};
use tracing::{info, warn};

use super::containerd_config::{
    render_cni_conflist, render_config, CniSettings, ContainerdLayout, DEBIAN_CNI_BIN_DIR,
};
use super::cri::{Cri, CriError};

/// The program we run, found on PATH.
pub const CONTAINERD_BINARY: &str = "containerd";
/// How often readiness is checked while waiting.
const READY_POLL: Duration = Duration::from_millis(100);
/// How long containerd gets to exit after SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// Why containerd could not be started or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ContainerdError {
    /// No containerd binary on PATH.
    #[error(
        "containerd was not found on PATH: install the Debian package `containerd` \
         (apt-get install containerd runc containernetworking-plugins), \
         or pass --container-runtime-endpoint to use a running CRI runtime"
    )]
    Missing,
    /// Writing the config or creating directories failed.
    #[error("preparing {path}: {source}")]
    Prepare {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Spawning the process failed.
    #[error("starting containerd: {0}")]
    Spawn(#[source] std::io::Error),
    /// containerd exited while we waited for it.
    #[error("containerd exited before its CRI was ready ({status}); last log lines:\n{log}")]
    Exited {
        /// How it exited.
        status: std::process::ExitStatus,
        /// The end of its log.
        log: String,
    },
    /// The CRI did not become ready in time.
    #[error(
        "containerd's CRI was not ready after {waited:?} (last error: {last}); log: {log_file}"
    )]
    NotReady {
        /// How long we waited.
        waited: Duration,
        /// The last readiness failure.
        last: String,
        /// Its log file.
        log_file: PathBuf,
    },
    /// A CRI call failed while stopping pods.
    #[error(transparent)]
    Cri(#[from] CriError),
}

/// How to run the agent's containerd.
#[derive(Debug, Clone)]
pub struct ContainerdOptions {
    /// The directory for its config, sockets, root and state.
    pub layout: ContainerdLayout,
    /// The pause image reference (imported locally).
    pub sandbox_image: String,
    /// The node's CNI settings.
    pub cni: CniSettings,
    /// The CNI plugin binaries.
    pub cni_bin_dir: PathBuf,
    /// How long to wait for CRI readiness.
    pub ready_deadline: Duration,
}

impl ContainerdOptions {
    /// Options with Debian's CNI plugins and a 60 s readiness deadline.
    pub fn new(
        layout: ContainerdLayout,
        sandbox_image: impl Into<String>,
        cni: CniSettings,
    ) -> Self {
        ContainerdOptions {
            layout,
            sandbox_image: sandbox_image.into(),
            cni,
            cni_bin_dir: DEBIAN_CNI_BIN_DIR.into(),
            ready_deadline: Duration::from_secs(60),
        }
    }
}

/// A running containerd started by us. Dropping it kills containerd (its
/// shims, and so the pods, keep running, as they do when containerd
/// restarts); [`Containerd::stop`] stops the pods first.
pub struct Containerd {
    child: Child,
    layout: ContainerdLayout,
    cri: Cri,
}

impl Containerd {
    /// Writes the config and CNI conflist, starts containerd and waits until
    /// its CRI answers and reports RuntimeReady.
    pub async fn start(options: ContainerdOptions) -> Result<Containerd, ContainerdError> {
        let binary = find_on_path(CONTAINERD_BINARY).ok_or(ContainerdError::Missing)?;
        let layout = &options.layout;
        write_files(&options)?;
        // A containerd left by a kubelet that died holds the root's lock;
        // its shims (and so the pods) survive it.
        stop_stale(layout).await;
        // A socket left by a containerd that died would make the readiness
        // check talk to nobody until the new one binds it.
        let _ = std::fs::remove_file(layout.socket());
        let log = std::fs::File::create(layout.log_file()).map_err(|source| {
            ContainerdError::Prepare {
                path: layout.log_file(),
                source,
            }
        })?;
        let log_err = log.try_clone().map_err(ContainerdError::Spawn)?;
        let child = Command::new(binary)
            .arg("--config")
            .arg(layout.config_file())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .kill_on_drop(true)
            .spawn()
            .map_err(ContainerdError::Spawn)?;
        if let Some(pid) = child.id() {
            let _ = std::fs::write(pid_file(layout), pid.to_string());
        }
        let cri = Cri::connect(&layout.socket())?;
        let mut containerd = Containerd {
            child,
            layout: layout.clone(),
            cri,
        };
        containerd.wait_ready(options.ready_deadline).await?;
        info!(socket = %layout.socket().display(), pid = ?containerd.child.id(), "containerd ready");
        Ok(containerd)
    }

    /// The CRI client for this containerd.
    pub fn cri(&self) -> &Cri {
        &self.cri
    }

    /// Its CRI socket.
    pub fn socket(&self) -> PathBuf {
        self.layout.socket()
    }

    /// Its process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    async fn wait_ready(&mut self, deadline: Duration) -> Result<(), ContainerdError> {
        let started = tokio::time::Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().map_err(ContainerdError::Spawn)? {
                return Err(ContainerdError::Exited {
                    status,
                    log: log_tail(&self.layout.log_file(), 20),
                });
            }
            let last = match runtime_ready(&self.cri).await {
                Ok(()) => return Ok(()),
                Err(why) => why,
            };
            if started.elapsed() > deadline {
                return Err(ContainerdError::NotReady {
                    waited: deadline,
                    last,
                    log_file: self.layout.log_file(),
                });
            }
            tokio::time::sleep(READY_POLL).await;
        }
    }

    /// Stops and removes every pod sandbox, then stops containerd (SIGTERM,
    /// SIGKILL after a grace period). Shims outlive containerd, so pods must
    /// go first (RUNTIME-NOTES.md).
    pub async fn stop(mut self) -> Result<(), ContainerdError> {
        let pods = remove_all_pods(&self.cri).await;
        terminate(&mut self.child).await;
        pods
    }
}

/// Stops and removes every sandbox the runtime has; the first failure is
/// returned after trying them all.
pub async fn remove_all_pods(cri: &Cri) -> Result<(), ContainerdError> {
    let mut first_error = None;
    for sandbox in cri.list_pod_sandboxes(Default::default()).await? {
        let result = match cri.stop_pod_sandbox(&sandbox.id).await {
            Ok(()) => cri.remove_pod_sandbox(&sandbox.id).await,
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            warn!(sandbox = %sandbox.id, error = %e, "could not remove a pod sandbox");
            first_error.get_or_insert(e);
        }
    }
    match first_error {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}

/// SIGTERM, wait, then SIGKILL.
async fn terminate(child: &mut Child) {
    let pid = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .and_then(rustix::process::Pid::from_raw);
    if let Some(pid) = pid {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
    }
    if tokio::time::timeout(STOP_GRACE, child.wait())
        .await
        .is_err()
    {
        warn!(grace = ?STOP_GRACE, "containerd ignored SIGTERM; killing it");
        let _ = child.kill().await;
    }
}

fn pid_file(layout: &ContainerdLayout) -> PathBuf {
    layout.dir.join("containerd.pid")
}

/// Stops a containerd still running with this layout's config (recorded
/// in the pid file, confirmed by its command line).
async fn stop_stale(layout: &ContainerdLayout) {
    let Some(pid) = std::fs::read_to_string(pid_file(layout))
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok())
    else {
        return;
    };
    let proc_dir = PathBuf::from(format!("/proc/{pid}"));
    let cmdline = std::fs::read(proc_dir.join("cmdline")).unwrap_or_default();
    let config = layout.config_file();
    let ours = String::from_utf8_lossy(&cmdline).contains(&*config.to_string_lossy());
    let Some(pid) = rustix::process::Pid::from_raw(pid).filter(|_| ours) else {
        return;
    };
    warn!(
        pid = pid.as_raw_nonzero().get(),
        "stopping a containerd left by an earlier run"
    );
    let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
    let deadline = tokio::time::Instant::now() + STOP_GRACE;
    while proc_dir.exists() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(READY_POLL).await;
    }
    if proc_dir.exists() {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
    }
}

/// RuntimeReady from CRI Status, or why not.
async fn runtime_ready(cri: &Cri) -> Result<(), String> {
    let conditions = cri.conditions().await.map_err(|e| e.to_string())?;
    let ready = conditions
        .iter()
        .any(|c| c.r#type == "RuntimeReady" && c.status);
    if ready {
        Ok(())
    } else {
        Err(format!("conditions: {conditions:?}"))
    }
}

fn write_files(options: &ContainerdOptions) -> Result<(), ContainerdError> {
    let layout = &options.layout;
    let prepare = |path: PathBuf| move |source| ContainerdError::Prepare { path, source };
    for dir in [layout.dir.clone(), layout.cni_conf_dir(), layout.ipam_dir()] {
        std::fs::create_dir_all(&dir).map_err(prepare(dir.clone()))?;
    }
    let config = render_config(layout, &options.sandbox_image, &options.cni_bin_dir);
    std::fs::write(layout.config_file(), config).map_err(prepare(layout.config_file()))?;
    let conflist = render_cni_conflist(layout, &options.cni);
    std::fs::write(layout.cni_conflist(), format!("{conflist:#}"))
        .map_err(prepare(layout.cni_conflist()))?;
    Ok(())
}

/// The first `name` in a PATH directory.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// The last `lines` lines of a log file (empty if unreadable).
fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
