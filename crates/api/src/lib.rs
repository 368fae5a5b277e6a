//! The Kubernetes API as data: which resources exist, how objects of each
//! kind are defaulted and validated, and how label and field selectors match.
//!
//! Pure: no I/O, no async. The apiserver builds its generic registry on this
//! crate; other components use it for selectors.
//!
//! - [`catalog`]: one [`ResourceDef`] row per resource ([`Catalog::builtin`]).
//! - [`strategy`] and [`status_split`]: the per-kind hooks and the generic
//!   spec/status split; [`kinds`]: the strategies of the kinds users touch
//!   first.
//! - [`selector`]: label and field selectors; [`meta`]: object metadata on
//!   JSON; [`validation`]: name and metadata rules with upstream's messages.
//! - [`table`]: `kubectl get` columns per kind.
//! - [`quota`]: ResourceQuota accounting, shared by the quota controller and admission.
//! - [`tls`]: the TLS client that skips server certificate checks where
//!   upstream does (apiserver→kubelet, HTTPS probes).

pub mod catalog;
pub mod field_error;
mod json_path;
pub mod kinds;
pub mod meta;
pub mod patch;
pub mod quota;
pub mod selector;
pub mod status_split;
pub mod strategy;
pub mod table;
pub mod tls;
pub mod validation;

pub use catalog::{Catalog, ResourceDef, Scope, Subresource, Verb};
pub use field_error::{ErrorType, FieldError, FieldErrors};
pub use selector::{FieldSelector, LabelSelector, SelectorError};
pub use status_split::{Generation, StatusOnCreate, StatusPolicy, StatusSplit};
pub use strategy::{DefaultStrategy, Strategy, WriteScope};
pub use table::{Column, DefaultPrinter, Printer};
