//! Label selectors: upstream's `labels.Selector` — a list of requirements
//! that must all hold — parsed from the query-string syntax
//! (`environment in (production, qa),tier!=frontend,!canary`) with
//! upstream's grammar and error messages
//! (k8s.io/apimachinery/pkg/labels/selector.go).

use std::fmt;

use super::error::{Result, SelectorError};
use super::labels::Labels;
use super::lexer::{tokens, Token};
use crate::field_error::FieldErrors;
use crate::validation::names;

/// How a requirement relates a label to its values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operator {
    /// `key=value`
    Equals,
    /// `key==value`
    DoubleEquals,
    /// `key!=value` (also true when the label is absent)
    NotEquals,
    /// `key in (a, b)`
    In,
    /// `key notin (a, b)` (also true when the label is absent)
    NotIn,
    /// `key`
    Exists,
    /// `!key`
    DoesNotExist,
    /// `key>5` (integers)
    GreaterThan,
    /// `key<5` (integers)
    LessThan,
}

/// One condition on one label.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Requirement {
    key: String,
    operator: Operator,
    /// Sorted and unique, like upstream's `sets.String.List()`.
    values: Vec<String>,
}

impl Requirement {
    /// Builds a requirement after upstream's checks (`NewRequirement`): a
    /// valid key, the right number of values for the operator, valid
    /// values. The error is upstream's aggregated message.
    pub fn new(key: &str, operator: Operator, values: Vec<String>) -> Result<Requirement> {
        let mut values = values;
        values.sort();
        values.dedup();
        let mut errs = FieldErrors::default();
        let key_errs = names::qualified_name(key);
        if !key_errs.is_empty() {
            errs.invalid("key", key, key_errs.join("; "));
        }
        let rendered = || format!("[]string{{{}}}", quoted_list(&values));
        match operator {
            Operator::In | Operator::NotIn if values.is_empty() => errs.push(
                crate::field_error::ErrorType::Invalid,
                "values",
                Some(rendered()),
                "for 'in', 'notin' operators, values set can't be empty",
            ),
            Operator::Equals | Operator::DoubleEquals | Operator::NotEquals
                if values.len() != 1 =>
            {
                errs.push(
                    crate::field_error::ErrorType::Invalid,
                    "values",
                    Some(rendered()),
                    "exact-match compatibility requires one single value",
                )
            }
            Operator::Exists | Operator::DoesNotExist if !values.is_empty() => errs.push(
                crate::field_error::ErrorType::Invalid,
                "values",
                Some(rendered()),
                "values set must be empty for exists and does not exist",
            ),
            Operator::GreaterThan | Operator::LessThan => {
                if values.len() != 1 {
                    errs.push(
                        crate::field_error::ErrorType::Invalid,
                        "values",
                        Some(rendered()),
                        "for 'Gt', 'Lt' operators, exactly one value is required",
                    );
                }
                for (i, v) in values.iter().enumerate() {
                    if v.parse::<i64>().is_err() {
                        errs.invalid(
                            format!("values[{i}]"),
                            v,
                            "for 'Gt', 'Lt' operators, the value must be an integer",
                        );
                    }
                }
            }
            _ => {}
        }
        for (i, v) in values.iter().enumerate() {
            let value_errs = names::label_value(v);
            if !value_errs.is_empty() {
                errs.invalid(format!("values[{i}][{key}]"), v, value_errs.join("; "));
            }
        }
        if errs.is_empty() {
            Ok(Requirement {
                key: key.to_owned(),
                operator,
                values,
            })
        } else {
            Err(SelectorError::Invalid(errs.aggregate()))
        }
    }

    /// The label key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The operator.
    pub fn operator(&self) -> Operator {
        self.operator
    }

    /// The values, sorted.
    pub fn values(&self) -> &[String] {
        &self.values
    }

    /// Whether `labels` satisfy this requirement (upstream's
    /// `Requirement.Matches`).
    pub fn matches(&self, labels: &impl Labels) -> bool {
        let value = labels.get_label(&self.key);
        let listed = |v: &str| self.values.iter().any(|x| x == v);
        match self.operator {
            Operator::In | Operator::Equals | Operator::DoubleEquals => value.is_some_and(listed),
            Operator::NotIn | Operator::NotEquals => !value.is_some_and(listed),
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
            Operator::GreaterThan | Operator::LessThan => {
                let have = value.and_then(|v| v.parse::<i64>().ok());
                let want = match self.values.as_slice() {
                    [one] => one.parse::<i64>().ok(),
                    _ => None,
                };
                match (have, want) {
                    (Some(h), Some(w)) if self.operator == Operator::GreaterThan => h > w,
                    (Some(h), Some(w)) => h < w,
                    _ => false,
                }
            }
        }
    }
}

fn quoted_list(values: &[String]) -> String {
    values
        .iter()
        .map(|v| crate::field_error::quote(v))
        .collect::<Vec<_>>()
        .join(", ")
}

impl fmt::Display for Requirement {
    /// Upstream's canonical form: `!k`, `k`, `k=v`, `k in (a,b)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let values = self.values.join(",");
        match self.operator {
            Operator::Exists => write!(f, "{}", self.key),
            Operator::DoesNotExist => write!(f, "!{}", self.key),
            Operator::Equals => write!(f, "{}={values}", self.key),
            Operator::DoubleEquals => write!(f, "{}=={values}", self.key),
            Operator::NotEquals => write!(f, "{}!={values}", self.key),
            Operator::GreaterThan => write!(f, "{}>{values}", self.key),
            Operator::LessThan => write!(f, "{}<{values}", self.key),
            Operator::In => write!(f, "{} in ({values})", self.key),
            Operator::NotIn => write!(f, "{} notin ({values})", self.key),
        }
    }
}

/// A label selector.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LabelSelector {
    /// Selects nothing: a nil `metav1.LabelSelector` (`labels.Nothing()`).
    Nothing,
    /// Selects objects matching every requirement, sorted by key; no
    /// requirements select everything.
    Requirements(Vec<Requirement>),
}

impl Default for LabelSelector {
    fn default() -> Self {
        LabelSelector::everything()
    }
}

impl LabelSelector {
    /// Selects everything (an empty selector string).
    pub fn everything() -> LabelSelector {
        LabelSelector::Requirements(Vec::new())
    }

    /// A selector of the given requirements, sorted by key like upstream.
    pub fn from_requirements(mut reqs: Vec<Requirement>) -> LabelSelector {
        reqs.sort_by(|a, b| a.key.cmp(&b.key));
        LabelSelector::Requirements(reqs)
    }

    /// Parses the query-string syntax (`labels.Parse`).
    pub fn parse(input: &str) -> Result<LabelSelector> {
        let mut parser = Parser {
            tokens: tokens(input),
            pos: 0,
        };
        parser.parse().map(LabelSelector::from_requirements)
    }

    /// True when it selects every object.
    pub fn is_everything(&self) -> bool {
        matches!(self, LabelSelector::Requirements(r) if r.is_empty())
    }

    /// The requirements (none for [`LabelSelector::Nothing`]).
    pub fn requirements(&self) -> &[Requirement] {
        match self {
            LabelSelector::Nothing => &[],
            LabelSelector::Requirements(r) => r,
        }
    }

    /// Whether `labels` satisfy every requirement.
    pub fn matches(&self, labels: &impl Labels) -> bool {
        match self {
            LabelSelector::Nothing => false,
            LabelSelector::Requirements(reqs) => reqs.iter().all(|r| r.matches(labels)),
        }
    }
}

impl fmt::Display for LabelSelector {
    /// Requirements joined with `,`; parses back to the same selector.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .requirements()
            .iter()
            .map(ToString::to_string)
            .collect();
        f.write_str(&parts.join(","))
    }
}

/// Whether a token is read as a key/operator or as a value: in value
/// position `in` and `notin` are identifiers.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    KeyAndOperator,
    Values,
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

fn syntax(msg: String) -> SelectorError {
    SelectorError::Syntax(msg)
}

impl Parser {
    fn lookahead(&self, ctx: Context) -> Token {
        let tok = self
            .tokens
            .get(self.pos)
            .cloned()
            .unwrap_or(Token::EndOfString);
        match ctx {
            Context::Values => tok.into_value(),
            Context::KeyAndOperator => tok,
        }
    }

    fn consume(&mut self, ctx: Context) -> Token {
        let tok = self.lookahead(ctx);
        self.pos += 1;
        tok
    }

    fn parse(&mut self) -> Result<Vec<Requirement>> {
        let mut reqs = Vec::new();
        loop {
            match self.lookahead(Context::Values) {
                Token::Identifier(_) | Token::DoesNotExist => {
                    let req = self
                        .requirement()
                        .map_err(|e| syntax(format!("unable to parse requirement: {e}")))?;
                    reqs.push(req);
                    match self.consume(Context::Values) {
                        Token::EndOfString => return Ok(reqs),
                        Token::Comma => {
                            let next = self.lookahead(Context::Values);
                            if !matches!(next, Token::Identifier(_) | Token::DoesNotExist) {
                                return Err(syntax(format!(
                                    "found '{}', expected: identifier after ','",
                                    next.literal()
                                )));
                            }
                        }
                        other => {
                            return Err(syntax(format!(
                                "found '{}', expected: ',' or 'end of string'",
                                other.literal()
                            )))
                        }
                    }
                }
                Token::EndOfString => return Ok(reqs),
                other => {
                    return Err(syntax(format!(
                        "found '{}', expected: !, identifier, or 'end of string'",
                        other.literal()
                    )))
                }
            }
        }
    }

    fn requirement(&mut self) -> Result<Requirement> {
        let (key, inferred) = self.key_and_inferred_operator()?;
        if let Some(op) = inferred {
            return Requirement::new(&key, op, Vec::new());
        }
        let op = self.operator()?;
        let values = match op {
            Operator::In | Operator::NotIn => self.set_values()?,
            _ => self.exact_value()?,
        };
        Requirement::new(&key, op, values)
    }

    /// The key, and `Exists`/`DoesNotExist` when no binary operator follows.
    fn key_and_inferred_operator(&mut self) -> Result<(String, Option<Operator>)> {
        let mut op = None;
        let mut tok = self.consume(Context::Values);
        if tok == Token::DoesNotExist {
            op = Some(Operator::DoesNotExist);
            tok = self.consume(Context::Values);
        }
        let Token::Identifier(key) = tok else {
            return Err(syntax(format!(
                "found '{}', expected: identifier",
                tok.literal()
            )));
        };
        let errs = names::qualified_name(&key);
        if !errs.is_empty() {
            let mut fe = FieldErrors::default();
            fe.invalid("<nil>", &key, errs.join("; "));
            return Err(SelectorError::Invalid(fe.aggregate()));
        }
        if matches!(
            self.lookahead(Context::Values),
            Token::EndOfString | Token::Comma
        ) && op.is_none()
        {
            op = Some(Operator::Exists);
        }
        Ok((key, op))
    }

    fn operator(&mut self) -> Result<Operator> {
        Ok(match self.consume(Context::KeyAndOperator) {
            Token::In => Operator::In,
            Token::Equals => Operator::Equals,
            Token::DoubleEquals => Operator::DoubleEquals,
            Token::GreaterThan => Operator::GreaterThan,
            Token::LessThan => Operator::LessThan,
            Token::NotIn => Operator::NotIn,
            Token::NotEquals => Operator::NotEquals,
            other => {
                return Err(syntax(format!(
                    "found '{}', expected: in, notin, =, ==, !=, gt, lt",
                    other.literal()
                )))
            }
        })
    }

    /// `( a, b )`, where empty entries are the empty value.
    fn set_values(&mut self) -> Result<Vec<String>> {
        let open = self.consume(Context::Values);
        if open != Token::OpenPar {
            return Err(syntax(format!("found '{}' expected: '('", open.literal())));
        }
        let first = self.lookahead(Context::Values);
        match first {
            Token::Identifier(_) | Token::Comma => {
                let values = self.identifier_list()?;
                if self.consume(Context::Values) != Token::ClosedPar {
                    // Upstream reports the token that opened the list here.
                    return Err(syntax(format!(
                        "found '{}', expected: ')'",
                        first.literal()
                    )));
                }
                Ok(values)
            }
            Token::ClosedPar => {
                self.consume(Context::Values);
                Ok(vec![String::new()])
            }
            other => Err(syntax(format!(
                "found '{}', expected: ',', ')' or identifier",
                other.literal()
            ))),
        }
    }

    fn identifier_list(&mut self) -> Result<Vec<String>> {
        let mut values: Vec<String> = Vec::new();
        loop {
            match self.consume(Context::Values) {
                Token::Identifier(v) => {
                    values.push(v);
                    match self.lookahead(Context::Values) {
                        Token::Comma => continue,
                        Token::ClosedPar => return Ok(values),
                        other => {
                            return Err(syntax(format!(
                                "found '{}', expected: ',' or ')'",
                                other.literal()
                            )))
                        }
                    }
                }
                Token::Comma => {
                    if values.is_empty() {
                        values.push(String::new());
                    }
                    match self.lookahead(Context::Values) {
                        Token::ClosedPar => {
                            values.push(String::new());
                            return Ok(values);
                        }
                        Token::Comma => values.push(String::new()),
                        _ => {}
                    }
                }
                other => {
                    return Err(syntax(format!(
                        "found '{}', expected: ',', or identifier",
                        other.literal()
                    )))
                }
            }
        }
    }

    fn exact_value(&mut self) -> Result<Vec<String>> {
        if matches!(
            self.lookahead(Context::Values),
            Token::EndOfString | Token::Comma
        ) {
            return Ok(vec![String::new()]);
        }
        match self.consume(Context::Values) {
            Token::Identifier(v) => Ok(vec![v]),
            other => Err(syntax(format!(
                "found '{}', expected: identifier",
                other.literal()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn parsed_selectors_match_like_upstream() {
        let prod_front = labels(&[("environment", "production"), ("tier", "frontend")]);
        let qa = labels(&[("environment", "qa")]);
        let none = labels(&[]);
        let cases: [(&str, &BTreeMap<String, String>, bool); 22] = [
            ("", &none, true),
            ("environment=production", &prod_front, true),
            ("environment==production", &prod_front, true),
            ("environment=qa", &prod_front, false),
            ("environment!=qa", &prod_front, true),
            ("environment!=qa", &none, true),
            (
                "environment in (production, qa),tier in (frontend)",
                &prod_front,
                true,
            ),
            (
                "environment in (production, qa),tier in (frontend)",
                &qa,
                false,
            ),
            ("environment notin (qa)", &qa, false),
            ("environment notin (qa)", &none, true),
            ("tier", &prod_front, true),
            ("tier", &qa, false),
            ("!tier", &qa, true),
            ("!tier", &prod_front, false),
            ("  tier ,  environment = qa ", &qa, false),
            ("environment=", &none, false),
            ("environment in (,qa)", &qa, true),
            ("x in (in)", &labels(&[("x", "in")]), true),
            ("in=notin", &labels(&[("in", "notin")]), true),
            ("n>3", &labels(&[("n", "4")]), true),
            ("n<3", &labels(&[("n", "4")]), false),
            ("n>3", &labels(&[("n", "four")]), false),
        ];
        for (input, set, want) in cases {
            let sel = LabelSelector::parse(input);
            assert!(sel.is_ok(), "{input}: {sel:?}");
            if let Ok(sel) = sel {
                assert_eq!(sel.matches(set), want, "{input} against {set:?}");
            }
        }
    }

    #[test]
    fn bad_selectors_fail_with_upstreams_messages() {
        let cases = [
            ("a b", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"),
            ("a=b,", "found '', expected: identifier after ','"),
            (",a", "found ',', expected: !, identifier, or 'end of string'"),
            ("a=b c", "found 'c', expected: ',' or 'end of string'"),
            ("a in b", "unable to parse requirement: found 'b' expected: '('"),
            ("a in (b", "unable to parse requirement: found '', expected: ',' or ')'"),
            ("a in (=)", "unable to parse requirement: found '=', expected: ',', ')' or identifier"),
            ("a=(", "unable to parse requirement: found '(', expected: identifier"),
            ("!=a", "found '!=', expected: !, identifier, or 'end of string'"),
            ("!a=b", "found '=', expected: ',' or 'end of string'"),
            ("a>b", "unable to parse requirement: values[0]: Invalid value: \"b\": for 'Gt', 'Lt' operators, the value must be an integer"),
            (
                "-a=b",
                "unable to parse requirement: <nil>: Invalid value: \"-a\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
            ),
            (
                "a=b c d",
                "found 'c', expected: ',' or 'end of string'",
            ),
            (
                "a=-b",
                "unable to parse requirement: values[0][a]: Invalid value: \"-b\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
            ),
        ];
        for (input, want) in cases {
            match LabelSelector::parse(input) {
                Ok(sel) => panic!("{input} parsed as {sel:?}"),
                Err(e) => assert_eq!(e.to_string(), want, "{input}"),
            }
        }
    }

    #[test]
    fn display_is_canonical_and_sorted() {
        let cases = [
            ("b=1,a", "a,b=1"),
            ("x in (z, y,y)", "x in (y,z)"),
            ("!c,a!=2,b==3", "a!=2,b==3,!c"),
            ("x notin ()", "x notin ()"),
        ];
        for (input, want) in cases {
            let sel = LabelSelector::parse(input).map(|s| s.to_string());
            assert_eq!(sel.as_deref(), Ok(want), "{input}");
        }
    }

    const KEYS: [&str; 4] = ["app", "tier", "example.com/team", "in"];
    const VALUES: [&str; 4] = ["", "web", "db", "v1.2"];

    fn random_requirement(rng: &mut StdRng) -> Requirement {
        let key = KEYS[rng.random_range(0..KEYS.len())];
        let pick = |rng: &mut StdRng| VALUES[rng.random_range(0..VALUES.len())].to_owned();
        let (op, values) = match rng.random_range(0..7) {
            0 => (Operator::Equals, vec![pick(rng)]),
            1 => (Operator::DoubleEquals, vec![pick(rng)]),
            2 => (Operator::NotEquals, vec![pick(rng)]),
            3 => (Operator::In, vec![pick(rng), pick(rng)]),
            4 => (Operator::NotIn, vec![pick(rng)]),
            5 => (Operator::Exists, vec![]),
            _ => (Operator::DoesNotExist, vec![]),
        };
        match Requirement::new(key, op, values) {
            Ok(r) => r,
            Err(e) => panic!("generator built an invalid requirement: {e}"),
        }
    }

    fn random_labels(rng: &mut StdRng) -> BTreeMap<String, String> {
        let mut set = BTreeMap::new();
        for k in KEYS {
            if rng.random_bool(0.5) {
                let v = VALUES[rng.random_range(0..VALUES.len())];
                set.insert(k.to_owned(), v.to_owned());
            }
        }
        set
    }

    /// The reference semantics, written independently of `Requirement::matches`.
    fn model(req: &Requirement, labels: &BTreeMap<String, String>) -> bool {
        let v = labels.get(req.key());
        let has = |x: &String| req.values().contains(x);
        match req.operator() {
            Operator::Equals | Operator::DoubleEquals | Operator::In => v.map(has) == Some(true),
            Operator::NotEquals | Operator::NotIn => v.map(has) != Some(true),
            Operator::Exists => v.is_some(),
            Operator::DoesNotExist => v.is_none(),
            Operator::GreaterThan | Operator::LessThan => false,
        }
    }

    #[test]
    fn property_printing_then_parsing_gives_the_same_selector_and_matches() {
        let mut rng = StdRng::seed_from_u64(0x5e1ec7);
        for _ in 0..2000 {
            let n = rng.random_range(0..4);
            let sel = LabelSelector::from_requirements(
                (0..n).map(|_| random_requirement(&mut rng)).collect(),
            );
            let text = sel.to_string();
            let parsed = LabelSelector::parse(&text);
            assert_eq!(parsed.as_ref(), Ok(&sel), "{text}");
            let set = random_labels(&mut rng);
            let want = sel.requirements().iter().all(|r| model(r, &set));
            assert_eq!(sel.matches(&set), want, "{text} against {set:?}");
        }
    }

    #[test]
    fn property_arbitrary_input_never_panics() {
        let alphabet: Vec<char> = "ab=!(),<> in notin\t/.-_é0".chars().collect();
        let mut rng = StdRng::seed_from_u64(42);
        for _ in 0..20000 {
            let len = rng.random_range(0..16);
            let input: String = (0..len)
                .map(|_| alphabet[rng.random_range(0..alphabet.len())])
                .collect();
            let _ = LabelSelector::parse(&input);
        }
    }
}
