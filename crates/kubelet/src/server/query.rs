//! Query strings: `application/x-www-form-urlencoded` pairs, repeated keys
//! kept in order (`command=sh&command=-c`).

/// The decoded pairs of a query.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query(Vec<(String, String)>);

impl Query {
    /// Parses `query` (without the `?`).
    pub fn parse(query: Option<&str>) -> Self {
        Query(
            query
                .unwrap_or("")
                .split('&')
                .filter(|pair| !pair.is_empty())
                .map(|pair| {
                    let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                    (decode(key), decode(value))
                })
                .collect(),
        )
    }

    /// The last value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `key`, in order.
    pub fn all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// A boolean flag as Go's `strconv.ParseBool` reads it (`1`, `true`).
    pub fn flag(&self, key: &str) -> bool {
        matches!(
            self.get(key),
            Some("1" | "t" | "T" | "true" | "TRUE" | "True")
        )
    }
}

/// Percent-decoding with `+` as a space; invalid escapes stay as written.
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                if let Some(value) = hex {
                    out.push(value);
                    i += 2;
                } else {
                    out.push(b'%');
                }
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn pairs_are_decoded_and_repeated_keys_kept() {
        let query = Query::parse(Some(
            "command=sh&command=-c&command=echo+hi%21&sinceTime=2024-01-01T00%3A00%3A00Z&tty=1&bad=%zz",
        ));
        assert_eq!(query.all("command"), vec!["sh", "-c", "echo hi!"]);
        assert_eq!(query.get("sinceTime"), Some("2024-01-01T00:00:00Z"));
        assert!(query.flag("tty"));
        assert!(!query.flag("input"));
        assert_eq!(query.get("bad"), Some("%zz"));
        assert_eq!(Query::parse(None), Query::default());
    }
}
