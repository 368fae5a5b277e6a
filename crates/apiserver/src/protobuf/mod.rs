//! Request bodies in Kubernetes' protobuf encoding, which client-go's typed
//! clients (and so `kubectl create namespace|configmap|secret|serviceaccount|
//! service|deployment`) send: the `k8s\0` magic, then a `runtime.Unknown` envelope holding the
//! object's protobuf bytes (`apimachinery/pkg/runtime/serializer/protobuf`).
//!
//! Typed clients also send `DeleteOptions` this way. Only kinds whose
//! messages are tabled in [`messages`] decode; any other kind is a 415
//! telling the client to send JSON. Unknown field numbers are skipped.

use serde_json::{json, Map, Value};

use crate::status::{ApiError, ApiResult, Reason};

mod messages;
mod wire;

use messages::MESSAGES;
use wire::{Reader, Wire};

/// The envelope's magic prefix.
const MAGIC: &[u8] = b"k8s\x00";

/// A message: its field numbers and how each becomes JSON.
type Message = &'static [(u64, Field)];

/// How a field's value becomes JSON.
#[derive(Clone, Copy)]
enum Field {
    /// A string.
    Str(&'static str),
    /// A repeated string.
    Strings(&'static str),
    /// A bool (varint).
    Bool(&'static str),
    /// An int64 (varint).
    Int(&'static str),
    /// `map<string,string>`.
    StrMap(&'static str),
    /// `map<string,bytes>`, base64 in JSON.
    BytesMap(&'static str),
    /// A `Quantity` (`{string = 1}`).
    Quantity(&'static str),
    /// An embedded Go struct: its fields merge into the enclosing object.
    Inline(&'static [(u64, Field)]),
    /// A nested message.
    Msg(&'static str, &'static [(u64, Field)]),
    /// A repeated nested message.
    Msgs(&'static str, &'static [(u64, Field)]),
    /// `IntOrString` (`type` 0 int / 1 string, `intVal`, `strVal`).
    IntOrString(&'static str),
    /// `map<string,Quantity>` (`Quantity` is `{string = 1}`).
    QuantityMap(&'static str),
}

/// Decodes a protobuf request body into the JSON object it encodes.
pub fn decode(body: &[u8]) -> ApiResult<Value> {
    let malformed =
        |why: &str| ApiError::bad_request(format!("unable to decode protobuf body: {why}"));
    let envelope = body
        .strip_prefix(MAGIC)
        .ok_or_else(|| malformed("missing k8s magic prefix"))?;
    let mut api_version = String::new();
    let mut kind = String::new();
    let mut raw: &[u8] = &[];
    for (number, value) in Reader(envelope).fields().map_err(malformed)? {
        match (number, value) {
            (1, Wire::Bytes(type_meta)) => {
                for (n, v) in Reader(type_meta).fields().map_err(malformed)? {
                    match (n, v) {
                        (1, Wire::Bytes(s)) => {
                            api_version = String::from_utf8_lossy(s).into_owned()
                        }
                        (2, Wire::Bytes(s)) => kind = String::from_utf8_lossy(s).into_owned(),
                        _ => {}
                    }
                }
            }
            (2, Wire::Bytes(bytes)) => raw = bytes,
            _ => {}
        }
    }
    let Some((_, _, message)) = MESSAGES
        .iter()
        .find(|(v, k, _)| *v == api_version && *k == kind)
    else {
        return Err(ApiError::new(
            Reason::UnsupportedMediaType,
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml (protobuf is not decoded for {api_version} {kind})"
            ),
        ));
    };
    let mut obj = message_to_json(raw, message).map_err(malformed)?;
    if let Value::Object(map) = &mut obj {
        map.insert("apiVersion".into(), json!(api_version));
        map.insert("kind".into(), json!(kind));
    }
    Ok(obj)
}

fn message_to_json(bytes: &[u8], fields: &[(u64, Field)]) -> Result<Value, &'static str> {
    use base64::Engine;
    let mut out = Map::new();
    for (number, value) in Reader(bytes).fields()? {
        let Some((_, field)) = fields.iter().find(|(n, _)| *n == number) else {
            continue;
        };
        match (*field, value) {
            // Go's generated marshallers write non-pointer scalars even when
            // zero; in JSON those fields are `omitempty`, and defaulting
            // must see them as unset. (So an explicit 0 or false of a
            // pointer field, e.g. `replicas: 0`, reads as unset too.)
            (Field::Str(_), Wire::Bytes([]))
            | (Field::Bool(_) | Field::Int(_), Wire::Varint(0)) => {}
            (Field::Str(name), Wire::Bytes(b)) => {
                out.insert(name.into(), json!(String::from_utf8_lossy(b)));
            }
            (Field::Strings(name), Wire::Bytes(b)) => {
                push(&mut out, name, json!(String::from_utf8_lossy(b)))
            }
            (Field::Bool(name), Wire::Varint(v)) => {
                out.insert(name.into(), json!(v != 0));
            }
            (Field::Int(name), Wire::Varint(v)) => {
                out.insert(name.into(), json!(v as i64));
            }
            (Field::StrMap(name) | Field::BytesMap(name), Wire::Bytes(entry)) => {
                let mut key = String::new();
                let mut val = Value::String(String::new());
                for (n, v) in Reader(entry).fields()? {
                    match (n, v, field) {
                        (1, Wire::Bytes(k), _) => key = String::from_utf8_lossy(k).into_owned(),
                        (2, Wire::Bytes(b), Field::BytesMap(_)) => {
                            val = json!(base64::engine::general_purpose::STANDARD.encode(b))
                        }
                        (2, Wire::Bytes(b), _) => val = json!(String::from_utf8_lossy(b)),
                        _ => {}
                    }
                }
                let map = out.entry(name).or_insert_with(|| json!({}));
                if let Value::Object(map) = map {
                    map.insert(key, val);
                }
            }
            (Field::Msg(name, inner), Wire::Bytes(b)) => {
                out.insert(name.into(), message_to_json(b, inner)?);
            }
            (Field::Inline(inner), Wire::Bytes(b)) => {
                if let Value::Object(fields) = message_to_json(b, inner)? {
                    out.extend(fields);
                }
            }
            (Field::Quantity(name), Wire::Bytes(b)) => {
                out.insert(name.into(), json!(quantity(b)?));
            }
            (Field::IntOrString(name), Wire::Bytes(b)) => {
                let mut is_string = false;
                let mut int_val = 0u64;
                let mut str_val = String::new();
                for (n, v) in Reader(b).fields()? {
                    match (n, v) {
                        (1, Wire::Varint(t)) => is_string = t == 1,
                        (2, Wire::Varint(i)) => int_val = i,
                        (3, Wire::Bytes(s)) => str_val = String::from_utf8_lossy(s).into_owned(),
                        _ => {}
                    }
                }
                let value = if is_string {
                    json!(str_val)
                } else {
                    json!(int_val as i64)
                };
                out.insert(name.into(), value);
            }
            (Field::QuantityMap(name), Wire::Bytes(entry)) => {
                let mut key = String::new();
                let mut value = String::new();
                for (n, v) in Reader(entry).fields()? {
                    match (n, v) {
                        (1, Wire::Bytes(k)) => key = String::from_utf8_lossy(k).into_owned(),
                        (2, Wire::Bytes(q)) => value = quantity(q)?,
                        _ => {}
                    }
                }
                let map = out.entry(name).or_insert_with(|| json!({}));
                if let Value::Object(map) = map {
                    map.insert(key, json!(value));
                }
            }
            (Field::Msgs(name, inner), Wire::Bytes(b)) => {
                push(&mut out, name, message_to_json(b, inner)?)
            }
            _ => return Err("a field has the wrong wire type"),
        }
    }
    Ok(Value::Object(out))
}

/// A `resource.Quantity` message: its string form.
fn quantity(bytes: &[u8]) -> Result<String, &'static str> {
    let mut text = String::new();
    for (n, v) in Reader(bytes).fields()? {
        if let (1, Wire::Bytes(t)) = (n, v) {
            text = String::from_utf8_lossy(t).into_owned();
        }
    }
    Ok(text)
}

fn push(out: &mut Map<String, Value>, name: &str, value: Value) {
    let list = out.entry(name).or_insert_with(|| json!([]));
    if let Value::Array(list) = list {
        list.push(value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn varint(mut v: u64, out: &mut Vec<u8>) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }

    fn field(number: u64, bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        varint((number << 3) | 2, &mut out);
        varint(bytes.len() as u64, &mut out);
        out.extend_from_slice(bytes);
        out
    }

    fn envelope(api_version: &str, kind: &str, raw: &[u8]) -> Vec<u8> {
        let type_meta = [field(1, api_version.as_bytes()), field(2, kind.as_bytes())].concat();
        [MAGIC.to_vec(), field(1, &type_meta), field(2, raw)].concat()
    }

    #[test]
    fn a_configmap_decodes_with_metadata_and_data() {
        let meta = [
            field(1, b"c1"),
            field(11, &[field(1, b"app"), field(2, b"web")].concat()),
        ]
        .concat();
        let data = [field(1, b"k"), field(2, b"v")].concat();
        let raw = [field(1, &meta), field(2, &data)].concat();
        let obj = decode(&envelope("v1", "ConfigMap", &raw)).expect("decodes");
        assert_eq!(
            obj,
            json!({"metadata": {"name": "c1", "labels": {"app": "web"}}, "data": {"k": "v"}, "apiVersion": "v1", "kind": "ConfigMap"})
        );
    }

    #[test]
    fn secrets_carry_base64_data_and_other_kinds_are_unsupported() {
        let data = [field(1, b"p"), field(2, b"hi")].concat();
        let raw = [
            field(1, &field(1, b"s")),
            field(2, &data),
            field(3, b"Opaque"),
        ]
        .concat();
        let obj = decode(&envelope("v1", "Secret", &raw)).expect("decodes");
        assert_eq!(obj["data"]["p"], "aGk=");
        assert_eq!(obj["type"], "Opaque");
        let err = decode(&envelope("apps/v1", "StatefulSet", b"")).expect_err("unsupported");
        assert_eq!(err.reason, Reason::UnsupportedMediaType);
        assert_eq!(
            decode(b"garbage").expect_err("no magic").reason,
            Reason::BadRequest
        );
        assert_eq!(
            decode(&[MAGIC, &[0x0a, 0x7f]].concat())
                .expect_err("truncated")
                .reason,
            Reason::BadRequest
        );
    }

    #[test]
    fn a_job_decodes_with_env_from_a_configmap_and_an_inlined_volume_source() {
        let env = [
            field(1, b"MODE"),
            field(
                3,
                &field(
                    3,
                    &[field(1, &field(1, b"cfg")), field(2, b"mode")].concat(),
                ),
            ),
        ]
        .concat();
        let container = [field(1, b"c"), field(2, b"busybox"), field(7, &env)].concat();
        let volume = [
            field(1, b"data"),
            field(2, &field(19, &field(1, &field(1, b"cfg")))),
        ]
        .concat();
        let pod_spec = [field(1, &volume), field(2, &container), field(3, b"Never")].concat();
        let template = field(2, &pod_spec);
        let raw = [field(1, &field(1, b"j")), field(2, &field(6, &template))].concat();
        let obj = decode(&envelope("batch/v1", "Job", &raw)).expect("decodes");
        assert_eq!(
            obj["spec"]["template"]["spec"],
            json!({
                "volumes": [{"name": "data", "configMap": {"name": "cfg"}}],
                "containers": [{"name": "c", "image": "busybox", "env": [
                    {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "mode"}}}
                ]}],
                "restartPolicy": "Never"
            })
        );
    }
}
