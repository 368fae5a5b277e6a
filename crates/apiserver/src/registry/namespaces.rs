//! Namespace lifecycle (upstream's NamespaceLifecycle admission plugin and
//! `pkg/registry/core/namespace/storage`): nothing is created in a missing
//! or terminating namespace; deleting a namespace marks it `Terminating`
//! until the namespace controller has emptied it and cleared
//! `spec.finalizers`; the four system namespaces exist from the start.

use rkube_api::{ResourceDef, Scope};
use serde_json::{json, Value};

use super::{meta, ObjectRef, Registry, WriteOptions};
use crate::status::{ApiError, ApiResult, Reason};

/// Namespaces every cluster has (upstream's `metav1.NamespaceDefault`,
/// `NamespaceSystem`, `NamespacePublic`, `corev1.NamespaceNodeLease`).
pub const SYSTEM_NAMESPACES: [&str; 4] =
    ["default", "kube-system", "kube-public", "kube-node-lease"];

fn is_namespaces(def: &ResourceDef) -> bool {
    def.group.is_empty() && def.plural == "namespaces"
}

/// Whether a deleting object may now be removed from the store: no
/// finalizers left, no grace period pending and, for namespaces, no
/// `spec.finalizers` (upstream `ShouldDeleteDuringUpdate`).
pub fn may_remove(def: &ResourceDef, obj: &Value) -> bool {
    let grace_pending = obj
        .get("metadata")
        .and_then(|m| m.get("deletionGracePeriodSeconds"))
        .and_then(Value::as_i64)
        .is_some_and(|g| g > 0);
    meta::finalizers(obj).is_empty() && !grace_pending && !spec_finalizers_pending(def, obj)
}

/// Whether a namespace still waits for its controller.
pub fn spec_finalizers_pending(def: &ResourceDef, obj: &Value) -> bool {
    is_namespaces(def)
        && obj
            .pointer("/spec/finalizers")
            .and_then(Value::as_array)
            .is_some_and(|f| !f.is_empty())
}

/// Marks a deleting namespace `Terminating`.
pub fn mark_terminating(def: &ResourceDef, obj: &mut Value) {
    if is_namespaces(def) {
        if let Value::Object(map) = obj {
            let status = map.entry("status").or_insert_with(|| json!({}));
            if let Value::Object(status) = status {
                status.insert("phase".into(), Value::String("Terminating".into()));
            }
        }
    }
}

/// Refuses creating namespaced objects in a missing (404) or terminating
/// (403) namespace, with upstream's messages.
pub async fn check_can_create_in(registry: &Registry, obj: &ObjectRef<'_>) -> ApiResult<()> {
    let (Scope::Namespaced, Some(ns)) = (obj.def.scope, obj.namespace) else {
        return Ok(());
    };
    let Some(ns_def) = registry.catalog.get("", "v1", "namespaces") else {
        return Ok(());
    };
    let ns_ref = ObjectRef {
        def: ns_def,
        namespace: None,
        name: ns,
    };
    let namespace = match registry.get(&ns_ref).await {
        Ok(n) => n,
        Err(e) if e.reason == Reason::NotFound => {
            return Err(ApiError::not_found_in("", "namespaces", ns));
        }
        Err(e) => return Err(e),
    };
    let terminating = meta::is_deleting(&namespace)
        || namespace.pointer("/status/phase").and_then(Value::as_str) == Some("Terminating");
    if terminating {
        return Err(ApiError::forbidden(
            obj.def,
            obj.name,
            &format!(
                "unable to create new content in namespace {ns} because it is being terminated"
            ),
        ));
    }
    Ok(())
}

/// Creates the system namespaces that do not exist yet.
pub async fn ensure_system_namespaces(registry: &Registry) -> ApiResult<()> {
    let Some(def) = registry.catalog.get("", "v1", "namespaces").cloned() else {
        return Ok(());
    };
    for name in SYSTEM_NAMESPACES {
        let obj = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
        match registry
            .create(&def, None, obj, &WriteOptions::default())
            .await
        {
            Ok(_) => {}
            Err(e) if e.reason == Reason::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// How often `finalize` retries when the namespace changed meanwhile.
const FINALIZE_ATTEMPTS: usize = 16;

impl Registry {
    /// PUT `namespaces/<name>/finalize` (upstream's `FinalizeREST`): sets
    /// only `spec.finalizers`, bypassing the namespace strategy (whose
    /// ordinary updates keep them); a terminating namespace whose last
    /// finalizer goes is removed.
    pub async fn finalize_namespace(
        &self,
        obj_ref: &ObjectRef<'_>,
        finalizers: Value,
        opts: &WriteOptions,
    ) -> ApiResult<Value> {
        for _ in 0..FINALIZE_ATTEMPTS {
            let (kv, current) = self.get_kv(obj_ref).await?;
            let mut new = current.clone();
            if let Value::Object(map) = &mut new {
                let spec = map.entry("spec").or_insert_with(|| json!({}));
                if let Value::Object(spec) = spec {
                    spec.insert("finalizers".into(), finalizers.clone());
                }
            }
            if opts.dry_run == super::DryRun::All {
                return Ok(new);
            }
            let result = if meta::is_deleting(&new) && may_remove(obj_ref.def, &new) {
                self.store
                    .delete(kv.key.as_slice(), Some(kv.mod_revision))
                    .await
                    .map(|_| new.clone())
            } else {
                self.store
                    .update(kv.key.as_slice(), super::encode(&new), kv.mod_revision)
                    .await
                    .map(|written| {
                        let mut v = new.clone();
                        meta::set_resource_version(&mut v, written.mod_revision);
                        v
                    })
            };
            match result {
                Ok(v) => return Ok(v),
                Err(rkube_store::Error::Conflict { .. }) => continue,
                Err(e) => return Err(super::store_error(obj_ref, e)),
            }
        }
        Err(ApiError::conflict(
            obj_ref.def,
            obj_ref.name,
            ApiError::MODIFIED,
        ))
    }
}
