//! The label selector lexer: upstream's `labels.Lexer` token rules
//! (k8s.io/apimachinery/pkg/labels/selector.go). Operators are runs of
//! `=!(),<>` matched greedily against the known operators; everything else
//! up to whitespace or an operator character is an identifier (or the
//! keywords `in` / `notin`).

/// One token of a label selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Token {
    EndOfString,
    ClosedPar,
    Comma,
    /// `!`
    DoesNotExist,
    DoubleEquals,
    Equals,
    GreaterThan,
    Identifier(String),
    In,
    LessThan,
    NotEquals,
    NotIn,
    OpenPar,
}

impl Token {
    /// The text upstream puts in `found '...'` messages.
    pub(crate) fn literal(&self) -> &str {
        match self {
            Token::Identifier(s) => s,
            Token::EndOfString => "",
            Token::ClosedPar => ")",
            Token::Comma => ",",
            Token::DoesNotExist => "!",
            Token::DoubleEquals => "==",
            Token::Equals => "=",
            Token::GreaterThan => ">",
            Token::In => "in",
            Token::LessThan => "<",
            Token::NotEquals => "!=",
            Token::NotIn => "notin",
            Token::OpenPar => "(",
        }
    }

    /// In a value position, `in` and `notin` are plain identifiers
    /// (`x in (in)` is valid).
    pub(crate) fn into_value(self) -> Token {
        match self {
            Token::In => Token::Identifier("in".into()),
            Token::NotIn => Token::Identifier("notin".into()),
            other => other,
        }
    }
}

fn is_whitespace(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_special(c: u8) -> bool {
    matches!(c, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

fn operator(s: &[u8]) -> Option<Token> {
    Some(match s {
        b")" => Token::ClosedPar,
        b"," => Token::Comma,
        b"!" => Token::DoesNotExist,
        b"==" => Token::DoubleEquals,
        b"=" => Token::Equals,
        b">" => Token::GreaterThan,
        b"<" => Token::LessThan,
        b"!=" => Token::NotEquals,
        b"(" => Token::OpenPar,
        _ => return None,
    })
}

/// Splits `input` into tokens, ending with `EndOfString`. Every operator
/// character is an operator on its own, so lexing cannot fail; bad input is
/// the parser's to report.
pub(crate) fn tokens(input: &str) -> Vec<Token> {
    let bytes = input.as_bytes();
    let mut pos = 0;
    let mut out = Vec::new();
    loop {
        while pos < bytes.len() && is_whitespace(bytes[pos]) {
            pos += 1;
        }
        let Some(&c) = bytes.get(pos) else {
            out.push(Token::EndOfString);
            return out;
        };
        if is_special(c) {
            // Longest operator at this point, like upstream's
            // scanSpecialSymbol: `!=` is one token, `=(` two.
            let two = bytes.get(pos..pos + 2).and_then(operator);
            let (tok, len) = match two {
                Some(tok) => (tok, 2),
                None => (operator(&[c]).unwrap_or(Token::EndOfString), 1),
            };
            out.push(tok);
            pos += len;
        } else {
            let start = pos;
            while pos < bytes.len() && !is_special(bytes[pos]) && !is_whitespace(bytes[pos]) {
                pos += 1;
            }
            // Token boundaries are ASCII, so the slice is on char boundaries.
            let word = input.get(start..pos).unwrap_or_default();
            out.push(match word {
                "in" => Token::In,
                "notin" => Token::NotIn,
                w => Token::Identifier(w.to_owned()),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_operators_and_words() {
        let id = |s: &str| Token::Identifier(s.into());
        let cases = [
            (
                "a=b",
                vec![id("a"), Token::Equals, id("b"), Token::EndOfString],
            ),
            (
                "a!=b",
                vec![id("a"), Token::NotEquals, id("b"), Token::EndOfString],
            ),
            (
                "a==b",
                vec![id("a"), Token::DoubleEquals, id("b"), Token::EndOfString],
            ),
            ("!a", vec![Token::DoesNotExist, id("a"), Token::EndOfString]),
            (
                "x in (a,b)",
                vec![
                    id("x"),
                    Token::In,
                    Token::OpenPar,
                    id("a"),
                    Token::Comma,
                    id("b"),
                    Token::ClosedPar,
                    Token::EndOfString,
                ],
            ),
            (
                "a=(",
                vec![id("a"), Token::Equals, Token::OpenPar, Token::EndOfString],
            ),
            ("  ", vec![Token::EndOfString]),
            (
                "é=ü",
                vec![id("é"), Token::Equals, id("ü"), Token::EndOfString],
            ),
        ];
        for (input, want) in cases {
            assert_eq!(tokens(input), want, "{input}");
        }
    }
}
