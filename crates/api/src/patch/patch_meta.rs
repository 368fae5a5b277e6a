//! How each list field of a kind merges: the patch merge keys of upstream's
//! Go struct tags (`patchStrategy:"merge" patchMergeKey:"name"`) and the
//! `+listType`/`+listMapKeys` markers server-side apply uses, as one small
//! table keyed by the field's path in the kind instead of code per kind.
//!
//! Upstream: `k8s.io/api/core/v1/types.go` (the tags) and
//! `apimachinery/pkg/util/strategicpatch/meta.go` (the lookup).

use std::collections::HashMap;

/// How a list field merges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListStrategy {
    /// The patch replaces the whole list (no patch strategy; `listType=atomic`).
    Atomic,
    /// A list of scalars merged as a set (`patchStrategy:"merge"` on a
    /// primitive list; `listType=set`), e.g. `metadata.finalizers`.
    Set,
    /// A list of objects merged item by item.
    Map {
        /// The strategic merge patch key, e.g. `containerPort`.
        merge_key: &'static str,
        /// The server-side apply keys (`listMapKeys`), e.g. `containerPort`
        /// and `protocol`.
        map_keys: &'static [&'static str],
    },
}

impl ListStrategy {
    const fn by(key: &'static str, map_keys: &'static [&'static str]) -> Self {
        ListStrategy::Map {
            merge_key: key,
            map_keys,
        }
    }
}

const BY_NAME: ListStrategy = ListStrategy::by("name", &["name"]);
const BY_TYPE: ListStrategy = ListStrategy::by("type", &["type"]);

/// Rules for the fields of a container, relative to the container.
const CONTAINER_RULES: &[(&str, ListStrategy)] = &[
    (
        "ports",
        ListStrategy::by("containerPort", &["containerPort", "protocol"]),
    ),
    ("env", BY_NAME),
    (
        "volumeMounts",
        ListStrategy::by("mountPath", &["mountPath"]),
    ),
    (
        "volumeDevices",
        ListStrategy::by("devicePath", &["devicePath"]),
    ),
];

/// Rules for the fields of a pod spec, relative to the pod spec.
const POD_SPEC_RULES: &[(&str, ListStrategy)] = &[
    ("volumes", BY_NAME),
    ("imagePullSecrets", BY_NAME),
    ("hostAliases", ListStrategy::by("ip", &["ip"])),
    (
        "topologySpreadConstraints",
        ListStrategy::by("topologyKey", &["topologyKey", "whenUnsatisfiable"]),
    ),
    ("resourceClaims", BY_NAME),
    ("schedulingGates", BY_NAME),
];

/// The container lists of a pod spec, each merged by name.
const CONTAINER_LISTS: &[&str] = &["containers", "initContainers", "ephemeralContainers"];

/// Rules every kind has.
const COMMON_RULES: &[(&str, ListStrategy)] = &[
    ("metadata.finalizers", ListStrategy::Set),
    (
        "metadata.ownerReferences",
        ListStrategy::by("uid", &["uid"]),
    ),
    ("status.conditions", BY_TYPE),
];

/// Rules of single kinds: (group, kind, path, strategy).
const KIND_RULES: &[(&str, &str, &str, ListStrategy)] = &[
    ("", "Pod", "status.podIPs", ListStrategy::by("ip", &["ip"])),
    ("", "Pod", "status.hostIPs", ListStrategy::by("ip", &["ip"])),
    (
        "",
        "Service",
        "spec.ports",
        ListStrategy::by("port", &["port", "protocol"]),
    ),
    ("", "Node", "spec.podCIDRs", ListStrategy::Set),
    ("", "Node", "status.addresses", BY_TYPE),
];

/// Where the pod spec sits in the kinds that embed one.
const POD_SPEC_ROOTS: &[(&str, &str, &str)] = &[
    ("", "Pod", "spec"),
    ("", "PodTemplate", "template.spec"),
    ("", "ReplicationController", "spec.template.spec"),
    ("apps", "Deployment", "spec.template.spec"),
    ("apps", "ReplicaSet", "spec.template.spec"),
    ("apps", "StatefulSet", "spec.template.spec"),
    ("apps", "DaemonSet", "spec.template.spec"),
    ("batch", "Job", "spec.template.spec"),
    ("batch", "CronJob", "spec.jobTemplate.spec.template.spec"),
];

/// The list strategies of one kind, keyed by the dotted path of field names
/// from the object's root (list items add no segment):
/// `spec.template.spec.containers.ports`.
#[derive(Debug, Clone, Default)]
pub struct PatchMeta {
    lists: HashMap<String, ListStrategy>,
}

impl PatchMeta {
    /// The rules of a built-in kind; kinds without special lists (and custom
    /// resources) get the rules every object has.
    pub fn for_kind(group: &str, kind: &str) -> Self {
        let mut lists: HashMap<String, ListStrategy> = COMMON_RULES
            .iter()
            .map(|(path, strategy)| (path.to_string(), *strategy))
            .collect();
        for (_, _, path, strategy) in KIND_RULES
            .iter()
            .filter(|(g, k, _, _)| *g == group && *k == kind)
        {
            lists.insert(path.to_string(), *strategy);
        }
        if let Some((_, _, root)) = POD_SPEC_ROOTS
            .iter()
            .find(|(g, k, _)| *g == group && *k == kind)
        {
            for (path, strategy) in POD_SPEC_RULES {
                lists.insert(format!("{root}.{path}"), *strategy);
            }
            for containers in CONTAINER_LISTS {
                lists.insert(format!("{root}.{containers}"), BY_NAME);
                for (path, strategy) in CONTAINER_RULES {
                    lists.insert(format!("{root}.{containers}.{path}"), *strategy);
                }
            }
        }
        PatchMeta { lists }
    }

    /// How the list at `path` (field names from the root) merges.
    pub fn list_strategy<S: AsRef<str>>(&self, path: &[S]) -> ListStrategy {
        let dotted = path.iter().map(AsRef::as_ref).collect::<Vec<_>>().join(".");
        self.lists
            .get(&dotted)
            .copied()
            .unwrap_or(ListStrategy::Atomic)
    }

    /// Every non-atomic list of the kind, as (dotted path, strategy), for
    /// publishing the merge keys in OpenAPI.
    pub fn lists(&self) -> impl Iterator<Item = (&str, ListStrategy)> {
        self.lists.iter().map(|(path, s)| (path.as_str(), *s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_fields_resolve_to_upstream_merge_keys() {
        let cases: &[(&str, &str, &str, ListStrategy)] = &[
            ("", "Pod", "spec.containers", BY_NAME),
            (
                "",
                "Pod",
                "spec.containers.ports",
                ListStrategy::by("containerPort", &["containerPort", "protocol"]),
            ),
            (
                "apps",
                "Deployment",
                "spec.template.spec.initContainers.env",
                BY_NAME,
            ),
            (
                "batch",
                "CronJob",
                "spec.jobTemplate.spec.template.spec.volumes",
                BY_NAME,
            ),
            (
                "",
                "Service",
                "spec.ports",
                ListStrategy::by("port", &["port", "protocol"]),
            ),
            ("", "Service", "spec.containers", ListStrategy::Atomic),
            ("", "Pod", "spec.tolerations", ListStrategy::Atomic),
            ("", "ConfigMap", "metadata.finalizers", ListStrategy::Set),
            ("example.com", "Widget", "status.conditions", BY_TYPE),
        ];
        for (group, kind, path, want) in cases {
            let meta = PatchMeta::for_kind(group, kind);
            let segments: Vec<&str> = path.split('.').collect();
            assert_eq!(meta.list_strategy(&segments), *want, "{kind} {path}");
        }
    }
}
