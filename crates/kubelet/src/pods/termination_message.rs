//! Termination messages (upstream `kuberuntime_container.go`,
//! `getTerminationMessage`): each container instance gets an empty file of
//! its own, mounted at `terminationMessagePath`; once the instance has
//! exited, what it wrote there (at most 4 KiB) is added to its terminated
//! state's message. With `FallbackToLogsOnError`, a failed instance that
//! wrote nothing gets the end of its log instead. The path and policy
//! travel as container annotations, so the message is found again from the
//! runtime alone (after a kubelet restart too).

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use k8s_cri::v1 as cri;
use k8s_openapi::api::core::v1::Container;

/// The annotation holding the container's terminationMessagePath.
pub const PATH_ANNOTATION: &str = "io.kubernetes.container.terminationMessagePath";
/// The annotation holding the container's terminationMessagePolicy.
pub const POLICY_ANNOTATION: &str = "io.kubernetes.container.terminationMessagePolicy";

/// Upstream's defaults when the pod was not defaulted by an apiserver.
const DEFAULT_PATH: &str = "/dev/termination-log";
const FALLBACK_POLICY: &str = "FallbackToLogsOnError";

/// At most this much of the file is read (upstream
/// `MaxContainerTerminationMessageLength`).
const MAX_FILE_BYTES: u64 = 4 * 1024;
/// At most this much of the log's end is the fallback message (upstream
/// `MaxContainerTerminationMessageLogLength`).
const MAX_LOG_BYTES: usize = 2 * 1024;

/// Where `container` wants its message file.
pub fn path_of(container: &Container) -> &str {
    container
        .termination_message_path
        .as_deref()
        .filter(|p| !p.is_empty())
        .unwrap_or(DEFAULT_PATH)
}

/// The annotations that record `container`'s path and policy.
pub fn annotations(container: &Container) -> HashMap<String, String> {
    let policy = container
        .termination_message_policy
        .clone()
        .unwrap_or_else(|| "File".to_string());
    HashMap::from([
        (PATH_ANNOTATION.to_string(), path_of(container).to_string()),
        (POLICY_ANNOTATION.to_string(), policy),
    ])
}

/// Creates instance `attempt`'s empty, world-writable message file (any
/// user the container runs as may write it) under `pod_dir`, and returns
/// the mount that puts it at the container's path.
pub fn mount(pod_dir: &Path, container: &Container, attempt: u32) -> std::io::Result<cri::Mount> {
    use std::os::unix::fs::PermissionsExt;
    let dir = pod_dir.join("containers").join(&container.name);
    std::fs::create_dir_all(&dir)?;
    let file: PathBuf = dir.join(format!("termination-log-{attempt}"));
    std::fs::write(&file, b"")?;
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666))?;
    Ok(cri::Mount {
        container_path: path_of(container).to_string(),
        host_path: file.to_string_lossy().into_owned(),
        ..Default::default()
    })
}

/// The message of an exited instance: the runtime's own message, then what
/// the container left (file, or log under FallbackToLogsOnError).
pub fn message(status: &cri::ContainerStatus) -> String {
    let left = left_by_container(status);
    combine(&status.message, &left)
}

fn left_by_container(status: &cri::ContainerStatus) -> String {
    let Some(path) = status.annotations.get(PATH_ANNOTATION) else {
        return String::new();
    };
    let written = status
        .mounts
        .iter()
        .find(|m| &m.container_path == path)
        .map(|m| read_at_most(Path::new(&m.host_path), MAX_FILE_BYTES))
        .unwrap_or_default();
    let fallback = status
        .annotations
        .get(POLICY_ANNOTATION)
        .map(String::as_str)
        == Some(FALLBACK_POLICY)
        && status.exit_code != 0;
    if written.is_empty() && fallback {
        let log = std::fs::read(&status.log_path).unwrap_or_default();
        return crate::logs::fallback_message(&log, MAX_LOG_BYTES);
    }
    written
}

/// `runtime: left`, or whichever of the two is not empty.
fn combine(runtime: &str, left: &str) -> String {
    match (runtime.is_empty(), left.is_empty()) {
        (_, true) => runtime.to_string(),
        (true, false) => left.to_string(),
        (false, false) => format!("{runtime}: {left}"),
    }
}

fn read_at_most(path: &Path, limit: u64) -> String {
    let mut text = Vec::new();
    if let Ok(file) = std::fs::File::open(path) {
        let _ = file.take(limit).read_to_end(&mut text);
    }
    String::from_utf8_lossy(&text).into_owned()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn exited(
        exit_code: i32,
        policy: &str,
        file: Option<&Path>,
        log: &Path,
    ) -> cri::ContainerStatus {
        cri::ContainerStatus {
            exit_code,
            annotations: HashMap::from([
                (
                    PATH_ANNOTATION.to_string(),
                    "/dev/termination-log".to_string(),
                ),
                (POLICY_ANNOTATION.to_string(), policy.to_string()),
            ]),
            mounts: file
                .map(|f| cri::Mount {
                    container_path: "/dev/termination-log".into(),
                    host_path: f.to_string_lossy().into_owned(),
                    ..Default::default()
                })
                .into_iter()
                .collect(),
            log_path: log.to_string_lossy().into_owned(),
            ..Default::default()
        }
    }

    #[test]
    fn the_file_wins_the_log_is_the_fallback_only_for_failures_that_wrote_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("0.log");
        std::fs::write(&log, "2024-01-01T00:00:01Z stderr F boom\n").unwrap();
        let written = dir.path().join("written");
        std::fs::write(&written, "all done").unwrap();
        let empty = dir.path().join("empty");
        std::fs::write(&empty, "").unwrap();
        let cases = [
            (
                "a written file",
                exited(1, FALLBACK_POLICY, Some(&written), &log),
                "all done",
            ),
            (
                "an empty file, failed, fallback",
                exited(1, FALLBACK_POLICY, Some(&empty), &log),
                "boom\n",
            ),
            (
                "an empty file, succeeded, fallback",
                exited(0, FALLBACK_POLICY, Some(&empty), &log),
                "",
            ),
            (
                "an empty file, failed, File policy",
                exited(1, "File", Some(&empty), &log),
                "",
            ),
            (
                "no mount, failed, fallback",
                exited(1, FALLBACK_POLICY, None, &log),
                "boom\n",
            ),
        ];
        for (what, status, want) in cases {
            assert_eq!(message(&status), want, "{what}");
        }
    }

    #[test]
    fn the_runtime_message_comes_first_and_the_file_is_cut_at_4_kib() {
        assert_eq!(combine("OOMKilled", "bye"), "OOMKilled: bye");
        assert_eq!(combine("", "bye"), "bye");
        assert_eq!(combine("OOMKilled", ""), "OOMKilled");
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big");
        std::fs::write(&big, "x".repeat(5000)).unwrap();
        assert_eq!(read_at_most(&big, MAX_FILE_BYTES).len(), 4096);
    }

    #[test]
    fn the_mount_is_an_empty_writable_file_at_the_containers_path() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let container = Container {
            name: "app".into(),
            termination_message_path: Some("/tmp/msg".into()),
            ..Container::default()
        };
        let mount = mount(dir.path(), &container, 3).unwrap();
        assert_eq!(mount.container_path, "/tmp/msg");
        let meta = std::fs::metadata(&mount.host_path).unwrap();
        assert_eq!(meta.len(), 0);
        assert_eq!(meta.permissions().mode() & 0o777, 0o666);
        assert!(mount
            .host_path
            .ends_with("containers/app/termination-log-3"));
        assert_eq!(path_of(&Container::default()), "/dev/termination-log");
    }
}
