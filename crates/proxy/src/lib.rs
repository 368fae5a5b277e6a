//! rkube's service proxy, the twin of kube-proxy's nftables mode.
//!
//! Services and EndpointSlices are read through kube-rs reflectors
//! ([`run`]), turned into a plain model of proxied ports
//! ([`service_ports`]), rendered as the text of one nftables table
//! ([`ruleset`], a pure function) and applied in one `nft -f -` transaction
//! ([`nftables`]): the whole table at first (and whenever the state of the
//! kernel is in doubt), then only what changed ([`incremental`]). The table
//! is removed again on a clean shutdown.

pub mod error;
pub mod incremental;
pub mod metrics;
pub mod nftables;
pub mod options;
pub mod ruleset;
mod run;
pub mod service_ports;

pub use error::{Error, Result};
pub use metrics::Metrics;
pub use options::{LocalhostNodePorts, ProxyOptions};
pub use run::{run, run_with};
