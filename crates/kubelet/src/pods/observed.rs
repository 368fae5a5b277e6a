//! What the runtime has for one pod, read through CRI by the pod's UID
//! label: the sandboxes and every container instance. This is the worker's
//! only memory of what runs, so a restarted kubelet sees exactly what the
//! previous one left (restart-safe by construction).

use k8s_cri::v1 as cri;

use super::termination_message;
use crate::runtime::cri::{labels, selector, Cri, CriError};

/// A container's runtime state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuntimeState {
    /// Created, not started.
    Created,
    /// Running.
    Running,
    /// Exited.
    Exited,
    /// The runtime does not know.
    Unknown,
}

/// One sandbox of the pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedSandbox {
    /// CRI id.
    pub id: String,
    /// Incremented each time the sandbox is recreated.
    pub attempt: u32,
    /// Whether it is ready (its network is set up).
    pub ready: bool,
    /// Creation time (ns since the epoch).
    pub created_at: i64,
}

/// One container instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedContainer {
    /// CRI id.
    pub id: String,
    /// The sandbox it runs in.
    pub sandbox_id: String,
    /// The container's name in the pod spec.
    pub name: String,
    /// Its restart count when created.
    pub attempt: u32,
    /// Its state.
    pub state: RuntimeState,
    /// Times in ns since the epoch (0: not yet).
    pub created_at: i64,
    /// Start time.
    pub started_at: i64,
    /// Exit time.
    pub finished_at: i64,
    /// Exit code.
    pub exit_code: i32,
    /// The runtime's reason (e.g. OOMKilled).
    pub reason: String,
    /// The runtime's message.
    pub message: String,
    /// The image digest reference.
    pub image_ref: String,
}

/// Everything the runtime has for a pod.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObservedPod {
    /// Its sandboxes, newest first.
    pub sandboxes: Vec<ObservedSandbox>,
    /// Its container instances, newest first per name.
    pub containers: Vec<ObservedContainer>,
}

impl ObservedPod {
    /// The newest sandbox.
    pub fn sandbox(&self) -> Option<&ObservedSandbox> {
        self.sandboxes.first()
    }

    /// The newest instance of container `name`.
    pub fn latest(&self, name: &str) -> Option<&ObservedContainer> {
        self.containers.iter().find(|c| c.name == name)
    }

    /// The instance before the newest (for `lastState`).
    pub fn previous(&self, name: &str) -> Option<&ObservedContainer> {
        self.containers.iter().filter(|c| c.name == name).nth(1)
    }

    /// Instances older than the newest two per name: garbage once exited.
    pub fn garbage(&self) -> Vec<&ObservedContainer> {
        let mut seen: std::collections::HashMap<&str, usize> = Default::default();
        self.containers
            .iter()
            .filter(|c| {
                let n = seen.entry(c.name.as_str()).or_default();
                *n += 1;
                *n > 2 && c.state != RuntimeState::Running
            })
            .collect()
    }

    /// Whether any container is running.
    pub fn any_running(&self) -> bool {
        self.containers
            .iter()
            .any(|c| c.state == RuntimeState::Running)
    }
}

/// Reads the pod with UID `uid` from the runtime.
pub async fn observe(cri: &Cri, uid: &str) -> Result<ObservedPod, CriError> {
    let mut sandboxes: Vec<ObservedSandbox> = cri
        .list_pod_sandboxes(selector(labels::POD_UID, uid))
        .await?
        .into_iter()
        .map(|s| ObservedSandbox {
            attempt: s.metadata.as_ref().map_or(0, |m| m.attempt),
            ready: s.state == cri::PodSandboxState::SandboxReady as i32,
            created_at: s.created_at,
            id: s.id,
        })
        .collect();
    sandboxes.sort_by_key(|s| std::cmp::Reverse((s.created_at, s.attempt)));

    let mut listed = cri.list_containers(selector(labels::POD_UID, uid)).await?;
    listed.sort_by_key(|c| std::cmp::Reverse(c.created_at));
    let mut containers = Vec::with_capacity(listed.len());
    let mut per_name: std::collections::HashMap<String, usize> = Default::default();
    for c in listed {
        let name = c
            .metadata
            .as_ref()
            .map(|m| m.name.clone())
            .unwrap_or_default();
        let n = per_name.entry(name.clone()).or_default();
        *n += 1;
        let mut observed = ObservedContainer {
            id: c.id.clone(),
            sandbox_id: c.pod_sandbox_id.clone(),
            name,
            attempt: c.metadata.as_ref().map_or(0, |m| m.attempt),
            state: state_of(c.state),
            created_at: c.created_at,
            started_at: 0,
            finished_at: 0,
            exit_code: 0,
            reason: String::new(),
            message: String::new(),
            image_ref: c.image_ref.clone(),
        };
        // Only the newest two per name feed the status; older ones are garbage.
        if *n <= 2 {
            match cri.container_status(&c.id).await {
                Ok(status) => {
                    observed.state = state_of(status.state);
                    observed.started_at = status.started_at;
                    observed.finished_at = status.finished_at;
                    observed.exit_code = status.exit_code;
                    observed.reason = status.reason.clone();
                    observed.message = if observed.state == RuntimeState::Exited {
                        termination_message::message(&status)
                    } else {
                        status.message
                    };
                }
                // Removed between the list and now: leave it out.
                Err(e) if e.is_not_found() => continue,
                Err(e) => return Err(e),
            }
        }
        containers.push(observed);
    }
    Ok(ObservedPod {
        sandboxes,
        containers,
    })
}

fn state_of(state: i32) -> RuntimeState {
    match cri::ContainerState::try_from(state) {
        Ok(cri::ContainerState::ContainerCreated) => RuntimeState::Created,
        Ok(cri::ContainerState::ContainerRunning) => RuntimeState::Running,
        Ok(cri::ContainerState::ContainerExited) => RuntimeState::Exited,
        _ => RuntimeState::Unknown,
    }
}
