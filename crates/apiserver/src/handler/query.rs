//! Query strings: `application/x-www-form-urlencoded` pairs, decoded.

/// Decodes `a=b&c=%2Fd` into pairs; malformed escapes are kept literally.
pub fn parse(query: Option<&str>) -> Vec<(String, String)> {
    let Some(query) = query else {
        return Vec::new();
    };
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok());
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_decode_escapes_and_plus() {
        let q = parse(Some(
            "labelSelector=environment+in+%28production%2C+qa%29&watch=1&x&bad=%zz",
        ));
        assert_eq!(
            q[0],
            (
                "labelSelector".into(),
                "environment in (production, qa)".into()
            )
        );
        assert_eq!(q[1], ("watch".into(), "1".into()));
        assert_eq!(q[2], ("x".into(), "".into()));
        assert_eq!(q[3], ("bad".into(), "%zz".into()));
    }
}
