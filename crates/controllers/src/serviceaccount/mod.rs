//! Objects every namespace gets: the `serviceaccount` controller (upstream
//! `pkg/controller/serviceaccount/serviceaccounts_controller.go`) creates
//! the `default` ServiceAccount, and the `root-ca-cert-publisher` (upstream
//! `pkg/controller/certificates/rootcacertpublisher`) keeps the
//! `kube-root-ca.crt` ConfigMap holding the cluster CA, restoring it when it
//! is deleted or edited. Terminating namespaces are skipped: nothing may be
//! created in them.

pub mod objects;

use std::sync::Arc;

use futures::future::{BoxFuture, FutureExt};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, ServiceAccount};
use kube::api::PostParams;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Client};

use crate::framework::{run_controller, Action, Change, Context, DefaultState, Triggers};
use crate::registry::Descriptor;

/// The `serviceaccount` controller.
pub const SERVICE_ACCOUNT_DESCRIPTOR: Descriptor = Descriptor {
    name: "serviceaccount",
    default: DefaultState::Enabled,
    start: start_service_accounts,
};

/// The `root-ca-cert-publisher` controller.
pub const ROOT_CA_DESCRIPTOR: Descriptor = Descriptor {
    name: "root-ca-cert-publisher",
    default: DefaultState::Enabled,
    start: start_root_ca,
};

/// Why a sync failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The object could not be written.
    #[error("could not write {what} in namespace {namespace}")]
    Write {
        /// What was written.
        what: &'static str,
        /// The namespace.
        namespace: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
}

fn is_active(ns: &Namespace) -> bool {
    ns.metadata.deletion_timestamp.is_none()
        && ns.status.as_ref().and_then(|s| s.phase.as_deref()) != Some("Terminating")
}

/// The namespace of a changed object named `name`, as a namespace key.
fn namespace_of_named<K: kube::Resource>(object: &K, name: &str) -> Vec<ObjectRef<Namespace>> {
    let meta = object.meta();
    match (meta.name.as_deref(), meta.namespace.as_deref()) {
        (Some(n), Some(ns)) if n == name => vec![ObjectRef::new(ns)],
        _ => Vec::new(),
    }
}

/// Creating an object that may already exist: 409 is success.
async fn create_absent<K>(
    api: &Api<K>,
    obj: &K,
    what: &'static str,
    namespace: &str,
) -> Result<(), Error>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    match api.create(&PostParams::default(), obj).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(()),
        // The namespace started terminating meanwhile.
        Err(kube::Error::Api(e)) if e.code == 403 || e.code == 404 => Ok(()),
        Err(source) => Err(Error::Write {
            what,
            namespace: namespace.into(),
            source,
        }),
    }
}

struct AccountState {
    client: Client,
    accounts: Store<ServiceAccount>,
}

fn start_service_accounts(ctx: Context) -> BoxFuture<'static, Result<(), crate::Error>> {
    async move {
        let namespaces = ctx.informer::<Namespace>();
        let accounts = ctx.informer::<ServiceAccount>();
        let triggers = Triggers::new().primary(&namespaces).mapped(
            &accounts,
            |change: &Change<ServiceAccount>| match change {
                Change::Deleted(sa) => namespace_of_named(&**sa, objects::DEFAULT_SERVICE_ACCOUNT),
                Change::Applied(_) => Vec::new(),
            },
        );
        let state = Arc::new(AccountState {
            client: ctx.client().clone(),
            accounts: accounts.store(),
        });
        run_controller(
            &ctx,
            "serviceaccount",
            &namespaces,
            triggers,
            state,
            sync_service_account,
        )
        .await;
        Ok(())
    }
    .boxed()
}

async fn sync_service_account(
    ns: Arc<Namespace>,
    state: Arc<AccountState>,
) -> Result<Action, Error> {
    let name = ns.metadata.name.clone().unwrap_or_default();
    let key = ObjectRef::new(objects::DEFAULT_SERVICE_ACCOUNT).within(&name);
    if !is_active(&ns) || state.accounts.get(&key).is_some() {
        return Ok(Action::await_change());
    }
    let api: Api<ServiceAccount> = Api::namespaced(state.client.clone(), &name);
    create_absent(
        &api,
        &objects::default_service_account(&name),
        "ServiceAccount default",
        &name,
    )
    .await?;
    Ok(Action::await_change())
}

struct RootCaState {
    client: Client,
    config_maps: Store<ConfigMap>,
    ca_pem: String,
}

fn start_root_ca(ctx: Context) -> BoxFuture<'static, Result<(), crate::Error>> {
    async move {
        let Some(ca_pem) = ctx.settings().root_ca_pem.clone() else {
            tracing::info!("no cluster CA given; root-ca-cert-publisher idle");
            ctx.shutdown().cancelled().await;
            return Ok(());
        };
        let namespaces = ctx.informer::<Namespace>();
        let config_maps = ctx.informer::<ConfigMap>();
        let triggers = Triggers::new().primary(&namespaces).mapped(
            &config_maps,
            |change: &Change<ConfigMap>| {
                namespace_of_named(&**change.object(), objects::ROOT_CA_CONFIGMAP)
            },
        );
        let state = Arc::new(RootCaState {
            client: ctx.client().clone(),
            config_maps: config_maps.store(),
            ca_pem,
        });
        run_controller(
            &ctx,
            "root-ca-cert-publisher",
            &namespaces,
            triggers,
            state,
            sync_root_ca,
        )
        .await;
        Ok(())
    }
    .boxed()
}

async fn sync_root_ca(ns: Arc<Namespace>, state: Arc<RootCaState>) -> Result<Action, Error> {
    let name = ns.metadata.name.clone().unwrap_or_default();
    if !is_active(&ns) {
        return Ok(Action::await_change());
    }
    let api: Api<ConfigMap> = Api::namespaced(state.client.clone(), &name);
    let key = ObjectRef::new(objects::ROOT_CA_CONFIGMAP).within(&name);
    match state.config_maps.get(&key) {
        None => {
            let wanted = objects::root_ca_configmap(&name, &state.ca_pem);
            create_absent(&api, &wanted, "ConfigMap kube-root-ca.crt", &name).await?;
        }
        Some(current) => {
            if let Some(fixed) = objects::restored_root_ca(&current, &state.ca_pem) {
                match api
                    .replace(objects::ROOT_CA_CONFIGMAP, &PostParams::default(), &fixed)
                    .await
                {
                    Ok(_) => {}
                    // Changed or deleted meanwhile: that change enqueues us again.
                    Err(kube::Error::Api(e)) if e.code == 409 || e.code == 404 => {}
                    Err(source) => {
                        return Err(Error::Write {
                            what: "ConfigMap kube-root-ca.crt",
                            namespace: name,
                            source,
                        })
                    }
                }
            }
        }
    }
    Ok(Action::await_change())
}
