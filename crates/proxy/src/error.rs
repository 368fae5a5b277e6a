//! What can go wrong while proxying.

/// Errors of the proxy.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `nft` could not be started or fed.
    #[error("running nft: {0}")]
    NftSpawn(#[source] std::io::Error),
    /// `nft` refused a ruleset or command.
    #[error("nft {action} failed: {stderr}")]
    NftRejected {
        /// What was asked of nft.
        action: &'static str,
        /// What nft said.
        stderr: String,
    },
    /// A kernel setting the proxy needs could not be written.
    #[error("setting {path}: {source}")]
    Sysctl {
        /// The /proc/sys path.
        path: &'static str,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },
    /// A watch of Services or EndpointSlices ended for good.
    #[error("watching {0} ended")]
    WatchEnded(&'static str),
}

/// The proxy's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
