//! Simulated nodes: Nodes that behave, as seen through the API, like nodes
//! run by a kubelet, without any containers.
//!
//! [`SimulatedNodes`] registers N Node objects with capacity, topology
//! labels and a Ready condition, keeps each one's Lease in
//! `kube-node-lease` renewed and its status heartbeat fresh, and moves pods
//! bound to them through Pending → Running (Ready) → Succeeded/Failed as a
//! kubelet would report it. Per-pod annotations ([`behaviour`]) let tests
//! simulate work: how long containers run, their exit code, readiness.
//! Thousands of nodes share one pod watcher, one heartbeat loop and one
//! bounded pool of API writes. Controller tests and scale benchmarks use it;
//! `rkube agent --simulate N` runs it from the command line.

mod behaviour;
mod control;
mod error;
mod heartbeat;
mod ip_pool;
mod node_object;
mod options;
mod pod_status;
mod pods;
mod registration;
mod simulated_nodes;
mod writes;

pub use behaviour::{Behaviour, EXIT_CODE_ANNOTATION, READY_ANNOTATION, RUN_SECONDS_ANNOTATION};
pub use control::NodeControl;
pub use error::{Error, Result};
pub use options::{NodeResources, SimOptions};
pub use simulated_nodes::{run, SimulatedNodes};
