//! Stopping a process the way a user would: SIGTERM, a grace period, then
//! SIGKILL. Agents and servers that run containers must get the SIGTERM, or
//! their containerd and pods outlive the test.

use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// How long a process gets after SIGTERM (to stop its pods and containerd)
/// before it is killed.
pub const STOP_GRACE: Duration = Duration::from_secs(60);

/// Sends SIGTERM to `child` and waits up to `grace` for it to exit, then
/// kills it. Never fails: a process already gone is fine.
pub fn terminate(child: &mut Child, grace: Duration) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        match child.try_wait() {
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            _ => return,
        }
    }
    // kill fails only if the child is already gone; wait reaps it either way.
    let _ = child.kill();
    let _ = child.wait();
}

/// A child process stopped with [`terminate`] when dropped, even if the test
/// panics.
#[derive(Debug)]
pub struct StopOnDrop(pub Child);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        terminate(&mut self.0, STOP_GRACE);
    }
}
