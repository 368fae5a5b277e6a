//! The controllers this manager knows: one [`Descriptor`] per controller module.

use futures::future::BoxFuture;

use crate::framework::{Context, DefaultState};
use crate::Error;
use crate::{deployment, garbagecollector, replicaset};

/// How a controller is named, whether it runs by default, and how it starts.
#[derive(Clone, Copy)]
pub struct Descriptor {
    /// Its `--controllers` name (upstream's, e.g. `replicaset`).
    pub name: &'static str,
    /// Whether `*` includes it.
    pub default: DefaultState,
    /// Builds its informers and triggers and runs it until `ctx.shutdown()`; returns Ok(())
    /// after a clean stop.
    pub start: fn(Context) -> BoxFuture<'static, Result<(), Error>>,
}

impl std::fmt::Debug for Descriptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Descriptor")
            .field("name", &self.name)
            .field("default", &self.default)
            .finish_non_exhaustive()
    }
}

/// Every controller, in start order.
pub fn all() -> Vec<Descriptor> {
    vec![
        replicaset::REPLICASET,
        replicaset::REPLICATIONCONTROLLER,
        deployment::DEPLOYMENT,
        garbagecollector::GARBAGE_COLLECTOR,
        crate::endpoints::DESCRIPTOR,
        crate::endpointslice::DESCRIPTOR,
        crate::serviceaccount::SERVICE_ACCOUNT_DESCRIPTOR,
        crate::serviceaccount::ROOT_CA_DESCRIPTOR,
        crate::namespace::DESCRIPTOR,
        crate::nodeipam::DESCRIPTOR,
        crate::nodelifecycle::DESCRIPTOR,
        crate::job::DESCRIPTOR,
        crate::cronjob::DESCRIPTOR,
        crate::resourcequota::DESCRIPTOR,
        crate::podgc::DESCRIPTOR,
        crate::daemonset::DESCRIPTOR,
        crate::statefulset::DESCRIPTOR,
        crate::certificates::APPROVING_DESCRIPTOR,
        crate::certificates::SIGNING_DESCRIPTOR,
        crate::tokencleaner::DESCRIPTOR,
    ]
}

/// The names `--controllers` accepts.
pub fn names() -> Vec<&'static str> {
    all().iter().map(|descriptor| descriptor.name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn controller_names_are_unique() {
        let names = names();
        let unique: HashSet<_> = names.iter().collect();
        assert_eq!(unique.len(), names.len(), "{names:?}");
    }
}
