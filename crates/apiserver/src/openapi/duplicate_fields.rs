//! Finding fields a JSON body sets twice, for server-side
//! `fieldValidation=Strict|Warn`: a parsed `Value` keeps only the last
//! occurrence, so the raw bytes are walked once more (upstream's
//! `sigs.k8s.io/json` strict decoding reports `duplicate field "<path>"`).

use std::collections::HashSet;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// The paths of the fields `body` sets more than once, in document order,
/// named like unknown fields (`spec.containers[0].name`).
pub fn duplicate_fields(body: &[u8]) -> Result<Vec<String>, serde_json::Error> {
    let mut found = Vec::new();
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    Walker {
        path: String::new(),
        found: &mut found,
    }
    .deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(found)
}

struct Walker<'a> {
    path: String,
    found: &'a mut Vec<String>,
}

impl<'de> DeserializeSeed<'de> for Walker<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walker<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = if self.path.is_empty() {
                key.clone()
            } else {
                format!("{}.{key}", self.path)
            };
            if !seen.insert(key) {
                self.found.push(path.clone());
            }
            map.next_value_seed(Walker {
                path,
                found: &mut *self.found,
            })?;
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0usize;
        while seq
            .next_element_seed(Walker {
                path: format!("{}[{index}]", self.path),
                found: &mut *self.found,
            })?
            .is_some()
        {
            index += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_set_twice_are_reported_with_their_paths() {
        let cases: &[(&str, Vec<&str>)] = &[
            (r#"{"a":1,"b":{"c":1}}"#, vec![]),
            (r#"{"a":1,"a":2}"#, vec!["a"]),
            (
                r#"{"spec":{"containers":[{"name":"x"},{"name":"y","name":"z"}]},"spec":{}}"#,
                vec!["spec.containers[1].name", "spec"],
            ),
            (r#"[{"k":1,"k":1}]"#, vec!["[0].k"]),
            (r#""scalar""#, vec![]),
        ];
        for (body, want) in cases {
            assert_eq!(
                duplicate_fields(body.as_bytes()).ok(),
                Some(want.iter().map(|s| s.to_string()).collect()),
                "{body}"
            );
        }
    }

    #[test]
    fn malformed_json_is_an_error() {
        for body in ["{", r#"{"a":}"#, "{} {}", ""] {
            assert!(duplicate_fields(body.as_bytes()).is_err(), "{body}");
        }
    }
}
