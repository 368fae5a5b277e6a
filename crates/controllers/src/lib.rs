//! rkube's controller manager: the reconcile loops that make desired state actual
//! (upstream's kube-controller-manager).
//!
//! * [`framework`]: the shared machinery (informers, work queue, backoff, workers,
//!   expectations, events, leader election). Its docs explain how to write a controller.
//! * [`registry`]: every controller's [`Descriptor`](registry::Descriptor).
//! * [`run`]: the manager, for `rkube controller-manager` and `rkube server`.
//!
//! Every controller is a client of the apiserver through kube-rs, like its upstream twin.

pub mod certificates;
pub mod claim;
pub mod cronjob;
pub mod daemonset;
pub mod deployment;
pub mod endpoints;
pub mod endpointslice;
pub mod framework;
pub mod garbagecollector;
pub mod history;
pub mod job;
pub mod namespace;
pub mod nodeipam;
pub mod nodelifecycle;
pub mod pod_state;
pub mod podgc;
pub mod registry;
pub mod replicaset;
pub mod resourcequota;
pub mod serviceaccount;
pub mod settings;
pub mod statefulset;
pub mod tokencleaner;

mod error;
mod manager;

pub use error::{Error, Result};
pub use manager::{run, LeaderElection, Options};
pub use settings::Settings;
