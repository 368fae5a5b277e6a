//! Pods (pkg/registry/core/pod/strategy.go): new pods start `Pending` with
//! their QoS class; the spec is fixed once created except for images,
//! `activeDeadlineSeconds` and added tolerations.

use serde_json::{json, Map, Value};

use super::pod_spec::{default_pod_spec, validate_pod_spec};
use crate::catalog::Scope;
use crate::field_error::FieldErrors;
use crate::json_path::{
    array_at, bool_at, existing_mut, get, i64_at, items_mut, object_mut, str_at,
};
use crate::strategy::Strategy;
use crate::validation::{validate_object_meta, validate_object_meta_update, NameRule};

/// The strategy of `pods`.
#[derive(Debug, Clone, Copy, Default)]
pub struct PodStrategy;

/// The fields a pod update may change, in upstream's words.
const UPDATABLE_FIELDS: &str = "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

/// The resources QoS classes look at.
const QOS_RESOURCES: [&str; 2] = ["cpu", "memory"];

/// Containers that declare limits but no requests get requests equal to
/// their limits (`SetDefaults_Pod`).
fn default_requests_from_limits(spec: &mut Map<String, Value>) {
    for key in ["containers", "initContainers"] {
        for c in items_mut(spec, key) {
            let Some(limits) = c
                .get("resources")
                .and_then(|r| r.get("limits"))
                .and_then(Value::as_object)
                .cloned()
            else {
                continue;
            };
            let Some(resources) = c.get_mut("resources").and_then(Value::as_object_mut) else {
                continue;
            };
            let requests = resources
                .entry("requests")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Some(requests) = requests.as_object_mut() {
                for (k, v) in limits {
                    requests.entry(k).or_insert(v);
                }
            }
        }
    }
}

/// `BestEffort`, `Burstable` or `Guaranteed` (`qos.GetPodQOS`, with
/// quantities compared as written). A missing request counts as its limit,
/// as defaulting makes it, so the class is right before or after defaults.
fn qos_class(spec: &Value) -> &'static str {
    let containers: Vec<&Value> = ["initContainers", "containers"]
        .iter()
        .flat_map(|k| array_at(spec, &[k]))
        .collect();
    let amount = |c: &Value, kind: &str, r: &str| {
        get(c, &["resources", kind, r])
            .filter(|v| !v.is_null())
            .map(ToString::to_string)
    };
    let any_set = containers.iter().any(|c| {
        QOS_RESOURCES
            .iter()
            .any(|r| amount(c, "requests", r).is_some() || amount(c, "limits", r).is_some())
    });
    if !any_set {
        return "BestEffort";
    }
    let guaranteed = containers.iter().all(|c| {
        QOS_RESOURCES.iter().all(|r| {
            let limit = amount(c, "limits", r);
            let request = amount(c, "requests", r).or_else(|| limit.clone());
            limit.is_some() && limit == request
        })
    });
    if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

/// The spec with every change a pod update may make undone, so what is
/// left differing from `old` is forbidden (`ValidatePodUpdate`'s munging).
fn without_allowed_changes(new: &Value, old: &Value, errs: &mut FieldErrors) -> Value {
    let mut munged = new.clone();
    for key in ["containers", "initContainers"] {
        let old_images: Vec<Option<Value>> = array_at(old, &[key])
            .iter()
            .map(|c| c.get("image").cloned())
            .collect();
        if let Some(map) = munged.as_object_mut() {
            for (i, c) in items_mut(map, key).enumerate() {
                match old_images.get(i).cloned().flatten() {
                    Some(image) => {
                        c.insert("image".into(), image);
                    }
                    None => {
                        c.remove("image");
                    }
                }
            }
        }
    }
    let (new_ads, old_ads) = (
        i64_at(new, &["activeDeadlineSeconds"]),
        i64_at(old, &["activeDeadlineSeconds"]),
    );
    match (new_ads, old_ads) {
        (Some(n), Some(o)) if n > o => errs.invalid_number(
            "spec.activeDeadlineSeconds",
            n,
            "must be less than or equal to previous value",
        ),
        (None, Some(_)) => errs.push(
            crate::field_error::ErrorType::Invalid,
            "spec.activeDeadlineSeconds",
            Some("null".to_owned()),
            "must not update from a positive integer to nil value",
        ),
        _ => {}
    }
    let old_tolerations = array_at(old, &["tolerations"]);
    let new_tolerations = array_at(new, &["tolerations"]);
    let only_additions = old_tolerations.iter().all(|t| new_tolerations.contains(t));
    let grace_reset = i64_at(old, &["terminationGracePeriodSeconds"]).is_some_and(|g| g < 0)
        && i64_at(new, &["terminationGracePeriodSeconds"]) == Some(1);
    if let Some(map) = munged.as_object_mut() {
        let mut carry = |key: &str| match old.get(key) {
            Some(v) => {
                map.insert(key.to_owned(), v.clone());
            }
            None => {
                map.remove(key);
            }
        };
        carry("activeDeadlineSeconds");
        if only_additions {
            carry("tolerations");
        }
        if grace_reset {
            carry("terminationGracePeriodSeconds");
        }
    }
    munged
}

/// The top-level spec fields that differ, for the message's diff part.
fn changed_fields(a: &Value, b: &Value) -> Vec<String> {
    let empty = Map::new();
    let (a, b) = (
        a.as_object().unwrap_or(&empty),
        b.as_object().unwrap_or(&empty),
    );
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| format!("spec.{k}"))
        .collect()
}

impl Strategy for PodStrategy {
    fn prepare_for_create(&self, obj: &mut Value) {
        let qos = qos_class(get(obj, &["spec"]).unwrap_or(&Value::Null));
        if let Some(map) = obj.as_object_mut() {
            map.insert(
                "status".into(),
                json!({"phase": "Pending", "qosClass": qos}),
            );
        }
    }

    fn default(&self, obj: &mut Value) {
        if let Some(spec) = existing_mut(obj, &["spec"]) {
            default_pod_spec(spec);
            default_requests_from_limits(spec);
        }
        let qos = qos_class(get(obj, &["spec"]).unwrap_or(&Value::Null));
        if obj.get("status").is_some_and(Value::is_object) {
            if let Some(status) = object_mut(obj, &["status"]) {
                crate::json_path::default(status, "qosClass", json!(qos));
            }
        }
    }

    fn validate_create(&self, obj: &Value) -> FieldErrors {
        let mut errs = validate_object_meta(obj, Scope::Namespaced, NameRule::Subdomain);
        errs.extend(validate_pod_spec(
            get(obj, &["spec"]).unwrap_or(&Value::Null),
            "spec",
        ));
        errs
    }

    fn validate_update(&self, new: &Value, old: &Value) -> FieldErrors {
        let mut errs =
            validate_object_meta_update(new, old, Scope::Namespaced, NameRule::Subdomain);
        let null = Value::Null;
        let (new_spec, old_spec) = (
            get(new, &["spec"]).unwrap_or(&null),
            get(old, &["spec"]).unwrap_or(&null),
        );
        errs.extend(validate_pod_spec(new_spec, "spec"));
        let munged = without_allowed_changes(new_spec, old_spec, &mut errs);
        if &munged != old_spec {
            errs.forbidden(
                "spec",
                format!(
                    "{UPDATABLE_FIELDS}\n{}",
                    changed_fields(&munged, old_spec).join("\n")
                ),
            );
        }
        errs
    }

    /// Upstream's `PodToSelectableFields`.
    fn field_labels(&self, obj: &Value) -> Vec<(&'static str, String)> {
        let s = |path: &[&str]| str_at(obj, path).to_owned();
        vec![
            ("spec.nodeName", s(&["spec", "nodeName"])),
            ("spec.restartPolicy", s(&["spec", "restartPolicy"])),
            ("spec.schedulerName", s(&["spec", "schedulerName"])),
            (
                "spec.serviceAccountName",
                s(&["spec", "serviceAccountName"]),
            ),
            (
                "spec.hostNetwork",
                bool_at(obj, &["spec", "hostNetwork"]).to_string(),
            ),
            ("status.phase", s(&["status", "phase"])),
            ("status.podIP", s(&["status", "podIP"])),
            (
                "status.nominatedNodeName",
                s(&["status", "nominatedNodeName"]),
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(spec: Value) -> Value {
        json!({"metadata": {"name": "web", "namespace": "default"}, "spec": spec})
    }

    fn created(spec: Value) -> Value {
        let mut obj = pod(spec);
        PodStrategy.prepare_for_create(&mut obj);
        PodStrategy.default(&mut obj);
        obj
    }

    #[test]
    fn the_hook_order_does_not_matter() {
        let spec = json!({"containers": [{"name": "c", "image": "x", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]});
        let mut defaults_first = pod(spec.clone());
        PodStrategy.default(&mut defaults_first);
        PodStrategy.prepare_for_create(&mut defaults_first);
        assert_eq!(defaults_first, created(spec));
    }

    #[test]
    fn new_pods_are_pending_with_a_qos_class() {
        let cases = [
            (
                json!({"containers": [{"name": "c", "image": "x"}]}),
                "BestEffort",
            ),
            (
                json!({"containers": [{"name": "c", "image": "x", "resources": {"requests": {"cpu": "100m"}}}]}),
                "Burstable",
            ),
            (
                json!({"containers": [{"name": "c", "image": "x", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]}),
                "Guaranteed",
            ),
        ];
        for (spec, want) in cases {
            let obj = created(spec);
            assert_eq!(obj["status"], json!({"phase": "Pending", "qosClass": want}));
        }
        let obj = created(
            json!({"containers": [{"name": "c", "image": "x", "resources": {"limits": {"cpu": "1"}}}]}),
        );
        assert_eq!(
            obj["spec"]["containers"][0]["resources"]["requests"],
            json!({"cpu": "1"})
        );
    }

    #[test]
    fn update_cases() {
        let base = json!({"containers": [{"name": "c", "image": "x:1"}], "tolerations": [{"key": "a", "operator": "Exists"}], "activeDeadlineSeconds": 100});
        let cases = [
            (
                "an image change is allowed",
                json!({"containers": [{"name": "c", "image": "x:2"}], "tolerations": [{"key": "a", "operator": "Exists"}], "activeDeadlineSeconds": 100}),
                0,
            ),
            (
                "adding a toleration is allowed",
                json!({"containers": [{"name": "c", "image": "x:1"}], "tolerations": [{"key": "a", "operator": "Exists"}, {"key": "b", "operator": "Exists"}], "activeDeadlineSeconds": 100}),
                0,
            ),
            (
                "lowering the deadline is allowed",
                json!({"containers": [{"name": "c", "image": "x:1"}], "tolerations": [{"key": "a", "operator": "Exists"}], "activeDeadlineSeconds": 50}),
                0,
            ),
            (
                "raising the deadline is not",
                json!({"containers": [{"name": "c", "image": "x:1"}], "tolerations": [{"key": "a", "operator": "Exists"}], "activeDeadlineSeconds": 200}),
                1,
            ),
            (
                "removing a toleration is not",
                json!({"containers": [{"name": "c", "image": "x:1"}], "activeDeadlineSeconds": 100}),
                1,
            ),
            (
                "setting the node name is not",
                json!({"containers": [{"name": "c", "image": "x:1"}], "tolerations": [{"key": "a", "operator": "Exists"}], "activeDeadlineSeconds": 100, "nodeName": "n1"}),
                1,
            ),
        ];
        let old = created(base);
        for (name, spec, want) in cases {
            let mut new = pod(spec);
            PodStrategy.default(&mut new);
            let errs = PodStrategy.validate_update(&new, &old);
            assert_eq!(errs.0.len(), want, "{name}: {errs:?}");
        }
        let mut moved = pod(
            json!({"containers": [{"name": "c", "image": "x:1"}], "tolerations": [{"key": "a", "operator": "Exists"}], "activeDeadlineSeconds": 100, "nodeName": "n1"}),
        );
        PodStrategy.default(&mut moved);
        let errs = PodStrategy.validate_update(&moved, &old);
        assert!(errs.0.first().is_some_and(|e| e.to_string().starts_with("spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`")));
        assert!(errs
            .0
            .first()
            .is_some_and(|e| e.detail.ends_with("spec.nodeName")));
    }

    #[test]
    fn creation_validation_reports_meta_and_spec() {
        let obj = json!({"metadata": {"name": "Web", "namespace": "default"}, "spec": {}});
        let fields: Vec<String> = PodStrategy
            .validate_create(&obj)
            .0
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(
            fields,
            [
                "metadata.name",
                "spec.containers",
                "spec.restartPolicy",
                "spec.dnsPolicy"
            ]
        );
    }

    #[test]
    fn field_labels_cover_upstreams_pod_fields() {
        let obj = json!({"spec": {"nodeName": "n1", "hostNetwork": true}, "status": {"phase": "Running", "podIP": "10.42.0.5"}});
        let fields = PodStrategy.field_labels(&obj);
        let get = |k: &str| {
            fields
                .iter()
                .find(|(f, _)| *f == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("spec.nodeName"), Some("n1"));
        assert_eq!(get("spec.hostNetwork"), Some("true"));
        assert_eq!(get("status.phase"), Some("Running"));
        assert_eq!(get("status.podIP"), Some("10.42.0.5"));
        assert_eq!(get("status.nominatedNodeName"), Some(""));
    }
}
