//! `metav1.LabelSelector` objects (`matchLabels` + `matchExpressions`), as
//! found in Deployments, Services' pod selectors (`matchLabels` only),
//! NetworkPolicies…: turning one into a [`LabelSelector`]
//! (`LabelSelectorAsSelector`) and validating one with field paths
//! (`ValidateLabelSelector`).

use k8s_openapi::apimachinery::pkg::apis::meta::v1 as metav1;
use serde_json::Value;

use super::error::{Result, SelectorError};
use super::label::{LabelSelector, Operator, Requirement};
use crate::field_error::FieldErrors;
use crate::validation::names;
use crate::validation::object_meta::validate_labels;

/// The operators of `matchExpressions`.
const OPERATORS: [(&str, Operator); 4] = [
    ("In", Operator::In),
    ("NotIn", Operator::NotIn),
    ("Exists", Operator::Exists),
    ("DoesNotExist", Operator::DoesNotExist),
];

fn operator(name: &str) -> Option<Operator> {
    OPERATORS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, op)| *op)
}

impl LabelSelector {
    /// Converts a `metav1.LabelSelector` JSON value. `null` selects
    /// nothing; `{}` selects everything.
    pub fn from_json(value: &Value) -> Result<LabelSelector> {
        if value.is_null() {
            return Ok(LabelSelector::Nothing);
        }
        let sel: metav1::LabelSelector = serde_json::from_value(value.clone())
            .map_err(|e| SelectorError::Invalid(format!("invalid label selector: {e}")))?;
        LabelSelector::from_typed(&sel)
    }

    /// Converts a typed `metav1.LabelSelector`.
    pub fn from_typed(sel: &metav1::LabelSelector) -> Result<LabelSelector> {
        let mut reqs = Vec::new();
        for (k, v) in sel.match_labels.iter().flatten() {
            reqs.push(Requirement::new(k, Operator::Equals, vec![v.clone()])?);
        }
        for expr in sel.match_expressions.iter().flatten() {
            let op = operator(&expr.operator).ok_or_else(|| {
                SelectorError::Invalid(format!(
                    "{} is not a valid label selector operator",
                    crate::field_error::quote(&expr.operator)
                ))
            })?;
            let values = expr.values.clone().unwrap_or_default();
            reqs.push(Requirement::new(&expr.key, op, values)?);
        }
        Ok(LabelSelector::from_requirements(reqs))
    }
}

/// Validates a `metav1.LabelSelector` JSON value at `path` (e.g.
/// `spec.selector`), every problem with its field path.
pub fn validate_label_selector(value: &Value, path: &str) -> FieldErrors {
    let mut errs = FieldErrors::default();
    if value.is_null() {
        return errs;
    }
    let Some(obj) = value.as_object() else {
        errs.invalid(path, &value.to_string(), "must be an object");
        return errs;
    };
    if let Some(labels) = obj.get("matchLabels") {
        errs.extend(validate_labels(labels, &format!("{path}.matchLabels")));
    }
    let exprs = obj
        .get("matchExpressions")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for (i, expr) in exprs.iter().enumerate() {
        let at = format!("{path}.matchExpressions[{i}]");
        let op = expr.get("operator").and_then(Value::as_str).unwrap_or("");
        let values: Vec<&str> = expr
            .get("values")
            .and_then(Value::as_array)
            .map(|v| v.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        match operator(op) {
            Some(Operator::In | Operator::NotIn) if values.is_empty() => errs.required(
                format!("{at}.values"),
                "must be specified when `operator` is 'In' or 'NotIn'",
            ),
            Some(Operator::Exists | Operator::DoesNotExist) if !values.is_empty() => errs
                .forbidden(
                    format!("{at}.values"),
                    "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                ),
            Some(_) => {}
            None => errs.invalid(
                format!("{at}.operator"),
                op,
                "not a valid selector operator",
            ),
        }
        let key = expr.get("key").and_then(Value::as_str).unwrap_or("");
        for msg in names::qualified_name(key) {
            errs.invalid(format!("{at}.key"), key, msg);
        }
        for (j, v) in values.iter().enumerate() {
            for msg in names::label_value(v) {
                errs.invalid(format!("{at}.values[{j}]"), v, msg);
            }
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;

    #[test]
    fn json_selectors_convert_like_upstream() {
        let web: BTreeMap<String, String> = [
            ("app".to_owned(), "web".to_owned()),
            ("tier".to_owned(), "front".to_owned()),
        ]
        .into();
        let cases = [
            (json!(null), false),
            (json!({}), true),
            (json!({"matchLabels": {"app": "web"}}), true),
            (json!({"matchLabels": {"app": "db"}}), false),
            (
                json!({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["front", "back"]}]}),
                true,
            ),
            (
                json!({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["front"]}]}),
                false,
            ),
            (
                json!({"matchExpressions": [{"key": "app", "operator": "Exists"}]}),
                true,
            ),
            (
                json!({"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "canary", "operator": "DoesNotExist"}]}),
                true,
            ),
        ];
        for (value, want) in cases {
            let sel = LabelSelector::from_json(&value);
            assert_eq!(sel.map(|s| s.matches(&web)), Ok(want), "{value}");
        }
    }

    #[test]
    fn bad_json_selectors_are_errors() {
        let cases = [
            (json!({"matchExpressions": [{"key": "a", "operator": "Near"}]}), "\"Near\" is not a valid label selector operator"),
            (json!({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]}), "values: Invalid value: []string{}: for 'in', 'notin' operators, values set can't be empty"),
        ];
        for (value, want) in cases {
            let got = LabelSelector::from_json(&value).map_err(|e| e.to_string());
            assert_eq!(got, Err(want.to_owned()), "{value}");
        }
        assert!(LabelSelector::from_json(&json!({"matchLabels": "x"})).is_err());
    }

    #[test]
    fn validation_reports_every_field() {
        let value = json!({
            "matchLabels": {"app": "-web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In"},
                {"key": "a b", "operator": "Exists", "values": ["x"]},
                {"key": "c", "operator": "Near"}
            ]
        });
        let errs = validate_label_selector(&value, "spec.selector");
        let fields: Vec<&str> = errs.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "spec.selector.matchLabels",
                "spec.selector.matchExpressions[0].values",
                "spec.selector.matchExpressions[1].values",
                "spec.selector.matchExpressions[1].key",
                "spec.selector.matchExpressions[2].operator",
            ]
        );
        assert!(validate_label_selector(&json!({"matchLabels": {"app": "web"}}), "s").is_empty());
    }
}
