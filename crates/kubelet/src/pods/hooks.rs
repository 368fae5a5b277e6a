//! Container lifecycle hooks (pkg/kubelet/lifecycle/handlers.go):
//! postStart runs right after StartContainer and a failure kills the
//! container; preStop runs before StopContainer within the grace period.
//! Handlers are exec, HTTP GET (any answer counts, only a transport error
//! fails, as upstream) and sleep.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Container, LifecycleHandler};

use super::probes::http_get;
use super::probes::state::Outcome;
use crate::runtime::cri::Cri;

/// Which hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hook {
    /// After the container started.
    PostStart,
    /// Before the container is stopped.
    PreStop,
}

impl Hook {
    /// The container's handler for this hook.
    pub fn handler(self, container: &Container) -> Option<&LifecycleHandler> {
        let lifecycle = container.lifecycle.as_ref()?;
        match self {
            Hook::PostStart => lifecycle.post_start.as_ref(),
            Hook::PreStop => lifecycle.pre_stop.as_ref(),
        }
    }
}

/// A hook failed; the messages follow upstream's.
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    /// The command failed.
    #[error("Exec lifecycle hook ({command:?}) for Container \"{container}\" in Pod \"{pod}\" failed - error: {message}")]
    Exec {
        /// The command.
        command: Vec<String>,
        /// The container.
        container: String,
        /// `name_namespace(uid)`.
        pod: String,
        /// Its output or error.
        message: String,
    },
    /// The GET got no answer.
    #[error("HTTP lifecycle hook ({path}) for Container \"{container}\" in Pod \"{pod}\" failed - error: {message}")]
    Http {
        /// The path.
        path: String,
        /// The container.
        container: String,
        /// `name_namespace(uid)`.
        pod: String,
        /// The error.
        message: String,
    },
    /// The handler names nothing this kubelet can run.
    #[error("invalid lifecycle hook for Container \"{container}\": {message}")]
    Invalid {
        /// The container.
        container: String,
        /// Why.
        message: String,
    },
    /// It did not finish in time.
    #[error("lifecycle hook for Container \"{container}\" did not finish within {seconds}s")]
    Timeout {
        /// The container.
        container: String,
        /// The limit.
        seconds: u64,
    },
}

/// Where a hook runs.
pub struct HookTarget<'a> {
    /// The runtime.
    pub cri: &'a Cri,
    /// The container's spec.
    pub container: &'a Container,
    /// The instance's CRI id.
    pub id: &'a str,
    /// The pod's IP (the default host of HTTP handlers).
    pub pod_ip: &'a str,
    /// `name_namespace(uid)`, for messages.
    pub pod: String,
}

/// Runs `handler` against `target`, at most `limit`.
pub async fn run(
    handler: &LifecycleHandler,
    target: &HookTarget<'_>,
    limit: Duration,
) -> Result<(), HookError> {
    match tokio::time::timeout(limit, run_handler(handler, target, limit)).await {
        Ok(result) => result,
        Err(_) => Err(HookError::Timeout {
            container: target.container.name.clone(),
            seconds: limit.as_secs(),
        }),
    }
}

async fn run_handler(
    handler: &LifecycleHandler,
    target: &HookTarget<'_>,
    limit: Duration,
) -> Result<(), HookError> {
    let container = target.container.name.clone();
    if let Some(exec) = &handler.exec {
        let command = exec.command.clone().unwrap_or_default();
        return match super::probes::exec::run(target.cri, target.id, command.clone(), limit).await {
            Outcome::Success => Ok(()),
            Outcome::Failure(message) => Err(HookError::Exec {
                command,
                container,
                pod: target.pod.clone(),
                message,
            }),
        };
    }
    if let Some(action) = &handler.http_get {
        let get = http_get(action, target.container, target.pod_ip).map_err(|message| {
            HookError::Invalid {
                container: container.clone(),
                message,
            }
        })?;
        return match get.send(limit).await {
            Ok(_) => Ok(()),
            Err(e) => Err(HookError::Http {
                path: action.path.clone().unwrap_or_default(),
                container,
                pod: target.pod.clone(),
                message: e.to_string(),
            }),
        };
    }
    if let Some(sleep) = &handler.sleep {
        let seconds = u64::try_from(sleep.seconds).unwrap_or(0);
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        return Ok(());
    }
    Err(HookError::Invalid {
        container,
        message: "no handler (exec, httpGet or sleep) given".into(),
    })
}
