//! The controller manager's errors.

use crate::framework::SelectionError;

/// Why the controller manager stopped or could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `--controllers` named something unknown.
    #[error("invalid --controllers")]
    Selection(#[from] SelectionError),
    /// We led and could not renew the Lease in time: another manager may lead now, so this
    /// one must stop acting (upstream exits with "leaderelection lost").
    #[error("leader election lost")]
    LeaderElectionLost,
    /// A controller task failed to start or panicked.
    #[error("controller {name} failed")]
    Controller {
        /// The controller's name.
        name: &'static str,
        /// What went wrong.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// The manager's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;
