//! The ResourceQuota controller (upstream `pkg/controller/resourcequota`): keeps each
//! quota's `status.hard` equal to `spec.hard` and `status.used` equal to what the objects of
//! its namespace really use, counted by the evaluators in [`rkube_api::quota`] (shared with
//! the apiserver's quota admission, which charges creates as they happen).
//!
//! As upstream, a quota is recalculated when its spec changes (or it has no usage yet), when
//! a tracked object is deleted or a pod finishes ("replenishment": usage only goes down
//! between admission charges), and on the periodic resync.

pub mod tracked;

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::future::{BoxFuture, FutureExt};
use k8s_openapi::api::core::v1::{ResourceQuota, ResourceQuotaStatus};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::jiff::Timestamp;
use kube::api::PostParams;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Client};

use self::tracked::Tracked;
use crate::framework::{run_controller, Action, Change, Context, DefaultState, Triggers};
use crate::registry::Descriptor;

/// The `resourcequota` controller.
pub const DESCRIPTOR: Descriptor = Descriptor {
    name: "resourcequota",
    default: DefaultState::Enabled,
    start,
};

/// Why a quota sync failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The status update failed.
    #[error("could not update the status of ResourceQuota {namespace}/{name}")]
    UpdateStatus {
        /// The quota's namespace.
        namespace: String,
        /// The quota's name.
        name: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
    /// The quota could not be turned into JSON for the evaluators.
    #[error("could not encode ResourceQuota {0}")]
    Encode(String, #[source] serde_json::Error),
}

struct State {
    client: Client,
    tracked: Vec<Tracked>,
    resync: std::time::Duration,
}

/// Whether a quota needs its usage calculated: new, or its limits changed (upstream's
/// update handler compares `spec.hard` with `status.hard`).
fn needs_calculation(quota: &ResourceQuota) -> bool {
    let spec_hard = quota.spec.as_ref().and_then(|s| s.hard.as_ref());
    let status = quota.status.as_ref();
    let status_hard = status.and_then(|s| s.hard.as_ref());
    let used = status.and_then(|s| s.used.as_ref());
    let same_keys = match (spec_hard, used) {
        (Some(hard), Some(used)) => hard.keys().eq(used.keys()),
        (None, _) => true,
        (Some(hard), None) => hard.is_empty(),
    };
    spec_hard != status_hard || !same_keys
}

fn start(ctx: Context) -> BoxFuture<'static, Result<(), crate::Error>> {
    async move {
        let quotas = ctx.informer::<ResourceQuota>();
        let quota_store = quotas.store();
        let mut triggers = Triggers::new().mapped(&quotas, |change| match change {
            Change::Applied(quota) if needs_calculation(quota) => {
                vec![ObjectRef::from_obj(&**quota)]
            }
            _ => Vec::new(),
        });
        let (tracked, wire) = tracked::all(&ctx);
        for wire in wire {
            triggers = wire(triggers, quota_store.clone());
        }
        let state = Arc::new(State {
            client: ctx.client().clone(),
            tracked,
            resync: ctx.resync(),
        });
        run_controller(&ctx, "resourcequota", &quotas, triggers, state, sync).await;
        Ok(())
    }
    .boxed()
}

/// The quotas of `namespace`, to recalculate after a change there.
pub(crate) fn quotas_in(
    quotas: &Store<ResourceQuota>,
    namespace: &str,
) -> Vec<ObjectRef<ResourceQuota>> {
    quotas
        .state()
        .iter()
        .filter(|q| q.metadata.namespace.as_deref() == Some(namespace))
        .map(|q| ObjectRef::from_obj(&**q))
        .collect()
}

async fn sync(quota: Arc<ResourceQuota>, state: Arc<State>) -> Result<Action, Error> {
    let namespace = quota.metadata.namespace.clone().unwrap_or_default();
    let name = quota.metadata.name.clone().unwrap_or_default();
    let hard: BTreeMap<String, Quantity> = quota
        .spec
        .as_ref()
        .and_then(|s| s.hard.clone())
        .unwrap_or_default();
    let value = serde_json::to_value(&*quota)
        .map_err(|e| Error::Encode(format!("{namespace}/{name}"), e))?;
    let objects: Vec<(&str, &str, Vec<serde_json::Value>)> = state
        .tracked
        .iter()
        .filter(|t| hard.keys().any(|resource| t.charges(resource)))
        .map(|t| (t.group.as_str(), t.plural.as_str(), (t.list)(&namespace)))
        .collect();
    let used = rkube_api::quota::used(
        &value,
        objects
            .iter()
            .flat_map(|(group, plural, objs)| objs.iter().map(move |o| (*group, *plural, o))),
        Timestamp::now(),
    );
    let status = ResourceQuotaStatus {
        hard: Some(hard),
        used: Some(
            used.into_iter()
                .map(|(resource, amount)| (resource, Quantity(amount.to_string())))
                .collect(),
        ),
    };
    if quota.status.as_ref() != Some(&status) {
        let mut next = (*quota).clone();
        next.status = Some(status);
        Api::<ResourceQuota>::namespaced(state.client.clone(), &namespace)
            .replace_status(&name, &PostParams::default(), &next)
            .await
            .map_err(|source| Error::UpdateStatus {
                namespace,
                name,
                source,
            })?;
    }
    Ok(Action::requeue(state.resync))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ResourceQuotaSpec;

    fn quota(spec: &[&str], status_hard: &[&str], used: Option<&[&str]>) -> ResourceQuota {
        let list = |names: &[&str]| -> BTreeMap<String, Quantity> {
            names
                .iter()
                .map(|n| (n.to_string(), Quantity("1".into())))
                .collect()
        };
        ResourceQuota {
            spec: Some(ResourceQuotaSpec {
                hard: Some(list(spec)),
                ..ResourceQuotaSpec::default()
            }),
            status: Some(ResourceQuotaStatus {
                hard: (!status_hard.is_empty()).then(|| list(status_hard)),
                used: used.map(list),
            }),
            ..ResourceQuota::default()
        }
    }

    #[test]
    fn a_quota_is_calculated_when_new_or_when_its_limits_change() {
        let cases = [
            ("new", quota(&["pods"], &[], None), true),
            (
                "calculated",
                quota(&["pods"], &["pods"], Some(&["pods"])),
                false,
            ),
            (
                "a limit added",
                quota(&["pods", "services"], &["pods"], Some(&["pods"])),
                true,
            ),
            (
                "usage missing a resource",
                quota(
                    &["pods", "services"],
                    &["pods", "services"],
                    Some(&["pods"]),
                ),
                true,
            ),
        ];
        for (name, quota, want) in cases {
            assert_eq!(needs_calculation(&quota), want, "{name}");
        }
    }
}
