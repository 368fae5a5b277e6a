//! Request bodies in Kubernetes' protobuf encoding, which client-go's typed
//! clients (and so `kubectl create namespace|configmap|secret|serviceaccount|
//! service|deployment`) send: the `k8s\0` magic, then a `runtime.Unknown` envelope holding the
//! object's protobuf bytes (`apimachinery/pkg/runtime/serializer/protobuf`).
//!
//! Typed clients also send `DeleteOptions` this way. Only kinds whose
//! messages are listed in [`MESSAGES`] decode (their field
//! numbers are those of upstream's `generated.proto`); any other kind is a
//! 415 telling the client to send JSON. Unknown field numbers are skipped.

use serde_json::{json, Map, Value};

use crate::status::{ApiError, ApiResult, Reason};

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
    /// A nested message.
    Msg(&'static str, &'static [(u64, Field)]),
    /// A repeated nested message.
    Msgs(&'static str, &'static [(u64, Field)]),
    /// `IntOrString` (`type` 0 int / 1 string, `intVal`, `strVal`).
    IntOrString(&'static str),
    /// `map<string,Quantity>` (`Quantity` is `{string = 1}`).
    QuantityMap(&'static str),
}

const OBJECT_META: &[(u64, Field)] = &[
    (1, Field::Str("name")),
    (2, Field::Str("generateName")),
    (3, Field::Str("namespace")),
    (5, Field::Str("uid")),
    (6, Field::Str("resourceVersion")),
    (7, Field::Int("generation")),
    (11, Field::StrMap("labels")),
    (12, Field::StrMap("annotations")),
    (14, Field::Strings("finalizers")),
];

const LOCAL_OBJECT_REFERENCE: &[(u64, Field)] = &[(1, Field::Str("name"))];

const OBJECT_REFERENCE: &[(u64, Field)] = &[
    (1, Field::Str("kind")),
    (2, Field::Str("namespace")),
    (3, Field::Str("name")),
    (4, Field::Str("uid")),
    (5, Field::Str("apiVersion")),
];

const CONFIG_MAP: &[(u64, Field)] = &[
    (1, Field::Msg("metadata", OBJECT_META)),
    (2, Field::StrMap("data")),
    (3, Field::BytesMap("binaryData")),
    (4, Field::Bool("immutable")),
];

const SECRET: &[(u64, Field)] = &[
    (1, Field::Msg("metadata", OBJECT_META)),
    (2, Field::BytesMap("data")),
    (3, Field::Str("type")),
    (4, Field::StrMap("stringData")),
    (5, Field::Bool("immutable")),
];

const NAMESPACE: &[(u64, Field)] = &[
    (1, Field::Msg("metadata", OBJECT_META)),
    (2, Field::Msg("spec", &[(1, Field::Strings("finalizers"))])),
];

const SERVICE_ACCOUNT: &[(u64, Field)] = &[
    (1, Field::Msg("metadata", OBJECT_META)),
    (2, Field::Msgs("secrets", OBJECT_REFERENCE)),
    (3, Field::Msgs("imagePullSecrets", LOCAL_OBJECT_REFERENCE)),
    (4, Field::Bool("automountServiceAccountToken")),
];

const DELETE_OPTIONS: &[(u64, Field)] = &[
    (1, Field::Int("gracePeriodSeconds")),
    (
        2,
        Field::Msg(
            "preconditions",
            &[(1, Field::Str("uid")), (2, Field::Str("resourceVersion"))],
        ),
    ),
    (3, Field::Bool("orphanDependents")),
    (4, Field::Str("propagationPolicy")),
    (5, Field::Strings("dryRun")),
];

const LABEL_SELECTOR: &[(u64, Field)] = &[
    (1, Field::StrMap("matchLabels")),
    (
        2,
        Field::Msgs(
            "matchExpressions",
            &[
                (1, Field::Str("key")),
                (2, Field::Str("operator")),
                (3, Field::Strings("values")),
            ],
        ),
    ),
];

const CONTAINER_PORT: &[(u64, Field)] = &[
    (1, Field::Str("name")),
    (2, Field::Int("hostPort")),
    (3, Field::Int("containerPort")),
    (4, Field::Str("protocol")),
    (5, Field::Str("hostIP")),
];

const CONTAINER: &[(u64, Field)] = &[
    (1, Field::Str("name")),
    (2, Field::Str("image")),
    (3, Field::Strings("command")),
    (4, Field::Strings("args")),
    (5, Field::Str("workingDir")),
    (6, Field::Msgs("ports", CONTAINER_PORT)),
    (
        8,
        Field::Msg(
            "resources",
            &[
                (1, Field::QuantityMap("limits")),
                (2, Field::QuantityMap("requests")),
            ],
        ),
    ),
    (14, Field::Str("imagePullPolicy")),
];

const POD_SPEC: &[(u64, Field)] = &[
    (2, Field::Msgs("containers", CONTAINER)),
    (3, Field::Str("restartPolicy")),
    (4, Field::Int("terminationGracePeriodSeconds")),
    (6, Field::Str("dnsPolicy")),
    (7, Field::StrMap("nodeSelector")),
    (8, Field::Str("serviceAccountName")),
];

const POD_TEMPLATE_SPEC: &[(u64, Field)] = &[
    (1, Field::Msg("metadata", OBJECT_META)),
    (2, Field::Msg("spec", POD_SPEC)),
];

const DEPLOYMENT: &[(u64, Field)] = &[
    (1, Field::Msg("metadata", OBJECT_META)),
    (
        2,
        Field::Msg(
            "spec",
            &[
                (1, Field::Int("replicas")),
                (2, Field::Msg("selector", LABEL_SELECTOR)),
                (3, Field::Msg("template", POD_TEMPLATE_SPEC)),
                (4, Field::Msg("strategy", &[(1, Field::Str("type"))])),
                (5, Field::Int("minReadySeconds")),
                (6, Field::Int("revisionHistoryLimit")),
                (7, Field::Bool("paused")),
                (9, Field::Int("progressDeadlineSeconds")),
            ],
        ),
    ),
];

const SERVICE_PORT: &[(u64, Field)] = &[
    (1, Field::Str("name")),
    (2, Field::Str("protocol")),
    (3, Field::Int("port")),
    (4, Field::IntOrString("targetPort")),
    (5, Field::Int("nodePort")),
];

const SERVICE: &[(u64, Field)] = &[
    (1, Field::Msg("metadata", OBJECT_META)),
    (
        2,
        Field::Msg(
            "spec",
            &[
                (1, Field::Msgs("ports", SERVICE_PORT)),
                (2, Field::StrMap("selector")),
                (3, Field::Str("clusterIP")),
                (4, Field::Str("type")),
            ],
        ),
    ),
];

/// The messages this server decodes, by `apiVersion` and `kind`.
const MESSAGES: &[(&str, &str, Message)] = &[
    ("v1", "DeleteOptions", DELETE_OPTIONS),
    ("meta.k8s.io/v1", "DeleteOptions", DELETE_OPTIONS),
    ("v1", "ConfigMap", CONFIG_MAP),
    ("v1", "Secret", SECRET),
    ("v1", "Namespace", NAMESPACE),
    ("v1", "ServiceAccount", SERVICE_ACCOUNT),
    ("v1", "Service", SERVICE),
    ("apps/v1", "Deployment", DEPLOYMENT),
];

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
                "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml (protobuf is decoded only for ConfigMap, Secret, Namespace, ServiceAccount, Service and Deployment, not {api_version} {kind})"
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
                let mut quantity = String::new();
                for (n, v) in Reader(entry).fields()? {
                    match (n, v) {
                        (1, Wire::Bytes(k)) => key = String::from_utf8_lossy(k).into_owned(),
                        (2, Wire::Bytes(q)) => {
                            for (qn, qv) in Reader(q).fields()? {
                                if let (1, Wire::Bytes(text)) = (qn, qv) {
                                    quantity = String::from_utf8_lossy(text).into_owned();
                                }
                            }
                        }
                        _ => {}
                    }
                }
                let map = out.entry(name).or_insert_with(|| json!({}));
                if let Value::Object(map) = map {
                    map.insert(key, json!(quantity));
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

fn push(out: &mut Map<String, Value>, name: &str, value: Value) {
    let list = out.entry(name).or_insert_with(|| json!([]));
    if let Value::Array(list) = list {
        list.push(value);
    }
}

/// One field's value on the wire.
enum Wire<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

/// A protobuf wire-format reader over one message.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<u64, &'static str> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = self.0.split_first().ok_or("truncated varint")?;
            self.0 = rest;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err("varint too long")
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], &'static str> {
        if n > self.0.len() {
            return Err("truncated field");
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn fields(mut self) -> Result<Vec<(u64, Wire<'a>)>, &'static str> {
        let mut out = Vec::new();
        while !self.0.is_empty() {
            let key = self.varint()?;
            let value = match key & 7 {
                0 => Wire::Varint(self.varint()?),
                1 => {
                    self.take(8)?;
                    Wire::Fixed
                }
                2 => {
                    let len = usize::try_from(self.varint()?).map_err(|_| "length overflow")?;
                    Wire::Bytes(self.take(len)?)
                }
                5 => {
                    self.take(4)?;
                    Wire::Fixed
                }
                _ => return Err("unsupported wire type"),
            };
            out.push((key >> 3, value));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(number: u64, bytes: &[u8]) -> Vec<u8> {
        let mut out = vec![((number << 3) | 2) as u8, bytes.len() as u8];
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
        let err = decode(&envelope("batch/v1", "Job", b"")).expect_err("unsupported");
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
}
