//! What can go wrong running simulated nodes.

/// An error of the simulated nodes.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The options cannot describe a set of nodes.
    #[error("invalid simulated-node options: {0}")]
    InvalidOptions(String),
    /// Registering a node or its lease failed.
    #[error("registering {what}: {source}")]
    Register {
        /// The object being registered.
        what: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
    /// A node name that is not one of ours.
    #[error("{0:?} is not one of the simulated nodes")]
    UnknownNode(String),
    /// A background task panicked or was cancelled unexpectedly.
    #[error("the {task} task stopped unexpectedly: {source}")]
    Task {
        /// Which task.
        task: &'static str,
        /// Why.
        #[source]
        source: tokio::task::JoinError,
    },
}

/// A simnode result.
pub type Result<T, E = Error> = std::result::Result<T, E>;
