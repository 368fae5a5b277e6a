//! API discovery, built once from the catalog: `/api`, `/apis`,
//! `/apis/<group>`, `/api/v1`, `/apis/<group>/<version>` and the aggregated
//! documents (`apidiscovery.k8s.io/v2` and `v2beta1`) kubectl asks for first.

use std::net::SocketAddr;

use rkube_api::{Catalog, ResourceDef, Scope, Subresource};
use serde_json::{json, Value};

/// The verbs and the kind a subresource answers with, as upstream lists them.
fn subresource_info(
    def: &ResourceDef,
    sub: Subresource,
) -> (Vec<&'static str>, String, String, String) {
    let same = (def.group.clone(), def.version.clone(), def.kind.clone());
    let (verbs, (group, version, kind)): (Vec<&'static str>, (String, String, String)) = match sub {
        Subresource::Status => (vec!["get", "patch", "update"], same),
        Subresource::Scale => (
            vec!["get", "patch", "update"],
            ("autoscaling".into(), "v1".into(), "Scale".into()),
        ),
        Subresource::Binding => (
            vec!["create"],
            (String::new(), "v1".into(), "Binding".into()),
        ),
        Subresource::Eviction => (
            vec!["create"],
            ("policy".into(), "v1".into(), "Eviction".into()),
        ),
        Subresource::Log => (vec!["get"], same),
        Subresource::Exec => (
            vec!["create", "get"],
            (String::new(), "v1".into(), "PodExecOptions".into()),
        ),
        Subresource::Attach => (
            vec!["create", "get"],
            (String::new(), "v1".into(), "PodAttachOptions".into()),
        ),
        Subresource::PortForward => (
            vec!["create", "get"],
            (String::new(), "v1".into(), "PodPortForwardOptions".into()),
        ),
        Subresource::Proxy => (
            vec!["create", "delete", "get", "patch", "update"],
            (
                String::new(),
                "v1".into(),
                format!("{}ProxyOptions", def.kind),
            ),
        ),
        Subresource::Token => (
            vec!["create"],
            (
                "authentication.k8s.io".into(),
                "v1".into(),
                "TokenRequest".into(),
            ),
        ),
        Subresource::Finalize => (vec!["update"], same),
        Subresource::Approval => (vec!["get", "patch", "update"], same),
    };
    (verbs, group, version, kind)
}

/// The discovery documents, serialised once.
#[derive(Debug, Clone)]
pub struct Discovery {
    /// `/api`
    pub core_versions: Value,
    /// `/apis`
    pub groups: Value,
    /// `/apis/<group>` by group.
    pub group: Vec<(String, Value)>,
    /// `APIResourceList` by group-version (`v1`, `apps/v1`).
    pub resources: Vec<(String, Value)>,
    /// Aggregated `/api` (v2).
    pub aggregated_core: Value,
    /// Aggregated `/apis` (v2).
    pub aggregated_groups: Value,
}

/// Groups with their versions, in catalog order (the first version listed
/// for a group is its preferred one).
fn groups(catalog: &Catalog) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for def in catalog.iter() {
        match out.iter_mut().find(|(g, _)| *g == def.group) {
            Some((_, versions)) => {
                if !versions.contains(&def.version) {
                    versions.push(def.version.clone());
                }
            }
            None => out.push((def.group.clone(), vec![def.version.clone()])),
        }
    }
    out
}

fn group_value(group: &str, versions: &[String]) -> Value {
    let gv = |v: &String| json!({"groupVersion": format!("{group}/{v}"), "version": v});
    json!({
        "name": group,
        "versions": versions.iter().map(gv).collect::<Vec<_>>(),
        "preferredVersion": versions.first().map(gv).unwrap_or(Value::Null),
    })
}

fn resource_list(catalog: &Catalog, group: &str, version: &str) -> Value {
    let mut resources = Vec::new();
    for def in catalog
        .iter()
        .filter(|d| d.group == group && d.version == version)
    {
        let mut r = json!({
            "name": def.plural,
            "singularName": def.singular,
            "namespaced": def.scope == Scope::Namespaced,
            "kind": def.kind,
            "verbs": def.verbs().iter().map(|v| v.as_str()).collect::<Vec<_>>(),
        });
        if !def.short_names.is_empty() {
            r["shortNames"] = json!(def.short_names);
        }
        if !def.categories.is_empty() {
            r["categories"] = json!(def.categories);
        }
        resources.push(r);
        for sub in &def.subresources {
            let (verbs, g, v, kind) = subresource_info(def, *sub);
            let mut s = json!({
                "name": format!("{}/{}", def.plural, sub.path()),
                "singularName": "",
                "namespaced": def.scope == Scope::Namespaced,
                "kind": kind,
                "verbs": verbs,
            });
            if g != def.group || v != def.version {
                s["group"] = json!(g);
                s["version"] = json!(v);
            }
            resources.push(s);
        }
    }
    let group_version = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    })
}

fn aggregated_group(catalog: &Catalog, group: &str, versions: &[String]) -> Value {
    let versions: Vec<Value> = versions
        .iter()
        .map(|version| {
            let resources: Vec<Value> = catalog
                .iter()
                .filter(|d| d.group == group && &d.version == version)
                .map(|def| {
                    let subresources: Vec<Value> = def
                        .subresources
                        .iter()
                        .map(|sub| {
                            let (verbs, g, v, kind) = subresource_info(def, *sub);
                            json!({
                                "subresource": sub.path(),
                                "responseKind": {"group": g, "version": v, "kind": kind},
                                "verbs": verbs,
                            })
                        })
                        .collect();
                    let mut r = json!({
                        "resource": def.plural,
                        "responseKind": {"group": def.group, "version": def.version, "kind": def.kind},
                        "scope": match def.scope { Scope::Namespaced => "Namespaced", Scope::Cluster => "Cluster" },
                        "singularResource": def.singular,
                        "verbs": def.verbs().iter().map(|v| v.as_str()).collect::<Vec<_>>(),
                    });
                    if !def.short_names.is_empty() {
                        r["shortNames"] = json!(def.short_names);
                    }
                    if !def.categories.is_empty() {
                        r["categories"] = json!(def.categories);
                    }
                    if !subresources.is_empty() {
                        r["subresources"] = json!(subresources);
                    }
                    r
                })
                .collect();
            json!({"version": version, "resources": resources, "freshness": "Current"})
        })
        .collect();
    json!({"metadata": {"name": group, "creationTimestamp": null}, "versions": versions})
}

/// Which aggregated discovery version a client asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggregatedVersion {
    /// `apidiscovery.k8s.io/v2`
    V2,
    /// `apidiscovery.k8s.io/v2beta1`
    V2Beta1,
}

impl AggregatedVersion {
    /// From an `Accept` header: the first aggregated clause wins.
    pub fn from_accept(accept: &str) -> Option<Self> {
        for clause in accept.split(',') {
            let clause = clause.replace(' ', "");
            if !clause.contains("as=APIGroupDiscoveryList")
                || !clause.contains("g=apidiscovery.k8s.io")
            {
                continue;
            }
            if clause.contains("v=v2beta1") {
                return Some(AggregatedVersion::V2Beta1);
            }
            if clause.contains("v=v2") {
                return Some(AggregatedVersion::V2);
            }
        }
        None
    }

    /// The version string.
    pub fn version(self) -> &'static str {
        match self {
            AggregatedVersion::V2 => "v2",
            AggregatedVersion::V2Beta1 => "v2beta1",
        }
    }

    /// The response Content-Type clients check to recognise the document.
    pub fn content_type(self) -> String {
        format!(
            "application/json;g=apidiscovery.k8s.io;v={};as=APIGroupDiscoveryList",
            self.version()
        )
    }
}

impl Discovery {
    /// Builds every document from the catalog.
    pub fn new(catalog: &Catalog, addr: SocketAddr) -> Self {
        let all = groups(catalog);
        let named: Vec<&(String, Vec<String>)> =
            all.iter().filter(|(g, _)| !g.is_empty()).collect();
        let core_versions: Vec<String> = all
            .iter()
            .find(|(g, _)| g.is_empty())
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let mut resources = Vec::new();
        for (group, versions) in &all {
            for version in versions {
                let key = if group.is_empty() {
                    version.clone()
                } else {
                    format!("{group}/{version}")
                };
                resources.push((key, resource_list(catalog, group, version)));
            }
        }
        let group_docs: Vec<(String, Value)> = named
            .iter()
            .map(|(g, v)| {
                let mut doc = group_value(g, v);
                doc["kind"] = json!("APIGroup");
                doc["apiVersion"] = json!("v1");
                (g.clone(), doc)
            })
            .collect();
        Discovery {
            core_versions: json!({
                "kind": "APIVersions",
                "versions": core_versions,
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": addr.to_string()}],
            }),
            groups: json!({
                "kind": "APIGroupList",
                "apiVersion": "v1",
                "groups": named.iter().map(|(g, v)| group_value(g, v)).collect::<Vec<_>>(),
            }),
            group: group_docs,
            resources,
            aggregated_core: json!({
                "items": all.iter().filter(|(g, _)| g.is_empty()).map(|(g, v)| aggregated_group(catalog, g, v)).collect::<Vec<_>>(),
            }),
            aggregated_groups: json!({
                "items": named.iter().map(|(g, v)| aggregated_group(catalog, g, v)).collect::<Vec<_>>(),
            }),
        }
    }

    /// The aggregated list, for `/api` (`core`) or `/apis`.
    pub fn aggregated(&self, core: bool, version: AggregatedVersion) -> Value {
        let items = if core {
            &self.aggregated_core["items"]
        } else {
            &self.aggregated_groups["items"]
        };
        json!({
            "kind": "APIGroupDiscoveryList",
            "apiVersion": format!("apidiscovery.k8s.io/{}", version.version()),
            "metadata": {},
            "items": items,
        })
    }

    /// `APIResourceList` of a group-version.
    pub fn resource_list(&self, group: &str, version: &str) -> Option<&Value> {
        let key = if group.is_empty() {
            version.to_string()
        } else {
            format!("{group}/{version}")
        };
        self.resources
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v)
    }

    /// `APIGroup` of a group.
    pub fn group(&self, group: &str) -> Option<&Value> {
        self.group.iter().find(|(g, _)| g == group).map(|(_, v)| v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregated_discovery_is_recognised_in_kubectls_accept_header() {
        let accept = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
        assert_eq!(
            AggregatedVersion::from_accept(accept),
            Some(AggregatedVersion::V2)
        );
        assert_eq!(AggregatedVersion::from_accept("application/json"), None);
    }

    #[test]
    fn documents_list_groups_resources_and_subresources() {
        let mut catalog = Catalog::default();
        let mut pod = crate::testing::def("", "v1", "Pod", "pods", Scope::Namespaced);
        pod.subresources = vec![Subresource::Status, Subresource::Binding];
        catalog.insert(pod);
        catalog.insert(crate::testing::def(
            "apps",
            "v1",
            "Deployment",
            "deployments",
            Scope::Namespaced,
        ));
        let d = Discovery::new(&catalog, "127.0.0.1:6443".parse().expect("should succeed"));
        assert_eq!(d.core_versions["versions"], json!(["v1"]));
        assert_eq!(d.groups["groups"][0]["name"], "apps");
        let core = d.resource_list("", "v1").expect("should succeed");
        let names: Vec<&str> = core["resources"]
            .as_array()
            .expect("should succeed")
            .iter()
            .map(|r| r["name"].as_str().expect("should succeed"))
            .collect();
        assert_eq!(names, vec!["pods", "pods/status", "pods/binding"]);
        let agg = d.aggregated(false, AggregatedVersion::V2);
        assert_eq!(
            agg["items"][0]["versions"][0]["resources"][0]["resource"],
            "deployments"
        );
        assert_eq!(agg["apiVersion"], "apidiscovery.k8s.io/v2");
    }
}
