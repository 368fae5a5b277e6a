//! rkube's scheduler: which node a pod should run on, and the component that
//! puts pods there.
//!
//! The algorithm mirrors kube-scheduler's framework: plugins implement small
//! extension-point traits ([`framework::Filter`], [`framework::Score`], …),
//! a [`framework::Profile`] lists them with weights, and
//! [`framework::Algorithm`] runs one scheduling cycle over a
//! [`framework::Snapshot`] of the [`cache::Cache`]; [`preemption`] picks
//! victims when no node fits. [`config`] reads
//! upstream's `KubeSchedulerConfiguration`; [`queue::SchedulingQueue`] orders
//! pending pods with upstream's backoff. All of that is pure.
//!
//! [`run()`] is the component: kube-rs informers feed the cache and queue,
//! chosen nodes are bound through `pods/binding`, failures become
//! FailedScheduling events and the PodScheduled condition, preemption
//! victims are evicted, and [`metrics::Metrics`] counts it all.

pub mod cache;
pub mod config;
pub mod framework;
pub mod metrics;
pub mod plugins;
pub mod preemption;
pub mod quantity;
pub mod queue;
pub mod resources;
pub mod selector;

mod binder;
mod informers;
mod pod_status;
mod priority;
mod recorder;
mod run;
mod scheduler;

#[cfg(test)]
pub(crate) mod testing;

pub use cache::Cache;
pub use config::{ConfigError, Configuration};
pub use framework::{Algorithm, PodInfo, Profile, ScheduleError, ScheduleResult, Snapshot};
pub use metrics::Metrics;
pub use queue::SchedulingQueue;
pub use run::{run, run_with_metrics, Error};
