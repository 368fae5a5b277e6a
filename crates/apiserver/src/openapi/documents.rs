//! The OpenAPI documents: one Swagger 2.0 document of everything
//! (`/openapi/v2`) and one OpenAPI 3.0 document per group-version
//! (`/openapi/v3/api/v1`, `/openapi/v3/apis/<group>/<version>`), each holding
//! only the schemas its paths reach. Upstream: `kube-openapi/pkg/builder`
//! and `builder3`.

use std::collections::BTreeMap;

use rkube_api::Catalog;
use serde_json::{json, Map, Value};

use crate::openapi::definitions::{Definitions, DELETE_OPTIONS, PATCH, STATUS, V2_REF_PREFIX};
use crate::openapi::paths::{prefix, resource_paths, Dialect, PathItem};

/// The Kubernetes version the documents describe.
const KUBERNETES_VERSION: &str = "v1.34.0";

/// One group-version's paths.
pub(crate) struct GroupVersion {
    /// `api/v1` or `apis/<group>/<version>`: the key of the v3 index.
    pub key: String,
    paths: Vec<PathItem>,
    roots: Vec<String>,
}

/// Paths of every resource in the catalog, grouped by group-version in
/// catalog order.
pub(crate) fn group_versions(catalog: &Catalog, definitions: &Definitions) -> Vec<GroupVersion> {
    let mut groups: Vec<GroupVersion> = Vec::new();
    for def in catalog.iter() {
        let key = prefix(&def.group, &def.version)
            .trim_start_matches('/')
            .to_string();
        let paths = resource_paths(def, definitions);
        let index = match groups.iter().position(|g| g.key == key) {
            Some(index) => index,
            None => {
                groups.push(GroupVersion {
                    key,
                    paths: Vec::new(),
                    roots: vec![STATUS.into(), DELETE_OPTIONS.into(), PATCH.into()],
                });
                groups.len() - 1
            }
        };
        let group = &mut groups[index];
        for kind in [def.kind.clone(), format!("{}List", def.kind)] {
            if let Some(name) = definitions.name_of(&def.group, &def.version, &kind) {
                group.roots.push(name.to_string());
            }
        }
        for path in &paths {
            group.roots.extend(path_refs(path));
        }
        group.paths.extend(paths);
    }
    groups
}

/// Definitions a path refers to (request and response types).
fn path_refs(path: &PathItem) -> Vec<String> {
    let mut names = Vec::new();
    collect(&path.render(Dialect::V2), &mut names);
    names
}

fn collect(value: &Value, names: &mut Vec<String>) {
    match value {
        Value::Object(map) => map.iter().for_each(|(k, v)| match (k.as_str(), v) {
            ("$ref", Value::String(r)) => {
                names.extend(r.strip_prefix(V2_REF_PREFIX).map(str::to_string))
            }
            _ => collect(v, names),
        }),
        Value::Array(items) => items.iter().for_each(|v| collect(v, names)),
        _ => {}
    }
}

/// The Swagger 2.0 document of every group-version.
pub(crate) fn v2_document(groups: &[GroupVersion], definitions: &Definitions) -> Value {
    let paths: BTreeMap<String, Value> = groups
        .iter()
        .flat_map(|g| g.paths.iter())
        .map(|p| (p.path.clone(), p.render(Dialect::V2)))
        .collect();
    let names = definitions.closure(
        groups
            .iter()
            .flat_map(|g| g.roots.iter().map(String::as_str)),
    );
    let schemas: Map<String, Value> = names
        .into_iter()
        .filter_map(|n| definitions.schemas.get(&n).map(|s| (n, s.clone())))
        .collect();
    json!({
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": KUBERNETES_VERSION},
        "paths": paths,
        "definitions": schemas,
        "securityDefinitions": {"BearerToken": {"description": "Bearer Token authentication", "in": "header", "name": "authorization", "type": "apiKey"}},
        "security": [{"BearerToken": []}]
    })
}

/// The OpenAPI 3.0 document of one group-version.
pub(crate) fn v3_document(group: &GroupVersion, definitions: &Definitions) -> Value {
    let paths: BTreeMap<String, Value> = group
        .paths
        .iter()
        .map(|p| (p.path.clone(), p.render(Dialect::V3)))
        .collect();
    let names = definitions.closure(group.roots.iter().map(String::as_str));
    let schemas: Map<String, Value> = names
        .into_iter()
        .filter_map(|n| {
            definitions
                .schemas
                .get(&n)
                .map(|s| (n, to_v3_schema(s.clone())))
        })
        .collect();
    json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": KUBERNETES_VERSION},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"BearerToken": {"description": "Bearer Token authentication", "in": "header", "name": "authorization", "type": "apiKey"}}
        },
        "security": [{"BearerToken": []}]
    })
}

/// A v2 schema in v3 form: refs point into `components/schemas`, and a ref
/// with siblings (a description) is wrapped in `allOf`, as upstream's v3
/// documents do, since OpenAPI 3.0 ignores a `$ref`'s siblings.
fn to_v3_schema(schema: Value) -> Value {
    match schema {
        Value::Object(mut map) => {
            let reference = map
                .shift_remove("$ref")
                .and_then(|r| r.as_str().map(str::to_string));
            let mut map: Map<String, Value> =
                map.into_iter().map(|(k, v)| (k, to_v3_schema(v))).collect();
            if let Some(reference) = reference {
                let target = match reference.strip_prefix(V2_REF_PREFIX) {
                    Some(name) => format!("#/components/schemas/{name}"),
                    None => reference,
                };
                if map.is_empty() {
                    map.insert("$ref".into(), json!(target));
                } else {
                    map.insert("allOf".into(), json!([{"$ref": target}]));
                }
            }
            Value::Object(map)
        }
        Value::Array(items) => Value::Array(items.into_iter().map(to_v3_schema).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v3_schemas_wrap_described_refs_in_all_of() {
        let cases = [
            (
                json!({"$ref": "#/definitions/a.B"}),
                json!({"$ref": "#/components/schemas/a.B"}),
            ),
            (
                json!({"properties": {"x": {"$ref": "#/definitions/a.B", "description": "d"}}}),
                json!({"properties": {"x": {"description": "d", "allOf": [{"$ref": "#/components/schemas/a.B"}]}}}),
            ),
            (
                json!({"items": {"$ref": "#/definitions/a.B"}, "type": "array"}),
                json!({"items": {"$ref": "#/components/schemas/a.B"}, "type": "array"}),
            ),
        ];
        for (v2, v3) in cases {
            assert_eq!(to_v3_schema(v2), v3);
        }
    }

    #[test]
    fn documents_hold_every_schema_their_paths_reference() {
        let catalog = Catalog::builtin();
        let definitions = Definitions::build(&catalog);
        let groups = group_versions(&catalog, &definitions);
        let core = groups.iter().find(|g| g.key == "api/v1");
        let apps = groups.iter().find(|g| g.key == "apis/apps/v1");
        assert!(core.is_some() && apps.is_some());
        for group in groups.iter() {
            let document = v3_document(group, &definitions);
            let mut refs = Vec::new();
            collect_v3(&document, &mut refs);
            let schemas = document
                .pointer("/components/schemas")
                .and_then(Value::as_object);
            for r in refs {
                assert!(
                    schemas.is_some_and(|s| s.contains_key(&r)),
                    "{} lacks {r}",
                    group.key
                );
            }
        }
        let v2 = v2_document(&groups, &definitions);
        assert!(v2
            .pointer("/definitions/io.k8s.api.apps.v1.Deployment")
            .is_some());
        assert!(v2
            .pointer("/paths/~1api~1v1~1namespaces~1{namespace}~1pods~1{name}/patch")
            .is_some());
    }

    fn collect_v3(value: &Value, names: &mut Vec<String>) {
        match value {
            Value::Object(map) => map.iter().for_each(|(k, v)| match (k.as_str(), v) {
                ("$ref", Value::String(r)) => {
                    names.extend(r.strip_prefix("#/components/schemas/").map(str::to_string))
                }
                _ => collect_v3(v, names),
            }),
            Value::Array(items) => items.iter().for_each(|v| collect_v3(v, names)),
            _ => {}
        }
    }
}
