//! Which objects a list or watch returns: label and field selectors, parsed
//! and matched by `rkube_api::selector` (upstream's `SelectionPredicate`).

use rkube_api::{FieldSelector, LabelSelector, ResourceDef};
use serde_json::Value;

use crate::status::{ApiError, ApiResult};

/// A parsed pair of selectors.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    labels: LabelSelector,
    fields: FieldSelector,
}

impl Filter {
    /// Everything.
    pub fn all() -> Self {
        Filter::default()
    }

    /// Parses `labelSelector` and `fieldSelector` for `def`; bad input is a
    /// 400 with upstream's message.
    pub fn parse(def: &ResourceDef, label: Option<&str>, field: Option<&str>) -> ApiResult<Self> {
        let labels = match label {
            Some(l) => LabelSelector::parse(l).map_err(|e| ApiError::bad_request(e.to_string()))?,
            None => LabelSelector::everything(),
        };
        let fields = match field {
            Some(f) => FieldSelector::parse_for(f, def.strategy.as_ref())
                .map_err(|e| ApiError::bad_request(e.to_string()))?,
            None => FieldSelector::default(),
        };
        Ok(Filter { labels, fields })
    }

    /// Whether `obj` is selected.
    pub fn matches(&self, def: &ResourceDef, obj: &Value) -> bool {
        let labels_ok = self.labels.is_everything() || {
            let empty = serde_json::Map::new();
            let labels = obj
                .pointer("/metadata/labels")
                .and_then(Value::as_object)
                .unwrap_or(&empty);
            self.labels.matches(labels)
        };
        labels_ok && self.fields.matches_object(def.strategy.as_ref(), obj)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rkube_api::Scope;
    use serde_json::json;

    #[test]
    fn set_based_label_selectors_and_name_fields_select_objects() {
        let def = crate::testing::def("", "v1", "ConfigMap", "configmaps", Scope::Namespaced);
        let obj = json!({"metadata": {"name": "a", "namespace": "n", "labels": {"environment": "qa", "tier": "frontend"}}});
        let cases = [
            (
                Some("environment in (production, qa),tier in (frontend)"),
                None,
                true,
            ),
            (Some("environment notin (qa)"), None, false),
            (Some("!tier"), None, false),
            (None, Some("metadata.name=a"), true),
            (None, Some("metadata.name!=a"), false),
            (None, None, true),
        ];
        for (label, field, want) in cases {
            let f = Filter::parse(&def, label, field).expect("should succeed");
            assert_eq!(f.matches(&def, &obj), want, "{label:?} {field:?}");
        }
    }

    #[test]
    fn unsupported_fields_and_bad_syntax_are_bad_requests() {
        let def = crate::testing::def("", "v1", "ConfigMap", "configmaps", Scope::Namespaced);
        let err = Filter::parse(&def, None, Some("spec.nodeName=x")).expect_err("should fail");
        assert_eq!(err.message, "field label not supported: spec.nodeName");
        assert!(Filter::parse(&def, Some("a in (b"), None).is_err());
    }
}
