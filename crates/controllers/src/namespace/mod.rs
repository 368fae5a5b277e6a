//! The namespace controller (upstream `pkg/controller/namespace` and its
//! `deletion/namespaced_resources_deleter.go`): when a namespace is being
//! deleted (the apiserver has set `deletionTimestamp` and phase
//! `Terminating`, and `spec.finalizers` holds `kubernetes`), it deletes the
//! content of every namespaced resource the apiserver's discovery lists,
//! reports progress in the namespace's conditions, and once nothing is left
//! removes its `kubernetes` finalizer through `namespaces/<name>/finalize`,
//! which lets the apiserver remove the namespace.

pub mod conditions;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::future::{BoxFuture, FutureExt};
use k8s_openapi::api::core::v1::{Namespace, NamespaceStatus};
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::core::{ApiResource, DynamicObject};
use kube::discovery::{verbs, Discovery, Scope};
use kube::{Api, Client};

use self::conditions::DeletionReport;
use crate::framework::{run_controller, Action, Context, DefaultState, Triggers};
use crate::registry::Descriptor;

/// The `namespace` controller.
pub const DESCRIPTOR: Descriptor = Descriptor {
    name: "namespace",
    default: DefaultState::Enabled,
    start,
};

/// The spec finalizer this controller owns.
pub const FINALIZER: &str = "kubernetes";

/// How soon a namespace whose content is still going is looked at again
/// (its objects' own deletions do not trigger it).
const RECHECK: Duration = Duration::from_secs(2);

/// Why a namespace sync failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The namespace's conditions could not be written.
    #[error("could not update the status of namespace {0}")]
    Status(String, #[source] kube::Error),
    /// The `kubernetes` finalizer could not be removed.
    #[error("could not finalize namespace {0}")]
    Finalize(String, #[source] kube::Error),
}

struct State {
    client: Client,
}

fn start(ctx: Context) -> BoxFuture<'static, Result<(), crate::Error>> {
    async move {
        let namespaces = ctx.informer::<Namespace>();
        let triggers = Triggers::new().primary(&namespaces);
        let state = Arc::new(State {
            client: ctx.client().clone(),
        });
        run_controller(&ctx, "namespace", &namespaces, triggers, state, sync).await;
        Ok(())
    }
    .boxed()
}

fn has_finalizer(ns: &Namespace) -> bool {
    ns.spec
        .as_ref()
        .and_then(|s| s.finalizers.as_ref())
        .is_some_and(|f| f.iter().any(|x| x == FINALIZER))
}

async fn sync(ns: Arc<Namespace>, state: Arc<State>) -> Result<Action, Error> {
    if ns.metadata.deletion_timestamp.is_none() || !has_finalizer(&ns) {
        return Ok(Action::await_change());
    }
    let name = ns.metadata.name.clone().unwrap_or_default();
    let report = delete_content(&state.client, &name).await;
    let api: Api<Namespace> = Api::all(state.client.clone());
    let current = ns
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    if let Some(merged) =
        conditions::merge(&current, conditions::conditions(&report), Timestamp::now())
    {
        let mut next = (*ns).clone();
        next.status = Some(NamespaceStatus {
            conditions: Some(merged),
            ..next.status.unwrap_or_default()
        });
        match api
            .replace_status(&name, &PostParams::default(), &next)
            .await
        {
            Ok(_) => {}
            // The namespace changed meanwhile (or is gone): the next sync redoes it.
            Err(kube::Error::Api(e)) if e.code == 409 || e.code == 404 => {
                return Ok(Action::requeue(RECHECK))
            }
            Err(source) => return Err(Error::Status(name, source)),
        }
    }
    if !report.is_done() {
        tracing::debug!(namespace = %name, remaining = ?report.remaining, "namespace content remains");
        return Ok(Action::requeue(RECHECK));
    }
    let mut finalized = (*ns).clone();
    if let Some(spec) = finalized.spec.as_mut() {
        if let Some(f) = spec.finalizers.as_mut() {
            f.retain(|x| x != FINALIZER);
        }
    }
    match api
        .replace_subresource("finalize", &name, &PostParams::default(), &finalized)
        .await
    {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 404 => {}
        Err(source) => return Err(Error::Finalize(name, source)),
    }
    tracing::info!(namespace = %name, "namespace content removed; finalized");
    Ok(Action::await_change())
}

/// Deletes every object of every namespaced, deletable resource in the
/// namespace and reports what is left.
async fn delete_content(client: &Client, namespace: &str) -> DeletionReport {
    let mut report = DeletionReport::default();
    let discovery = match Discovery::new(client.clone()).run().await {
        Ok(d) => d,
        Err(e) => {
            report.discovery_failures.push(e.to_string());
            return report;
        }
    };
    for group in discovery.groups() {
        for (resource, caps) in group.recommended_resources() {
            let deletable = caps.scope == Scope::Namespaced
                && caps.supports_operation(verbs::LIST)
                && (caps.supports_operation(verbs::DELETE_COLLECTION)
                    || caps.supports_operation(verbs::DELETE));
            if deletable {
                delete_resource(client, namespace, &resource, &mut report).await;
            }
        }
    }
    report
}

fn resource_label(resource: &ApiResource) -> String {
    if resource.group.is_empty() {
        resource.plural.clone()
    } else {
        format!("{}.{}", resource.plural, resource.group)
    }
}

async fn delete_resource(
    client: &Client,
    namespace: &str,
    resource: &ApiResource,
    report: &mut DeletionReport,
) {
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, resource);
    let label = resource_label(resource);
    let listed = match api.list(&ListParams::default()).await {
        Ok(list) => list.items,
        Err(e) => {
            report.deletion_failures.push(format!("{label}: {e}"));
            return;
        }
    };
    if listed.is_empty() {
        return;
    }
    // Background propagation, as upstream's deleter: dependents in other
    // namespaces are the garbage collector's.
    let params = DeleteParams::background();
    let mut remaining = 0usize;
    let mut finalizers: BTreeMap<String, usize> = BTreeMap::new();
    for obj in &listed {
        let Some(name) = obj.metadata.name.as_deref() else {
            continue;
        };
        if obj.metadata.deletion_timestamp.is_none() {
            match api.delete(name, &params).await {
                Ok(either) => {
                    if either.is_right() {
                        continue;
                    }
                }
                Err(kube::Error::Api(e)) if e.code == 404 => continue,
                Err(e) => {
                    report
                        .deletion_failures
                        .push(format!("{label}/{name}: {e}"));
                }
            }
        }
        remaining += 1;
        for f in obj.metadata.finalizers.iter().flatten() {
            *finalizers.entry(f.clone()).or_default() += 1;
        }
    }
    if remaining > 0 {
        report.remaining.insert(label, remaining);
    }
    for (f, n) in finalizers {
        *report.finalizers.entry(f).or_default() += n;
    }
}
