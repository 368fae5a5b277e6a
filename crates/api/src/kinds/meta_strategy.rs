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
