//! Per-kind strategies: upstream's defaulting and validation for the kinds
//! users touch first, one file per kind. Kinds without a file get
//! [`MetaStrategy`] (metadata validation only).
//!
//! Upstream defaults objects when decoding them and then calls the
//! strategy; here `Strategy::default` does the decoding-time defaults, so
//! the registry's hook order (prepare, default, validate) gives the same
//! result.

mod config_data;
pub mod configmap;
pub mod cron_schedule;
pub mod cronjob;
pub mod daemonset;
pub mod deployment;
pub mod event;
pub mod event_conversion;
pub mod job;
mod meta_strategy;
pub mod namespace;
pub mod node;
pub mod pod;
pub(crate) mod pod_spec;
pub mod replicaset;
pub mod replicationcontroller;
pub mod secret;
pub mod service;
pub mod statefulset;
mod workload;

pub use meta_strategy::MetaStrategy;
