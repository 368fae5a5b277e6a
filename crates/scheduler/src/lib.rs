//! rkube's scheduler algorithm: which node a pod should run on.
//!
//! The crate mirrors kube-scheduler's framework: plugins implement small
//! extension-point traits ([`framework::Filter`], [`framework::Score`], …),
//! a [`framework::Profile`] lists them with weights, and
//! [`framework::Algorithm`] runs one scheduling cycle over a
//! [`framework::Snapshot`] of the [`cache::Cache`]; [`preemption`] picks
//! victims when no node fits. [`config`] reads
//! upstream's `KubeSchedulerConfiguration`; [`queue::SchedulingQueue`] orders
//! pending pods with upstream's backoff. Everything here is pure: informers
//! and binding live with the component that drives it.

pub mod cache;
pub mod config;
pub mod framework;
pub mod plugins;
pub mod preemption;
pub mod quantity;
pub mod queue;
pub mod resources;
pub mod selector;

#[cfg(test)]
pub(crate) mod testing;

pub use cache::Cache;
pub use config::{ConfigError, Configuration};
pub use framework::{Algorithm, PodInfo, Profile, ScheduleError, ScheduleResult, Snapshot};
pub use queue::SchedulingQueue;
