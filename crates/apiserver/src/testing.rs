//! Fixtures for unit tests: catalog rows without per-kind behaviour.

use std::sync::Arc;

use rkube_api::{DefaultPrinter, DefaultStrategy, ResourceDef, Scope, Verb};

/// A row with the default strategy and printer.
pub fn def(group: &str, version: &str, kind: &str, plural: &str, scope: Scope) -> ResourceDef {
    ResourceDef {
        group: group.into(),
        version: version.into(),
        kind: kind.into(),
        plural: plural.into(),
        singular: kind.to_lowercase(),
        scope,
        short_names: Vec::new(),
        categories: Vec::new(),
        subresources: Vec::new(),
        verbs: Verb::ALL.to_vec(),
        strategy: Arc::new(DefaultStrategy),
        printer: Arc::new(DefaultPrinter),
    }
}
