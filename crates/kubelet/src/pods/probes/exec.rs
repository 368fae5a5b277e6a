//! Exec actions: a command run in the container through CRI ExecSync
//! (pkg/kubelet/prober/prober.go `newExecInContainer`,
//! pkg/probe/exec/exec.go): exit 0 passes, anything else fails with the
//! command's output.

use std::time::Duration;

use super::state::Outcome;
use crate::runtime::cri::Cri;

/// Runs `command` in container `id`, at most `timeout`.
pub async fn run(cri: &Cri, id: &str, command: Vec<String>, timeout: Duration) -> Outcome {
    // ExecSync's own timeout is in whole seconds; ours cuts a stuck call.
    let call = cri.exec_sync(id, command, timeout);
    match tokio::time::timeout(timeout + Duration::from_secs(1), call).await {
        Err(_) => Outcome::Failure(format!("command timed out after {}s", timeout.as_secs())),
        Ok(Err(e)) => Outcome::Failure(e.to_string()),
        Ok(Ok(response)) if response.exit_code == 0 => Outcome::Success,
        Ok(Ok(response)) => {
            let mut output = String::from_utf8_lossy(&response.stdout).into_owned();
            output.push_str(&String::from_utf8_lossy(&response.stderr));
            let output = output.trim();
            if output.is_empty() {
                Outcome::Failure(format!("command exited with code {}", response.exit_code))
            } else {
                Outcome::Failure(output.to_string())
            }
        }
    }
}
