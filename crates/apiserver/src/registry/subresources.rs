//! The subresources that are views of, or narrow writes to, their object:
//! `scale` (an `autoscaling/v1` Scale of `spec.replicas`), `pods/binding`
//! (the scheduler's write of `spec.nodeName`) and `pods/eviction`.

use rkube_api::WriteScope;
use serde_json::{json, Value};

use super::{
    decode, encode, meta, store_error, DeleteOptions, Deleted, DryRun, ObjectRef, Registry,
    WriteOptions,
};
use crate::status::{ApiError, ApiResult};

const BIND_ATTEMPTS: usize = 16;

/// The Scale view of an object (upstream's `scaleFromDeployment` & co.).
pub fn scale_of(obj: &Value) -> Value {
    let m = |f: &str| {
        obj.get("metadata")
            .and_then(|m| m.get(f))
            .cloned()
            .unwrap_or(Value::Null)
    };
    let mut metadata = serde_json::Map::new();
    for field in [
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "creationTimestamp",
    ] {
        let v = m(field);
        if !v.is_null() {
            metadata.insert(field.to_string(), v);
        }
    }
    let replicas = obj
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let status_replicas = obj
        .pointer("/status/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let mut status = json!({ "replicas": status_replicas });
    if let Some(selector) = obj.pointer("/spec/selector").map(selector_string) {
        status["selector"] = Value::String(selector);
    }
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": metadata,
        "spec": { "replicas": replicas },
        "status": status,
    })
}

/// A LabelSelector (or a plain map, as ReplicationControllers have) in the
/// string syntax, requirements sorted by key as upstream prints them.
fn selector_string(selector: &Value) -> String {
    let mut parts: Vec<(String, String)> = Vec::new();
    let labels = selector
        .get("matchLabels")
        .or(Some(selector).filter(|s| s.get("matchExpressions").is_none()));
    if let Some(Value::Object(map)) = labels {
        for (k, v) in map {
            if let Some(v) = v.as_str() {
                parts.push((k.clone(), format!("{k}={v}")));
            }
        }
    }
    if let Some(Value::Array(exprs)) = selector.get("matchExpressions") {
        for e in exprs {
            let key = e.get("key").and_then(Value::as_str).unwrap_or("");
            let mut values: Vec<&str> = e
                .get("values")
                .and_then(Value::as_array)
                .map(|v| v.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            values.sort_unstable();
            let text = match e.get("operator").and_then(Value::as_str).unwrap_or("") {
                "In" => format!("{key} in ({})", values.join(",")),
                "NotIn" => format!("{key} notin ({})", values.join(",")),
                "Exists" => key.to_string(),
                "DoesNotExist" => format!("!{key}"),
                _ => continue,
            };
            parts.push((key.to_string(), text));
        }
    }
    parts.sort();
    parts
        .into_iter()
        .map(|(_, t)| t)
        .collect::<Vec<_>>()
        .join(",")
}

impl Registry {
    /// GET `…/scale`.
    pub async fn get_scale(&self, obj_ref: &ObjectRef<'_>) -> ApiResult<Value> {
        Ok(scale_of(&self.get(obj_ref).await?))
    }

    /// PUT `…/scale`: sets `spec.replicas`; the Scale's resourceVersion,
    /// when given, must be current.
    pub async fn update_scale(
        &self,
        obj_ref: &ObjectRef<'_>,
        scale: &Value,
        opts: &WriteOptions,
    ) -> ApiResult<Value> {
        let Some(replicas) = scale.pointer("/spec/replicas").and_then(Value::as_i64) else {
            return Err(ApiError::invalid(obj_ref.def, obj_ref.name, &{
                let mut e = rkube_api::FieldErrors::default();
                e.push(rkube_api::ErrorType::Required, "spec.replicas", None, "");
                e
            }));
        };
        if replicas < 0 {
            let mut e = rkube_api::FieldErrors::default();
            e.push(
                rkube_api::ErrorType::Invalid,
                "spec.replicas",
                Some(replicas.to_string()),
                "must be greater than or equal to 0",
            );
            return Err(ApiError::invalid(obj_ref.def, obj_ref.name, &e));
        }
        let pinned = meta::meta_str(scale, "resourceVersion").to_string();
        let updated = self
            .guaranteed_update(obj_ref, WriteScope::Main, opts, |current| {
                if !pinned.is_empty() && pinned != meta::meta_str(current, "resourceVersion") {
                    return Err(ApiError::conflict(
                        obj_ref.def,
                        obj_ref.name,
                        ApiError::MODIFIED,
                    ));
                }
                let mut new = current.clone();
                if let Some(spec) = new.get_mut("spec").and_then(Value::as_object_mut) {
                    spec.insert("replicas".into(), Value::from(replicas));
                } else if let Value::Object(map) = &mut new {
                    map.insert("spec".into(), json!({ "replicas": replicas }));
                }
                Ok(new)
            })
            .await?;
        Ok(scale_of(&updated))
    }

    /// POST `pods/<name>/binding`: assigns the pod to a node, once
    /// (upstream `BindingREST.setPodHostAndAnnotations`). The write bypasses
    /// the pod strategy, for which `spec` is immutable.
    pub async fn bind(
        &self,
        obj_ref: &ObjectRef<'_>,
        binding: &Value,
        opts: &WriteOptions,
    ) -> ApiResult<()> {
        let node = binding
            .pointer("/target/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        if node.is_empty() {
            let mut e = rkube_api::FieldErrors::default();
            e.push(rkube_api::ErrorType::Required, "target.name", None, "");
            return Err(ApiError::invalid(obj_ref.def, obj_ref.name, &e));
        }
        let conflict = |why: String| {
            ApiError::new(
                crate::status::Reason::Conflict,
                format!(
                    "Operation cannot be fulfilled on pods/binding \"{}\": {why}",
                    obj_ref.name
                ),
            )
            .with_details(crate::status::Details {
                name: obj_ref.name.to_string(),
                kind: "pods/binding".into(),
                ..Default::default()
            })
        };
        for _ in 0..BIND_ATTEMPTS {
            let (kv, pod) = self.get_kv(obj_ref).await?;
            if meta::is_deleting(&pod) {
                return Err(conflict(format!(
                    "pod {} is being deleted, cannot be assigned to a host",
                    obj_ref.name
                )));
            }
            let current = pod
                .pointer("/spec/nodeName")
                .and_then(Value::as_str)
                .unwrap_or("");
            if !current.is_empty() {
                return Err(conflict(format!(
                    "pod {} is already assigned to node {current:?}",
                    obj_ref.name
                )));
            }
            let mut new = pod.clone();
            if let Some(spec) = new.get_mut("spec").and_then(Value::as_object_mut) {
                spec.insert("nodeName".into(), Value::String(node.to_string()));
            }
            set_scheduled_condition(&mut new);
            if let Some(Value::Object(annotations)) = binding.pointer("/metadata/annotations") {
                let m = meta::meta_mut(&mut new);
                let target = m.entry("annotations").or_insert_with(|| json!({}));
                if let Value::Object(target) = target {
                    for (k, v) in annotations {
                        target.insert(k.clone(), v.clone());
                    }
                }
            }
            if opts.dry_run == DryRun::All {
                return Ok(());
            }
            match self
                .store
                .update(kv.key.as_slice(), encode(&new), kv.mod_revision)
                .await
            {
                Ok(written) => {
                    decode(&written)?;
                    return Ok(());
                }
                Err(rkube_store::Error::Conflict { .. }) => continue,
                Err(e) => return Err(store_error(obj_ref, e)),
            }
        }
        Err(ApiError::conflict(
            obj_ref.def,
            obj_ref.name,
            ApiError::MODIFIED,
        ))
    }

    /// POST `pods/<name>/eviction`: deletes the pod with the eviction's
    /// DeleteOptions. (PodDisruptionBudgets are not consulted yet.)
    pub async fn evict(&self, obj_ref: &ObjectRef<'_>, eviction: &Value) -> ApiResult<Deleted> {
        let opts = DeleteOptions::from_request(&Vec::new(), eviction.get("deleteOptions"))?;
        self.delete(obj_ref, &opts).await
    }
}

/// Sets the pod's `PodScheduled` condition to True, as the binding does.
fn set_scheduled_condition(pod: &mut Value) {
    let Value::Object(map) = pod else { return };
    let status = map.entry("status").or_insert_with(|| json!({}));
    let Value::Object(status) = status else {
        return;
    };
    let conditions = status.entry("conditions").or_insert_with(|| json!([]));
    let Value::Array(conditions) = conditions else {
        return;
    };
    conditions.retain(|c| c.get("type").and_then(Value::as_str) != Some("PodScheduled"));
    conditions.push(json!({
        "type": "PodScheduled",
        "status": "True",
        "lastProbeTime": null,
        "lastTransitionTime": meta::now(),
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scale_shows_replicas_and_the_selector_string() {
        let deployment = json!({
            "metadata": {"name": "web", "namespace": "d", "resourceVersion": "7"},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web", "a": "b"},
                "matchExpressions": [{"key": "tier", "operator": "In", "values": ["y", "x"]}]}},
            "status": {"replicas": 2}
        });
        let scale = scale_of(&deployment);
        assert_eq!(scale["spec"]["replicas"], 3);
        assert_eq!(scale["status"]["replicas"], 2);
        assert_eq!(scale["status"]["selector"], "a=b,app=web,tier in (x,y)");
        assert_eq!(scale["metadata"]["resourceVersion"], "7");
    }
}
