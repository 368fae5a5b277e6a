//! Finding the fields of an object its kind's schema does not declare, for
//! server-side `fieldValidation=Strict|Warn` (upstream reports them while
//! decoding, through `sigs.k8s.io/json`'s strict mode, as
//! `unknown field "spec.template.spec.containers[0].bogus"`).

use serde_json::Value;

use crate::openapi::definitions::{Definitions, V2_REF_PREFIX};

/// How deep refs may nest before the walk gives up on a branch; schemas
/// are finite, objects from clients might not be.
const MAX_DEPTH: usize = 64;

/// The paths of the fields in `object` that the definition `root` does not
/// declare, in document order. Objects with neither `properties` nor
/// `additionalProperties` (RawExtension, JSON) and those marked
/// `x-kubernetes-preserve-unknown-fields` accept anything.
pub(crate) fn unknown_fields(definitions: &Definitions, root: &str, object: &Value) -> Vec<String> {
    let mut found = Vec::new();
    if let Some(schema) = definitions.schemas.get(root) {
        walk(definitions, schema, object, String::new(), 0, &mut found);
    }
    found
}

fn resolve<'d>(definitions: &'d Definitions, schema: &'d Value) -> &'d Value {
    let reference = schema
        .get("$ref")
        .or_else(|| schema.pointer("/allOf/0/$ref"))
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix(V2_REF_PREFIX));
    match reference.and_then(|name| definitions.schemas.get(name)) {
        Some(target) => target,
        None => schema,
    }
}

fn walk(
    definitions: &Definitions,
    schema: &Value,
    value: &Value,
    path: String,
    depth: usize,
    found: &mut Vec<String>,
) {
    if depth > MAX_DEPTH {
        return;
    }
    let schema = resolve(definitions, schema);
    if schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true)) {
        return;
    }
    match value {
        Value::Object(fields) => {
            let properties = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties").filter(|a| a.is_object());
            if properties.is_none() && additional.is_none() {
                return;
            }
            for (key, child) in fields {
                let child_path = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                match properties.and_then(|p| p.get(key)).or(additional) {
                    Some(child_schema) => walk(
                        definitions,
                        child_schema,
                        child,
                        child_path,
                        depth + 1,
                        found,
                    ),
                    None => found.push(child_path),
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    walk(
                        definitions,
                        item_schema,
                        item,
                        format!("{path}[{i}]"),
                        depth + 1,
                        found,
                    );
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rkube_api::Catalog;
    use serde_json::json;

    #[test]
    fn undeclared_fields_are_reported_with_upstream_paths() {
        let definitions = Definitions::build(&Catalog::builtin());
        let deployment = "io.k8s.api.apps.v1.Deployment";
        let cases = [
            (
                json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "a", "labels": {"any": "x"}},
                    "spec": {"replicas": 1, "strategy": {"rollingUpdate": {"maxSurge": "25%"}},
                        "template": {"spec": {"containers": [{"name": "c", "image": "i", "resources": {"limits": {"cpu": "1"}}}]}}}}),
                vec![],
            ),
            (
                json!({"spec": {"replicaz": 1, "template": {"spec": {"containers": [{"name": "c"}, {"name": "d", "bogusField": 1}]}}}, "extra": true}),
                vec![
                    "spec.replicaz",
                    "spec.template.spec.containers[1].bogusField",
                    "extra",
                ],
            ),
            (json!({"metadata": {"nmae": "typo"}}), vec!["metadata.nmae"]),
        ];
        for (object, want) in cases {
            assert_eq!(
                unknown_fields(&definitions, deployment, &object),
                want,
                "{object}"
            );
        }
    }

    #[test]
    fn open_schemas_accept_anything() {
        let definitions = Definitions::build(&Catalog::builtin());
        let crd =
            "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition";
        let object = json!({"spec": {"versions": [{"name": "v1", "schema": {"openAPIV3Schema": {"type": "object", "default": {"anything": {"goes": 1}}}}}]}});
        assert_eq!(
            unknown_fields(&definitions, crd, &object),
            Vec::<String>::new()
        );
        assert_eq!(
            unknown_fields(&definitions, "no.such.Kind", &json!({"x": 1})),
            Vec::<String>::new()
        );
    }
}
