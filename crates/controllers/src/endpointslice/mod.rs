//! The EndpointSlice controller (upstream `pkg/controller/endpointslice`):
//! keeps each selector Service's EndpointSlices equal to the pods its
//! selector matches. Services without a selector are left to their users,
//! except `default/kubernetes`, which points at the apiserver.
//!
//! Triggers: the Service itself, any pod its selector matches or its slices
//! list (so a pod relabelled out of a Service still updates it), and any of
//! its slices (so a slice edited by hand is put back).

pub mod desired;
pub mod pods;

use std::sync::Arc;

use futures::future::{BoxFuture, FutureExt};
use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{DeleteParams, PostParams};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Client};

use crate::endpoints::apiserver::{self, ApiserverEndpoint};
use crate::framework::{run_controller, Action, Change, Context, DefaultState, Triggers};
use crate::registry::Descriptor;

/// The `endpointslice` controller.
pub const DESCRIPTOR: Descriptor = Descriptor {
    name: "endpointslice",
    default: DefaultState::Enabled,
    start,
};

/// Why an EndpointSlice sync failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A slice could not be written.
    #[error("could not {action} EndpointSlice {namespace}/{name}")]
    Write {
        /// create, update or delete.
        action: &'static str,
        /// The slice's namespace.
        namespace: String,
        /// The slice's name (or generateName).
        name: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
}

struct State {
    client: Client,
    pods: Store<Pod>,
    slices: Store<EndpointSlice>,
    apiserver: Option<ApiserverEndpoint>,
}

fn start(ctx: Context) -> BoxFuture<'static, Result<(), crate::Error>> {
    async move {
        let services = ctx.informer::<Service>();
        let pods = ctx.informer::<Pod>();
        let slices = ctx.informer::<EndpointSlice>();
        let service_store = services.store();
        let slice_store = slices.store();
        let triggers = Triggers::new()
            .primary(&services)
            .mapped(&pods, move |change: &Change<Pod>| {
                services_of_pod(&service_store, &slice_store, change.object())
            })
            .mapped(&slices, |change: &Change<EndpointSlice>| {
                slice_service(change.object()).into_iter().collect()
            });
        let state = Arc::new(State {
            client: ctx.client().clone(),
            pods: pods.store(),
            slices: slices.store(),
            apiserver: ctx
                .settings()
                .apiserver_endpoint
                .map(ApiserverEndpoint::from),
        });
        run_controller(&ctx, "endpointslice", &services, triggers, state, sync).await;
        Ok(())
    }
    .boxed()
}

/// The Services selecting the pod, plus those whose slices list it.
fn services_of_pod(
    services: &Store<Service>,
    slices: &Store<EndpointSlice>,
    pod: &Pod,
) -> Vec<ObjectRef<Service>> {
    let namespace = pod.metadata.namespace.as_deref();
    let listing = slices.state().into_iter().filter_map(|slice| {
        let lists_pod = slice.metadata.namespace.as_deref() == namespace
            && pods::lists_pod(slice.endpoints.iter().map(|e| e.target_ref.as_ref()), pod);
        lists_pod.then(|| slice_service(&slice)).flatten()
    });
    pods::services_of_pod(services, pod, listing)
}

/// The Service a slice belongs to, from its service-name label.
fn slice_service(slice: &EndpointSlice) -> Option<ObjectRef<Service>> {
    let name = slice
        .metadata
        .labels
        .as_ref()?
        .get(desired::SERVICE_NAME_LABEL)?;
    Some(ObjectRef::new(name).within(slice.metadata.namespace.as_deref()?))
}

fn is_managed_by_us(slice: &EndpointSlice) -> bool {
    slice
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(desired::MANAGED_BY_LABEL))
        .map(String::as_str)
        == Some(desired::MANAGED_BY)
}

async fn sync(service: Arc<Service>, state: Arc<State>) -> Result<Action, Error> {
    let namespace = service.metadata.namespace.clone().unwrap_or_default();
    let name = service.metadata.name.clone().unwrap_or_default();
    let api: Api<EndpointSlice> = Api::namespaced(state.client.clone(), &namespace);
    if namespace == apiserver::NAMESPACE && name == apiserver::NAME {
        if let Some(at) = state.apiserver {
            sync_apiserver_slice(&api, &state.slices, at).await?;
        }
        return Ok(Action::await_change());
    }
    let Some(selected) = pods::selected_pods(&state.pods, &service) else {
        return Ok(Action::await_change());
    };
    let existing: Vec<EndpointSlice> = state
        .slices
        .state()
        .iter()
        .filter(|s| s.metadata.namespace.as_deref() == Some(namespace.as_str()))
        .filter(|s| slice_service(s).is_some_and(|k| k.name == name) && is_managed_by_us(s))
        .map(|s| (**s).clone())
        .collect();
    let plan = desired::plan(
        &service,
        desired::desired_slices(&service, &selected),
        &existing,
    );
    let write_error = |action: &'static str, name: String| {
        let namespace = namespace.clone();
        move |source| Error::Write {
            action,
            namespace,
            name,
            source,
        }
    };
    for slice in &plan.create {
        let label = slice.metadata.generate_name.clone().unwrap_or_default();
        api.create(&PostParams::default(), slice)
            .await
            .map_err(write_error("create", label))?;
    }
    for slice in &plan.update {
        let slice_name = slice.metadata.name.clone().unwrap_or_default();
        api.replace(&slice_name, &PostParams::default(), slice)
            .await
            .map_err(write_error("update", slice_name.clone()))?;
    }
    for slice_name in plan.delete {
        match api.delete(&slice_name, &DeleteParams::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(source) => return Err(write_error("delete", slice_name)(source)),
        }
    }
    tracing::debug!(service = %name, %namespace, "endpoint slices in sync");
    Ok(Action::await_change())
}

async fn sync_apiserver_slice(
    api: &Api<EndpointSlice>,
    slices: &Store<EndpointSlice>,
    at: ApiserverEndpoint,
) -> Result<(), Error> {
    let wanted = apiserver::endpoint_slice(at);
    let key = ObjectRef::new(apiserver::NAME).within(apiserver::NAMESPACE);
    let error = |action| {
        move |source| Error::Write {
            action,
            namespace: apiserver::NAMESPACE.into(),
            name: apiserver::NAME.into(),
            source,
        }
    };
    match slices.get(&key) {
        Some(current) if apiserver::slice_up_to_date(&current, &wanted) => Ok(()),
        Some(current) => {
            let mut next = wanted;
            next.metadata.resource_version = current.metadata.resource_version.clone();
            api.replace(apiserver::NAME, &PostParams::default(), &next)
                .await
                .map(drop)
                .map_err(error("update"))
        }
        None => match api.create(&PostParams::default(), &wanted).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(()),
            Err(source) => Err(error("create")(source)),
        },
    }
}
