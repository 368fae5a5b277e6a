//! Server-side apply (`application/apply-patch+yaml`): merges an applied
//! configuration into the live object, refuses to change fields other
//! managers own unless forced, removes fields the applier stopped sending,
//! and records the applier's fields in managedFields. Upstream:
//! `structured-merge-diff/merge/update.go` (`Updater.Apply`, `prune`) behind
//! `apiserver/pkg/endpoints/handlers/fieldmanager`.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use crate::patch::error::{Conflict, PatchError, Result};
use crate::patch::field_path::{FieldPath, PathElement};
use crate::patch::field_set::FieldSet;
use crate::patch::managed_fields::{ownable, Managed, ManagerId, Managers, Operation};
use crate::patch::patch_meta::{ListStrategy, PatchMeta};

/// The manager upstream gives the fields of objects that existed before
/// anyone applied to them.
const BEFORE_FIRST_APPLY: &str = "before-first-apply";

/// Whether an apply may take fields other managers own (`?force=true`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Force {
    /// Changing another manager's field is a conflict (the default).
    RespectOwners,
    /// Take ownership of the conflicting fields.
    TakeOwnership,
}

/// Which part of the object the request may write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldScope {
    /// The main resource: `status` in the configuration is ignored.
    Main,
    /// The `status` subresource: only `status` is applied.
    Status,
}

/// Who applies, and how.
#[derive(Debug, Clone, Copy)]
pub struct ApplyRequest<'a> {
    /// The field manager (`?fieldManager=`, required for apply).
    pub manager: &'a str,
    /// The API version of the request, e.g. `apps/v1`.
    pub api_version: &'a str,
    /// Now, RFC 3339.
    pub time: &'a str,
    /// Conflict handling.
    pub force: Force,
    /// Main resource or status.
    pub scope: FieldScope,
    /// The list rules of the kind.
    pub meta: &'a PatchMeta,
}

/// Applies `config` to `live` (`None` when the apply creates the object) and
/// returns the new object with its managedFields, or the conflicts.
pub fn server_side_apply(
    live: Option<&Value>,
    config: &Value,
    request: &ApplyRequest<'_>,
) -> Result<Value> {
    if !config.is_object() {
        return Err(PatchError::Malformed(
            "apply configuration must be an object".to_string(),
        ));
    }
    let config = scoped(config, request.scope);
    let empty = Value::Object(Map::new());
    let live_object = live.unwrap_or(&empty);
    let meta = request.meta;

    let mut managers = Managers::of(live_object);
    if live.is_some() && !Managers::recorded_in(live_object) {
        let existing = FieldSet::compare(&empty, &ownable(live_object), meta).changed;
        managers.0.push(Managed {
            id: ManagerId {
                manager: BEFORE_FIRST_APPLY.to_string(),
                operation: Operation::Update,
                api_version: request.api_version.to_string(),
                subresource: String::new(),
            },
            api_version: request.api_version.to_string(),
            time: None,
            set: existing,
        });
    }

    let mut merged = merge_applied(Some(live_object), &config, &mut Vec::new(), meta);
    let changes = FieldSet::compare(&ownable(live_object), &ownable(&merged), meta);
    let applier = ManagerId {
        manager: request.manager.to_string(),
        operation: Operation::Apply,
        api_version: String::new(),
        subresource: match request.scope {
            FieldScope::Main => String::new(),
            FieldScope::Status => "status".to_string(),
        },
    };

    let conflicts: Vec<Conflict> = managers
        .0
        .iter()
        .filter(|m| m.id != applier)
        .flat_map(|m| {
            m.set
                .intersection(&changes.changed)
                .iter()
                .map(|path| Conflict::new(&m.id, path.clone()))
                .collect::<Vec<_>>()
        })
        .collect();
    if !conflicts.is_empty() {
        match request.force {
            Force::RespectOwners => return Err(PatchError::Conflicts(conflicts)),
            Force::TakeOwnership => {
                for other in managers.0.iter_mut().filter(|m| m.id != applier) {
                    other.set = other.set.difference(&changes.changed);
                }
            }
        }
    }

    let applied = FieldSet::from_applied(&ownable(&config), meta);
    let owned_by_others = managers
        .0
        .iter()
        .filter(|m| m.id != applier)
        .fold(FieldSet::default(), |all, m| all.union(&m.set));
    let previously = managers.entry(&applier, request.api_version).set.clone();
    for path in previously.difference(&applied).iter() {
        let still_wanted =
            applied.contains_or_below(path) || owned_by_others.contains_or_below(path);
        if !still_wanted {
            remove_path(&mut merged, path.elements());
            remove_emptied_parents(&mut merged, path.elements(), &applied, &owned_by_others);
        }
    }

    let entry = managers.entry(&applier, request.api_version);
    if entry.set != applied || entry.time.is_none() {
        entry.time = Some(request.time.to_string());
    }
    entry.set = applied;
    entry.api_version = request.api_version.to_string();
    managers.write_to(&mut merged);
    Ok(merged)
}

/// The part of `config` the scope may write; identity fields stay so the
/// merged object keeps its apiVersion, kind and name.
fn scoped(config: &Value, scope: FieldScope) -> Value {
    let mut config = config.clone();
    if let Value::Object(map) = &mut config {
        match scope {
            FieldScope::Main => {
                map.shift_remove("status");
            }
            FieldScope::Status => map
                .retain(|k, _| ["apiVersion", "kind", "metadata", "status"].contains(&k.as_str())),
        }
        if let (FieldScope::Status, Some(Value::Object(metadata))) =
            (scope, map.get_mut("metadata"))
        {
            metadata.retain(|k, _| ["name", "namespace"].contains(&k.as_str()));
        }
        if let Some(Value::Object(metadata)) = map.get_mut("metadata") {
            metadata.shift_remove("managedFields");
        }
    }
    config
}

/// Merges an applied value into the live one: objects field by field
/// (`null` in the configuration changes nothing), associative lists item by
/// item, sets by union, everything else replaced.
fn merge_applied(
    live: Option<&Value>,
    config: &Value,
    path: &mut Vec<String>,
    meta: &PatchMeta,
) -> Value {
    match (live, config) {
        (live, Value::Object(config)) => {
            let mut merged = match live {
                Some(Value::Object(live)) => live.clone(),
                _ => Map::new(),
            };
            for (key, value) in config.iter().filter(|(_, v)| !v.is_null()) {
                path.push(key.clone());
                let next = merge_applied(merged.get(key), value, path, meta);
                merged.insert(key.clone(), next);
                path.pop();
            }
            Value::Object(merged)
        }
        (Some(Value::Array(live)), Value::Array(config)) => match meta.list_strategy(path) {
            ListStrategy::Atomic => Value::Array(config.clone()),
            ListStrategy::Set => {
                let mut merged = live.clone();
                let mut present: HashSet<String> = live.iter().map(Value::to_string).collect();
                merged.extend(
                    config
                        .iter()
                        .filter(|item| present.insert(item.to_string()))
                        .cloned(),
                );
                Value::Array(merged)
            }
            ListStrategy::Map { map_keys, .. } => {
                let mut merged = live.clone();
                let mut positions: HashMap<PathElement, usize> = HashMap::new();
                for (i, item) in merged.iter().enumerate() {
                    positions
                        .entry(PathElement::key_of(item, map_keys))
                        .or_insert(i);
                }
                for item in config {
                    let key = PathElement::key_of(item, map_keys);
                    match positions.get(&key).and_then(|&i| merged.get_mut(i)) {
                        Some(slot) => *slot = merge_applied(Some(slot), item, path, meta),
                        None => {
                            positions.insert(key, merged.len());
                            merged.push(merge_applied(None, item, path, meta));
                        }
                    }
                }
                Value::Array(merged)
            }
        },
        (_, Value::Array(config)) => Value::Array(
            config
                .iter()
                .map(|item| merge_applied(None, item, path, meta))
                .collect(),
        ),
        (_, scalar) => scalar.clone(),
    }
}

/// After a prune, removes the objects above `path` that it left empty and
/// nobody owns, so dropping the last field of a map drops the map too;
/// `metadata` stays.
fn remove_emptied_parents(
    value: &mut Value,
    path: &[PathElement],
    applied: &FieldSet,
    others: &FieldSet,
) {
    for depth in (1..path.len()).rev() {
        let parent = &path[..depth];
        if parent == [PathElement::Field("metadata".to_string())] {
            return;
        }
        let parent_path = FieldPath::from(parent.to_vec());
        if applied.contains(&parent_path) || others.contains(&parent_path) {
            return;
        }
        let is_empty_object =
            lookup(value, parent).is_some_and(|v| v.as_object().is_some_and(Map::is_empty));
        if !is_empty_object {
            return;
        }
        remove_path(value, parent);
    }
}

/// The value at `path`, if present.
fn lookup<'v>(value: &'v Value, path: &[PathElement]) -> Option<&'v Value> {
    path.iter()
        .try_fold(value, |node, element| match (element, node) {
            (PathElement::Field(name), Value::Object(map)) => map.get(name),
            (PathElement::Index(i), Value::Array(items)) => items.get(*i),
            (element, Value::Array(items)) => {
                let pattern = element.item_pattern();
                items.iter().find(|item| pattern.matches(item))
            }
            _ => None,
        })
}

/// Removes the field or list item at `path` from `value`, if present.
fn remove_path(value: &mut Value, path: &[PathElement]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut node = value;
    for element in parents {
        let next = match (element, node) {
            (PathElement::Field(name), Value::Object(map)) => map.get_mut(name),
            (PathElement::Index(i), Value::Array(items)) => items.get_mut(*i),
            (element, Value::Array(items)) => {
                let pattern = element.item_pattern();
                items.iter_mut().find(|item| pattern.matches(item))
            }
            _ => None,
        };
        match next {
            Some(next) => node = next,
            None => return,
        }
    }
    match (last, node) {
        (PathElement::Field(name), Value::Object(map)) => {
            map.shift_remove(name);
        }
        (PathElement::Index(i), Value::Array(items)) if *i < items.len() => {
            items.remove(*i);
        }
        (element, Value::Array(items)) => {
            let pattern = element.item_pattern();
            items.retain(|item| !pattern.matches(item));
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patch::managed_fields::{track_update, UpdateRequest};
    use serde_json::json;

    const T1: &str = "2024-01-01T00:00:00Z";
    const T2: &str = "2024-01-02T00:00:00Z";

    fn meta() -> PatchMeta {
        PatchMeta::for_kind("apps", "Deployment")
    }

    fn deployment(replicas: i64, labels: Value, containers: Value) -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default", "labels": labels},
            "spec": {"replicas": replicas, "template": {"spec": {"containers": containers}}}
        })
    }

    fn apply(
        live: Option<&Value>,
        config: &Value,
        manager: &str,
        force: Force,
        time: &str,
    ) -> Result<Value> {
        let meta = meta();
        server_side_apply(
            live,
            config,
            &ApplyRequest {
                manager,
                api_version: "apps/v1",
                time,
                force,
                scope: FieldScope::Main,
                meta: &meta,
            },
        )
    }

    fn without_managed_fields(mut object: Value) -> Value {
        if let Some(Value::Object(metadata)) = object.get_mut("metadata") {
            metadata.shift_remove("managedFields");
        }
        object
    }

    fn managers_of(object: &Value) -> Vec<(String, Operation, Value)> {
        Managers::of(object)
            .0
            .into_iter()
            .map(|m| (m.id.manager, m.id.operation, m.set.to_fields_v1()))
            .collect()
    }

    #[test]
    fn a_first_apply_creates_the_object_and_records_the_applier() {
        let config = deployment(
            1,
            json!({"app": "web"}),
            json!([{"name": "web", "image": "nginx:1"}]),
        );
        let created = apply(None, &config, "kubectl", Force::RespectOwners, T1);
        let created = created.unwrap_or_default();
        assert_eq!(without_managed_fields(created.clone()), config);
        assert_eq!(
            created["metadata"]["managedFields"],
            json!([{
                "manager": "kubectl", "operation": "Apply", "apiVersion": "apps/v1", "time": T1,
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:metadata": {"f:labels": {"f:app": {}}}, "f:spec": {"f:replicas": {}, "f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {".": {}, "f:image": {}, "f:name": {}}}}}}}
            }])
        );
        let again = apply(Some(&created), &config, "kubectl", Force::RespectOwners, T2).ok();
        assert_eq!(
            again,
            Some(created),
            "a repeated apply changes nothing, not even the time"
        );
    }

    #[test]
    fn changing_a_field_another_manager_owns_conflicts_unless_forced() {
        let meta = meta();
        let mut live = deployment(
            1,
            json!({"app": "web"}),
            json!([{"name": "web", "image": "nginx:1"}]),
        );
        let update = UpdateRequest {
            manager: "kubectl-client-side-apply",
            api_version: "apps/v1",
            subresource: "",
            time: T1,
            meta: &meta,
        };
        track_update(None, &mut live, &update);

        let config = deployment(
            3,
            json!({"app": "web"}),
            json!([{"name": "web", "image": "nginx:1"}]),
        );
        let err = apply(Some(&live), &config, "kubectl", Force::RespectOwners, T2).err();
        assert_eq!(
            err.map(|e| (e.code(), e.to_string())),
            Some((409, "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using apps/v1: .spec.replicas".to_string()))
        );

        let forced =
            apply(Some(&live), &config, "kubectl", Force::TakeOwnership, T2).unwrap_or_default();
        assert_eq!(forced["spec"]["replicas"], json!(3));
        let managers = managers_of(&forced);
        assert_eq!(managers.len(), 2);
        let (_, _, updater_fields) = &managers[1];
        assert_eq!(
            updater_fields.pointer("/f:spec/f:replicas"),
            None,
            "the updater lost .spec.replicas"
        );
        assert_eq!(
            updater_fields.pointer("/f:metadata/f:labels/f:app"),
            Some(&json!({})),
            "fields applied with the same value stay shared"
        );
    }

    #[test]
    fn fields_the_applier_stops_sending_are_removed() {
        let first = deployment(
            1,
            json!({"app": "web", "tier": "front"}),
            json!([{"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}]),
        );
        let live = apply(None, &first, "kubectl", Force::RespectOwners, T1).unwrap_or_default();
        let second = deployment(
            1,
            json!({"app": "web"}),
            json!([{"name": "a", "image": "a:2"}]),
        );
        let got =
            apply(Some(&live), &second, "kubectl", Force::RespectOwners, T2).unwrap_or_default();
        assert_eq!(without_managed_fields(got), second);
    }

    #[test]
    fn fields_another_manager_also_owns_survive_the_applier_dropping_them() {
        let config = deployment(
            1,
            json!({"app": "web", "tier": "front"}),
            json!([{"name": "a", "image": "a:1"}]),
        );
        let live = apply(None, &config, "one", Force::RespectOwners, T1).unwrap_or_default();
        let shared = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": {"tier": "front"}}});
        let live = apply(Some(&live), &shared, "two", Force::RespectOwners, T1).unwrap_or_default();
        let dropped = deployment(
            1,
            json!({"app": "web"}),
            json!([{"name": "a", "image": "a:1"}]),
        );
        let got = apply(Some(&live), &dropped, "one", Force::RespectOwners, T2).unwrap_or_default();
        assert_eq!(
            got["metadata"]["labels"],
            json!({"app": "web", "tier": "front"})
        );
    }

    #[test]
    fn objects_without_managed_fields_belong_to_before_first_apply() {
        let live = deployment(
            1,
            json!({"app": "web"}),
            json!([{"name": "a", "image": "a:1"}]),
        );
        let config = deployment(
            2,
            json!({"app": "web"}),
            json!([{"name": "a", "image": "a:1"}]),
        );
        let err = apply(Some(&live), &config, "kubectl", Force::RespectOwners, T1)
            .err()
            .map(|e| e.to_string());
        assert_eq!(err, Some("Apply failed with 1 conflict: conflict with \"before-first-apply\" using apps/v1: .spec.replicas".to_string()));
    }

    #[test]
    fn status_applies_touch_only_status() {
        let meta = meta();
        let live = deployment(1, json!({"app": "web"}), json!([]));
        let config = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": {"x": "y"}},
            "spec": {"replicas": 9}, "status": {"replicas": 1}});
        let request = ApplyRequest {
            manager: "ctrl",
            api_version: "apps/v1",
            time: T1,
            force: Force::TakeOwnership,
            scope: FieldScope::Status,
            meta: &meta,
        };
        let got = server_side_apply(Some(&live), &config, &request).unwrap_or_default();
        assert_eq!(got["spec"]["replicas"], json!(1));
        assert_eq!(got["metadata"]["labels"], json!({"app": "web"}));
        assert_eq!(got["status"], json!({"replicas": 1}));
        assert_eq!(
            got["metadata"]["managedFields"][0]["subresource"],
            json!("status")
        );
    }

    #[test]
    fn list_items_merge_by_their_keys() {
        let live = apply(None, &deployment(1, json!({}), json!([{"name": "a", "image": "a:1", "ports": [{"containerPort": 80, "protocol": "TCP"}]}])), "one", Force::RespectOwners, T1)
            .unwrap_or_default();
        let config = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"template": {"spec": {"containers": [{"name": "b", "image": "b:1"}]}}}});
        let got = apply(Some(&live), &config, "two", Force::RespectOwners, T2).unwrap_or_default();
        assert_eq!(
            got["spec"]["template"]["spec"]["containers"],
            json!([{"name": "a", "image": "a:1", "ports": [{"containerPort": 80, "protocol": "TCP"}]}, {"name": "b", "image": "b:1"}])
        );
    }

    #[test]
    fn removing_paths_handles_every_element_kind() {
        let mut value = json!({"a": {"b": 1, "c": 2}, "l": [{"name": "x"}, {"name": "y"}], "s": ["p", "q"], "i": [1, 2]});
        let paths = [
            vec![
                PathElement::Field("a".into()),
                PathElement::Field("b".into()),
            ],
            vec![
                PathElement::Field("l".into()),
                PathElement::key_of(&json!({"name": "x"}), &["name"]),
            ],
            vec![
                PathElement::Field("s".into()),
                PathElement::value_of(&json!("q")),
            ],
            vec![PathElement::Field("i".into()), PathElement::Index(0)],
            vec![
                PathElement::Field("missing".into()),
                PathElement::Field("x".into()),
            ],
            vec![PathElement::Field("i".into()), PathElement::Index(7)],
        ];
        for path in paths {
            remove_path(&mut value, &path);
        }
        assert_eq!(
            value,
            json!({"a": {"c": 2}, "l": [{"name": "y"}], "s": ["p"], "i": [2]})
        );
    }

    #[test]
    fn a_sole_applier_gets_exactly_what_it_applied_last() {
        use crate::patch::random_json::random_object;
        use rand::rngs::StdRng;
        use rand::SeedableRng;
        let meta = PatchMeta::for_kind("", "ConfigMap");
        let request = |time| ApplyRequest {
            manager: "one",
            api_version: "v1",
            time,
            force: Force::RespectOwners,
            scope: FieldScope::Main,
            meta: &meta,
        };
        for seed in 0..1000u64 {
            let mut rng = StdRng::seed_from_u64(seed);
            let first = random_object(&mut rng, 3);
            let second = random_object(&mut rng, 3);
            let live = server_side_apply(None, &first, &request(T1));
            let live = live.map(without_managed_fields_or_metadata).ok();
            assert_eq!(live.as_ref(), Some(&first), "seed {seed}: created");
            let live = server_side_apply(None, &first, &request(T1)).unwrap_or_default();
            let next = server_side_apply(Some(&live), &second, &request(T2));
            let again = next
                .as_ref()
                .ok()
                .and_then(|n| server_side_apply(Some(n), &second, &request(T2)).ok());
            assert_eq!(
                next.as_ref().ok(),
                again.as_ref(),
                "seed {seed}: applying twice changes nothing"
            );
            let next = next.map(without_managed_fields_or_metadata).ok();
            assert_eq!(
                next,
                Some(second.clone()),
                "seed {seed}: {first} then {second}"
            );
        }
    }

    fn without_managed_fields_or_metadata(object: Value) -> Value {
        let mut object = without_managed_fields(object);
        if let Value::Object(map) = &mut object {
            if map
                .get("metadata")
                .is_some_and(|m| m.as_object().is_some_and(Map::is_empty))
            {
                map.shift_remove("metadata");
            }
        }
        object
    }
}
