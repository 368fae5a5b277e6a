//! `$(VAR)` expansion in env values, command and args, with upstream's
//! rules (k8s.io/kubernetes third_party/forked/golang/expansion): `$$`
//! escapes a `$`, an unknown `$(NAME)` stays as written, an unterminated
//! `$(` stays as written.

use std::collections::HashMap;

/// Expands `$(NAME)` references in `input` from `vars`.
pub fn expand(input: &str, vars: &HashMap<String, String>) -> String {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(inner) = after.strip_prefix('(') {
            match inner.find(')') {
                Some(close) => {
                    let name = &inner[..close];
                    match vars.get(name) {
                        Some(value) => out.push_str(value),
                        None => {
                            out.push_str("$(");
                            out.push_str(name);
                            out.push(')');
                        }
                    }
                    rest = &inner[close + 1..];
                }
                None => {
                    out.push_str("$(");
                    rest = inner;
                }
            }
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn references_expand_and_the_rest_stays_as_written() {
        let vars = HashMap::from([
            ("A".to_string(), "alpha".to_string()),
            ("B".to_string(), "$(A)".to_string()),
        ]);
        let cases = [
            ("no references", "plain", "plain"),
            ("a known name expands", "x-$(A)-y", "x-alpha-y"),
            ("an unknown name stays", "$(NOPE)", "$(NOPE)"),
            ("a doubled dollar escapes", "$$(A)", "$(A)"),
            ("a lone dollar stays", "cost $5", "cost $5"),
            ("an unterminated reference stays", "$(A", "$(A"),
            ("values are not expanded again", "$(B)", "$(A)"),
            ("a trailing dollar stays", "end$", "end$"),
        ];
        for (name, input, want) in cases {
            assert_eq!(expand(input, &vars), want, "{name}");
        }
    }
}
