//! Per-kind behaviour: the small table each resource supplies to the generic
//! registry (upstream's `rest.RESTCreateStrategy` / `RESTUpdateStrategy`).
//!
//! The registry calls the hooks in one fixed order, upstream's: on create
//! `default` (upstream defaults while decoding), then system metadata (uid,
//! creationTimestamp, a name from generateName: `Store.Create` fills them
//! before `BeforeCreate`), then `prepare_for_create`, then
//! `validate_create`; on update `default`, `prepare_for_update`,
//! `validate_update`. The built-in strategies give the same result if
//! `default` runs after `prepare_*` instead. A kind overrides only what
//! differs from the defaults here; the status split wraps the kind's
//! strategy (`crate::status_split`).

use serde_json::Value;

use crate::field_error::FieldErrors;

/// Which part of an object a write may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteScope {
    /// A write to the resource itself: changes to `status` are ignored
    /// (for kinds with a status subresource).
    Main,
    /// A write to the `status` subresource: only `status` (and metadata
    /// labels/annotations, as upstream) may change.
    Status,
}

/// A kind's create/update behaviour. Objects are JSON so unknown fields and
/// custom resources pass through untouched.
pub trait Strategy: Send + Sync {
    /// Clears what a client may not set on create (e.g. `status` for kinds
    /// with a status subresource) and initialises `metadata.generation`.
    fn prepare_for_create(&self, obj: &mut Value) {
        let _ = obj;
    }

    /// Carries over what this write may not change from `old`, and bumps
    /// `metadata.generation` when the spec changed.
    fn prepare_for_update(&self, scope: WriteScope, new: &mut Value, old: &Value) {
        let _ = (scope, new, old);
    }

    /// Fills upstream's defaults (e.g. a pod's `restartPolicy: Always`).
    fn default(&self, obj: &mut Value) {
        let _ = obj;
    }

    /// Validates a new object; every problem with its field path.
    fn validate_create(&self, obj: &Value) -> FieldErrors {
        let _ = obj;
        FieldErrors::default()
    }

    /// Validates an update (immutable fields and the new object's own rules).
    fn validate_update(&self, new: &Value, old: &Value) -> FieldErrors {
        let _ = old;
        self.validate_create(new)
    }

    /// The values of this kind's selectable fields beyond `metadata.name` and
    /// `metadata.namespace` (e.g. `spec.nodeName` and `status.phase` for pods).
    ///
    /// Every supported field is returned for any object, with `""` (or Go's
    /// zero value) when the object lacks it: called with `Value::Null`, the
    /// result names the fields a field selector may use
    /// (see `selector::FieldSelector::parse_for`).
    fn field_labels(&self, obj: &Value) -> Vec<(&'static str, String)> {
        let _ = obj;
        Vec::new()
    }
}

/// The strategy that accepts everything: custom resources without a
/// schema. Built-in kinds without their own rules use
/// [`crate::kinds::MetaStrategy`], which still validates `metadata`.
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultStrategy;

impl Strategy for DefaultStrategy {}
