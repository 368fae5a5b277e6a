//! Create and update (upstream `Store.Create` / `Store.Update` and its
//! `GuaranteedUpdate` retry loop).

use rkube_api::patch::{track_update, PatchMeta, UpdateRequest};
use rkube_api::{ResourceDef, WriteScope};
use serde_json::Value;

use super::{
    admit, decode, default_tolerations, encode, meta, namespaces, service_allocation, store_error,
    DryRun, Filter, ListOptions, ObjectRef, Registry, WriteOptions,
};
use crate::status::{ApiError, ApiResult};

/// How often a read-modify-write is retried when another writer got in
/// between (upstream retries `GuaranteedUpdate` until it succeeds; a bound
/// turns a livelock into a visible 409).
const UPDATE_ATTEMPTS: usize = 16;

/// How often a generated name is re-drawn when taken (upstream's
/// `RetryGenerateName` tries up to 8 names).
const GENERATE_NAME_ATTEMPTS: usize = 8;

impl Registry {
    /// Creates an object in `namespace` (from the URL). Returns it as stored.
    pub async fn create(
        &self,
        def: &rkube_api::ResourceDef,
        namespace: Option<&str>,
        mut obj: Value,
        opts: &WriteOptions,
    ) -> ApiResult<Value> {
        admit::check_type(def, &mut obj)?;
        admit::check_namespace(def, &mut obj, namespace)?;
        // Mutating admission runs before the strategy, as upstream.
        default_tolerations::admit(def, &mut obj);
        let generated = meta::name(&obj).is_empty();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut candidate = obj.clone();
            admit::before_create(def, &mut candidate)?;
            record_manager(def, None, &mut candidate, WriteScope::Main, opts);
            let name = meta::name(&candidate).to_string();
            let ns = meta::namespace(&candidate).to_string();
            let obj_ref = ObjectRef {
                def,
                namespace: (!ns.is_empty()).then_some(ns.as_str()),
                name: &name,
            };
            namespaces::check_can_create_in(self, &obj_ref).await?;
            // Validating admission: charged once, not again for a re-drawn name.
            if attempt == 1 {
                self.admit_quota(def, &candidate, opts.dry_run).await?;
            }
            // Held until the Service is stored, so that no other create
            // takes the same address meanwhile.
            let _allocating = if service_allocation::is_services(def) {
                let guard = self.service_allocation.lock().await;
                let services = self
                    .catalog
                    .get(&def.group, &def.version, &def.plural)
                    .cloned()
                    .ok_or_else(ApiError::no_such_path)?;
                let existing = self
                    .list(&services, None, &Filter::all(), &ListOptions::default())
                    .await?;
                let used = service_allocation::InUse::of(existing.items.iter().map(|o| &**o));
                service_allocation::allocate(def, &mut candidate, None, &used, &self.node_ports)?;
                Some(guard)
            } else {
                None
            };
            if opts.dry_run == DryRun::All {
                return Ok(candidate);
            }
            match self
                .store
                .create(obj_ref.key().as_bytes(), encode(&candidate))
                .await
            {
                Ok(kv) => {
                    meta::set_resource_version(&mut candidate, kv.mod_revision);
                    return Ok(candidate);
                }
                Err(rkube_store::Error::AlreadyExists { .. })
                    if generated && attempt < GENERATE_NAME_ATTEMPTS => {}
                Err(e) => return Err(store_error(&obj_ref, e)),
            }
        }
    }

    /// Replaces an object (PUT). A `resourceVersion` in the body must be
    /// the current one (409 Conflict otherwise); without one the update is
    /// unconditional, as upstream allows for built-in kinds.
    pub async fn update(
        &self,
        obj_ref: &ObjectRef<'_>,
        scope: WriteScope,
        mut new: Value,
        opts: &WriteOptions,
    ) -> ApiResult<Value> {
        let def = obj_ref.def;
        admit::check_type(def, &mut new)?;
        admit::check_namespace(def, &mut new, obj_ref.namespace)?;
        let body_name = meta::name(&new);
        if body_name.is_empty() {
            meta::set_meta_str(&mut new, "name", obj_ref.name);
        } else if body_name != obj_ref.name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({})",
                obj_ref.name
            )));
        }
        let pinned = meta::meta_str(&new, "resourceVersion").to_string();
        self.guaranteed_update(obj_ref, scope, opts, |current| {
            if !pinned.is_empty() && pinned != meta::meta_str(current, "resourceVersion") {
                return Err(ApiError::conflict(def, obj_ref.name, ApiError::MODIFIED));
            }
            Ok(new.clone())
        })
        .await
    }

    /// Reads the object, lets `change` compute the new state from it, runs
    /// the update hooks and writes it if nothing changed in between,
    /// retrying on races. Used by PUT, PATCH and the subresources.
    pub async fn guaranteed_update<F>(
        &self,
        obj_ref: &ObjectRef<'_>,
        scope: WriteScope,
        opts: &WriteOptions,
        mut change: F,
    ) -> ApiResult<Value>
    where
        F: FnMut(&Value) -> ApiResult<Value>,
    {
        let def = obj_ref.def;
        // Service updates may take or release addresses and ports: one at a
        // time, like creates.
        let allocating = service_allocation::is_services(def) && scope == WriteScope::Main;
        let _allocating = if allocating {
            Some(self.service_allocation.lock().await)
        } else {
            None
        };
        for _ in 0..UPDATE_ATTEMPTS {
            let (kv, old) = self.get_kv(obj_ref).await?;
            let mut new = change(&old)?;
            admit::check_type(def, &mut new)?;
            admit::check_namespace(def, &mut new, obj_ref.namespace)?;
            meta::set_meta_str(&mut new, "name", obj_ref.name);
            if allocating {
                service_allocation::patch_allocated_values(&mut new, &old);
            }
            admit::before_update(def, scope, &mut new, &old)?;
            if allocating {
                let services = self
                    .catalog
                    .get(&def.group, &def.version, &def.plural)
                    .cloned()
                    .ok_or_else(ApiError::no_such_path)?;
                let existing = self
                    .list(&services, None, &Filter::all(), &ListOptions::default())
                    .await?;
                let others = existing.items.iter().map(|o| &**o).filter(|o| {
                    meta::name(o) != obj_ref.name || Some(meta::namespace(o)) != obj_ref.namespace
                });
                let used = service_allocation::InUse::of(others);
                service_allocation::allocate(def, &mut new, Some(&old), &used, &self.node_ports)?;
            }
            record_manager(def, Some(&old), &mut new, scope, opts);
            if meta::is_deleting(&new) && namespaces::may_remove(def, &new) {
                // The last finalizer is gone: the pending delete completes.
                if opts.dry_run == DryRun::All {
                    return Ok(new);
                }
                return match self
                    .store
                    .delete(kv.key.as_slice(), Some(kv.mod_revision))
                    .await
                {
                    Ok(_) => Ok(new),
                    Err(rkube_store::Error::Conflict { .. }) => continue,
                    Err(e) => Err(store_error(obj_ref, e)),
                };
            }
            let bytes = encode(&new);
            if bytes == kv.value {
                // Nothing changed: no write, the same resourceVersion
                // (upstream skips no-op writes in GuaranteedUpdate).
                return Ok(old);
            }
            if opts.dry_run == DryRun::All {
                return Ok(new);
            }
            match self
                .store
                .update(kv.key.as_slice(), bytes, kv.mod_revision)
                .await
            {
                Ok(written) => return decode(&written),
                Err(rkube_store::Error::Conflict { .. }) => continue,
                Err(e) => return Err(store_error(obj_ref, e)),
            }
        }
        Err(ApiError::conflict(def, obj_ref.name, ApiError::MODIFIED))
    }
}

/// Records the writer in `managedFields` (operation Update), so that later
/// server-side applies know who owns what. Writes without a field manager
/// (server-side apply itself, which records its own) are left alone.
fn record_manager(
    def: &ResourceDef,
    old: Option<&Value>,
    new: &mut Value,
    scope: WriteScope,
    opts: &WriteOptions,
) {
    let Some(manager) = opts.field_manager.as_deref() else {
        return;
    };
    let meta = PatchMeta::for_kind(&def.group, &def.kind);
    let api_version = def.api_version();
    let time = meta::now();
    track_update(
        old,
        new,
        &UpdateRequest {
            manager,
            api_version: &api_version,
            subresource: match scope {
                WriteScope::Main => "",
                WriteScope::Status => "status",
            },
            time: &time,
            meta: &meta,
        },
    );
}
