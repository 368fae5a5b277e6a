//! The kinds the quota controller counts (upstream's quota registry: the core evaluators
//! plus object counts of the built-in workload kinds), each read from its shared informer,
//! and the replenishment triggers that recalculate a namespace's quotas when usage drops.

use std::sync::Arc;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{
    ConfigMap, PersistentVolumeClaim, Pod, ReplicationController, ResourceQuota, Secret, Service,
};
use k8s_openapi::jiff::Timestamp;
use kube::runtime::reflector::Store;
use rkube_api::quota::usage::{count_name, is_pods, pod_counts};
use serde::Serialize;
use serde_json::Value;

use super::quotas_in;
use crate::framework::{Change, Context, Informer, Triggers, Watchable};

/// Lists a namespace's objects of one kind as JSON.
pub type Lister = Arc<dyn Fn(&str) -> Vec<Value> + Send + Sync>;

/// Adds one kind's replenishment trigger.
pub type Wire = Box<
    dyn FnOnce(Triggers<ResourceQuota>, Store<ResourceQuota>) -> Triggers<ResourceQuota> + Send,
>;

/// One counted kind.
pub struct Tracked {
    /// Its API group (`""` for core).
    pub group: String,
    /// Its resource (`pods`).
    pub plural: String,
    /// Its objects in a namespace.
    pub list: Lister,
}

impl Tracked {
    /// Whether objects of this kind can charge the quota resource `resource`, so that a
    /// quota without it need not list them.
    pub fn charges(&self, resource: &str) -> bool {
        let (group, plural) = (self.group.as_str(), self.plural.as_str());
        if resource == count_name(group, plural) || (group.is_empty() && resource == plural) {
            return true;
        }
        match (group, plural) {
            ("", "pods") => {
                !resource.starts_with("count/")
                    && !resource.starts_with("services")
                    && !resource.contains(".storageclass.storage.k8s.io/")
                    && !matches!(
                        resource,
                        "configmaps"
                            | "secrets"
                            | "persistentvolumeclaims"
                            | "replicationcontrollers"
                            | "resourcequotas"
                            | "requests.storage"
                    )
            }
            ("", "services") => resource.starts_with("services."),
            ("", "persistentvolumeclaims") => {
                resource == "requests.storage" || resource.contains(".storageclass.storage.k8s.io/")
            }
            _ => false,
        }
    }
}

fn track<K: Watchable + Serialize>(informer: &Informer<K>) -> (Tracked, Wire) {
    let store = informer.store();
    let list: Lister = Arc::new(move |namespace: &str| {
        store
            .state()
            .iter()
            .filter(|obj| obj.meta().namespace.as_deref() == Some(namespace))
            .filter_map(|obj| serde_json::to_value(&**obj).ok())
            .collect()
    });
    let group = K::group(&()).into_owned();
    let plural = K::plural(&()).into_owned();
    let pods = is_pods(&group, &plural);
    let informer = informer.clone();
    let wire: Wire = Box::new(move |triggers, quotas| {
        triggers.mapped(&informer, move |change: &Change<K>| {
            let obj = change.object();
            let namespace = obj.meta().namespace.clone().unwrap_or_default();
            let dropped = match change {
                Change::Deleted(_) => true,
                // A finished pod stops counting (upstream replenishes on that update).
                Change::Applied(_) if pods => serde_json::to_value(&**obj)
                    .is_ok_and(|pod| !pod_counts(&pod, Timestamp::now())),
                Change::Applied(_) => false,
            };
            if dropped {
                quotas_in(&quotas, &namespace)
            } else {
                Vec::new()
            }
        })
    });
    (
        Tracked {
            group,
            plural,
            list,
        },
        wire,
    )
}

/// Every counted kind with its trigger.
pub fn all(ctx: &Context) -> (Vec<Tracked>, Vec<Wire>) {
    let pairs = [
        track(&ctx.informer::<Pod>()),
        track(&ctx.informer::<Service>()),
        track(&ctx.informer::<ConfigMap>()),
        track(&ctx.informer::<Secret>()),
        track(&ctx.informer::<PersistentVolumeClaim>()),
        track(&ctx.informer::<ReplicationController>()),
        track(&ctx.informer::<ResourceQuota>()),
        track(&ctx.informer::<Deployment>()),
        track(&ctx.informer::<ReplicaSet>()),
        track(&ctx.informer::<StatefulSet>()),
        track(&ctx.informer::<DaemonSet>()),
        track(&ctx.informer::<Job>()),
        track(&ctx.informer::<CronJob>()),
    ];
    pairs.into_iter().unzip()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(group: &str, plural: &str) -> Tracked {
        Tracked {
            group: group.into(),
            plural: plural.into(),
            list: Arc::new(|_| Vec::new()),
        }
    }

    #[test]
    fn only_the_kinds_that_charge_a_resource_are_listed_for_it() {
        let cases = [
            (("", "pods"), "pods", true),
            (("", "pods"), "requests.cpu", true),
            (("", "pods"), "limits.memory", true),
            (("", "pods"), "count/pods", true),
            (("", "pods"), "services", false),
            (("", "pods"), "requests.storage", false),
            (("", "pods"), "count/deployments.apps", false),
            (("", "services"), "services.nodeports", true),
            (("", "services"), "count/services", true),
            (("", "services"), "pods", false),
            (("", "persistentvolumeclaims"), "requests.storage", true),
            (
                ("", "persistentvolumeclaims"),
                "gold.storageclass.storage.k8s.io/requests.storage",
                true,
            ),
            (("", "configmaps"), "configmaps", true),
            (("apps", "deployments"), "count/deployments.apps", true),
            (("apps", "deployments"), "deployments", false),
        ];
        for ((group, plural), resource, want) in cases {
            assert_eq!(
                kind(group, plural).charges(resource),
                want,
                "{plural} {resource}"
            );
        }
    }
}
