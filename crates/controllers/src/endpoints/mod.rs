//! The Endpoints controller (upstream `pkg/controller/endpoint`): keeps the
//! core/v1 Endpoints object of each selector Service equal to the ready and
//! not-ready pods its selector matches; `default/kubernetes` lists the
//! apiserver. Unlike upstream, the Endpoints carry the Service as owner, so
//! the garbage collector removes them with their Service (this controller
//! only syncs Services that exist).

pub mod apiserver;
pub mod desired;

use std::sync::Arc;

use futures::future::{BoxFuture, FutureExt};
use k8s_openapi::api::core::v1::{Endpoints, Pod, Service};
use kube::api::PostParams;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Client};

use self::apiserver::ApiserverEndpoint;
use crate::endpointslice::desired::service_owner;
use crate::endpointslice::pods;
use crate::framework::{run_controller, Action, Change, Context, DefaultState, Triggers};
use crate::registry::Descriptor;

/// The `endpoint` controller (upstream's name).
pub const DESCRIPTOR: Descriptor = Descriptor {
    name: "endpoint",
    default: DefaultState::Enabled,
    start,
};

/// Why an Endpoints sync failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The Endpoints object could not be written.
    #[error("could not {action} Endpoints {namespace}/{name}")]
    Write {
        /// create or update.
        action: &'static str,
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
}

struct State {
    client: Client,
    pods: Store<Pod>,
    endpoints: Store<Endpoints>,
    apiserver: Option<ApiserverEndpoint>,
}

fn start(ctx: Context) -> BoxFuture<'static, Result<(), crate::Error>> {
    async move {
        let services = ctx.informer::<Service>();
        let pods = ctx.informer::<Pod>();
        let endpoints = ctx.informer::<Endpoints>();
        let service_store = services.store();
        let endpoints_store = endpoints.store();
        let triggers = Triggers::new()
            .primary(&services)
            .mapped(&pods, move |change: &Change<Pod>| {
                services_of_pod(&service_store, &endpoints_store, change.object())
            })
            .mapped(&endpoints, |change: &Change<Endpoints>| {
                let e = change.object();
                match (&e.metadata.name, &e.metadata.namespace) {
                    (Some(name), Some(ns)) => vec![ObjectRef::new(name).within(ns)],
                    _ => Vec::new(),
                }
            });
        let state = Arc::new(State {
            client: ctx.client().clone(),
            pods: pods.store(),
            endpoints: endpoints.store(),
            apiserver: ctx
                .settings()
                .apiserver_endpoint
                .map(ApiserverEndpoint::from),
        });
        run_controller(&ctx, "endpoint", &services, triggers, state, sync).await;
        Ok(())
    }
    .boxed()
}

/// The Services selecting the pod, plus those whose Endpoints list it.
fn services_of_pod(
    services: &Store<Service>,
    endpoints: &Store<Endpoints>,
    pod: &Pod,
) -> Vec<ObjectRef<Service>> {
    let namespace = pod.metadata.namespace.as_deref();
    let listing = endpoints.state().into_iter().filter_map(|e| {
        let lists_pod = e.metadata.namespace.as_deref() == namespace
            && pods::lists_pod(
                e.subsets
                    .iter()
                    .flatten()
                    .flat_map(|s| {
                        s.addresses
                            .iter()
                            .flatten()
                            .chain(s.not_ready_addresses.iter().flatten())
                    })
                    .map(|a| a.target_ref.as_ref()),
                pod,
            );
        let (name, ns) = (e.metadata.name.as_deref()?, namespace?);
        lists_pod.then(|| ObjectRef::new(name).within(ns))
    });
    pods::services_of_pod(services, pod, listing)
}

async fn sync(service: Arc<Service>, state: Arc<State>) -> Result<Action, Error> {
    let namespace = service.metadata.namespace.clone().unwrap_or_default();
    let name = service.metadata.name.clone().unwrap_or_default();
    let wanted = if namespace == apiserver::NAMESPACE && name == apiserver::NAME {
        match state.apiserver {
            Some(at) => apiserver::endpoints(at),
            None => return Ok(Action::await_change()),
        }
    } else {
        let Some(selected) = pods::selected_pods(&state.pods, &service) else {
            return Ok(Action::await_change());
        };
        let mut wanted = desired::desired_endpoints(&service, &selected);
        wanted.metadata.owner_references = Some(vec![service_owner(&service)]);
        wanted
    };
    let api: Api<Endpoints> = Api::namespaced(state.client.clone(), &namespace);
    let error = |action: &'static str| {
        let (namespace, name) = (namespace.clone(), name.clone());
        move |source| Error::Write {
            action,
            namespace,
            name,
            source,
        }
    };
    let key = ObjectRef::new(&name).within(&namespace);
    match state.endpoints.get(&key) {
        Some(current) if !desired::needs_update(&current, &wanted) => {}
        Some(current) => {
            let mut next = wanted;
            next.metadata.resource_version = current.metadata.resource_version.clone();
            if next.metadata.owner_references.is_none() {
                next.metadata.owner_references = current.metadata.owner_references.clone();
            }
            api.replace(&name, &PostParams::default(), &next)
                .await
                .map_err(error("update"))?;
        }
        None => match api.create(&PostParams::default(), &wanted).await {
            Ok(_) => {}
            // The cache lags behind a create of ours; the next sync compares.
            Err(kube::Error::Api(e)) if e.code == 409 => {}
            Err(source) => return Err(error("create")(source)),
        },
    }
    Ok(Action::await_change())
}
