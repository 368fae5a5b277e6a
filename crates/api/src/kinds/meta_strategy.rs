//! The strategy of kinds with no rules beyond their metadata.

use serde_json::Value;

use crate::catalog::Scope;
use crate::field_error::FieldErrors;
use crate::strategy::Strategy;
use crate::validation::{validate_object_meta, validate_object_meta_update, NameRule};

/// Validates `metadata` for a kind of the given scope and name rule.
#[derive(Debug, Clone, Copy)]
pub struct MetaStrategy {
    scope: Scope,
    rule: NameRule,
}

impl MetaStrategy {
    /// A strategy for a kind of `scope` whose names follow `rule`.
    pub fn new(scope: Scope, rule: NameRule) -> MetaStrategy {
        MetaStrategy { scope, rule }
    }
}

impl Strategy for MetaStrategy {
    fn validate_create(&self, obj: &Value) -> FieldErrors {
        validate_object_meta(obj, self.scope, self.rule)
    }

    fn validate_update(&self, new: &Value, old: &Value) -> FieldErrors {
        validate_object_meta_update(new, old, self.scope, self.rule)
    }
}

/// Create validation of a namespaced kind whose names are DNS subdomains:
/// its metadata, then the kind's own `rules` (upstream's `Validate<Kind>`
/// functions all start with `ValidateObjectMeta`).
pub(crate) fn validate_namespaced_create(
    obj: &Value,
    rules: fn(&Value) -> FieldErrors,
) -> FieldErrors {
    let mut errs = validate_object_meta(obj, Scope::Namespaced, NameRule::Subdomain);
    errs.extend(rules(obj));
    errs
}

/// Update validation of such a kind: the metadata update, then `rules` on
/// the new object (`Validate<Kind>Update`); kind-specific immutability
/// checks follow at the caller.
pub(crate) fn validate_namespaced_update(
    new: &Value,
    old: &Value,
    rules: fn(&Value) -> FieldErrors,
) -> FieldErrors {
    let mut errs = validate_object_meta_update(new, old, Scope::Namespaced, NameRule::Subdomain);
    errs.extend(rules(new));
    errs
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn validates_metadata_only() {
        let s = MetaStrategy::new(Scope::Namespaced, NameRule::Subdomain);
        assert!(s
            .validate_create(&json!({"metadata": {"name": "a", "namespace": "b"}, "spec": 5}))
            .is_empty());
        assert_eq!(
            s.validate_create(&json!({"metadata": {"name": "a"}}))
                .0
                .len(),
            1
        );
        let old = json!({"metadata": {"name": "a", "namespace": "b"}});
        let renamed = json!({"metadata": {"name": "c", "namespace": "b"}});
        assert_eq!(s.validate_update(&renamed, &old).0.len(), 1);
    }
}
