//! Field selectors: `metadata.name=web,status.phase!=Running` matched
//! against the fields a kind indexes (upstream's
//! k8s.io/apimachinery/pkg/fields/selector.go, and each strategy's
//! `GetAttrs`/field label conversion).

use serde_json::Value;

use super::error::{Result, SelectorError};
use crate::strategy::Strategy;

/// Whether a term wants the field equal to or different from its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldOp {
    /// `=` or `==`
    Equals,
    /// `!=`
    NotEquals,
}

/// One `field<op>value` term.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FieldTerm {
    /// The field, e.g. `spec.nodeName`.
    pub field: String,
    /// The comparison.
    pub op: FieldOp,
    /// The value, unescaped.
    pub value: String,
}

/// A conjunction of field terms; none selects everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct FieldSelector {
    terms: Vec<FieldTerm>,
}

/// Operators in the order upstream tries them at each position.
const OPERATORS: [(&str, FieldOp); 3] = [
    ("!=", FieldOp::NotEquals),
    ("==", FieldOp::Equals),
    ("=", FieldOp::Equals),
];

/// Splits on commas not escaped with a backslash (`splitTerms`).
fn split_terms(s: &str) -> Vec<&str> {
    let mut terms = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == ',' {
            terms.push(&s[start..i]);
            start = i + 1;
        }
    }
    terms.push(&s[start..]);
    terms
}

/// The first operator in `term` (`splitTerm`).
fn split_term(term: &str) -> Option<(&str, FieldOp, &str)> {
    term.char_indices().find_map(|(i, _)| {
        let rest = &term[i..];
        OPERATORS
            .iter()
            .find(|(op, _)| rest.starts_with(op))
            .map(|(op, kind)| (&term[..i], *kind, &rest[op.len()..]))
    })
}

/// Resolves `\\`, `\,` and `\=`; a bare `,` or `=` is an error
/// (`UnescapeValue`).
fn unescape(s: &str) -> Result<String> {
    let mut out = String::with_capacity(s.len());
    let mut escaped = false;
    for c in s.chars() {
        if escaped {
            if !matches!(c, '\\' | ',' | '=') {
                return Err(SelectorError::Syntax(format!(
                    "invalid field selector: invalid escape sequence: \\{c}"
                )));
            }
            out.push(c);
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            ',' | '=' => {
                return Err(SelectorError::Syntax(format!(
                    "invalid field selector: unescaped character in value: {}",
                    u32::from(c)
                )))
            }
            c => out.push(c),
        }
    }
    if escaped {
        return Err(SelectorError::Syntax(
            "invalid field selector: invalid escape sequence: \\".to_owned(),
        ));
    }
    Ok(out)
}

/// The fields every object can be selected by.
const METADATA_FIELDS: [&str; 2] = ["metadata.name", "metadata.namespace"];

/// The selectable fields of `obj`: its name and namespace plus the kind's
/// own (`Strategy::field_labels`).
pub fn object_fields(strategy: &dyn Strategy, obj: &Value) -> Vec<(&'static str, String)> {
    let meta = |k: &str| {
        obj.pointer(&format!("/metadata/{k}"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let mut fields = vec![
        (METADATA_FIELDS[0], meta("name")),
        (METADATA_FIELDS[1], meta("namespace")),
    ];
    fields.extend(strategy.field_labels(obj));
    fields
}

impl FieldSelector {
    /// Parses the query-string syntax (`fields.ParseSelector`).
    pub fn parse(input: &str) -> Result<FieldSelector> {
        let mut terms = Vec::new();
        for part in split_terms(input) {
            if part.is_empty() {
                continue;
            }
            let (field, op, raw) = split_term(part).ok_or_else(|| {
                SelectorError::Syntax(format!(
                    "invalid selector: '{input}'; can't understand '{part}'"
                ))
            })?;
            terms.push(FieldTerm {
                field: field.to_owned(),
                op,
                value: unescape(raw)?,
            });
        }
        Ok(FieldSelector { terms })
    }

    /// Parses and checks every field against what the kind of `strategy`
    /// indexes: `field label not supported: x` otherwise.
    pub fn parse_for(input: &str, strategy: &dyn Strategy) -> Result<FieldSelector> {
        let sel = FieldSelector::parse(input)?;
        let supported = object_fields(strategy, &Value::Null);
        if let Some(bad) = sel
            .terms
            .iter()
            .find(|t| !supported.iter().any(|(f, _)| *f == t.field))
        {
            return Err(SelectorError::UnsupportedField(bad.field.clone()));
        }
        Ok(sel)
    }

    /// The terms.
    pub fn terms(&self) -> &[FieldTerm] {
        &self.terms
    }

    /// True when it selects every object.
    pub fn is_everything(&self) -> bool {
        self.terms.is_empty()
    }

    /// The value a term pins `field` to, if any (lets a caller use an index,
    /// e.g. pods by `spec.nodeName`).
    pub fn exact_match(&self, field: &str) -> Option<&str> {
        self.terms
            .iter()
            .find(|t| t.field == field && t.op == FieldOp::Equals)
            .map(|t| t.value.as_str())
    }

    /// Whether `fields` satisfy every term; an absent field reads as `""`.
    pub fn matches(&self, fields: &[(&str, String)]) -> bool {
        self.terms.iter().all(|t| {
            let have = fields
                .iter()
                .find(|(f, _)| *f == t.field)
                .map(|(_, v)| v.as_str())
                .unwrap_or_default();
            (have == t.value) == (t.op == FieldOp::Equals)
        })
    }

    /// Whether `obj`, of the kind of `strategy`, is selected.
    pub fn matches_object(&self, strategy: &dyn Strategy, obj: &Value) -> bool {
        self.is_everything() || self.matches(&object_fields(strategy, obj))
    }
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    use serde_json::json;

    use super::*;
    use crate::strategy::DefaultStrategy;

    struct PhaseStrategy;

    impl Strategy for PhaseStrategy {
        fn field_labels(&self, obj: &Value) -> Vec<(&'static str, String)> {
            let phase = obj
                .pointer("/status/phase")
                .and_then(Value::as_str)
                .unwrap_or_default();
            vec![("status.phase", phase.to_owned())]
        }
    }

    #[test]
    fn selectors_match_object_fields() {
        let pod = json!({"metadata": {"name": "web", "namespace": "default"}, "status": {"phase": "Running"}});
        let cases = [
            ("", true),
            ("metadata.name=web", true),
            ("metadata.name==web", true),
            ("metadata.name!=web", false),
            ("metadata.namespace=default,status.phase!=Pending", true),
            ("status.phase=Running,metadata.name=db", false),
            ("status.phase=", false),
            ("metadata.name=web,", true),
        ];
        for (input, want) in cases {
            let sel = FieldSelector::parse_for(input, &PhaseStrategy);
            assert_eq!(
                sel.map(|s| s.matches_object(&PhaseStrategy, &pod)),
                Ok(want),
                "{input}"
            );
        }
    }

    #[test]
    fn bad_selectors_are_upstreams_errors() {
        let cases = [
            (
                "status.phase=Running",
                "field label not supported: status.phase",
            ),
            (
                "spec.nodeName",
                "invalid selector: 'spec.nodeName'; can't understand 'spec.nodeName'",
            ),
            (
                "metadata.name=a=b",
                "invalid field selector: unescaped character in value: 61",
            ),
            (
                "metadata.name=a\\x",
                "invalid field selector: invalid escape sequence: \\x",
            ),
            (
                "metadata.name=a\\",
                "invalid field selector: invalid escape sequence: \\",
            ),
        ];
        for (input, want) in cases {
            let got = FieldSelector::parse_for(input, &DefaultStrategy).map_err(|e| e.to_string());
            assert_eq!(got, Err(want.to_owned()), "{input}");
        }
    }

    #[test]
    fn escaped_values_unescape() {
        let sel = FieldSelector::parse("metadata.name=a\\,b\\=c\\\\");
        assert_eq!(
            sel.map(|s| s.exact_match("metadata.name").map(str::to_owned)),
            Ok(Some("a,b=c\\".to_owned()))
        );
    }

    #[test]
    fn property_arbitrary_input_never_panics() {
        let alphabet: Vec<char> = "ab.=!,\\é ".chars().collect();
        let mut rng = StdRng::seed_from_u64(7);
        for _ in 0..20000 {
            let len = rng.random_range(0..14);
            let input: String = (0..len)
                .map(|_| alphabet[rng.random_range(0..alphabet.len())])
                .collect();
            if let Ok(sel) = FieldSelector::parse(&input) {
                let _ = sel.matches(&[("a", "b".to_owned())]);
            }
        }
    }
}
