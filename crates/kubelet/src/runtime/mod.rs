//! The container runtime: the CRI client, and the agent's own containerd
//! (its config and its process).

pub mod containerd;
pub mod containerd_config;
pub mod cri;
