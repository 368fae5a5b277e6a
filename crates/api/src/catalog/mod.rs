//! The resource catalog: one row per resource, from which the apiserver
//! derives routes, discovery, OpenAPI, storage keys and table printing.
//!
//! A new built-in kind is one row (and at most one strategy file); custom
//! resources add rows at runtime.

mod builtin;

use std::sync::Arc;

use crate::strategy::Strategy;
use crate::table::Printer;

/// An API verb a resource supports, as listed in discovery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verb {
    /// `POST` to the collection.
    Create,
    /// `DELETE` one object.
    Delete,
    /// `DELETE` the collection.
    DeleteCollection,
    /// `GET` one object.
    Get,
    /// `GET` the collection.
    List,
    /// `PATCH` one object.
    Patch,
    /// `PUT` one object.
    Update,
    /// `GET ?watch=true`.
    Watch,
}

impl Verb {
    /// Every verb, in discovery's (alphabetical) order.
    pub const ALL: [Verb; 8] = [
        Verb::Create,
        Verb::Delete,
        Verb::DeleteCollection,
        Verb::Get,
        Verb::List,
        Verb::Patch,
        Verb::Update,
        Verb::Watch,
    ];

    /// Every verb except `deletecollection`: upstream's namespaces and
    /// services do not implement collection delete (kubernetes#20581).
    pub const WITHOUT_COLLECTION_DELETE: [Verb; 7] = [
        Verb::Create,
        Verb::Delete,
        Verb::Get,
        Verb::List,
        Verb::Patch,
        Verb::Update,
        Verb::Watch,
    ];

    /// The name in discovery documents, e.g. `deletecollection`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Create => "create",
            Verb::Delete => "delete",
            Verb::DeleteCollection => "deletecollection",
            Verb::Get => "get",
            Verb::List => "list",
            Verb::Patch => "patch",
            Verb::Update => "update",
            Verb::Watch => "watch",
        }
    }
}

/// Whether objects live in a namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// `/api/v1/namespaces/{ns}/pods/{name}`
    Namespaced,
    /// `/api/v1/nodes/{name}`
    Cluster,
}

/// A subresource a resource serves besides itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Subresource {
    /// `/status`: reads the object, writes only its status.
    Status,
    /// `/scale`: an `autoscaling/v1` Scale view of `spec.replicas`.
    Scale,
    /// `pods/binding`
    Binding,
    /// `pods/eviction`
    Eviction,
    /// `pods/log`
    Log,
    /// `pods/exec`
    Exec,
    /// `pods/attach`
    Attach,
    /// `pods/portforward`
    PortForward,
    /// `nodes/proxy`, `pods/proxy`, `services/proxy`
    Proxy,
    /// `serviceaccounts/token`
    Token,
    /// `namespaces/finalize`
    Finalize,
    /// `certificatesigningrequests/approval`
    Approval,
}

impl Subresource {
    /// The path segment, e.g. `status`.
    pub fn path(self) -> &'static str {
        match self {
            Subresource::Status => "status",
            Subresource::Scale => "scale",
            Subresource::Binding => "binding",
            Subresource::Eviction => "eviction",
            Subresource::Log => "log",
            Subresource::Exec => "exec",
            Subresource::Attach => "attach",
            Subresource::PortForward => "portforward",
            Subresource::Proxy => "proxy",
            Subresource::Token => "token",
            Subresource::Finalize => "finalize",
            Subresource::Approval => "approval",
        }
    }
}

/// One resource of one group-version.
#[derive(Clone)]
pub struct ResourceDef {
    /// API group, `""` for core.
    pub group: String,
    /// Version, e.g. `v1`.
    pub version: String,
    /// Kind, e.g. `Pod`.
    pub kind: String,
    /// Plural resource name used in URLs, e.g. `pods`.
    pub plural: String,
    /// Singular name, e.g. `pod`.
    pub singular: String,
    /// Namespaced or cluster-scoped.
    pub scope: Scope,
    /// Short names for kubectl, e.g. `po`.
    pub short_names: Vec<String>,
    /// Categories, e.g. `all`.
    pub categories: Vec<String>,
    /// Subresources served.
    pub subresources: Vec<Subresource>,
    /// Verbs served on the resource itself, in discovery order.
    pub verbs: Vec<Verb>,
    /// The per-kind behaviour.
    pub strategy: Arc<dyn Strategy>,
    /// How objects print as table rows.
    pub printer: Arc<dyn Printer>,
}

impl std::fmt::Debug for ResourceDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResourceDef")
            .field("group", &self.group)
            .field("version", &self.version)
            .field("kind", &self.kind)
            .field("plural", &self.plural)
            .finish_non_exhaustive()
    }
}

impl ResourceDef {
    /// `apiVersion` as written in objects: `v1` or `apps/v1`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The store key prefix of all objects of this resource, ending in `/`:
    /// `/registry/<group>/<plural>/` (core: `/registry/<plural>/`, like
    /// upstream's etcd layout).
    pub fn key_prefix(&self) -> String {
        if self.group.is_empty() {
            format!("/registry/{}/", self.plural)
        } else {
            format!("/registry/{}/{}/", self.group, self.plural)
        }
    }

    /// The store key of one object.
    pub fn key(&self, namespace: Option<&str>, name: &str) -> String {
        match namespace {
            Some(ns) => format!("{}{ns}/{name}", self.key_prefix()),
            None => format!("{}{name}", self.key_prefix()),
        }
    }

    /// Whether the resource serves `sub`.
    pub fn has(&self, sub: Subresource) -> bool {
        self.subresources.contains(&sub)
    }

    /// The verbs listed for this resource in discovery (`kubectl
    /// api-resources -o wide`).
    pub fn verbs(&self) -> &[Verb] {
        &self.verbs
    }

    /// Whether the resource serves `verb`.
    pub fn allows(&self, verb: Verb) -> bool {
        self.verbs.contains(&verb)
    }
}

/// Every resource the apiserver serves. Built-ins come from [`Catalog::builtin`];
/// custom resources are added at runtime with [`Catalog::insert`].
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    resources: Vec<Arc<ResourceDef>>,
}

impl Catalog {
    /// Every built-in resource of the pinned Kubernetes version (v1.34),
    /// with its upstream short names, categories, subresources, verbs,
    /// strategy and printer.
    pub fn builtin() -> Catalog {
        let mut catalog = Catalog::default();
        for def in builtin::rows() {
            catalog.insert(def);
        }
        catalog
    }

    /// Adds (or replaces) a resource, keyed by group, version and plural.
    pub fn insert(&mut self, def: ResourceDef) {
        self.resources.retain(|r| {
            !(r.group == def.group && r.version == def.version && r.plural == def.plural)
        });
        self.resources.push(Arc::new(def));
    }

    /// The resource served at `/apis/<group>/<version>/<plural>`.
    pub fn get(&self, group: &str, version: &str, plural: &str) -> Option<&Arc<ResourceDef>> {
        self.resources
            .iter()
            .find(|r| r.group == group && r.version == version && r.plural == plural)
    }

    /// The resource of a kind in a group-version.
    pub fn by_kind(&self, group: &str, version: &str, kind: &str) -> Option<&Arc<ResourceDef>> {
        self.resources
            .iter()
            .find(|r| r.group == group && r.version == version && r.kind == kind)
    }

    /// Every resource, in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<ResourceDef>> {
        self.resources.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_api_versions_follow_upstreams_layout() {
        let catalog = Catalog::builtin();
        let cases = [
            (
                "",
                "pods",
                Some("default"),
                "web",
                "v1",
                "/registry/pods/default/web",
            ),
            ("", "nodes", None, "n1", "v1", "/registry/nodes/n1"),
            (
                "apps",
                "deployments",
                Some("kube-system"),
                "dns",
                "apps/v1",
                "/registry/apps/deployments/kube-system/dns",
            ),
        ];
        for (group, plural, ns, name, api_version, key) in cases {
            let def = catalog.get(group, "v1", plural);
            assert_eq!(def.map(|d| d.key(ns, name)).as_deref(), Some(key));
            assert_eq!(def.map(|d| d.api_version()).as_deref(), Some(api_version));
        }
    }

    #[test]
    fn insert_replaces_a_row_and_lookups_find_it() {
        let mut catalog = Catalog::builtin();
        let before = catalog.iter().count();
        let mut widget = catalog.get("", "v1", "configmaps").map(|d| (**d).clone());
        if let Some(w) = widget.as_mut() {
            w.group = "example.com".into();
            w.kind = "Widget".into();
            w.plural = "widgets".into();
        }
        for _ in 0..2 {
            if let Some(w) = widget.clone() {
                catalog.insert(w);
            }
        }
        assert_eq!(catalog.iter().count(), before + 1);
        assert!(catalog.by_kind("example.com", "v1", "Widget").is_some());
        assert!(catalog
            .get("example.com", "v1", "widgets")
            .is_some_and(|w| w.allows(Verb::DeleteCollection)));
        assert_eq!(Verb::ALL.map(Verb::as_str)[2], "deletecollection");
    }
}
