//! What a request path and method ask for (upstream's
//! `k8s.io/apiserver/pkg/endpoints/request/requestinfo.go`).

use http::Method;

/// The verb of a resource request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    /// GET of one object.
    Get,
    /// GET of a collection.
    List,
    /// GET of a collection with `watch=true` (or under `/watch/`).
    Watch,
    /// POST.
    Create,
    /// PUT.
    Update,
    /// PATCH.
    Patch,
    /// DELETE of one object.
    Delete,
    /// DELETE of a collection.
    DeleteCollection,
}

/// A request for a resource, parsed from its path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceRequest {
    /// API group, `""` for `/api`.
    pub group: String,
    /// API version.
    pub version: String,
    /// Namespace from the path, if any.
    pub namespace: Option<String>,
    /// Plural resource.
    pub resource: String,
    /// Object name, if any.
    pub name: Option<String>,
    /// Subresource, if any.
    pub subresource: Option<String>,
    /// What to do.
    pub verb: Verb,
}

/// What a path addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `/api`
    CoreVersions,
    /// `/apis`
    Groups,
    /// `/apis/<group>`
    Group(String),
    /// `/api/v1` or `/apis/<group>/<version>`
    GroupVersion {
        /// Group, `""` for core.
        group: String,
        /// Version.
        version: String,
    },
    /// A resource, collection or subresource.
    Resource(ResourceRequest),
    /// Anything else (health, metrics, version, openapi …), by path.
    NonResource,
}

/// Parses `path` (without query) and `method`; `watch_param` is the query's
/// `watch=true|1`.
pub fn parse(method: &Method, path: &str, watch_param: bool) -> Target {
    let parts: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let (group, version, rest) = match parts.as_slice() {
        ["api"] => return Target::CoreVersions,
        ["apis"] => return Target::Groups,
        ["apis", group] => return Target::Group(group.to_string()),
        ["api", version, rest @ ..] => (String::new(), version.to_string(), rest),
        ["apis", group, version, rest @ ..] => (group.to_string(), version.to_string(), rest),
        _ => return Target::NonResource,
    };
    if rest.is_empty() {
        return Target::GroupVersion { group, version };
    }
    let mut rest = rest;
    let mut watch = watch_param;
    // Deprecated `/watch/` prefix, still served upstream.
    if let ["watch", tail @ ..] = rest {
        if !tail.is_empty() {
            watch = true;
            rest = tail;
        }
    }
    let mut namespace = None;
    // `namespaces/<ns>/<resource>…` scopes to a namespace, but
    // `namespaces/<ns>` (and `namespaces/<ns>/status|finalize`) address the
    // Namespace object itself.
    if let ["namespaces", ns, tail @ ..] = rest {
        if !tail.is_empty() && !matches!(tail, ["status"] | ["finalize"]) {
            namespace = Some(ns.to_string());
            rest = tail;
        }
    }
    let (resource, name, subresource) = match rest {
        [resource] => (resource.to_string(), None, None),
        [resource, name] => (resource.to_string(), Some(name.to_string()), None),
        [resource, name, sub, ..] => (
            resource.to_string(),
            Some(name.to_string()),
            Some(sub.to_string()),
        ),
        [] => return Target::NonResource,
    };
    let verb = match (method.clone(), name.is_some()) {
        (Method::GET | Method::HEAD, true) if watch => Verb::Watch,
        (Method::GET | Method::HEAD, true) => Verb::Get,
        (Method::GET | Method::HEAD, false) if watch => Verb::Watch,
        (Method::GET | Method::HEAD, false) => Verb::List,
        (Method::POST, _) => Verb::Create,
        (Method::PUT, _) => Verb::Update,
        (Method::PATCH, _) => Verb::Patch,
        (Method::DELETE, true) => Verb::Delete,
        (Method::DELETE, false) => Verb::DeleteCollection,
        _ => return Target::NonResource,
    };
    Target::Resource(ResourceRequest {
        group,
        version,
        namespace,
        resource,
        name,
        subresource,
        verb,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(method: Method, path: &str) -> ResourceRequest {
        match parse(&method, path, false) {
            Target::Resource(r) => r,
            other => panic!("{path}: {other:?}"),
        }
    }

    #[test]
    fn paths_parse_like_upstream() {
        let cases = [
            (
                Method::GET,
                "/api/v1/namespaces/default/pods",
                None,
                Some("default"),
                "pods",
                None,
                Verb::List,
            ),
            (
                Method::GET,
                "/api/v1/namespaces/default/pods/web",
                Some("web"),
                Some("default"),
                "pods",
                None,
                Verb::Get,
            ),
            (
                Method::PUT,
                "/api/v1/namespaces/ns/pods/web/status",
                Some("web"),
                Some("ns"),
                "pods",
                Some("status"),
                Verb::Update,
            ),
            (
                Method::GET,
                "/api/v1/namespaces/kube-system",
                Some("kube-system"),
                None,
                "namespaces",
                None,
                Verb::Get,
            ),
            (
                Method::PUT,
                "/api/v1/namespaces/x/finalize",
                Some("x"),
                None,
                "namespaces",
                Some("finalize"),
                Verb::Update,
            ),
            (
                Method::GET,
                "/apis/apps/v1/deployments",
                None,
                None,
                "deployments",
                None,
                Verb::List,
            ),
            (
                Method::DELETE,
                "/apis/apps/v1/namespaces/a/deployments",
                None,
                Some("a"),
                "deployments",
                None,
                Verb::DeleteCollection,
            ),
            (
                Method::GET,
                "/api/v1/watch/namespaces/a/pods",
                None,
                Some("a"),
                "pods",
                None,
                Verb::Watch,
            ),
        ];
        for (method, path, name, ns, res, sub, verb) in cases {
            let r = resource(method, path);
            assert_eq!(r.name.as_deref(), name, "{path}");
            assert_eq!(r.namespace.as_deref(), ns, "{path}");
            assert_eq!(r.resource, res, "{path}");
            assert_eq!(r.subresource.as_deref(), sub, "{path}");
            assert_eq!(r.verb, verb, "{path}");
        }
    }

    #[test]
    fn discovery_and_other_paths_are_recognised() {
        assert_eq!(parse(&Method::GET, "/api", false), Target::CoreVersions);
        assert_eq!(parse(&Method::GET, "/apis/", false), Target::Groups);
        assert_eq!(
            parse(&Method::GET, "/apis/apps", false),
            Target::Group("apps".into())
        );
        assert_eq!(
            parse(&Method::GET, "/apis/apps/v1", false),
            Target::GroupVersion {
                group: "apps".into(),
                version: "v1".into()
            }
        );
        assert_eq!(parse(&Method::GET, "/healthz", false), Target::NonResource);
    }
}
