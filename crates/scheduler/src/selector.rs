//! Label selectors (`metav1.LabelSelector`) and node selectors
//! (`v1.NodeSelector`, with the `Gt`/`Lt` operators and `matchFields`),
//! compiled once and matched many times.
//!
//! Semantics follow apimachinery's `LabelSelectorAsSelector` (a missing
//! selector selects nothing, an empty one selects everything) and
//! component-helpers' `nodeaffinity.NodeSelector` (terms are ORed, the
//! requirements of a term ANDed, a term without requirements matches nothing).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Node, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

/// A selector that could not be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    /// The operator is not one the selector kind supports.
    #[error("unsupported operator {operator:?} for key {key:?}")]
    UnknownOperator {
        /// The requirement's key.
        key: String,
        /// The operator as written.
        operator: String,
    },
    /// The values do not fit the operator (e.g. `In` without values).
    #[error("invalid values for operator {operator:?} on key {key:?}")]
    InvalidValues {
        /// The requirement's key.
        key: String,
        /// The operator as written.
        operator: String,
    },
}

/// How a requirement compares a label's value.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Operator {
    In(Vec<String>),
    NotIn(Vec<String>),
    Exists,
    DoesNotExist,
    GreaterThan(i64),
    LessThan(i64),
}

/// One compiled requirement on a label key.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Requirement {
    key: String,
    operator: Operator,
}

impl Requirement {
    fn compile(
        key: &str,
        operator: &str,
        values: &[String],
        numeric_allowed: bool,
    ) -> Result<Self, SelectorError> {
        let invalid = || SelectorError::InvalidValues {
            key: key.to_string(),
            operator: operator.to_string(),
        };
        let number = || -> Result<i64, SelectorError> {
            match values {
                [v] => v.parse().map_err(|_| invalid()),
                _ => Err(invalid()),
            }
        };
        let op = match operator {
            "In" if !values.is_empty() => Operator::In(values.to_vec()),
            "NotIn" if !values.is_empty() => Operator::NotIn(values.to_vec()),
            "Exists" if values.is_empty() => Operator::Exists,
            "DoesNotExist" if values.is_empty() => Operator::DoesNotExist,
            "Gt" if numeric_allowed => Operator::GreaterThan(number()?),
            "Lt" if numeric_allowed => Operator::LessThan(number()?),
            "In" | "NotIn" | "Exists" | "DoesNotExist" => return Err(invalid()),
            _ => {
                return Err(SelectorError::UnknownOperator {
                    key: key.to_string(),
                    operator: operator.to_string(),
                })
            }
        };
        Ok(Requirement {
            key: key.to_string(),
            operator: op,
        })
    }

    fn matches(&self, value: Option<&str>) -> bool {
        match (&self.operator, value) {
            (Operator::In(values), Some(v)) => values.iter().any(|x| x == v),
            (Operator::In(_), None) => false,
            (Operator::NotIn(values), Some(v)) => !values.iter().any(|x| x == v),
            (Operator::NotIn(_), None) => true,
            (Operator::Exists, v) => v.is_some(),
            (Operator::DoesNotExist, v) => v.is_none(),
            (Operator::GreaterThan(n), Some(v)) => v.parse::<i64>().is_ok_and(|x| x > *n),
            (Operator::LessThan(n), Some(v)) => v.parse::<i64>().is_ok_and(|x| x < *n),
            (Operator::GreaterThan(_) | Operator::LessThan(_), None) => false,
        }
    }
}

/// Labels as found on objects (absent labels are an empty map).
pub type Labels = BTreeMap<String, String>;

/// A compiled label selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    /// `None` selects nothing (a missing selector); otherwise objects meeting
    /// every requirement are selected (no requirements: everything).
    requirements: Option<Vec<Requirement>>,
}

impl Selector {
    /// Selects every object.
    pub fn everything() -> Self {
        Selector {
            requirements: Some(Vec::new()),
        }
    }

    /// Selects no object.
    pub fn nothing() -> Self {
        Selector { requirements: None }
    }

    /// Compiles an optional label selector; `None` selects nothing.
    pub fn from_label_selector(selector: Option<&LabelSelector>) -> Result<Self, SelectorError> {
        let Some(selector) = selector else {
            return Ok(Selector::nothing());
        };
        let mut requirements = Vec::new();
        for (k, v) in selector.match_labels.iter().flatten() {
            requirements.push(Requirement {
                key: k.clone(),
                operator: Operator::In(vec![v.clone()]),
            });
        }
        for e in selector.match_expressions.iter().flatten() {
            requirements.push(Requirement::compile(
                &e.key,
                &e.operator,
                e.values.as_deref().unwrap_or_default(),
                false,
            )?);
        }
        Ok(Selector {
            requirements: Some(requirements),
        })
    }

    /// Adds `key In (value)` (or `NotIn` for [`LabelRelation::Different`]), as upstream does for
    /// `matchLabelKeys` / `mismatchLabelKeys`.
    pub fn with_label(mut self, key: &str, value: &str, relation: LabelRelation) -> Self {
        if let Some(reqs) = &mut self.requirements {
            let values = vec![value.to_string()];
            reqs.push(Requirement {
                key: key.to_string(),
                operator: match relation {
                    LabelRelation::Same => Operator::In(values),
                    LabelRelation::Different => Operator::NotIn(values),
                },
            });
        }
        self
    }

    /// True when the labels satisfy the selector.
    pub fn matches(&self, labels: Option<&Labels>) -> bool {
        match &self.requirements {
            None => false,
            Some(reqs) => reqs
                .iter()
                .all(|r| r.matches(labels.and_then(|l| l.get(&r.key)).map(String::as_str))),
        }
    }
}

/// Whether a label added to a selector must equal or differ from a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelRelation {
    /// `key In (value)`.
    Same,
    /// `key NotIn (value)`.
    Different,
}

/// One compiled node selector term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSelectorTermMatcher {
    labels: Vec<Requirement>,
    /// `matchFields` requirements; upstream supports only `metadata.name`.
    fields: Vec<Requirement>,
}

const NODE_NAME_FIELD: &str = "metadata.name";

impl NodeSelectorTermMatcher {
    /// Compiles a term.
    pub fn compile(term: &NodeSelectorTerm) -> Result<Self, SelectorError> {
        let compile_all = |reqs: &Option<Vec<NodeSelectorRequirement>>, numeric: bool| {
            reqs.iter()
                .flatten()
                .map(|r| {
                    Requirement::compile(
                        &r.key,
                        &r.operator,
                        r.values.as_deref().unwrap_or_default(),
                        numeric,
                    )
                })
                .collect::<Result<Vec<_>, _>>()
        };
        let fields = compile_all(&term.match_fields, false)?;
        if let Some(bad) = fields.iter().find(|f| f.key != NODE_NAME_FIELD) {
            return Err(SelectorError::UnknownOperator {
                key: bad.key.clone(),
                operator: "matchFields".into(),
            });
        }
        Ok(NodeSelectorTermMatcher {
            labels: compile_all(&term.match_expressions, true)?,
            fields,
        })
    }

    /// True when the node meets every requirement of a non-empty term.
    pub fn matches(&self, node: &Node) -> bool {
        if self.labels.is_empty() && self.fields.is_empty() {
            return false;
        }
        let labels = node.metadata.labels.as_ref();
        let name = node.metadata.name.as_deref();
        self.labels
            .iter()
            .all(|r| r.matches(labels.and_then(|l| l.get(&r.key)).map(String::as_str)))
            && self.fields.iter().all(|r| r.matches(name))
    }
}

/// A compiled `v1.NodeSelector`: its terms are ORed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSelectorMatcher {
    terms: Vec<NodeSelectorTermMatcher>,
}

impl NodeSelectorMatcher {
    /// Compiles every term.
    pub fn compile(selector: &NodeSelector) -> Result<Self, SelectorError> {
        Ok(NodeSelectorMatcher {
            terms: selector
                .node_selector_terms
                .iter()
                .map(NodeSelectorTermMatcher::compile)
                .collect::<Result<_, _>>()?,
        })
    }

    /// True when any term matches the node.
    pub fn matches(&self, node: &Node) -> bool {
        self.terms.iter().any(|t| t.matches(node))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelectorRequirement, ObjectMeta};

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn expr(key: &str, op: &str, values: &[&str]) -> LabelSelectorRequirement {
        LabelSelectorRequirement {
            key: key.into(),
            operator: op.into(),
            values: Some(values.iter().map(|s| s.to_string()).collect()),
        }
    }

    #[test]
    fn label_selectors_match_as_upstream() {
        let app_web = labels(&[("app", "web"), ("tier", "front")]);
        let cases: Vec<(&str, Option<LabelSelector>, bool)> = vec![
            ("a missing selector selects nothing", None, false),
            (
                "an empty selector selects everything",
                Some(LabelSelector::default()),
                true,
            ),
            (
                "matchLabels must all match",
                Some(LabelSelector {
                    match_labels: Some(labels(&[("app", "web"), ("tier", "back")])),
                    ..Default::default()
                }),
                false,
            ),
            (
                "In matches one of the values",
                Some(LabelSelector {
                    match_expressions: Some(vec![expr("app", "In", &["db", "web"])]),
                    ..Default::default()
                }),
                true,
            ),
            (
                "NotIn matches a missing key",
                Some(LabelSelector {
                    match_expressions: Some(vec![expr("zone", "NotIn", &["a"])]),
                    ..Default::default()
                }),
                true,
            ),
            (
                "DoesNotExist fails on a present key",
                Some(LabelSelector {
                    match_expressions: Some(vec![expr("app", "DoesNotExist", &[])]),
                    ..Default::default()
                }),
                false,
            ),
        ];
        for (name, sel, want) in cases {
            let compiled = Selector::from_label_selector(sel.as_ref());
            assert_eq!(
                compiled.map(|s| s.matches(Some(&app_web))),
                Ok(want),
                "{name}"
            );
        }
    }

    #[test]
    fn invalid_selectors_are_errors() {
        let bad = [
            expr("a", "In", &[]),
            expr("a", "Exists", &["x"]),
            expr("a", "Gt", &["1"]),
            expr("a", "Near", &[]),
        ];
        for e in bad {
            let sel = LabelSelector {
                match_expressions: Some(vec![e.clone()]),
                ..Default::default()
            };
            assert!(Selector::from_label_selector(Some(&sel)).is_err(), "{e:?}");
        }
    }

    #[test]
    fn node_selector_terms_are_ored_and_support_numeric_and_field_operators() {
        let node = Node {
            metadata: ObjectMeta {
                name: Some("n1".into()),
                labels: Some(labels(&[("cores", "8"), ("zone", "a")])),
                ..Default::default()
            },
            ..Default::default()
        };
        let req = |k: &str, op: &str, v: &[&str]| NodeSelectorRequirement {
            key: k.into(),
            operator: op.into(),
            values: Some(v.iter().map(|s| s.to_string()).collect()),
        };
        let term = |exprs: Vec<NodeSelectorRequirement>, fields: Vec<NodeSelectorRequirement>| {
            NodeSelectorTerm {
                match_expressions: Some(exprs),
                match_fields: Some(fields),
            }
        };
        let cases = [
            (
                "Gt compares integers",
                vec![term(vec![req("cores", "Gt", &["4"])], vec![])],
                true,
            ),
            (
                "Lt compares integers",
                vec![term(vec![req("cores", "Lt", &["4"])], vec![])],
                false,
            ),
            (
                "matchFields on the name",
                vec![term(vec![], vec![req("metadata.name", "In", &["n1"])])],
                true,
            ),
            (
                "an empty term matches nothing",
                vec![term(vec![], vec![])],
                false,
            ),
            (
                "any matching term is enough",
                vec![
                    term(vec![req("zone", "In", &["b"])], vec![]),
                    term(vec![req("zone", "In", &["a"])], vec![]),
                ],
                true,
            ),
            ("no terms match nothing", vec![], false),
        ];
        for (name, terms, want) in cases {
            let m = NodeSelectorMatcher::compile(&NodeSelector {
                node_selector_terms: terms,
            });
            assert_eq!(m.map(|m| m.matches(&node)), Ok(want), "{name}");
        }
    }
}
