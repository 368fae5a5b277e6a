//! The v2 document in gnostic's protobuf form (`openapi.v2.Document` of
//! `google/gnostic` `openapiv2/OpenAPIv2.proto`), which client-go's
//! `OpenAPISchema()` asks for (`Accept:
//! application/com.github.proto-openapi.spec.v2@v1.0+protobuf`) and decodes
//! without a JSON fallback. Encoded by hand from the JSON document: only the
//! fields the document uses, vendor extensions and defaults as `Any.yaml`
//! text (JSON is YAML), as kube-openapi's converter writes them.

use serde_json::{Map, Value};

/// Protobuf wire types.
#[derive(Clone, Copy)]
enum Wire {
    Varint = 0,
    Fixed64 = 1,
    Delimited = 2,
}

/// One message being encoded.
#[derive(Default)]
struct Message(Vec<u8>);

impl Message {
    fn varint(&mut self, mut value: u64) {
        while value >= 0x80 {
            self.0.push((value as u8 & 0x7f) | 0x80);
            value >>= 7;
        }
        self.0.push(value as u8);
    }

    fn key(&mut self, field: u32, wire: Wire) {
        self.varint((u64::from(field) << 3) | wire as u64);
    }

    fn bytes(&mut self, field: u32, bytes: &[u8]) {
        self.key(field, Wire::Delimited);
        self.varint(bytes.len() as u64);
        self.0.extend_from_slice(bytes);
    }

    fn string(&mut self, field: u32, value: Option<&Value>) {
        if let Some(s) = value.and_then(Value::as_str).filter(|s| !s.is_empty()) {
            self.bytes(field, s.as_bytes());
        }
    }

    fn strings(&mut self, field: u32, value: Option<&Value>) {
        for s in value
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            self.bytes(field, s.as_bytes());
        }
    }

    fn bool(&mut self, field: u32, value: Option<&Value>) {
        if value.and_then(Value::as_bool) == Some(true) {
            self.key(field, Wire::Varint);
            self.varint(1);
        }
    }

    fn int64(&mut self, field: u32, value: Option<&Value>) {
        if let Some(n) = value.and_then(Value::as_i64).filter(|n| *n != 0) {
            self.key(field, Wire::Varint);
            self.varint(n as u64);
        }
    }

    fn double(&mut self, field: u32, value: Option<&Value>) {
        if let Some(n) = value.and_then(Value::as_f64).filter(|n| *n != 0.0) {
            self.key(field, Wire::Fixed64);
            self.0.extend_from_slice(&n.to_le_bytes());
        }
    }

    fn message(&mut self, field: u32, message: Message) {
        self.bytes(field, &message.0);
    }

    /// `openapi.v2.Any` with the value as YAML text.
    fn any(&mut self, field: u32, value: &Value) {
        let mut any = Message::default();
        any.bytes(2, value.to_string().as_bytes());
        self.message(field, any);
    }

    /// Repeated `NamedAny` vendor extensions: the object's `x-` keys.
    fn vendor_extensions(&mut self, field: u32, object: &Map<String, Value>) {
        for (name, value) in object.iter().filter(|(k, _)| k.starts_with("x-")) {
            let mut named = Message::default();
            named.bytes(1, name.as_bytes());
            named.any(2, value);
            self.message(field, named);
        }
    }
}

fn object(value: &Value) -> &Map<String, Value> {
    static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
    value
        .as_object()
        .unwrap_or_else(|| EMPTY.get_or_init(Map::new))
}

/// A repeated `Named<T>` list (`name` = 1, `value` = 2) from an object.
fn named(parent: &mut Message, field: u32, entries: Option<&Value>, encode: fn(&Value) -> Message) {
    for (name, value) in entries.map(object).into_iter().flatten() {
        let mut pair = Message::default();
        pair.bytes(1, name.as_bytes());
        pair.message(2, encode(value));
        parent.message(field, pair);
    }
}

/// Encodes the Swagger 2.0 JSON document.
pub(crate) fn encode_document(document: &Value) -> Vec<u8> {
    let mut doc = Message::default();
    doc.string(1, document.get("swagger"));
    if let Some(info) = document.get("info") {
        let mut m = Message::default();
        m.string(1, info.get("title"));
        m.string(2, info.get("version"));
        doc.message(2, m);
    }
    let mut paths = Message::default();
    named(&mut paths, 2, document.get("paths"), path_item);
    doc.message(8, paths);
    let mut definitions = Message::default();
    named(&mut definitions, 1, document.get("definitions"), schema);
    doc.message(9, definitions);
    for requirement in document
        .get("security")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let mut m = Message::default();
        named(&mut m, 1, Some(requirement), |scopes| {
            let mut array = Message::default();
            array.strings(1, Some(scopes));
            array
        });
        doc.message(12, m);
    }
    let mut security_definitions = Message::default();
    named(
        &mut security_definitions,
        1,
        document.get("securityDefinitions"),
        |definition| {
            let mut api_key = Message::default();
            for (field, key) in [(1, "type"), (2, "name"), (3, "in"), (4, "description")] {
                api_key.string(field, definition.get(key));
            }
            let mut item = Message::default();
            item.message(2, api_key);
            item
        },
    );
    doc.message(13, security_definitions);
    doc.0
}

fn path_item(item: &Value) -> Message {
    let mut m = Message::default();
    for (field, method) in [
        (2, "get"),
        (3, "put"),
        (4, "post"),
        (5, "delete"),
        (6, "options"),
        (7, "head"),
        (8, "patch"),
    ] {
        if let Some(op) = item.get(method) {
            m.message(field, operation(op));
        }
    }
    for param in item
        .get("parameters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        m.message(9, parameters_item(param));
    }
    m
}

fn operation(op: &Value) -> Message {
    let mut m = Message::default();
    m.strings(1, op.get("tags"));
    m.string(3, op.get("description"));
    m.string(5, op.get("operationId"));
    m.strings(6, op.get("produces"));
    m.strings(7, op.get("consumes"));
    for param in op
        .get("parameters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        m.message(8, parameters_item(param));
    }
    let mut responses = Message::default();
    named(&mut responses, 1, op.get("responses"), |response| {
        let mut r = Message::default();
        r.string(1, response.get("description"));
        if let Some(s) = response.get("schema") {
            let mut item = Message::default();
            item.message(1, schema(s));
            r.message(2, item);
        }
        let mut value = Message::default();
        value.message(1, r);
        value
    });
    m.message(9, responses);
    m.strings(10, op.get("schemes"));
    m.vendor_extensions(13, object(op));
    m
}

/// `ParametersItem { parameter: Parameter { body | non-body } }`.
fn parameters_item(param: &Value) -> Message {
    let location = param.get("in").and_then(Value::as_str).unwrap_or_default();
    let mut parameter = Message::default();
    if location == "body" {
        let mut body = Message::default();
        body.string(1, param.get("description"));
        body.string(2, param.get("name"));
        body.string(3, param.get("in"));
        body.bool(4, param.get("required"));
        if let Some(s) = param.get("schema") {
            body.message(5, schema(s));
        }
        parameter.message(1, body);
    } else {
        // Header, query and path sub-schemas share fields 1-4; `type` and
        // `uniqueItems` sit one field later where `allowEmptyValue` (5) is.
        let (variant, type_field, unique_field) = match location {
            "path" => (4, 5, 19),
            "header" => (1, 5, 19),
            _ => (3, 6, 20),
        };
        let mut sub = Message::default();
        sub.bool(1, param.get("required"));
        sub.string(2, param.get("in"));
        sub.string(3, param.get("description"));
        sub.string(4, param.get("name"));
        sub.string(type_field, param.get("type"));
        sub.bool(unique_field, param.get("uniqueItems"));
        let mut non_body = Message::default();
        non_body.message(variant, sub);
        parameter.message(2, non_body);
    }
    let mut item = Message::default();
    item.message(1, parameter);
    item
}

fn schema(value: &Value) -> Message {
    let s = object(value);
    let mut m = Message::default();
    m.string(1, s.get("$ref"));
    m.string(2, s.get("format"));
    m.string(3, s.get("title"));
    m.string(4, s.get("description"));
    if let Some(default) = s.get("default") {
        m.any(5, default);
    }
    m.double(6, s.get("multipleOf"));
    m.double(7, s.get("maximum"));
    m.bool(8, s.get("exclusiveMaximum"));
    m.double(9, s.get("minimum"));
    m.bool(10, s.get("exclusiveMinimum"));
    m.int64(11, s.get("maxLength"));
    m.int64(12, s.get("minLength"));
    m.string(13, s.get("pattern"));
    m.int64(14, s.get("maxItems"));
    m.int64(15, s.get("minItems"));
    m.bool(16, s.get("uniqueItems"));
    m.int64(17, s.get("maxProperties"));
    m.int64(18, s.get("minProperties"));
    m.strings(19, s.get("required"));
    for value in s
        .get("enum")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        m.any(20, value);
    }
    match s.get("additionalProperties") {
        Some(Value::Bool(allowed)) => {
            let mut item = Message::default();
            item.key(2, Wire::Varint);
            item.varint(u64::from(*allowed));
            m.message(21, item);
        }
        Some(additional @ Value::Object(_)) => {
            let mut item = Message::default();
            item.message(1, schema(additional));
            m.message(21, item);
        }
        _ => {}
    }
    match s.get("type") {
        Some(Value::String(t)) => {
            let mut item = Message::default();
            item.bytes(1, t.as_bytes());
            m.message(22, item);
        }
        Some(types @ Value::Array(_)) => {
            let mut item = Message::default();
            item.strings(1, Some(types));
            m.message(22, item);
        }
        _ => {}
    }
    match s.get("items") {
        Some(items @ Value::Object(_)) => {
            let mut item = Message::default();
            item.message(1, schema(items));
            m.message(23, item);
        }
        Some(Value::Array(items)) => {
            let mut item = Message::default();
            for items in items {
                item.message(1, schema(items));
            }
            m.message(23, item);
        }
        _ => {}
    }
    for sub in s
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        m.message(24, schema(sub));
    }
    if let Some(properties) = s.get("properties") {
        let mut props = Message::default();
        named(&mut props, 1, Some(properties), schema);
        m.message(25, props);
    }
    m.bool(27, s.get("readOnly"));
    if let Some(example) = s.get("example") {
        m.any(30, example);
    }
    m.vendor_extensions(31, s);
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A protobuf field as the test decoder sees it.
    #[derive(Debug, PartialEq)]
    enum Field {
        Varint(u64),
        Fixed64(u64),
        Bytes(Vec<u8>),
    }

    fn read_varint(bytes: &[u8], at: &mut usize) -> Option<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *bytes.get(*at)?;
            *at += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }

    /// Splits one message into (field number, value) pairs.
    fn fields(bytes: &[u8]) -> Option<Vec<(u64, Field)>> {
        let mut at = 0;
        let mut out = Vec::new();
        while at < bytes.len() {
            let key = read_varint(bytes, &mut at)?;
            let field = match key & 7 {
                0 => Field::Varint(read_varint(bytes, &mut at)?),
                1 => {
                    let raw = bytes.get(at..at + 8)?;
                    at += 8;
                    Field::Fixed64(u64::from_le_bytes(raw.try_into().ok()?))
                }
                2 => {
                    let len = read_varint(bytes, &mut at)? as usize;
                    let raw = bytes.get(at..at + len)?;
                    at += len;
                    Field::Bytes(raw.to_vec())
                }
                _ => return None,
            };
            out.push((key >> 3, field));
        }
        Some(out)
    }

    fn bytes_of(fields: &[(u64, Field)], number: u64) -> Vec<&[u8]> {
        fields
            .iter()
            .filter_map(|(n, f)| match f {
                Field::Bytes(b) if *n == number => Some(b.as_slice()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn documents_encode_as_gnostic_messages() {
        let document = json!({
            "swagger": "2.0",
            "info": {"title": "Kubernetes", "version": "v1.34.0"},
            "paths": {"/api/v1/pods": {"get": {"operationId": "listCoreV1PodForAllNamespaces",
                "parameters": [{"in": "query", "name": "watch", "type": "boolean", "uniqueItems": true}],
                "responses": {"200": {"description": "OK", "schema": {"$ref": "#/definitions/io.k8s.api.core.v1.PodList"}}},
                "x-kubernetes-action": "list"}}},
            "definitions": {"io.k8s.api.core.v1.Pod": {"type": "object", "required": ["metadata"],
                "properties": {"spec": {"$ref": "#/definitions/io.k8s.api.core.v1.PodSpec", "description": "d"}},
                "x-kubernetes-group-version-kind": [{"group": "", "kind": "Pod", "version": "v1"}]}}
        });
        let bytes = encode_document(&document);
        let top = fields(&bytes).unwrap_or_default();
        assert_eq!(bytes_of(&top, 1), vec![b"2.0".as_slice()]);

        let definitions = fields(bytes_of(&top, 9)[0]).unwrap_or_default();
        let pod = fields(bytes_of(&definitions, 1)[0]).unwrap_or_default();
        assert_eq!(
            bytes_of(&pod, 1),
            vec![b"io.k8s.api.core.v1.Pod".as_slice()]
        );
        let pod_schema = fields(bytes_of(&pod, 2)[0]).unwrap_or_default();
        assert_eq!(bytes_of(&pod_schema, 19), vec![b"metadata".as_slice()]);
        let type_item = fields(bytes_of(&pod_schema, 22)[0]).unwrap_or_default();
        assert_eq!(bytes_of(&type_item, 1), vec![b"object".as_slice()]);
        let extension = fields(bytes_of(&pod_schema, 31)[0]).unwrap_or_default();
        assert_eq!(
            bytes_of(&extension, 1),
            vec![b"x-kubernetes-group-version-kind".as_slice()]
        );
        let any = fields(bytes_of(&extension, 2)[0]).unwrap_or_default();
        let yaml: Value = serde_json::from_slice(bytes_of(&any, 2)[0]).unwrap_or_default();
        assert_eq!(yaml, json!([{"group": "", "kind": "Pod", "version": "v1"}]));

        let paths = fields(bytes_of(&top, 8)[0]).unwrap_or_default();
        let named_path = fields(bytes_of(&paths, 2)[0]).unwrap_or_default();
        let item = fields(bytes_of(&named_path, 2)[0]).unwrap_or_default();
        let get = fields(bytes_of(&item, 2)[0]).unwrap_or_default();
        assert_eq!(
            bytes_of(&get, 5),
            vec![b"listCoreV1PodForAllNamespaces".as_slice()]
        );
        let param = fields(bytes_of(&get, 8)[0]).unwrap_or_default();
        let parameter = fields(bytes_of(&param, 1)[0]).unwrap_or_default();
        let non_body = fields(bytes_of(&parameter, 2)[0]).unwrap_or_default();
        let query = fields(bytes_of(&non_body, 3)[0]).unwrap_or_default();
        assert_eq!(bytes_of(&query, 4), vec![b"watch".as_slice()]);
        assert!(query.contains(&(20, Field::Varint(1))), "uniqueItems");
    }

    #[test]
    fn numbers_use_their_wire_types() {
        let bytes = schema(&json!({"maximum": 1.5, "maxLength": 300, "minimum": -2.0})).0;
        let got = fields(&bytes).unwrap_or_default();
        assert!(got.contains(&(7, Field::Fixed64(1.5f64.to_bits()))));
        assert!(got.contains(&(11, Field::Varint(300))));
        assert!(got.contains(&(9, Field::Fixed64((-2.0f64).to_bits()))));
    }
}
