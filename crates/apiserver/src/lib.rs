//! rkube's Kubernetes API server.

pub mod openapi;
