//! Upstream's DefaultTolerationSeconds admission plugin
//! (`plugin/pkg/admission/defaulttolerationseconds`): a new pod that does
//! not already tolerate the node-lifecycle NoExecute taints gets 300 s
//! tolerations for `node.kubernetes.io/not-ready` and
//! `node.kubernetes.io/unreachable`, so it is evicted five minutes after
//! its node fails instead of at once.

use rkube_api::ResourceDef;
use serde_json::{json, Value};

/// Upstream's `--default-not-ready-toleration-seconds` and
/// `--default-unreachable-toleration-seconds`.
pub const DEFAULT_TOLERATION_SECONDS: i64 = 300;

const TAINT_KEYS: [&str; 2] = [
    "node.kubernetes.io/not-ready",
    "node.kubernetes.io/unreachable",
];

fn is_pods(def: &ResourceDef) -> bool {
    def.group.is_empty() && def.plural == "pods"
}

/// Whether an existing toleration already covers the NoExecute taint `key`
/// (the same key or any key, NoExecute or any effect).
fn covers(toleration: &Value, key: &str) -> bool {
    let field = |name: &str| toleration.get(name).and_then(Value::as_str).unwrap_or("");
    let key_ok = field("key").is_empty() || field("key") == key;
    let effect_ok = field("effect").is_empty() || field("effect") == "NoExecute";
    key_ok && effect_ok
}

/// Adds the missing default tolerations to a pod being created.
pub fn admit(def: &ResourceDef, obj: &mut Value) {
    if !is_pods(def) {
        return;
    }
    let Some(Value::Object(spec)) = obj.get_mut("spec") else {
        return;
    };
    let tolerations = spec
        .entry("tolerations")
        .or_insert_with(|| Value::Array(Vec::new()));
    if tolerations.is_null() {
        *tolerations = Value::Array(Vec::new());
    }
    let Value::Array(list) = tolerations else {
        return;
    };
    for key in TAINT_KEYS {
        if !list.iter().any(|t| covers(t, key)) {
            list.push(json!({
                "key": key,
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": DEFAULT_TOLERATION_SECONDS,
            }));
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;
    use rkube_api::Catalog;

    fn keys(pod: &Value) -> Vec<String> {
        pod.pointer("/spec/tolerations")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|t| {
                format!(
                    "{}:{}",
                    t["key"].as_str().unwrap_or("*"),
                    t["tolerationSeconds"]
                )
            })
            .collect()
    }

    #[test]
    fn pods_get_the_default_tolerations_they_lack() {
        let catalog = Catalog::builtin();
        let pods = catalog.get("", "v1", "pods").unwrap();
        let cases = [
            (
                "a pod without tolerations",
                json!({"spec": {"containers": []}}),
                vec![
                    "node.kubernetes.io/not-ready:300",
                    "node.kubernetes.io/unreachable:300",
                ],
            ),
            (
                "a pod with null tolerations",
                json!({"spec": {"tolerations": null}}),
                vec![
                    "node.kubernetes.io/not-ready:300",
                    "node.kubernetes.io/unreachable:300",
                ],
            ),
            (
                "a pod with its own unreachable toleration",
                json!({"spec": {"tolerations": [{"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 5}]}}),
                vec![
                    "node.kubernetes.io/unreachable:5",
                    "node.kubernetes.io/not-ready:300",
                ],
            ),
            (
                "a pod tolerating everything",
                json!({"spec": {"tolerations": [{"operator": "Exists"}]}}),
                vec!["*:null"],
            ),
            (
                "a pod tolerating only NoSchedule",
                json!({"spec": {"tolerations": [{"operator": "Exists", "effect": "NoSchedule"}]}}),
                vec![
                    "*:null",
                    "node.kubernetes.io/not-ready:300",
                    "node.kubernetes.io/unreachable:300",
                ],
            ),
        ];
        for (name, mut pod, want) in cases {
            admit(pods, &mut pod);
            assert_eq!(keys(&pod), want, "{name}");
        }
    }

    #[test]
    fn other_kinds_are_untouched() {
        let catalog = Catalog::builtin();
        let config_maps = catalog.get("", "v1", "configmaps").unwrap();
        let mut obj = json!({"spec": {}});
        admit(config_maps, &mut obj);
        assert_eq!(obj, json!({"spec": {}}));
    }
}
