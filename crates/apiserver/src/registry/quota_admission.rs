//! Upstream's ResourceQuota admission plugin (`plugin/pkg/admission/resourcequota`): a
//! create in a namespace with quotas is checked against each quota that tracks it, refused
//! with 403 Forbidden when it would exceed one (or when a pod lacks a request or limit a
//! quota constrains), and otherwise charged: the quotas' `status.used` grows before the
//! object is stored, written with compare-and-swap on each quota's revision so that two
//! concurrent creates cannot both take the last unit. The quota controller later
//! recomputes `status.used` from what really exists (a charge whose create then failed is
//! corrected there, as upstream).

use std::time::SystemTime;

use k8s_openapi::jiff::Timestamp;
use rkube_api::quota::{self, Usage};
use rkube_api::{ResourceDef, Scope};
use rkube_store::{KeyRange, KeyValue, RangeRequest};
use serde_json::{Map, Value};

use super::{decode, encode, meta, DryRun, Registry};
use crate::status::{ApiError, ApiResult};

/// How often the check is redone when a quota changed under it.
const CHARGE_ATTEMPTS: usize = 16;

/// A quota to write back: its key, the revision read and the new object.
struct Charged {
    key: Vec<u8>,
    revision: i64,
    quota: Value,
}

fn quotas_def(registry: &Registry) -> Option<std::sync::Arc<ResourceDef>> {
    registry.catalog().get("", "v1", "resourcequotas").cloned()
}

fn now() -> Timestamp {
    Timestamp::try_from(SystemTime::now()).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// Sets `status.used[resource]` for every charged resource.
fn record(quota: &mut Value, next: &Usage) {
    let Value::Object(obj) = quota else {
        return;
    };
    let status = obj
        .entry("status")
        .or_insert_with(|| Value::Object(Map::new()));
    if !status.is_object() {
        *status = Value::Object(Map::new());
    }
    let Some(status) = status.as_object_mut() else {
        return;
    };
    let used = status
        .entry("used")
        .or_insert_with(|| Value::Object(Map::new()));
    if !used.is_object() {
        *used = Value::Object(Map::new());
    }
    if let Some(used) = used.as_object_mut() {
        for (resource, amount) in next {
            used.insert(resource.clone(), Value::String(amount.to_string()));
        }
    }
}

impl Registry {
    /// Checks and charges the quotas of `obj`'s namespace for its create (`obj` is the
    /// object about to be stored: defaulted and named). A dry run checks without charging.
    pub(crate) async fn admit_quota(
        &self,
        def: &ResourceDef,
        obj: &Value,
        dry_run: DryRun,
    ) -> ApiResult<()> {
        if def.scope != Scope::Namespaced {
            return Ok(());
        }
        let Some(quotas) = quotas_def(self) else {
            return Ok(());
        };
        let namespace = meta::namespace(obj);
        let prefix = Self::list_prefix(&quotas, Some(namespace));
        for _ in 0..CHARGE_ATTEMPTS {
            let kvs = self
                .store()
                .range(RangeRequest {
                    range: KeyRange::prefix(prefix.as_bytes()),
                    revision: None,
                    limit: None,
                })
                .await
                .map_err(|e| ApiError::internal(format!("could not read quotas: {e}")))?
                .kvs;
            let charged = self.check_quotas(def, obj, &kvs)?;
            if dry_run == DryRun::All || charged.is_empty() {
                return Ok(());
            }
            if self.write_charges(charged).await? {
                return Ok(());
            }
        }
        Err(ApiError::conflict(
            def,
            meta::name(obj),
            "the resource quotas of the namespace kept changing; please try again",
        ))
    }

    /// Every quota's verdict; the first refusal (in quota name order) refuses the create.
    fn check_quotas(
        &self,
        def: &ResourceDef,
        obj: &Value,
        kvs: &[KeyValue],
    ) -> ApiResult<Vec<Charged>> {
        let now = now();
        let mut charged = Vec::new();
        for kv in kvs {
            let mut quota = decode(kv)?;
            match quota::charge(&quota, &def.group, &def.plural, obj, now) {
                Ok(None) => {}
                Ok(Some(next)) => {
                    record(&mut quota, &next);
                    charged.push(Charged {
                        key: kv.key.clone(),
                        revision: kv.mod_revision,
                        quota,
                    });
                }
                Err(refusal) => {
                    return Err(ApiError::forbidden(
                        def,
                        meta::name(obj),
                        &refusal.to_string(),
                    ))
                }
            }
        }
        Ok(charged)
    }

    /// Writes the charged quotas; false if one changed since it was read (then the caller
    /// checks again against the new usage).
    async fn write_charges(&self, charged: Vec<Charged>) -> ApiResult<bool> {
        for Charged {
            key,
            revision,
            quota,
        } in charged
        {
            match self.store().update(&key, encode(&quota), revision).await {
                Ok(_) => {}
                Err(rkube_store::Error::Conflict { .. } | rkube_store::Error::NotFound) => {
                    return Ok(false)
                }
                Err(e) => return Err(ApiError::internal(format!("could not charge a quota: {e}"))),
            }
        }
        Ok(true)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn charging_records_used_amounts_whatever_the_status_held() {
        let next: Usage = [("pods".to_string(), "3".parse().unwrap())].into();
        let cases = [
            json!({}),
            json!({"status": null}),
            json!({"status": {"used": "junk"}}),
            json!({"status": {"used": {"pods": "2", "services": "1"}}}),
        ];
        for mut quota in cases {
            record(&mut quota, &next);
            assert_eq!(quota["status"]["used"]["pods"], "3", "{quota}");
        }
    }
}
