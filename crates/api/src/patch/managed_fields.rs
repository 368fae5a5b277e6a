//! `metadata.managedFields`: which manager owns which fields, and keeping it
//! up to date on ordinary writes (create, update, non-apply patches) so a
//! later server-side apply knows whom a field belongs to. Upstream:
//! `apiserver/pkg/endpoints/handlers/fieldmanager` and
//! `structured-merge-diff/merge/update.go` (`Updater.Update`).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::patch::field_set::FieldSet;
use crate::patch::patch_meta::PatchMeta;

/// What kind of write a manager made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Operation {
    /// A server-side apply.
    Apply,
    /// Any other write.
    Update,
}

/// One `managedFields` entry, fields in upstream's order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManagedFieldsEntry {
    /// The field manager, e.g. `kubectl`.
    pub manager: String,
    /// Apply or Update.
    pub operation: Operation,
    /// The API version the manager wrote with.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    /// When the manager's set last changed (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    /// Always `FieldsV1`.
    #[serde(default = "fields_v1_type")]
    pub fields_type: String,
    /// The owned fields as a `FieldsV1` tree.
    #[serde(default, rename = "fieldsV1")]
    pub fields_v1: Value,
    /// The subresource written through, e.g. `status`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub subresource: String,
}

fn fields_v1_type() -> String {
    "FieldsV1".to_string()
}

/// Who a manager is: appliers are one manager whatever the API version;
/// updaters are one per API version (upstream `BuildManagerIdentifier`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ManagerId {
    pub manager: String,
    pub operation: Operation,
    pub api_version: String,
    pub subresource: String,
}

impl ManagerId {
    fn of(entry: &ManagedFieldsEntry) -> Self {
        ManagerId {
            manager: entry.manager.clone(),
            operation: entry.operation,
            api_version: match entry.operation {
                Operation::Apply => String::new(),
                Operation::Update => entry.api_version.clone(),
            },
            subresource: entry.subresource.clone(),
        }
    }

    /// How conflict messages name the manager (upstream `printManager`).
    pub fn printed(&self) -> String {
        let mut printed = format!("{:?}", self.manager);
        if !self.subresource.is_empty() {
            printed = format!("{printed} with subresource {:?}", self.subresource);
        }
        if self.operation == Operation::Update {
            printed = format!("{printed} using {}", self.api_version);
        }
        printed
    }
}

/// One manager's entry while it is being changed.
#[derive(Debug, Clone)]
pub(crate) struct Managed {
    pub id: ManagerId,
    pub api_version: String,
    pub time: Option<String>,
    pub set: FieldSet,
}

/// Every manager of an object.
#[derive(Debug, Clone, Default)]
pub(crate) struct Managers(pub Vec<Managed>);

/// Object fields no manager owns: identity and bookkeeping that the server
/// sets (upstream's `StripMeta` field manager).
const UNOWNED_METADATA: &[&str] = &[
    "name",
    "namespace",
    "generateName",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "selfLink",
    "managedFields",
];

/// `object` without the fields no manager owns.
pub(crate) fn ownable(object: &Value) -> Value {
    let mut object = object.clone();
    if let Value::Object(map) = &mut object {
        map.shift_remove("apiVersion");
        map.shift_remove("kind");
        if let Some(Value::Object(metadata)) = map.get_mut("metadata") {
            for field in UNOWNED_METADATA {
                metadata.shift_remove(*field);
            }
            if metadata.is_empty() {
                map.shift_remove("metadata");
            }
        }
    }
    object
}

impl Managers {
    /// The managers recorded in `object`; entries that do not parse are
    /// dropped, as upstream drops invalid managedFields.
    pub fn of(object: &Value) -> Self {
        let entries = object
            .pointer("/metadata/managedFields")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        Managers(
            entries
                .into_iter()
                .filter_map(|e| serde_json::from_value::<ManagedFieldsEntry>(e).ok())
                .map(|entry| Managed {
                    id: ManagerId::of(&entry),
                    api_version: entry.api_version.clone(),
                    time: entry.time.clone(),
                    set: FieldSet::from_fields_v1(&entry.fields_v1),
                })
                .collect(),
        )
    }

    /// Whether `object` records any manager.
    pub fn recorded_in(object: &Value) -> bool {
        object
            .pointer("/metadata/managedFields")
            .and_then(Value::as_array)
            .is_some_and(|entries| !entries.is_empty())
    }

    /// The entry of `id`, created empty if missing.
    pub fn entry(&mut self, id: &ManagerId, api_version: &str) -> &mut Managed {
        let index = match self.0.iter().position(|m| m.id == *id) {
            Some(index) => index,
            None => {
                self.0.push(Managed {
                    id: id.clone(),
                    api_version: api_version.to_string(),
                    time: None,
                    set: FieldSet::default(),
                });
                self.0.len() - 1
            }
        };
        &mut self.0[index]
    }

    /// Writes the managers into `object.metadata.managedFields`, sorted like
    /// upstream (operation, time, manager, apiVersion, subresource), without
    /// managers that own nothing.
    pub fn write_to(mut self, object: &mut Value) {
        self.0.retain(|m| !m.set.is_empty());
        self.0.sort_by(|a, b| {
            (
                a.id.operation,
                &a.time,
                &a.id.manager,
                &a.api_version,
                &a.id.subresource,
            )
                .cmp(&(
                    b.id.operation,
                    &b.time,
                    &b.id.manager,
                    &b.api_version,
                    &b.id.subresource,
                ))
        });
        let entries: Vec<Value> = self
            .0
            .into_iter()
            .map(|m| ManagedFieldsEntry {
                manager: m.id.manager,
                operation: m.id.operation,
                api_version: m.api_version,
                time: m.time,
                fields_type: fields_v1_type(),
                fields_v1: m.set.to_fields_v1(),
                subresource: m.id.subresource,
            })
            .filter_map(|e| serde_json::to_value(e).ok())
            .collect();
        let Value::Object(map) = object else {
            return;
        };
        let metadata = map
            .entry("metadata")
            .or_insert_with(|| Value::Object(Default::default()));
        if let Value::Object(metadata) = metadata {
            if entries.is_empty() {
                metadata.shift_remove("managedFields");
            } else {
                metadata.insert("managedFields".to_string(), Value::Array(entries));
            }
        }
    }
}

/// Who made a non-apply write, and when.
#[derive(Debug, Clone, Copy)]
pub struct UpdateRequest<'a> {
    /// The field manager (`?fieldManager=`, else derived from the user agent).
    pub manager: &'a str,
    /// The API version of the request, e.g. `apps/v1`.
    pub api_version: &'a str,
    /// The subresource written, `""` for the main resource.
    pub subresource: &'a str,
    /// Now, RFC 3339 (`2024-01-02T03:04:05Z`).
    pub time: &'a str,
    /// The list rules of the kind.
    pub meta: &'a PatchMeta,
}

/// Records a create (`old` is `None`) or update in `new`'s managedFields:
/// the writer takes every field it added or changed from other managers,
/// and removed fields leave every manager's set. A write that changes
/// nothing leaves managedFields as they were.
///
/// Like upstream (`fieldmanager.go`), managedFields the request itself sets
/// are the starting point (kubectl rewrites them with a JSON patch when it
/// migrates client-side apply to server-side apply; `[{}]` clears them);
/// without them, `old`'s are kept, so clients unaware of managedFields
/// cannot drop them.
pub fn track_update(old: Option<&Value>, new: &mut Value, request: &UpdateRequest<'_>) {
    let empty = Value::Object(Default::default());
    let old = old.unwrap_or(&empty);
    let mut managers = if Managers::recorded_in(new) {
        Managers::of(new)
    } else {
        Managers::of(old)
    };
    let changes = FieldSet::compare(&ownable(old), &ownable(new), request.meta);
    for managed in &mut managers.0 {
        managed.set = managed
            .set
            .difference(&changes.changed)
            .difference_with_children(&changes.removed);
    }
    if !changes.changed.is_empty() {
        let id = ManagerId {
            manager: request.manager.to_string(),
            operation: Operation::Update,
            api_version: request.api_version.to_string(),
            subresource: request.subresource.to_string(),
        };
        let entry = managers.entry(&id, request.api_version);
        entry.set = entry.set.union(&changes.changed);
        entry.time = Some(request.time.to_string());
    }
    managers.write_to(new);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request<'a>(manager: &'a str, time: &'a str, meta: &'a PatchMeta) -> UpdateRequest<'a> {
        UpdateRequest {
            manager,
            api_version: "v1",
            subresource: "",
            time,
            meta,
        }
    }

    #[test]
    fn a_create_gives_the_creator_every_field() {
        let meta = PatchMeta::for_kind("", "ConfigMap");
        let mut created = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "namespace": "d", "labels": {"a": "1"}}, "data": {"k": "v"}});
        track_update(
            None,
            &mut created,
            &request("kubectl-create", "2024-01-01T00:00:00Z", &meta),
        );
        assert_eq!(
            created["metadata"]["managedFields"],
            json!([{
                "manager": "kubectl-create", "operation": "Update", "apiVersion": "v1",
                "time": "2024-01-01T00:00:00Z", "fieldsType": "FieldsV1",
                "fieldsV1": {"f:data": {".": {}, "f:k": {}}, "f:metadata": {"f:labels": {".": {}, "f:a": {}}}}
            }])
        );
        let keys: Vec<&String> = created["metadata"]["managedFields"][0]
            .as_object()
            .map(|m| m.keys().collect())
            .unwrap_or_default();
        assert_eq!(
            keys,
            [
                "manager",
                "operation",
                "apiVersion",
                "time",
                "fieldsType",
                "fieldsV1"
            ]
        );
    }

    #[test]
    fn an_update_moves_changed_fields_to_the_writer_and_drops_removed_ones() {
        let meta = PatchMeta::for_kind("", "ConfigMap");
        let mut v1 = json!({"metadata": {"name": "c"}, "data": {"a": "1", "b": "2"}});
        track_update(
            None,
            &mut v1,
            &request("first", "2024-01-01T00:00:00Z", &meta),
        );
        let mut v2 = json!({"metadata": {"name": "c", "managedFields": v1["metadata"]["managedFields"].clone()},
            "data": {"a": "9"}});
        track_update(
            Some(&v1),
            &mut v2,
            &request("second", "2024-01-02T00:00:00Z", &meta),
        );
        let managers: Vec<(String, Value)> = Managers::of(&v2)
            .0
            .into_iter()
            .map(|m| (m.id.manager, m.set.to_fields_v1()))
            .collect();
        assert_eq!(
            managers,
            vec![
                ("first".to_string(), json!({"f:data": {}})),
                ("second".to_string(), json!({"f:data": {"f:a": {}}})),
            ]
        );
    }

    #[test]
    fn managed_fields_the_request_sets_replace_the_old_ones() {
        let meta = PatchMeta::for_kind("", "ConfigMap");
        let mut v1 = json!({"metadata": {"name": "c"}, "data": {"a": "1"}});
        track_update(
            None,
            &mut v1,
            &request("first", "2024-01-01T00:00:00Z", &meta),
        );
        let migrated = json!([{"manager": "kubectl", "operation": "Apply", "apiVersion": "v1",
            "time": "2024-01-02T00:00:00Z", "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"f:a": {}}}}]);
        let cases = [(migrated.clone(), migrated), (json!([{}]), Value::Null)];
        for (sent, want) in cases {
            let mut v2 = v1.clone();
            v2["metadata"]["managedFields"] = sent.clone();
            track_update(
                Some(&v1),
                &mut v2,
                &request("second", "2024-01-03T00:00:00Z", &meta),
            );
            assert_eq!(
                v2["metadata"]
                    .get("managedFields")
                    .cloned()
                    .unwrap_or(Value::Null),
                want,
                "{sent}"
            );
        }
    }

    #[test]
    fn a_write_that_changes_nothing_keeps_managed_fields() {
        let meta = PatchMeta::for_kind("", "ConfigMap");
        let mut v1 = json!({"metadata": {"name": "c"}, "data": {"a": "1"}});
        track_update(
            None,
            &mut v1,
            &request("first", "2024-01-01T00:00:00Z", &meta),
        );
        let mut same = v1.clone();
        track_update(
            Some(&v1),
            &mut same,
            &request("second", "2024-01-02T00:00:00Z", &meta),
        );
        assert_eq!(same, v1);
    }

    #[test]
    fn updaters_print_with_their_api_version_and_appliers_without() {
        let cases = [
            (
                Operation::Update,
                "apps/v1",
                "",
                "\"kubectl-client-side-apply\" using apps/v1",
            ),
            (Operation::Apply, "", "", "\"kubectl-client-side-apply\""),
            (
                Operation::Update,
                "v1",
                "status",
                "\"kubectl-client-side-apply\" with subresource \"status\" using v1",
            ),
        ];
        for (operation, api_version, subresource, want) in cases {
            let id = ManagerId {
                manager: "kubectl-client-side-apply".to_string(),
                operation,
                api_version: api_version.to_string(),
                subresource: subresource.to_string(),
            };
            assert_eq!(id.printed(), want);
        }
    }
}
