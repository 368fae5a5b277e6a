//! ReplicaSet and ReplicationController seen as one kind: upstream runs the
//! ReplicationController through the ReplicaSet controller by converting
//! (`pkg/controller/replication/conversion.go`); here both implement one trait.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{PodTemplateSpec, ReplicationController};
use kube::core::{ParseExpressionError, Selector};

use super::status::ReplicaStatus;
use crate::framework::Watchable;

/// What the replica controller needs from a ReplicaSet-like object.
pub trait Replicated:
    Watchable + kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
{
    /// The `--controllers` name.
    const CONTROLLER: &'static str;
    /// The event source (upstream's controller name in Events).
    const COMPONENT: &'static str;
    /// Which pods it owns.
    fn selector(&self) -> Result<Selector, ParseExpressionError>;
    /// The pod template.
    fn template(&self) -> Option<&PodTemplateSpec>;
    /// `spec.replicas` (1 when unset).
    fn replicas(&self) -> i32;
    /// `spec.minReadySeconds`.
    fn min_ready_seconds(&self) -> i32;
    /// The current status.
    fn status(&self) -> ReplicaStatus;
}

impl Replicated for ReplicaSet {
    const CONTROLLER: &'static str = "replicaset";
    const COMPONENT: &'static str = "replicaset-controller";

    fn selector(&self) -> Result<Selector, ParseExpressionError> {
        self.spec
            .as_ref()
            .map(|spec| spec.selector.clone())
            .unwrap_or_default()
            .try_into()
    }
    fn template(&self) -> Option<&PodTemplateSpec> {
        self.spec.as_ref()?.template.as_ref()
    }
    fn replicas(&self) -> i32 {
        self.spec
            .as_ref()
            .and_then(|spec| spec.replicas)
            .unwrap_or(1)
    }
    fn min_ready_seconds(&self) -> i32 {
        self.spec
            .as_ref()
            .and_then(|spec| spec.min_ready_seconds)
            .unwrap_or(0)
    }
    fn status(&self) -> ReplicaStatus {
        ReplicaStatus::from_wire(self.status.as_ref())
    }
}

impl Replicated for ReplicationController {
    const CONTROLLER: &'static str = "replicationcontroller";
    const COMPONENT: &'static str = "replication-controller";

    fn selector(&self) -> Result<Selector, ParseExpressionError> {
        // An RC's selector is a plain map; the apiserver defaults it to the template labels.
        let labels: BTreeMap<String, String> = self
            .spec
            .as_ref()
            .and_then(|spec| spec.selector.clone())
            .unwrap_or_default();
        Ok(Selector::from_iter(labels))
    }
    fn template(&self) -> Option<&PodTemplateSpec> {
        self.spec.as_ref()?.template.as_ref()
    }
    fn replicas(&self) -> i32 {
        self.spec
            .as_ref()
            .and_then(|spec| spec.replicas)
            .unwrap_or(1)
    }
    fn min_ready_seconds(&self) -> i32 {
        self.spec
            .as_ref()
            .and_then(|spec| spec.min_ready_seconds)
            .unwrap_or(0)
    }
    fn status(&self) -> ReplicaStatus {
        ReplicaStatus::from_wire(self.status.as_ref())
    }
}
