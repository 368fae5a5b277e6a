//! rkube's Kubernetes API server: HTTPS with client-certificate and token
//! authentication, the generic registry over the store, watch caches,
//! discovery, server-side tables and metrics.
//!
//! Start with [`serve`] (or [`bind`] + [`Server::run`] to learn the bound
//! address first).

pub mod authn;
pub mod bootstrap_token;
pub mod config;
pub mod discovery;
mod handler;
pub mod kubeconfig;
pub mod metrics;
mod negotiation;
pub mod openapi;
pub mod pki;
mod protobuf;
pub mod registry;
mod request_info;
mod server;
pub mod status;
mod table;
pub mod watch_cache;

#[cfg(test)]
mod testing;

pub use config::Config;
pub use server::{bind, serve, ServeError, Server};
