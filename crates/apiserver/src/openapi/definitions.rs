//! The schema definitions of every served kind, named like upstream
//! (`io.k8s.api.core.v1.Pod`), generated from k8s-openapi's `schemars`
//! implementations, then marked the way kubectl reads them:
//! `x-kubernetes-group-version-kind` on each kind and list, and the patch
//! merge keys of [`PatchMeta`] on list fields (upstream publishes them from
//! its Go struct tags; kubectl's client-side apply builds its strategic merge
//! patches from them).

use std::collections::{BTreeSet, HashMap};

use k8s_openapi::api::{
    admissionregistration, apps, autoscaling, batch, certificates, coordination, core, discovery,
    events, networking, node, policy, rbac, scheduling, storage,
};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions;
use k8s_openapi::apimachinery::pkg::apis::meta;
use k8s_openapi::schemars::generate::{SchemaGenerator, SchemaSettings};
use k8s_openapi::schemars::JsonSchema;
use k8s_openapi::Resource;
use rkube_api::patch::{ListStrategy, PatchMeta};
use rkube_api::{Catalog, ResourceDef};
use serde_json::{json, Map, Value};

/// Where definitions live in the v2 document; v3 documents rewrite refs to
/// `#/components/schemas/`.
pub(crate) const V2_REF_PREFIX: &str = "#/definitions/";

/// `x-kubernetes-group-version-kind`
pub(crate) const GVK_EXTENSION: &str = "x-kubernetes-group-version-kind";

/// A kind k8s-openapi has a schema for.
struct KnownKind {
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    name: String,
}

/// Registers `K`'s schema (and everything it references) with `generator`.
fn known<K: Resource + JsonSchema>(generator: &mut SchemaGenerator) -> KnownKind {
    generator.subschema_for::<K>();
    KnownKind {
        group: K::GROUP,
        version: K::VERSION,
        kind: K::KIND,
        name: K::schema_name().into_owned(),
    }
}

/// Every kind with a built-in schema, one row each. Kinds served without a
/// row here (custom resources) get an open object schema.
const KNOWN_KINDS: &[fn(&mut SchemaGenerator) -> KnownKind] = &[
    known::<core::v1::Binding>,
    known::<core::v1::ConfigMap>,
    known::<core::v1::Endpoints>,
    known::<core::v1::Event>,
    known::<core::v1::LimitRange>,
    known::<core::v1::Namespace>,
    known::<core::v1::Node>,
    known::<core::v1::PersistentVolume>,
    known::<core::v1::PersistentVolumeClaim>,
    known::<core::v1::Pod>,
    known::<core::v1::PodTemplate>,
    known::<core::v1::ReplicationController>,
    known::<core::v1::ResourceQuota>,
    known::<core::v1::Secret>,
    known::<core::v1::Service>,
    known::<core::v1::ServiceAccount>,
    known::<apps::v1::ControllerRevision>,
    known::<apps::v1::DaemonSet>,
    known::<apps::v1::Deployment>,
    known::<apps::v1::ReplicaSet>,
    known::<apps::v1::StatefulSet>,
    known::<autoscaling::v1::HorizontalPodAutoscaler>,
    known::<autoscaling::v1::Scale>,
    known::<autoscaling::v2::HorizontalPodAutoscaler>,
    known::<batch::v1::CronJob>,
    known::<batch::v1::Job>,
    known::<coordination::v1::Lease>,
    known::<discovery::v1::EndpointSlice>,
    known::<events::v1::Event>,
    known::<networking::v1::Ingress>,
    known::<networking::v1::IngressClass>,
    known::<networking::v1::IPAddress>,
    known::<networking::v1::NetworkPolicy>,
    known::<networking::v1::ServiceCIDR>,
    known::<policy::v1::Eviction>,
    known::<policy::v1::PodDisruptionBudget>,
    known::<rbac::v1::ClusterRole>,
    known::<rbac::v1::ClusterRoleBinding>,
    known::<rbac::v1::Role>,
    known::<rbac::v1::RoleBinding>,
    known::<scheduling::v1::PriorityClass>,
    known::<storage::v1::CSIDriver>,
    known::<storage::v1::CSINode>,
    known::<storage::v1::CSIStorageCapacity>,
    known::<storage::v1::StorageClass>,
    known::<storage::v1::VolumeAttachment>,
    known::<storage::v1::VolumeAttributesClass>,
    known::<node::v1::RuntimeClass>,
    known::<apiextensions::v1::CustomResourceDefinition>,
    known::<certificates::v1::CertificateSigningRequest>,
    known::<admissionregistration::v1::MutatingWebhookConfiguration>,
    known::<admissionregistration::v1::ValidatingWebhookConfiguration>,
    known::<admissionregistration::v1::ValidatingAdmissionPolicy>,
    known::<admissionregistration::v1::ValidatingAdmissionPolicyBinding>,
];

/// Names of the request and response types every group-version uses.
pub(crate) const STATUS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Status";
pub(crate) const DELETE_OPTIONS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions";
pub(crate) const PATCH: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch";
const LIST_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta";

/// All definitions (refs in v2 form) and the definition name of each
/// served kind.
#[derive(Debug, Clone, Default)]
pub(crate) struct Definitions {
    pub schemas: Map<String, Value>,
    names: HashMap<(String, String, String), String>,
}

impl Definitions {
    /// Builds the definitions of every kind in `catalog`.
    pub fn build(catalog: &Catalog) -> Self {
        let mut generator = SchemaSettings::draft07()
            .with(|s| {
                s.meta_schema = None;
                s.transforms.clear();
            })
            .into_generator();
        let known: Vec<KnownKind> = KNOWN_KINDS.iter().map(|k| k(&mut generator)).collect();
        generator.subschema_for::<meta::v1::Status>();
        generator.subschema_for::<meta::v1::DeleteOptions>();
        generator.subschema_for::<meta::v1::Patch>();
        generator.subschema_for::<meta::v1::ListMeta>();
        let mut definitions = Definitions {
            schemas: generator.take_definitions(false),
            names: HashMap::new(),
        };
        for def in catalog.iter() {
            let name = known
                .iter()
                .find(|k| k.group == def.group && k.version == def.version && k.kind == def.kind)
                .map(|k| k.name.clone())
                .unwrap_or_else(|| custom_name(def));
            definitions.add_kind(def, &name);
        }
        // Subresource kinds are served through other resources' paths.
        for k in known
            .iter()
            .filter(|k| ["Scale", "Binding", "Eviction"].contains(&k.kind))
        {
            definitions.mark_gvk(&k.name, k.group, k.version, k.kind);
            definitions.names.insert(
                (
                    k.group.to_string(),
                    k.version.to_string(),
                    k.kind.to_string(),
                ),
                k.name.clone(),
            );
        }
        definitions
    }

    /// The definition name of a kind, e.g. `io.k8s.api.apps.v1.Deployment`.
    pub fn name_of(&self, group: &str, version: &str, kind: &str) -> Option<&str> {
        self.names
            .get(&(group.to_string(), version.to_string(), kind.to_string()))
            .map(String::as_str)
    }

    fn add_kind(&mut self, def: &ResourceDef, name: &str) {
        self.schemas.entry(name.to_string()).or_insert_with(|| {
            json!({
                "description": format!("{} of {}, a resource whose schema the server does not publish.", def.kind, def.api_version()),
                "type": "object",
                "x-kubernetes-preserve-unknown-fields": true
            })
        });
        self.mark_gvk(name, &def.group, &def.version, &def.kind);
        let list_kind = format!("{}List", def.kind);
        let list_name = format!("{name}List");
        self.schemas
            .entry(list_name.clone())
            .or_insert_with(|| list_schema(&def.kind, name));
        self.mark_gvk(&list_name, &def.group, &def.version, &list_kind);
        self.names.insert(
            (def.group.clone(), def.version.clone(), def.kind.clone()),
            name.to_string(),
        );
        self.names.insert(
            (def.group.clone(), def.version.clone(), list_kind),
            list_name,
        );
        let patch_meta = PatchMeta::for_kind(&def.group, &def.kind);
        for (path, strategy) in patch_meta.lists() {
            self.mark_list(name, &path.split('.').collect::<Vec<_>>(), strategy);
        }
    }

    /// Adds `{group, kind, version}` to the definition's GVK extension.
    fn mark_gvk(&mut self, name: &str, group: &str, version: &str, kind: &str) {
        let Some(Value::Object(schema)) = self.schemas.get_mut(name) else {
            return;
        };
        let gvk = json!({"group": group, "kind": kind, "version": version});
        let entry = schema
            .entry(GVK_EXTENSION)
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(gvks) = entry {
            if !gvks.contains(&gvk) {
                gvks.push(gvk);
            }
        }
    }

    /// Publishes the list strategy of the list field at `path` (field names
    /// from the kind's root), following refs through the definitions.
    fn mark_list(&mut self, root: &str, path: &[&str], strategy: ListStrategy) {
        let mut owner = root.to_string();
        let Some((last, parents)) = path.split_last() else {
            return;
        };
        for field in parents {
            let Some(next) = self
                .schemas
                .get(&owner)
                .and_then(|s| s.pointer(&format!("/properties/{field}")))
                .and_then(referenced_name)
            else {
                return;
            };
            owner = next;
        }
        let Some(property) = self
            .schemas
            .get_mut(&owner)
            .and_then(|s| s.pointer_mut(&format!("/properties/{last}")))
            .and_then(Value::as_object_mut)
        else {
            return;
        };
        match strategy {
            ListStrategy::Atomic => {}
            ListStrategy::Set => {
                property.insert("x-kubernetes-list-type".into(), json!("set"));
                property.insert("x-kubernetes-patch-strategy".into(), json!("merge"));
            }
            ListStrategy::Map {
                merge_key,
                map_keys,
            } => {
                property.insert("x-kubernetes-list-map-keys".into(), json!(map_keys));
                property.insert("x-kubernetes-list-type".into(), json!("map"));
                property.insert("x-kubernetes-patch-merge-key".into(), json!(merge_key));
                property.insert("x-kubernetes-patch-strategy".into(), json!("merge"));
            }
        }
    }

    /// The names of `roots` and every definition they reference, directly
    /// or not.
    pub fn closure<'a>(&self, roots: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut pending: Vec<String> = roots.into_iter().map(str::to_string).collect();
        while let Some(name) = pending.pop() {
            if !seen.insert(name.clone()) {
                continue;
            }
            if let Some(schema) = self.schemas.get(&name) {
                collect_refs(schema, &mut pending);
            }
        }
        seen.retain(|name| self.schemas.contains_key(name));
        seen
    }
}

/// The definition a property points at: its `$ref`, or its items' or
/// `allOf`'s.
fn referenced_name(property: &Value) -> Option<String> {
    let reference = property
        .get("$ref")
        .or_else(|| property.pointer("/items/$ref"))
        .or_else(|| property.pointer("/allOf/0/$ref"))?;
    reference
        .as_str()?
        .strip_prefix(V2_REF_PREFIX)
        .map(str::to_string)
}

fn collect_refs(value: &Value, names: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                match (key.as_str(), child) {
                    ("$ref", Value::String(reference)) => {
                        if let Some(name) = reference.strip_prefix(V2_REF_PREFIX) {
                            names.push(name.to_string());
                        }
                    }
                    _ => collect_refs(child, names),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_refs(item, names)),
        _ => {}
    }
}

/// Upstream's name for kinds outside `k8s.io/api`: the group reversed, then
/// version and kind (`example.com`, `v1`, `Widget` → `com.example.v1.Widget`).
fn custom_name(def: &ResourceDef) -> String {
    let mut parts: Vec<&str> = def.group.split('.').filter(|p| !p.is_empty()).collect();
    parts.reverse();
    parts.push(&def.version);
    parts.push(&def.kind);
    parts.join(".")
}

/// The `<Kind>List` schema: upstream's list shape around `items`.
fn list_schema(kind: &str, item: &str) -> Value {
    json!({
        "description": format!("{kind}List is a list of {kind} objects."),
        "type": "object",
        "properties": {
            "apiVersion": {"description": "APIVersion defines the versioned schema of this representation of an object.", "type": "string"},
            "items": {"description": format!("The {kind} objects."), "type": "array", "items": {"$ref": format!("{V2_REF_PREFIX}{item}")}},
            "kind": {"description": "Kind is a string value representing the REST resource this object represents.", "type": "string"},
            "metadata": {"$ref": format!("{V2_REF_PREFIX}{LIST_META}"), "description": "Standard list metadata."}
        },
        "required": ["items"]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn definitions() -> Definitions {
        Definitions::build(&Catalog::builtin())
    }

    #[test]
    fn kinds_get_upstream_names_and_their_group_version_kind() {
        let definitions = definitions();
        let cases = [
            ("", "v1", "Pod", "io.k8s.api.core.v1.Pod"),
            ("", "v1", "PodList", "io.k8s.api.core.v1.PodList"),
            ("apps", "v1", "Deployment", "io.k8s.api.apps.v1.Deployment"),
            (
                "rbac.authorization.k8s.io",
                "v1",
                "Role",
                "io.k8s.api.rbac.v1.Role",
            ),
            (
                "apiextensions.k8s.io",
                "v1",
                "CustomResourceDefinition",
                "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition",
            ),
            (
                "autoscaling",
                "v1",
                "Scale",
                "io.k8s.api.autoscaling.v1.Scale",
            ),
        ];
        for (group, version, kind, name) in cases {
            assert_eq!(
                definitions.name_of(group, version, kind),
                Some(name),
                "{kind}"
            );
            let gvks = definitions
                .schemas
                .get(name)
                .and_then(|s| s.get(GVK_EXTENSION));
            assert_eq!(
                gvks,
                Some(&json!([{"group": group, "kind": kind, "version": version}])),
                "{name}"
            );
        }
    }

    #[test]
    fn list_fields_carry_their_patch_merge_keys() {
        let definitions = definitions();
        let cases = [
            ("io.k8s.api.core.v1.PodSpec", "containers", Some("name")),
            (
                "io.k8s.api.core.v1.Container",
                "ports",
                Some("containerPort"),
            ),
            ("io.k8s.api.core.v1.Container", "env", Some("name")),
            ("io.k8s.api.core.v1.ServiceSpec", "ports", Some("port")),
            ("io.k8s.api.core.v1.PodSpec", "tolerations", None),
        ];
        for (definition, field, key) in cases {
            let property = definitions
                .schemas
                .get(definition)
                .and_then(|s| s.pointer(&format!("/properties/{field}")));
            assert!(property.is_some(), "{definition}.{field} exists");
            let got = property
                .and_then(|p| p.get("x-kubernetes-patch-merge-key"))
                .and_then(Value::as_str);
            assert_eq!(got, key, "{definition}.{field}");
        }
        let finalizers = definitions
            .schemas
            .get("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")
            .and_then(|s| s.pointer("/properties/finalizers/x-kubernetes-list-type"));
        assert_eq!(finalizers, Some(&json!("set")));
    }

    #[test]
    fn closures_hold_every_referenced_definition() {
        let definitions = definitions();
        let closure = definitions.closure(["io.k8s.api.core.v1.Pod"]);
        for name in [
            "io.k8s.api.core.v1.Pod",
            "io.k8s.api.core.v1.PodSpec",
            "io.k8s.api.core.v1.Container",
            "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
            "io.k8s.apimachinery.pkg.api.resource.Quantity",
        ] {
            assert!(closure.contains(name), "{name}");
        }
        assert!(!closure.contains("io.k8s.api.apps.v1.Deployment"));
        let mut refs = Vec::new();
        for name in &closure {
            if let Some(schema) = definitions.schemas.get(name) {
                collect_refs(schema, &mut refs);
            }
        }
        assert!(
            refs.iter().all(|r| closure.contains(r)),
            "closed under references"
        );
    }

    #[test]
    fn custom_resources_get_reversed_group_names_and_open_schemas() {
        let mut catalog = Catalog::builtin();
        let mut widget = catalog
            .get("", "v1", "configmaps")
            .map(|d| (**d).clone())
            .unwrap_or_else(|| unreachable!());
        widget.group = "example.com".into();
        widget.kind = "Widget".into();
        widget.plural = "widgets".into();
        catalog.insert(widget);
        let definitions = Definitions::build(&catalog);
        assert_eq!(
            definitions.name_of("example.com", "v1", "Widget"),
            Some("com.example.v1.Widget")
        );
        let schema = definitions.schemas.get("com.example.v1.Widget");
        assert_eq!(
            schema.and_then(|s| s.get("x-kubernetes-preserve-unknown-fields")),
            Some(&json!(true))
        );
    }
}
