//! The REST paths of each resource and their operations, in one
//! version-neutral model rendered as OpenAPI v2 or v3. Each operation carries
//! `x-kubernetes-action` and `x-kubernetes-group-version-kind` (kubectl
//! explain finds a resource's kind through them) and its query parameters
//! inline: kubectl's `QueryParamVerifierV3` looks for `fieldValidation` among
//! a PATCH operation's own parameters to decide whether the server validates.

use rkube_api::patch::PatchType;
use rkube_api::{ResourceDef, Scope, Subresource, Verb};
use serde_json::{json, Map, Value};

use crate::openapi::definitions::{Definitions, DELETE_OPTIONS, PATCH, STATUS};

/// A parameter's type.
#[derive(Debug, Clone, Copy)]
enum ParamType {
    String,
    Integer,
    Boolean,
}

/// Where a parameter goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum In {
    Path,
    Query,
}

/// One parameter.
#[derive(Debug, Clone, Copy)]
struct Param {
    name: &'static str,
    location: In,
    kind: ParamType,
    description: &'static str,
}

const fn query(name: &'static str, kind: ParamType, description: &'static str) -> Param {
    Param {
        name,
        location: In::Query,
        kind,
        description,
    }
}

const NAME: Param = Param {
    name: "name",
    location: In::Path,
    kind: ParamType::String,
    description: "name of the object",
};
const NAMESPACE: Param = Param {
    name: "namespace",
    location: In::Path,
    kind: ParamType::String,
    description: "object name and auth scope, such as for teams and projects",
};
const PRETTY: Param = query(
    "pretty",
    ParamType::String,
    "If 'true', the output is indented for reading.",
);
const DRY_RUN: Param = query(
    "dryRun",
    ParamType::String,
    "When present, the change is checked but not persisted. The only valid value is All.",
);
const FIELD_MANAGER: Param = query(
    "fieldManager",
    ParamType::String,
    "The name of the actor making the change, used to track field ownership.",
);
const FIELD_VALIDATION: Param = query(
    "fieldValidation",
    ParamType::String,
    "How the server treats unknown and duplicate fields in the body: Ignore drops them, Warn drops them and returns a warning per field, Strict fails the request.",
);
const FORCE: Param = query(
    "force",
    ParamType::Boolean,
    "Apply only: take ownership of fields other managers own instead of failing with a conflict.",
);
const LIST_PARAMS: &[Param] = &[
    query(
        "allowWatchBookmarks",
        ParamType::Boolean,
        "Ask a watch for BOOKMARK events.",
    ),
    query(
        "continue",
        ParamType::String,
        "The continue token of the previous page of a chunked list.",
    ),
    query(
        "fieldSelector",
        ParamType::String,
        "Restrict the result to objects whose fields match.",
    ),
    query(
        "labelSelector",
        ParamType::String,
        "Restrict the result to objects whose labels match.",
    ),
    query(
        "limit",
        ParamType::Integer,
        "The largest number of objects a page of the list holds.",
    ),
    query(
        "resourceVersion",
        ParamType::String,
        "Which version of the state to serve; see resourceVersionMatch.",
    ),
    query(
        "resourceVersionMatch",
        ParamType::String,
        "How resourceVersion applies to a list: Exact or NotOlderThan.",
    ),
    query(
        "sendInitialEvents",
        ParamType::Boolean,
        "Start a watch with synthetic ADDED events for the current state.",
    ),
    query(
        "timeoutSeconds",
        ParamType::Integer,
        "How long a list or watch call may last.",
    ),
    query(
        "watch",
        ParamType::Boolean,
        "Stream changes of the listed objects instead of listing them.",
    ),
];
const DELETE_PARAMS: &[Param] = &[
    DRY_RUN,
    query(
        "gracePeriodSeconds",
        ParamType::Integer,
        "Seconds before the object is deleted; zero deletes now.",
    ),
    query(
        "orphanDependents",
        ParamType::Boolean,
        "Deprecated: use propagationPolicy.",
    ),
    query(
        "propagationPolicy",
        ParamType::String,
        "Whether and how dependents are garbage collected: Orphan, Background or Foreground.",
    ),
];

/// What an operation sends and returns.
#[derive(Debug, Clone)]
enum Body {
    /// No request body.
    None,
    /// The object itself, e.g. a Pod.
    Object(String),
    /// A patch in one of the patch media types.
    Patch,
    /// DeleteOptions.
    DeleteOptions,
}

/// One operation of a path.
#[derive(Debug, Clone)]
struct Operation {
    method: &'static str,
    action: &'static str,
    operation_id: String,
    description: String,
    params: Vec<Param>,
    body: Body,
    response: String,
    gvk: (String, String, String),
}

/// One path and its operations.
#[derive(Debug, Clone)]
pub(crate) struct PathItem {
    pub path: String,
    params: Vec<Param>,
    operations: Vec<Operation>,
}

/// The OpenAPI dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// Swagger 2.0 (`/openapi/v2`).
    V2,
    /// OpenAPI 3.0 (`/openapi/v3/...`).
    V3,
}

impl Dialect {
    pub fn reference(self, name: &str) -> Value {
        match self {
            Dialect::V2 => json!({"$ref": format!("#/definitions/{name}")}),
            Dialect::V3 => json!({"$ref": format!("#/components/schemas/{name}")}),
        }
    }
}

/// The tag and operation-id word of a group-version, like upstream's:
/// `core_v1`/`CoreV1`, `rbacAuthorization_v1`/`RbacAuthorizationV1`.
fn group_words(group: &str) -> Vec<String> {
    let group = if group.is_empty() {
        "core"
    } else {
        group.trim_end_matches(".k8s.io")
    };
    group
        .split('.')
        .flat_map(|part| part.split('-'))
        .filter(|part| !part.is_empty())
        .map(str::to_string)
        .collect()
}

fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

pub(crate) fn tag(group: &str, version: &str) -> String {
    let words = group_words(group);
    let mut tag = String::new();
    for (i, word) in words.iter().enumerate() {
        tag.push_str(&if i == 0 {
            word.clone()
        } else {
            capitalised(word)
        });
    }
    format!("{tag}_{version}")
}

fn id_word(group: &str, version: &str) -> String {
    let words: String = group_words(group).iter().map(|w| capitalised(w)).collect();
    format!("{words}{}", capitalised(version))
}

/// The path prefix of a group-version: `/api/v1` or `/apis/<group>/<version>`.
pub(crate) fn prefix(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("/api/{version}")
    } else {
        format!("/apis/{group}/{version}")
    }
}

/// The paths of one resource.
pub(crate) fn resource_paths(def: &ResourceDef, definitions: &Definitions) -> Vec<PathItem> {
    let Some(kind_name) = definitions.name_of(&def.group, &def.version, &def.kind) else {
        return Vec::new();
    };
    let list_kind = format!("{}List", def.kind);
    let list_name = definitions
        .name_of(&def.group, &def.version, &list_kind)
        .unwrap_or(kind_name);
    let gvk = (def.group.clone(), def.version.clone(), def.kind.clone());
    let gv = id_word(&def.group, &def.version);
    let prefix = prefix(&def.group, &def.version);
    let (collection, scope_word, scope_params) = match def.scope {
        Scope::Namespaced => (
            format!("{prefix}/namespaces/{{namespace}}/{}", def.plural),
            "Namespaced",
            vec![NAMESPACE, PRETTY],
        ),
        Scope::Cluster => (format!("{prefix}/{}", def.plural), "", vec![PRETTY]),
    };
    let kind = &def.kind;
    let op = |method,
              action,
              verb: &str,
              suffix: &str,
              params: &[Param],
              body: Body,
              response: &str,
              description: String| Operation {
        method,
        action,
        operation_id: format!("{verb}{gv}{scope_word}{kind}{suffix}"),
        description,
        params: params.to_vec(),
        body,
        response: response.to_string(),
        gvk: gvk.clone(),
    };
    let write_params = [DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION];
    let patch_params = [DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION, FORCE];
    let object = Body::Object(kind_name.to_string());

    let mut collection_ops = Vec::new();
    if def.allows(Verb::List) {
        collection_ops.push(op(
            "get",
            "list",
            "list",
            "",
            LIST_PARAMS,
            Body::None,
            list_name,
            format!("list or watch objects of kind {kind}"),
        ));
    }
    if def.allows(Verb::Create) {
        collection_ops.push(op(
            "post",
            "post",
            "create",
            "",
            &write_params,
            object.clone(),
            kind_name,
            format!("create a {kind}"),
        ));
    }
    if def.allows(Verb::DeleteCollection) {
        let params: Vec<Param> = DELETE_PARAMS.iter().chain(LIST_PARAMS).copied().collect();
        collection_ops.push(
            op(
                "delete",
                "deletecollection",
                "delete",
                "",
                &params,
                Body::DeleteOptions,
                STATUS,
                format!("delete collection of {kind}"),
            )
            .with_id(format!("deleteCollection{gv}{scope_word}{kind}")),
        );
    }
    let mut object_ops = Vec::new();
    if def.allows(Verb::Get) {
        object_ops.push(op(
            "get",
            "get",
            "read",
            "",
            &[],
            Body::None,
            kind_name,
            format!("read the specified {kind}"),
        ));
    }
    if def.allows(Verb::Update) {
        object_ops.push(op(
            "put",
            "put",
            "replace",
            "",
            &write_params,
            object.clone(),
            kind_name,
            format!("replace the specified {kind}"),
        ));
    }
    if def.allows(Verb::Patch) {
        object_ops.push(op(
            "patch",
            "patch",
            "patch",
            "",
            &patch_params,
            Body::Patch,
            kind_name,
            format!("partially update the specified {kind}"),
        ));
    }
    if def.allows(Verb::Delete) {
        object_ops.push(op(
            "delete",
            "delete",
            "delete",
            "",
            DELETE_PARAMS,
            Body::DeleteOptions,
            STATUS,
            format!("delete a {kind}"),
        ));
    }

    let with_name = |params: &[Param]| -> Vec<Param> {
        std::iter::once(NAME)
            .chain(params.iter().copied())
            .collect()
    };
    let mut paths = vec![
        PathItem {
            path: collection.clone(),
            params: scope_params.clone(),
            operations: collection_ops,
        },
        PathItem {
            path: format!("{collection}/{{name}}"),
            params: with_name(&scope_params),
            operations: object_ops,
        },
    ];
    if def.scope == Scope::Namespaced && def.allows(Verb::List) {
        paths.push(PathItem {
            path: format!("{prefix}/{}", def.plural),
            params: vec![PRETTY],
            operations: vec![op(
                "get",
                "list",
                "list",
                "ForAllNamespaces",
                LIST_PARAMS,
                Body::None,
                list_name,
                format!("list or watch objects of kind {kind}"),
            )
            .with_id(format!("list{gv}{kind}ForAllNamespaces"))],
        });
    }
    if def.has(Subresource::Status) {
        paths.push(PathItem {
            path: format!("{collection}/{{name}}/status"),
            params: with_name(&scope_params),
            operations: vec![
                op(
                    "get",
                    "get",
                    "read",
                    "Status",
                    &[],
                    Body::None,
                    kind_name,
                    format!("read status of the specified {kind}"),
                ),
                op(
                    "put",
                    "put",
                    "replace",
                    "Status",
                    &write_params,
                    object.clone(),
                    kind_name,
                    format!("replace status of the specified {kind}"),
                ),
                op(
                    "patch",
                    "patch",
                    "patch",
                    "Status",
                    &patch_params,
                    Body::Patch,
                    kind_name,
                    format!("partially update status of the specified {kind}"),
                ),
            ],
        });
    }
    let mut sub_kind_path =
        |sub: Subresource,
         group: &str,
         version: &str,
         sub_kind: &str,
         methods: &[(&'static str, &'static str, &'static str)]| {
            let Some(name) = definitions.name_of(group, version, sub_kind) else {
                return;
            };
            let suffix = capitalised(sub.path());
            let operations = methods
                .iter()
                .map(|(method, action, verb)| {
                    let params: &[Param] = match *method {
                        "get" => &[],
                        "patch" => &patch_params,
                        _ => &write_params,
                    };
                    let body = match *method {
                        "get" => Body::None,
                        "patch" => Body::Patch,
                        _ => Body::Object(name.to_string()),
                    };
                    let mut operation = op(
                        method,
                        action,
                        verb,
                        &suffix,
                        params,
                        body,
                        name,
                        format!("{verb} {} of the specified {kind}", sub.path()),
                    );
                    operation.gvk = (group.to_string(), version.to_string(), sub_kind.to_string());
                    operation
                })
                .collect();
            paths.push(PathItem {
                path: format!("{collection}/{{name}}/{}", sub.path()),
                params: with_name(&scope_params),
                operations,
            });
        };
    if def.has(Subresource::Scale) {
        sub_kind_path(
            Subresource::Scale,
            "autoscaling",
            "v1",
            "Scale",
            &[
                ("get", "get", "read"),
                ("put", "put", "replace"),
                ("patch", "patch", "patch"),
            ],
        );
    }
    if def.has(Subresource::Binding) {
        sub_kind_path(
            Subresource::Binding,
            "",
            "v1",
            "Binding",
            &[("post", "post", "create")],
        );
    }
    if def.has(Subresource::Eviction) {
        sub_kind_path(
            Subresource::Eviction,
            "policy",
            "v1",
            "Eviction",
            &[("post", "post", "create")],
        );
    }
    paths.retain(|p| !p.operations.is_empty());
    paths
}

impl Operation {
    fn with_id(mut self, id: String) -> Self {
        self.operation_id = id;
        self
    }
}

impl Param {
    fn render(&self, dialect: Dialect) -> Value {
        let kind = match self.kind {
            ParamType::String => "string",
            ParamType::Integer => "integer",
            ParamType::Boolean => "boolean",
        };
        let mut param = Map::new();
        param.insert("description".into(), json!(self.description));
        param.insert(
            "in".into(),
            json!(if self.location == In::Path {
                "path"
            } else {
                "query"
            }),
        );
        param.insert("name".into(), json!(self.name));
        if self.location == In::Path {
            param.insert("required".into(), json!(true));
        }
        match dialect {
            Dialect::V2 => {
                param.insert("type".into(), json!(kind));
                param.insert("uniqueItems".into(), json!(true));
            }
            Dialect::V3 => {
                param.insert("schema".into(), json!({"type": kind, "uniqueItems": true}));
            }
        }
        Value::Object(param)
    }
}

/// Media types every operation answers in.
const PRODUCES: &[&str] = &[
    "application/json",
    "application/yaml",
    "application/vnd.kubernetes.protobuf",
];

impl PathItem {
    /// The path item object.
    pub fn render(&self, dialect: Dialect) -> Value {
        let mut item = Map::new();
        for operation in &self.operations {
            item.insert(operation.method.to_string(), operation.render(dialect));
        }
        item.insert(
            "parameters".into(),
            Value::Array(self.params.iter().map(|p| p.render(dialect)).collect()),
        );
        Value::Object(item)
    }
}

impl Operation {
    fn render(&self, dialect: Dialect) -> Value {
        let (group, version, kind) = &self.gvk;
        let mut op = Map::new();
        op.insert("description".into(), json!(self.description));
        op.insert("operationId".into(), json!(self.operation_id));
        let mut params: Vec<Value> = self.params.iter().map(|p| p.render(dialect)).collect();
        let body_schema = match &self.body {
            Body::None => None,
            Body::Object(name) => Some(dialect.reference(name)),
            Body::Patch => Some(dialect.reference(PATCH)),
            Body::DeleteOptions => Some(dialect.reference(DELETE_OPTIONS)),
        };
        let body_types: Vec<&str> = match self.body {
            Body::Patch => PatchType::ALL.iter().map(|t| t.content_type()).collect(),
            _ => vec!["*/*"],
        };
        let ok = dialect.reference(&self.response);
        match dialect {
            Dialect::V2 => {
                op.insert("consumes".into(), json!(body_types));
                if let Some(schema) = body_schema {
                    params.insert(0, json!({"in": "body", "name": "body", "required": !matches!(self.body, Body::DeleteOptions), "schema": schema}));
                }
                op.insert("parameters".into(), Value::Array(params));
                op.insert("produces".into(), json!(PRODUCES));
                op.insert("responses".into(), json!({"200": {"description": "OK", "schema": ok}, "401": {"description": "Unauthorized"}}));
                op.insert("schemes".into(), json!(["https"]));
            }
            Dialect::V3 => {
                op.insert("parameters".into(), Value::Array(params));
                if let Some(schema) = body_schema {
                    let content: Map<String, Value> = body_types
                        .iter()
                        .map(|t| (t.to_string(), json!({"schema": schema})))
                        .collect();
                    op.insert("requestBody".into(), json!({"content": content, "required": !matches!(self.body, Body::DeleteOptions)}));
                }
                let content: Map<String, Value> = PRODUCES
                    .iter()
                    .map(|t| (t.to_string(), json!({"schema": ok})))
                    .collect();
                op.insert("responses".into(), json!({"200": {"content": content, "description": "OK"}, "401": {"description": "Unauthorized"}}));
            }
        }
        op.insert("tags".into(), json!([tag(group, version)]));
        op.insert("x-kubernetes-action".into(), json!(self.action));
        op.insert(
            "x-kubernetes-group-version-kind".into(),
            json!({"group": group, "kind": kind, "version": version}),
        );
        Value::Object(op)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rkube_api::Catalog;

    fn paths_of(group: &str, version: &str, plural: &str) -> Vec<(String, Value)> {
        let catalog = Catalog::builtin();
        let definitions = Definitions::build(&catalog);
        let def = catalog.get(group, version, plural).cloned();
        def.map(|d| resource_paths(&d, &definitions))
            .unwrap_or_default()
            .into_iter()
            .map(|p| (p.path.clone(), p.render(Dialect::V3)))
            .collect()
    }

    #[test]
    fn namespaced_resources_get_upstream_paths_and_operation_ids() {
        let paths = paths_of("apps", "v1", "deployments");
        let names: Vec<&str> = paths.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            names,
            [
                "/apis/apps/v1/namespaces/{namespace}/deployments",
                "/apis/apps/v1/namespaces/{namespace}/deployments/{name}",
                "/apis/apps/v1/deployments",
                "/apis/apps/v1/namespaces/{namespace}/deployments/{name}/status",
                "/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale",
            ]
        );
        let item = &paths[1].1;
        let cases = [
            ("/get/operationId", json!("readAppsV1NamespacedDeployment")),
            (
                "/patch/operationId",
                json!("patchAppsV1NamespacedDeployment"),
            ),
            (
                "/patch/x-kubernetes-group-version-kind",
                json!({"group": "apps", "kind": "Deployment", "version": "v1"}),
            ),
            ("/patch/x-kubernetes-action", json!("patch")),
            ("/patch/tags", json!(["apps_v1"])),
            (
                "/put/requestBody/content/*~1*/schema/$ref",
                json!("#/components/schemas/io.k8s.api.apps.v1.Deployment"),
            ),
            (
                "/patch/requestBody/content/application~1apply-patch+yaml/schema/$ref",
                json!("#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.Patch"),
            ),
        ];
        for (pointer, want) in cases {
            assert_eq!(item.pointer(pointer), Some(&want), "{pointer}");
        }
        let scale_gvk = paths[4].1.pointer("/get/x-kubernetes-group-version-kind");
        assert_eq!(
            scale_gvk,
            Some(&json!({"group": "autoscaling", "kind": "Scale", "version": "v1"}))
        );
        assert_eq!(
            paths[2].1.pointer("/get/operationId"),
            Some(&json!("listAppsV1DeploymentForAllNamespaces"))
        );
    }

    #[test]
    fn patch_and_write_operations_declare_field_validation_inline() {
        for (path, item) in paths_of("", "v1", "pods") {
            for method in ["post", "put", "patch"] {
                let Some(params) = item
                    .pointer(&format!("/{method}/parameters"))
                    .and_then(Value::as_array)
                else {
                    continue;
                };
                let names: Vec<&str> = params
                    .iter()
                    .filter_map(|p| p.get("name").and_then(Value::as_str))
                    .collect();
                assert!(names.contains(&"fieldValidation"), "{method} {path}");
                assert!(names.contains(&"dryRun"), "{method} {path}");
            }
        }
    }

    #[test]
    fn cluster_resources_have_no_namespace_segment() {
        let paths = paths_of("", "v1", "nodes");
        let names: Vec<&str> = paths.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            names,
            [
                "/api/v1/nodes",
                "/api/v1/nodes/{name}",
                "/api/v1/nodes/{name}/status"
            ]
        );
        assert_eq!(
            paths[1].1.pointer("/get/operationId"),
            Some(&json!("readCoreV1Node"))
        );
    }

    #[test]
    fn tags_and_ids_follow_upstream_group_spelling() {
        let cases = [
            ("", "v1", "core_v1", "CoreV1"),
            ("apps", "v1", "apps_v1", "AppsV1"),
            (
                "rbac.authorization.k8s.io",
                "v1",
                "rbacAuthorization_v1",
                "RbacAuthorizationV1",
            ),
            (
                "apiextensions.k8s.io",
                "v1",
                "apiextensions_v1",
                "ApiextensionsV1",
            ),
        ];
        for (group, version, want_tag, want_word) in cases {
            assert_eq!(tag(group, version), want_tag);
            assert_eq!(id_word(group, version), want_word);
        }
    }
}
