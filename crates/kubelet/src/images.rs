//! Images: importing tarballs into the runtime (air-gapped nodes, test
//! images) and `imagePullPolicy` through CRI ImageStatus/PullImage
//! (pkg/kubelet/images/image_manager.go).

use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::{Container, Pod};
use tracing::info;

use crate::pods::WaitingReason;
use crate::runtime::cri::Cri;

/// containerd's namespace for CRI images.
pub const K8S_NAMESPACE: &str = "k8s.io";

/// Why an import failed.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// `ctr` is not installed.
    #[error("`ctr` was not found on PATH: install the Debian package `containerd`")]
    CtrMissing,
    /// Running `ctr` failed.
    #[error("running ctr: {0}")]
    Spawn(#[source] std::io::Error),
    /// `ctr` refused the file.
    #[error("importing {file}: {stderr}")]
    Refused {
        /// The tarball.
        file: PathBuf,
        /// What ctr said.
        stderr: String,
    },
    /// The images directory could not be read.
    #[error("reading {dir}: {source}")]
    ReadDir {
        /// The directory.
        dir: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// Imports an OCI-layout or docker-archive tarball into the `k8s.io`
/// namespace of the containerd at `socket`, where CRI sees it.
pub async fn import(socket: &Path, file: &Path) -> Result<(), ImportError> {
    let ctr = crate::runtime::containerd::find_on_path("ctr").ok_or(ImportError::CtrMissing)?;
    let output = tokio::process::Command::new(ctr)
        .arg("--address")
        .arg(socket)
        .args(["--namespace", K8S_NAMESPACE, "images", "import"])
        .arg(file)
        .output()
        .await
        .map_err(ImportError::Spawn)?;
    if !output.status.success() {
        return Err(ImportError::Refused {
            file: file.to_path_buf(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        });
    }
    info!(file = %file.display(), "image imported");
    Ok(())
}

/// Imports every `*.tar` in `dir` (a missing dir is empty); returns how many.
pub async fn import_dir(socket: &Path, dir: &Path) -> Result<usize, ImportError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(source) => {
            return Err(ImportError::ReadDir {
                dir: dir.to_path_buf(),
                source,
            })
        }
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "tar"))
        .collect();
    files.sort();
    for file in &files {
        import(socket, file).await?;
    }
    Ok(files.len())
}

/// When to pull.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullPolicy {
    /// Every time a container starts.
    Always,
    /// Only when the image is absent.
    IfNotPresent,
    /// Never: an absent image is an error.
    Never,
}

impl PullPolicy {
    /// The container's policy; unset means Always for `:latest` or no tag,
    /// else IfNotPresent (the apiserver's defaulting).
    pub fn of(container: &Container) -> PullPolicy {
        match container.image_pull_policy.as_deref() {
            Some("Always") => PullPolicy::Always,
            Some("Never") => PullPolicy::Never,
            Some("IfNotPresent") => PullPolicy::IfNotPresent,
            _ => {
                let image = container.image.as_deref().unwrap_or("");
                let name = image.rsplit('/').next().unwrap_or(image);
                let tag = name.split_once(':').map(|(_, t)| t);
                if image.contains('@') || tag.is_some_and(|t| t != "latest") {
                    PullPolicy::IfNotPresent
                } else {
                    PullPolicy::Always
                }
            }
        }
    }
}

/// An image the container cannot have (a waiting reason and message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageFailure {
    /// ErrImagePull or ErrImageNeverPull.
    pub reason: WaitingReason,
    /// Upstream's message.
    pub message: String,
}

/// Makes sure the container's image is present, pulling per its policy.
pub async fn ensure_image(
    cri: &Cri,
    _pod: &Pod,
    container: &Container,
) -> Result<(), ImageFailure> {
    let image = container.image.as_deref().unwrap_or("");
    let policy = PullPolicy::of(container);
    let present = match cri.image_status(image).await {
        Ok(found) => found.is_some(),
        Err(e) => {
            return Err(ImageFailure {
                reason: WaitingReason::ErrImagePull,
                message: e.message(),
            })
        }
    };
    match (policy, present) {
        (PullPolicy::IfNotPresent | PullPolicy::Never, true) => Ok(()),
        (PullPolicy::Never, false) => Err(ImageFailure {
            reason: WaitingReason::ErrImageNeverPull,
            message: format!(
                "Container image \"{image}\" is not present with pull policy of Never"
            ),
        }),
        _ => match cri.pull_image(image, None).await {
            Ok(reference) => {
                info!(image, %reference, "pulled");
                Ok(())
            }
            Err(e) => Err(ImageFailure {
                reason: WaitingReason::ErrImagePull,
                message: format!("failed to pull image \"{image}\": {}", e.message()),
            }),
        },
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn unset_policies_default_from_the_tag() {
        let container = |image: &str, policy: Option<&str>| Container {
            name: "c".into(),
            image: Some(image.into()),
            image_pull_policy: policy.map(str::to_string),
            ..Default::default()
        };
        let cases = [
            ("busybox:1.35", None, PullPolicy::IfNotPresent),
            ("busybox", None, PullPolicy::Always),
            ("busybox:latest", None, PullPolicy::Always),
            ("localhost:5000/busybox", None, PullPolicy::Always),
            ("busybox@sha256:abc", None, PullPolicy::IfNotPresent),
            ("busybox", Some("Never"), PullPolicy::Never),
            ("busybox:1", Some("Always"), PullPolicy::Always),
        ];
        for (image, policy, want) in cases {
            assert_eq!(
                PullPolicy::of(&container(image, policy)),
                want,
                "{image} {policy:?}"
            );
        }
    }
}
