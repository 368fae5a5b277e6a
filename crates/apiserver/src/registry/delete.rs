//! Delete and deletecollection (upstream `Store.Delete`): preconditions,
//! graceful deletion, finalizers and the propagation policy.
//!
//! An object with finalizers (including the `orphan` / `foregroundDeletion`
//! ones a propagation policy records) only gets a `deletionTimestamp`; the
//! controller owning each finalizer removes it, and the update that removes
//! the last one deletes the object. A scheduled pod is deleted gracefully:
//! it gets `deletionTimestamp = now + grace` and stays until its kubelet
//! confirms with a delete of grace 0.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rkube_api::ResourceDef;
use serde_json::Value;

use super::{
    decode, encode, meta, namespaces, store_error, DeleteOptions, Deleted, DryRun, Filter,
    ListOptions, ObjectRef, Registry,
};
use crate::status::{ApiError, ApiResult, Reason};

const DELETE_ATTEMPTS: usize = 16;

/// Upstream's default `terminationGracePeriodSeconds`.
const DEFAULT_POD_GRACE_SECONDS: i64 = 30;

/// The grace period of a delete: only pods are deleted gracefully
/// (`pkg/registry/core/pod/strategy.go` `CheckGracefulDeleteStrategy`); an
/// unscheduled or finished pod has no kubelet to wait for, so it goes at once.
fn grace_period(def: &ResourceDef, obj: &Value, opts: &DeleteOptions) -> i64 {
    if !(def.group.is_empty() && def.kind == "Pod") {
        return 0;
    }
    let unscheduled = obj
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .unwrap_or("")
        .is_empty();
    let finished = matches!(
        obj.pointer("/status/phase").and_then(Value::as_str),
        Some("Succeeded") | Some("Failed")
    );
    if unscheduled || finished {
        return 0;
    }
    let grace = opts.grace_period_seconds.unwrap_or_else(|| {
        obj.pointer("/spec/terminationGracePeriodSeconds")
            .and_then(Value::as_i64)
            .unwrap_or(DEFAULT_POD_GRACE_SECONDS)
    });
    // Upstream turns a negative period into 1 second.
    if grace < 0 {
        1
    } else {
        grace
    }
}

fn check_preconditions(
    obj_ref: &ObjectRef<'_>,
    obj: &Value,
    opts: &DeleteOptions,
) -> ApiResult<()> {
    if let Some(uid) = &opts.precondition_uid {
        let actual = meta::meta_str(obj, "uid");
        if uid != actual {
            return Err(ApiError::conflict(
                obj_ref.def,
                obj_ref.name,
                &format!(
                    "Precondition failed: UID in precondition: {uid}, UID in object meta: {actual}"
                ),
            ));
        }
    }
    if let Some(rv) = &opts.precondition_resource_version {
        let actual = meta::meta_str(obj, "resourceVersion");
        if rv != actual {
            return Err(ApiError::conflict(
                obj_ref.def,
                obj_ref.name,
                &format!(
                    "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {actual}"
                ),
            ));
        }
    }
    Ok(())
}

impl Registry {
    /// Deletes one object.
    pub async fn delete(
        &self,
        obj_ref: &ObjectRef<'_>,
        opts: &DeleteOptions,
    ) -> ApiResult<Deleted> {
        let def = obj_ref.def;
        for _ in 0..DELETE_ATTEMPTS {
            let (kv, obj) = self.get_kv(obj_ref).await?;
            check_preconditions(obj_ref, &obj, opts)?;
            let mut finalizers = meta::finalizers(&obj);
            if let Some(f) = opts.propagation.and_then(|p| p.finalizer()) {
                // The policy replaces the other policy's finalizer.
                finalizers.retain(|x| x != "orphan" && x != "foregroundDeletion");
                finalizers.push(f.to_string());
            }
            let grace = grace_period(def, &obj, opts);
            let already = meta::is_deleting(&obj);
            let pending = !finalizers.is_empty()
                || grace > 0
                || namespaces::spec_finalizers_pending(def, &obj);
            if !pending {
                if opts.dry_run == DryRun::All {
                    return Ok(Deleted::Removed(obj));
                }
                match self
                    .store
                    .delete(kv.key.as_slice(), Some(kv.mod_revision))
                    .await
                {
                    Ok((_, revision)) => {
                        let mut last = obj;
                        meta::set_resource_version(&mut last, revision);
                        return Ok(Deleted::Removed(last));
                    }
                    Err(rkube_store::Error::Conflict { .. })
                    | Err(rkube_store::Error::NotFound) => continue,
                    Err(e) => return Err(store_error(obj_ref, e)),
                }
            }
            let mut new = obj.clone();
            meta::set_finalizers(&mut new, &finalizers);
            let current_grace = obj
                .get("metadata")
                .and_then(|m| m.get("deletionGracePeriodSeconds"))
                .and_then(Value::as_i64);
            // A later delete may only shorten the grace period.
            let shortens = current_grace.is_none_or(|g| grace < g);
            if !already || shortens {
                let at = SystemTime::now() + Duration::from_secs(grace.max(0) as u64);
                let m = meta::meta_mut(&mut new);
                m.insert("deletionTimestamp".into(), Value::String(meta::rfc3339(at)));
                m.insert("deletionGracePeriodSeconds".into(), Value::from(grace));
            }
            namespaces::mark_terminating(def, &mut new);
            if already && new == obj {
                return Ok(Deleted::Pending(obj));
            }
            if opts.dry_run == DryRun::All {
                return Ok(Deleted::Pending(new));
            }
            match self
                .store
                .update(kv.key.as_slice(), encode(&new), kv.mod_revision)
                .await
            {
                Ok(written) => return Ok(Deleted::Pending(decode(&written)?)),
                Err(rkube_store::Error::Conflict { .. }) => continue,
                Err(e) => return Err(store_error(obj_ref, e)),
            }
        }
        Err(ApiError::conflict(def, obj_ref.name, ApiError::MODIFIED))
    }

    /// Deletes every selected object of a namespace (or of all); returns
    /// what each delete returned.
    pub async fn delete_collection(
        &self,
        def: &Arc<ResourceDef>,
        namespace: Option<&str>,
        filter: &Filter,
        list_opts: &ListOptions,
        opts: &DeleteOptions,
    ) -> ApiResult<Vec<Value>> {
        let page = self
            .list(
                def,
                namespace,
                filter,
                &ListOptions {
                    limit: 0,
                    continue_token: None,
                    ..list_opts.clone()
                },
            )
            .await?;
        let mut out = Vec::new();
        for item in page.items {
            let ns = meta::namespace(&item).to_string();
            let obj_ref = ObjectRef {
                def,
                namespace: (!ns.is_empty()).then_some(ns.as_str()),
                name: meta::name(&item),
            };
            match self.delete(&obj_ref, opts).await {
                Ok(Deleted::Removed(v)) | Ok(Deleted::Pending(v)) => out.push(v),
                // Deleted meanwhile by someone else: fine.
                Err(e) if e.reason == Reason::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rkube_api::Scope;
    use serde_json::json;

    #[test]
    fn only_scheduled_running_pods_get_a_grace_period() {
        let pod = crate::testing::def("", "v1", "Pod", "pods", Scope::Namespaced);
        let cm = crate::testing::def("", "v1", "ConfigMap", "configmaps", Scope::Namespaced);
        let none = DeleteOptions::default();
        let now = DeleteOptions {
            grace_period_seconds: Some(0),
            ..DeleteOptions::default()
        };
        let cases = [
            (&pod, json!({"spec": {"nodeName": "n1"}}), &none, 30),
            (
                &pod,
                json!({"spec": {"nodeName": "n1", "terminationGracePeriodSeconds": 5}}),
                &none,
                5,
            ),
            (&pod, json!({"spec": {"nodeName": "n1"}}), &now, 0),
            (&pod, json!({"spec": {}}), &none, 0),
            (
                &pod,
                json!({"spec": {"nodeName": "n1"}, "status": {"phase": "Succeeded"}}),
                &none,
                0,
            ),
            (&cm, json!({"spec": {"nodeName": "n1"}}), &none, 0),
        ];
        for (def, obj, opts, want) in cases {
            assert_eq!(grace_period(def, &obj, opts), want, "{obj}");
        }
    }
}
