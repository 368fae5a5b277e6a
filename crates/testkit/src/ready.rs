//! Waiting for a child process to say it is ready.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStderr};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use crate::{Error, Result};

/// What became of a child we waited for.
pub(crate) enum Readiness {
    /// It printed a ready line.
    Ready,
    /// It exited first, or the deadline passed; the error says which.
    Failed(Error),
}

/// Copies the child's stderr into `log` line by line on a thread of its own,
/// and waits until a line contains one of `markers`, the child exits, or
/// `deadline` passes.
///
/// Reading stderr to its end also keeps the child from blocking on a full
/// pipe for as long as it runs.
pub(crate) fn wait_for_ready_line(
    program: &str,
    child: &mut Child,
    stderr: ChildStderr,
    log_path: &Path,
    markers: &'static [&'static str],
    deadline: Duration,
) -> Result<Readiness> {
    let mut log = File::create(log_path).map_err(|source| Error::Io {
        what: format!("creating {}", log_path.display()),
        source,
    })?;
    let (ready_tx, ready_rx) = mpsc::channel::<()>();
    thread::spawn(move || {
        let mut ready_tx = Some(ready_tx);
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            // A failed log write only loses diagnostics; keep draining the pipe.
            let _ = writeln!(log, "{line}");
            if markers.iter().any(|m| line.contains(m)) {
                if let Some(tx) = ready_tx.take() {
                    let _ = tx.send(());
                }
            }
        }
        // Dropping the sender here tells the waiter the child closed stderr.
    });

    let failure = match ready_rx.recv_timeout(deadline) {
        Ok(()) => return Ok(Readiness::Ready),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            let status = child.wait().map_err(|source| Error::Io {
                what: format!("waiting for {program}"),
                source,
            })?;
            Error::Exited {
                program: program.into(),
                status,
                log: read_log(log_path),
            }
        }
        Err(mpsc::RecvTimeoutError::Timeout) => Error::NotReady {
            program: program.into(),
            waited: deadline,
            log: read_log(log_path),
        },
    };
    Ok(Readiness::Failed(failure))
}

/// The log so far, for an error message.
fn read_log(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| format!("<unreadable: {e}>"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use std::process::{Command, Stdio};

    use super::*;

    fn run(script: &str, deadline: Duration) -> (Readiness, String) {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let mut child = Command::new("sh")
            .args(["-c", script])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let readiness =
            wait_for_ready_line("sh", &mut child, stderr, &log, &["READY"], deadline).unwrap();
        let _ = child.kill();
        let _ = child.wait();
        (readiness, std::fs::read_to_string(&log).unwrap_or_default())
    }

    #[test]
    fn a_child_that_prints_the_marker_is_ready() {
        let (readiness, _) = run(
            "echo starting >&2; echo READY now >&2; exec sleep 60",
            Duration::from_secs(30),
        );
        assert!(matches!(readiness, Readiness::Ready));
    }

    #[test]
    fn a_child_that_exits_first_is_reported_with_its_log() {
        let (readiness, _) = run("echo bad flag >&2; exit 3", Duration::from_secs(30));
        match readiness {
            Readiness::Failed(Error::Exited { log, status, .. }) => {
                assert!(log.contains("bad flag"), "{log}");
                assert_eq!(status.code(), Some(3));
            }
            _ => panic!("expected Exited"),
        }
    }

    #[test]
    fn a_silent_child_times_out() {
        let (readiness, _) = run("exec sleep 60", Duration::from_millis(200));
        assert!(matches!(
            readiness,
            Readiness::Failed(Error::NotReady { .. })
        ));
    }
}
