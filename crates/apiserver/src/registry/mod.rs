//! The generic registry: ONE implementation of get, list, watch, create,
//! update, delete and deletecollection for every catalog row (upstream's
//! `k8s.io/apiserver/pkg/registry/generic/registry/store.go`). Per-kind
//! behaviour comes only from the row's [`rkube_api::Strategy`]; the hook
//! order is fixed in [`admit`].
//!
//! Objects are stored as JSON at [`ResourceDef::key`] without their
//! `resourceVersion`; it is the store's `mod_revision`, set on every read.

mod admit;
mod continue_token;
mod default_tolerations;
mod delete;
pub mod filter;
pub mod meta;
mod namespaces;
pub mod options;
mod quota_admission;
mod service_allocation;
mod subresources;
mod write;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rkube_api::{Catalog, ResourceDef, Scope};
use rkube_store::{KeyRange, KeyValue, RangeRequest, Revision, Store};
use serde_json::Value;

use crate::status::{ApiError, ApiResult};
use crate::watch_cache::WatchCache;
pub use filter::Filter;
pub use namespaces::{ensure_system_namespaces, SYSTEM_NAMESPACES};
pub use options::{
    DeleteOptions, DryRun, ListOptions, Propagation, Query, VersionMatch, WriteOptions,
};
pub use service_allocation::ensure_kubernetes_service;

/// Which object a call is about.
#[derive(Debug, Clone, Copy)]
pub struct ObjectRef<'a> {
    /// The resource.
    pub def: &'a ResourceDef,
    /// The namespace, for namespaced resources.
    pub namespace: Option<&'a str>,
    /// The name.
    pub name: &'a str,
}

impl ObjectRef<'_> {
    /// The store key.
    pub fn key(&self) -> String {
        self.def.key(self.namespace, self.name)
    }
}

/// A page of a list.
#[derive(Debug, Clone)]
pub struct ListPage {
    /// Matching objects, in key order.
    pub items: Vec<Arc<Value>>,
    /// The revision the list was read at.
    pub revision: Revision,
    /// The token for the next page, if any.
    pub continue_token: Option<String>,
    /// How many objects are left after this page, when known.
    pub remaining: Option<i64>,
}

/// The outcome of a delete.
#[derive(Debug, Clone)]
pub enum Deleted {
    /// The object is gone; its last state.
    Removed(Value),
    /// The object stays with a `deletionTimestamp` (finalizers or a grace
    /// period); its new state.
    Pending(Value),
}

/// The generic registry over one store.
pub struct Registry {
    store: Arc<dyn Store>,
    catalog: Arc<Catalog>,
    caches: Mutex<HashMap<String, Arc<WatchCache>>>,
    service_allocation: tokio::sync::Mutex<()>,
    node_ports: std::ops::RangeInclusive<i64>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry").finish_non_exhaustive()
    }
}

/// Maps a store failure to upstream's answer for `obj`.
pub(crate) fn store_error(obj: &ObjectRef<'_>, error: rkube_store::Error) -> ApiError {
    use rkube_store::Error as E;
    match error {
        E::NotFound => ApiError::not_found(obj.def, obj.name),
        E::AlreadyExists { .. } => ApiError::already_exists(obj.def, obj.name),
        E::Conflict { .. } => ApiError::conflict(obj.def, obj.name, ApiError::MODIFIED),
        E::ValueTooLarge { .. } => {
            ApiError::new(crate::status::Reason::RequestEntityTooLarge, "etcdserver: request is too large")
        }
        E::Compacted { requested, compacted } => ApiError::expired(format!(
            "The resourceVersion for the provided list is too old. (requested {requested}, compacted at {compacted})"
        )),
        other => ApiError::internal(other),
    }
}

/// Decodes a stored value and sets its resourceVersion.
pub(crate) fn decode(kv: &KeyValue) -> ApiResult<Value> {
    let mut obj: Value = serde_json::from_slice(&kv.value).map_err(|e| {
        ApiError::internal(format!(
            "stored object {} is not JSON: {e}",
            String::from_utf8_lossy(&kv.key)
        ))
    })?;
    meta::set_resource_version(&mut obj, kv.mod_revision);
    Ok(obj)
}

/// Encodes an object for storage: without its resourceVersion.
pub(crate) fn encode(obj: &Value) -> Vec<u8> {
    let mut stored = obj.clone();
    meta::meta_mut(&mut stored).remove("resourceVersion");
    serde_json::to_vec(&stored).unwrap_or_default()
}

impl Registry {
    /// A registry serving `catalog` from `store`.
    pub fn new(store: Arc<dyn Store>, catalog: Arc<Catalog>) -> Self {
        Registry {
            store,
            catalog,
            caches: Mutex::new(HashMap::new()),
            service_allocation: tokio::sync::Mutex::new(()),
            node_ports: service_allocation::DEFAULT_NODE_PORTS,
        }
    }

    /// Allocates NodePorts from `range` (`--service-node-port-range`).
    pub fn node_port_range(mut self, range: std::ops::RangeInclusive<u16>) -> Self {
        self.node_ports = i64::from(*range.start())..=i64::from(*range.end());
        self
    }

    /// The catalog served.
    pub fn catalog(&self) -> &Arc<Catalog> {
        &self.catalog
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Starts the watch cache of every resource (so that any
    /// resourceVersion a list returns can be watched from).
    pub async fn start_caches(&self) -> ApiResult<()> {
        for def in self.catalog.iter() {
            self.cache(def).await?;
        }
        Ok(())
    }

    /// The watch cache of a resource, started on first use.
    pub async fn cache(&self, def: &Arc<ResourceDef>) -> ApiResult<Arc<WatchCache>> {
        let prefix = def.key_prefix();
        if let Some(cache) = self.lock_caches().get(&prefix) {
            return Ok(cache.clone());
        }
        let cache = WatchCache::start(self.store.clone(), def.clone())
            .await
            .map_err(ApiError::internal)?;
        Ok(self.lock_caches().entry(prefix).or_insert(cache).clone())
    }

    fn lock_caches(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<WatchCache>>> {
        self.caches.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reads one object (from the store: a consistent read).
    pub async fn get(&self, obj: &ObjectRef<'_>) -> ApiResult<Value> {
        let (_, value) = self.get_kv(obj).await?;
        Ok(value)
    }

    pub(crate) async fn get_kv(&self, obj: &ObjectRef<'_>) -> ApiResult<(KeyValue, Value)> {
        let kv = self
            .store
            .get(obj.key().as_bytes(), None)
            .await
            .map_err(|e| store_error(obj, e))?
            .ok_or_else(|| ApiError::not_found(obj.def, obj.name))?;
        let value = decode(&kv)?;
        Ok((kv, value))
    }

    /// The key prefix a list or watch covers.
    pub fn list_prefix(def: &ResourceDef, namespace: Option<&str>) -> String {
        match (def.scope, namespace) {
            (Scope::Namespaced, Some(ns)) => format!("{}{ns}/", def.key_prefix()),
            _ => def.key_prefix(),
        }
    }

    /// Lists objects (see upstream's `ListOptions` semantics: no
    /// resourceVersion → a consistent read from the store; `0` → the watch
    /// cache; `N` + `Exact` → the store at revision N).
    pub async fn list(
        &self,
        def: &Arc<ResourceDef>,
        namespace: Option<&str>,
        filter: &Filter,
        opts: &ListOptions,
    ) -> ApiResult<ListPage> {
        let prefix = Self::list_prefix(def, namespace);
        let requested = parse_revision(opts.resource_version.as_deref())?;
        if opts.continue_token.is_none() && opts.limit == 0 && requested == Some(0) {
            let cache = self.cache(def).await?;
            let (items, revision) = cache.list(&prefix);
            let items = items
                .into_iter()
                .filter(|o| filter.matches(def, o))
                .collect();
            return Ok(ListPage {
                items,
                revision,
                continue_token: None,
                remaining: None,
            });
        }
        let (start_key, revision) = match &opts.continue_token {
            Some(token) => {
                if requested.is_some_and(|rv| rv != 0) {
                    return Err(ApiError::bad_request(
                        "specifying resource version is not allowed when using continue",
                    ));
                }
                let token = continue_token::decode(token, &prefix)?;
                (token.start_key, Some(token.revision))
            }
            None => {
                let at = match (requested, opts.version_match) {
                    (Some(rv), Some(VersionMatch::Exact)) if rv > 0 => Some(rv),
                    _ => None,
                };
                (prefix.clone(), at)
            }
        };
        self.list_from_store(def, &prefix, start_key, revision, filter, opts.limit)
            .await
    }

    async fn list_from_store(
        &self,
        def: &Arc<ResourceDef>,
        prefix: &str,
        mut start_key: String,
        mut revision: Option<Revision>,
        filter: &Filter,
        limit: usize,
    ) -> ApiResult<ListPage> {
        let list_ref = ObjectRef {
            def,
            namespace: None,
            name: "",
        };
        let end = KeyRange::prefix(prefix.to_string()).end();
        let mut items = Vec::new();
        // Read in chunks until `limit` matching objects are found, as
        // upstream does when a selector filters a paginated list.
        loop {
            let range = match &end {
                Some(end) => KeyRange::interval(start_key.clone(), end.clone()),
                None => KeyRange::prefix(start_key.clone()),
            };
            let chunk = if limit == 0 {
                None
            } else {
                Some(limit.max(16))
            };
            let response = self
                .store
                .range(RangeRequest {
                    range,
                    revision,
                    limit: chunk,
                })
                .await
                .map_err(|e| match e {
                    rkube_store::Error::Compacted { .. } => continue_token::expired(),
                    other => store_error(&list_ref, other),
                })?;
            revision = Some(response.revision);
            let at = response.revision;
            let count = response.kvs.len();
            for (i, kv) in response.kvs.iter().enumerate() {
                let obj = decode(kv)?;
                if !filter.matches(def, &obj) {
                    continue;
                }
                items.push(Arc::new(obj));
                if limit > 0 && items.len() == limit {
                    let more = i + 1 < count || response.more;
                    let continue_token = more.then(|| {
                        let next = format!("{}\0", String::from_utf8_lossy(&kv.key));
                        continue_token::encode(&next, prefix, at)
                    });
                    return Ok(ListPage {
                        items,
                        revision: at,
                        continue_token,
                        remaining: None,
                    });
                }
            }
            match response.kvs.last() {
                Some(last) if response.more => {
                    start_key = format!("{}\0", String::from_utf8_lossy(&last.key));
                }
                _ => {
                    return Ok(ListPage {
                        items,
                        revision: at,
                        continue_token: None,
                        remaining: None,
                    })
                }
            }
        }
    }
}

/// Parses a `resourceVersion` parameter.
pub(crate) fn parse_revision(rv: Option<&str>) -> ApiResult<Option<Revision>> {
    match rv {
        None | Some("") => Ok(None),
        Some(s) => s.parse::<Revision>().map(Some).map_err(|_| {
            ApiError::bad_request(format!(
                "invalid resource version \"{s}\": must be a non-negative integer"
            ))
            .with_details(crate::status::Details::default())
        }),
    }
}
