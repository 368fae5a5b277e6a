//! Pod spec defaulting and validation, shared by pods and every pod
//! template (Deployments, Jobs, …): upstream's `SetDefaults_PodSpec` /
//! `SetDefaults_Container` (pkg/apis/core/v1/defaults.go) and
//! `ValidatePodSpec` (pkg/apis/core/validation/validation.go).

use std::collections::HashSet;

use serde_json::{json, Map, Value};

use crate::field_error::FieldErrors;
use crate::json_path::{array_at, default, get, i64_at, items_mut, str_at};
use crate::validation::names;
use crate::validation::object_meta::validate_labels;

/// The volume source fields a volume may set (exactly one).
const VOLUME_SOURCES: [&str; 30] = [
    "hostPath",
    "emptyDir",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "secret",
    "nfs",
    "iscsi",
    "glusterfs",
    "persistentVolumeClaim",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "downwardAPI",
    "fc",
    "azureFile",
    "configMap",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "projected",
    "portworxVolume",
    "scaleIO",
    "storageos",
    "csi",
    "ephemeral",
    "image",
];

/// Volume sources whose files get `defaultMode: 0644` (420).
const MODE_SOURCES: [&str; 4] = ["secret", "configMap", "downwardAPI", "projected"];

const RESTART_POLICIES: [&str; 3] = ["Always", "OnFailure", "Never"];
const DNS_POLICIES: [&str; 4] = ["ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"];
const PULL_POLICIES: [&str; 3] = ["Always", "IfNotPresent", "Never"];
const PROTOCOLS: [&str; 3] = ["SCTP", "TCP", "UDP"];
const TERMINATION_MESSAGE_POLICIES: [&str; 2] = ["File", "FallbackToLogsOnError"];

/// The tag an image reference pulls: `latest` when it names none and has
/// no digest (upstream's `parsers.ParseImageName`).
fn image_tag(image: &str) -> &str {
    if image.is_empty() {
        return "";
    }
    let (name, digest) = match image.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (image, None),
    };
    let last = name.rsplit('/').next().unwrap_or(name);
    match last.split_once(':') {
        Some((_, tag)) => tag,
        None if digest.is_some() => "",
        None => "latest",
    }
}

fn default_probe(probe: &mut Map<String, Value>) {
    default(probe, "timeoutSeconds", json!(1));
    default(probe, "periodSeconds", json!(10));
    default(probe, "successThreshold", json!(1));
    default(probe, "failureThreshold", json!(3));
    if let Some(get) = probe.get_mut("httpGet").and_then(Value::as_object_mut) {
        default(get, "path", json!("/"));
        default(get, "scheme", json!("HTTP"));
    }
}

fn default_container(c: &mut Map<String, Value>, host_network: bool) {
    default(c, "terminationMessagePath", json!("/dev/termination-log"));
    default(c, "terminationMessagePolicy", json!("File"));
    let policy =
        if image_tag(c.get("image").and_then(Value::as_str).unwrap_or_default()) == "latest" {
            "Always"
        } else {
            "IfNotPresent"
        };
    default(c, "imagePullPolicy", json!(policy));
    for port in items_mut(c, "ports") {
        default(port, "protocol", json!("TCP"));
        if host_network {
            if let Some(p) = port.get("containerPort").cloned() {
                default(port, "hostPort", p);
            }
        }
    }
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(p) = c.get_mut(probe).and_then(Value::as_object_mut) {
            default_probe(p);
        }
    }
    for env in items_mut(c, "env") {
        let field_ref = env
            .get_mut("valueFrom")
            .and_then(|v| v.get_mut("fieldRef"))
            .and_then(Value::as_object_mut);
        if let Some(f) = field_ref {
            default(f, "apiVersion", json!("v1"));
        }
    }
}

/// Fills a pod spec's upstream defaults in place.
pub(crate) fn default_pod_spec(spec: &mut Map<String, Value>) {
    default(spec, "restartPolicy", json!("Always"));
    default(spec, "dnsPolicy", json!("ClusterFirst"));
    default(spec, "terminationGracePeriodSeconds", json!(30));
    default(spec, "schedulerName", json!("default-scheduler"));
    default(spec, "securityContext", json!({}));
    default(spec, "enableServiceLinks", json!(true));
    let host_network = spec.get("hostNetwork").and_then(Value::as_bool) == Some(true);
    for key in ["containers", "initContainers"] {
        for c in items_mut(spec, key) {
            default_container(c, host_network);
        }
    }
    for vol in items_mut(spec, "volumes") {
        if !VOLUME_SOURCES.iter().any(|s| vol.contains_key(*s)) {
            vol.insert("emptyDir".into(), json!({}));
        }
        for source in MODE_SOURCES {
            if let Some(s) = vol.get_mut(source).and_then(Value::as_object_mut) {
                default(s, "defaultMode", json!(420));
            }
        }
    }
}

/// Fills the defaults of the pod template at `template` (`spec.template`
/// of workloads).
pub(crate) fn default_template(template: Option<&mut Map<String, Value>>) {
    if let Some(spec) = template
        .and_then(|t| t.get_mut("spec"))
        .and_then(Value::as_object_mut)
    {
        default_pod_spec(spec);
    }
}

fn validate_ports(c: &Value, at: &str, errs: &mut FieldErrors) {
    let mut port_names = HashSet::new();
    for (i, port) in array_at(c, &["ports"]).iter().enumerate() {
        let at = format!("{at}.ports[{i}]");
        let name = str_at(port, &["name"]);
        if !name.is_empty() {
            let msgs = names::port_name(name);
            if !msgs.is_empty() {
                for m in msgs {
                    errs.invalid(format!("{at}.name"), name, m);
                }
            } else if !port_names.insert(name) {
                errs.duplicate(format!("{at}.name"), name);
            }
        }
        match i64_at(port, &["containerPort"]) {
            None | Some(0) => errs.required(format!("{at}.containerPort"), ""),
            Some(p) => {
                for m in names::port_number(p) {
                    errs.invalid_number(format!("{at}.containerPort"), p, m);
                }
            }
        }
        if let Some(p) = i64_at(port, &["hostPort"]).filter(|p| *p != 0) {
            for m in names::port_number(p) {
                errs.invalid_number(format!("{at}.hostPort"), p, m);
            }
        }
        validate_protocol(port, &at, errs);
    }
}

/// A port's `protocol` is set and one Kubernetes supports (container and
/// service ports share the rule, `validateContainerPorts` and
/// `validateServicePort`).
pub(crate) fn validate_protocol(port: &Value, at: &str, errs: &mut FieldErrors) {
    let protocol = str_at(port, &["protocol"]);
    if protocol.is_empty() {
        errs.required(format!("{at}.protocol"), "");
    } else if !PROTOCOLS.contains(&protocol) {
        errs.not_supported(format!("{at}.protocol"), protocol, &PROTOCOLS);
    }
}

/// The handler kinds of a probe; exactly one is set.
const PROBE_HANDLERS: [&str; 4] = ["exec", "httpGet", "tcpSocket", "grpc"];

/// A port given as a number or an IANA name (`validatePortNumOrName`).
fn validate_port_ref(port: Option<&Value>, at: &str, errs: &mut FieldErrors) {
    match port {
        Some(Value::String(name)) => {
            for m in names::port_name(name) {
                errs.invalid(at, name, m);
            }
        }
        Some(v) if !v.is_null() => {
            let n = v.as_i64().unwrap_or_default();
            for m in names::port_number(n) {
                errs.invalid_number(at, n, m);
            }
        }
        _ => errs.required(at, ""),
    }
}

/// `validateProbe`: one handler, non-negative timings, and a success
/// threshold of 1 for liveness and startup probes.
fn validate_probe(probe: &Value, kind: &str, at: &str, errs: &mut FieldErrors) {
    let handlers: Vec<&str> = PROBE_HANDLERS
        .iter()
        .copied()
        .filter(|h| probe.get(*h).is_some_and(|v| !v.is_null()))
        .collect();
    match handlers.as_slice() {
        [] => errs.required(at, "must specify a handler type"),
        [first, rest @ ..] => {
            match *first {
                "httpGet" | "tcpSocket" => validate_port_ref(
                    get(probe, &[first, "port"]),
                    &format!("{at}.{first}.port"),
                    errs,
                ),
                "exec" if array_at(probe, &["exec", "command"]).is_empty() => {
                    errs.required(format!("{at}.exec.command"), "")
                }
                _ => {}
            }
            for extra in rest {
                errs.forbidden(
                    format!("{at}.{extra}"),
                    "may not specify more than 1 handler type",
                );
            }
        }
    }
    for field in [
        "initialDelaySeconds",
        "timeoutSeconds",
        "periodSeconds",
        "successThreshold",
        "failureThreshold",
    ] {
        if let Some(n) = i64_at(probe, &[field]).filter(|n| *n < 0) {
            errs.invalid_number(
                format!("{at}.{field}"),
                n,
                "must be greater than or equal to 0",
            );
        }
    }
    if kind != "readinessProbe" {
        if let Some(n) = i64_at(probe, &["successThreshold"]).filter(|n| *n != 1) {
            errs.invalid_number(format!("{at}.successThreshold"), n, "must be 1");
        }
    }
}

fn validate_container(c: &Value, at: &str, volumes: &HashSet<&str>, errs: &mut FieldErrors) {
    let image = str_at(c, &["image"]);
    if image.is_empty() {
        errs.required(format!("{at}.image"), "");
    } else if image.trim() != image {
        errs.invalid(
            format!("{at}.image"),
            image,
            "must not have leading or trailing whitespace",
        );
    }
    let pull = str_at(c, &["imagePullPolicy"]);
    if pull.is_empty() {
        errs.required(format!("{at}.imagePullPolicy"), "");
    } else if !PULL_POLICIES.contains(&pull) {
        errs.not_supported(format!("{at}.imagePullPolicy"), pull, &PULL_POLICIES);
    }
    let tmp = str_at(c, &["terminationMessagePolicy"]);
    if tmp.is_empty() {
        errs.required(format!("{at}.terminationMessagePolicy"), "");
    } else if !TERMINATION_MESSAGE_POLICIES.contains(&tmp) {
        errs.not_supported(
            format!("{at}.terminationMessagePolicy"),
            tmp,
            &TERMINATION_MESSAGE_POLICIES,
        );
    }
    validate_ports(c, at, errs);
    for kind in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(probe) = get(c, &[kind]).filter(|p| p.is_object()) {
            validate_probe(probe, kind, &format!("{at}.{kind}"), errs);
        }
    }
    for (i, env) in array_at(c, &["env"]).iter().enumerate() {
        let name = str_at(env, &["name"]);
        if name.is_empty() {
            errs.required(format!("{at}.env[{i}].name"), "");
        } else {
            for m in names::env_var_name(name) {
                errs.invalid(format!("{at}.env[{i}].name"), name, m);
            }
        }
    }
    for (i, mount) in array_at(c, &["volumeMounts"]).iter().enumerate() {
        let name = str_at(mount, &["name"]);
        if name.is_empty() {
            errs.required(format!("{at}.volumeMounts[{i}].name"), "");
        } else if !volumes.contains(name) {
            errs.push(
                crate::field_error::ErrorType::NotFound,
                format!("{at}.volumeMounts[{i}].name"),
                Some(crate::field_error::quote(name)),
                "",
            );
        }
        if str_at(mount, &["mountPath"]).is_empty() {
            errs.required(format!("{at}.volumeMounts[{i}].mountPath"), "");
        }
    }
}

fn validate_volumes<'a>(spec: &'a Value, at: &str, errs: &mut FieldErrors) -> HashSet<&'a str> {
    let mut seen = HashSet::new();
    for (i, vol) in array_at(spec, &["volumes"]).iter().enumerate() {
        let at = format!("{at}.volumes[{i}]");
        let sources: Vec<&str> = VOLUME_SOURCES
            .iter()
            .copied()
            .filter(|s| vol.get(*s).is_some_and(|v| !v.is_null()))
            .collect();
        match sources.as_slice() {
            [] => errs.required(&at, "must specify a volume type"),
            [_] => {}
            [_, second, ..] => errs.forbidden(
                format!("{at}.{second}"),
                "may not specify more than 1 volume type",
            ),
        }
        let name = str_at(vol, &["name"]);
        if name.is_empty() {
            errs.required(format!("{at}.name"), "");
        } else {
            for m in names::dns1123_label(name) {
                errs.invalid(format!("{at}.name"), name, m);
            }
        }
        if !seen.insert(name) {
            errs.duplicate(format!("{at}.name"), name);
        }
    }
    seen
}

const TOLERATION_OPERATORS: [&str; 2] = ["Equal", "Exists"];
const TAINT_EFFECTS: [&str; 3] = ["NoSchedule", "PreferNoSchedule", "NoExecute"];

/// `validateTolerations`.
fn validate_tolerations(spec: &Value, at: &str, errs: &mut FieldErrors) {
    for (i, t) in array_at(spec, &["tolerations"]).iter().enumerate() {
        let at = format!("{at}.tolerations[{i}]");
        let key = str_at(t, &["key"]);
        let operator = str_at(t, &["operator"]);
        let value = str_at(t, &["value"]);
        let effect = str_at(t, &["effect"]);
        for m in names::qualified_name(key)
            .into_iter()
            .filter(|_| !key.is_empty())
        {
            errs.invalid(format!("{at}.key"), key, m);
        }
        if key.is_empty() && operator != "Exists" {
            errs.invalid(
                format!("{at}.operator"),
                operator,
                "operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
            );
        }
        if get(t, &["tolerationSeconds"]).is_some_and(|v| !v.is_null()) && effect != "NoExecute" {
            errs.invalid(
                format!("{at}.effect"),
                effect,
                "effect must be 'NoExecute' when `tolerationSeconds` is set",
            );
        }
        match operator {
            "Equal" | "" => {
                let msgs = names::label_value(value);
                if !msgs.is_empty() {
                    errs.invalid(format!("{at}.operator"), value, msgs.join(";"));
                }
            }
            "Exists" if !value.is_empty() => errs.invalid(
                format!("{at}.operator"),
                value,
                "value must be empty when `operator` is 'Exists'",
            ),
            "Exists" => {}
            other => errs.not_supported(format!("{at}.operator"), other, &TOLERATION_OPERATORS),
        }
        if !effect.is_empty() && !TAINT_EFFECTS.contains(&effect) {
            errs.not_supported(format!("{at}.effect"), effect, &TAINT_EFFECTS);
        }
    }
}

/// Validates a pod spec found at `at` (`spec`, `spec.template.spec`, …).
pub(crate) fn validate_pod_spec(spec: &Value, at: &str) -> FieldErrors {
    let mut errs = FieldErrors::default();
    if !spec.is_object() {
        errs.required(at, "");
        return errs;
    }
    let volumes = validate_volumes(spec, at, &mut errs);
    let containers = array_at(spec, &["containers"]);
    if containers.is_empty() {
        errs.required(format!("{at}.containers"), "");
    }
    // Container names are unique across init and regular containers.
    let mut container_names = HashSet::new();
    for key in ["initContainers", "containers"] {
        for (i, c) in array_at(spec, &[key]).iter().enumerate() {
            let cat = format!("{at}.{key}[{i}]");
            let name = str_at(c, &["name"]);
            if name.is_empty() {
                errs.required(format!("{cat}.name"), "");
            } else {
                for m in names::dns1123_label(name) {
                    errs.invalid(format!("{cat}.name"), name, m);
                }
                if !container_names.insert(name) {
                    errs.duplicate(format!("{cat}.name"), name);
                }
            }
            validate_container(c, &cat, &volumes, &mut errs);
        }
    }
    let restart = str_at(spec, &["restartPolicy"]);
    if restart.is_empty() {
        errs.required(format!("{at}.restartPolicy"), "");
    } else if !RESTART_POLICIES.contains(&restart) {
        errs.not_supported(format!("{at}.restartPolicy"), restart, &RESTART_POLICIES);
    }
    let dns = str_at(spec, &["dnsPolicy"]);
    if dns.is_empty() {
        errs.required(format!("{at}.dnsPolicy"), "");
    } else if !DNS_POLICIES.contains(&dns) {
        errs.not_supported(format!("{at}.dnsPolicy"), dns, &DNS_POLICIES);
    }
    if let Some(g) = i64_at(spec, &["terminationGracePeriodSeconds"]) {
        if g < 0 {
            errs.invalid_number(
                format!("{at}.terminationGracePeriodSeconds"),
                g,
                "must be greater than or equal to 0",
            );
        }
    }
    if let Some(d) = i64_at(spec, &["activeDeadlineSeconds"]) {
        if !(1..=i64::from(i32::MAX)).contains(&d) {
            errs.invalid_number(
                format!("{at}.activeDeadlineSeconds"),
                d,
                format!("must be between 1 and {}, inclusive", i32::MAX),
            );
        }
    }
    validate_tolerations(spec, at, &mut errs);
    if let Some(selector) = get(spec, &["nodeSelector"]) {
        errs.extend(validate_labels(selector, &format!("{at}.nodeSelector")));
    }
    let node = str_at(spec, &["nodeName"]);
    if !node.is_empty() {
        for m in names::dns1123_subdomain(node) {
            errs.invalid(format!("{at}.nodeName"), node, m);
        }
    }
    for field in ["hostname", "subdomain"] {
        let v = str_at(spec, &[field]);
        if !v.is_empty() {
            for m in names::dns1123_label(v) {
                errs.invalid(format!("{at}.{field}"), v, m);
            }
        }
    }
    let sa = str_at(spec, &["serviceAccountName"]);
    if !sa.is_empty() {
        for m in names::dns1123_subdomain(sa) {
            errs.invalid(format!("{at}.serviceAccountName"), sa, m);
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaulted(spec: Value) -> Value {
        let mut spec = spec;
        if let Some(m) = spec.as_object_mut() {
            default_pod_spec(m);
        }
        spec
    }

    #[test]
    fn image_pull_policy_follows_the_tag() {
        let cases = [
            ("nginx", "Always"),
            ("nginx:latest", "Always"),
            ("nginx:1.25", "IfNotPresent"),
            ("localhost:5000/app", "Always"),
            ("localhost:5000/app:v1", "IfNotPresent"),
            ("busybox@sha256:abc", "IfNotPresent"),
            ("busybox:latest@sha256:abc", "Always"),
        ];
        for (image, want) in cases {
            let spec = defaulted(json!({"containers": [{"name": "c", "image": image}]}));
            assert_eq!(
                spec["containers"][0]["imagePullPolicy"],
                json!(want),
                "{image}"
            );
        }
    }

    #[test]
    fn pod_spec_defaults_are_upstreams() {
        let spec = defaulted(json!({
            "hostNetwork": true,
            "containers": [{"name": "c", "image": "x:1", "ports": [{"containerPort": 80}],
                "readinessProbe": {"httpGet": {"port": 80}},
                "env": [{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]}],
            "volumes": [{"name": "scratch"}, {"name": "cfg", "configMap": {"name": "c"}}]
        }));
        assert_eq!(spec["restartPolicy"], json!("Always"));
        assert_eq!(spec["dnsPolicy"], json!("ClusterFirst"));
        assert_eq!(spec["terminationGracePeriodSeconds"], json!(30));
        assert_eq!(spec["schedulerName"], json!("default-scheduler"));
        assert_eq!(spec["securityContext"], json!({}));
        assert_eq!(spec["enableServiceLinks"], json!(true));
        let c = &spec["containers"][0];
        assert_eq!(c["terminationMessagePath"], json!("/dev/termination-log"));
        assert_eq!(c["terminationMessagePolicy"], json!("File"));
        assert_eq!(
            c["ports"][0],
            json!({"containerPort": 80, "protocol": "TCP", "hostPort": 80})
        );
        assert_eq!(
            c["readinessProbe"],
            json!({"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"}, "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3})
        );
        assert_eq!(
            c["env"][0]["valueFrom"]["fieldRef"]["apiVersion"],
            json!("v1")
        );
        assert_eq!(spec["volumes"][0]["emptyDir"], json!({}));
        assert_eq!(spec["volumes"][1]["configMap"]["defaultMode"], json!(420));
    }

    #[test]
    fn validation_cases() {
        let cases = [
            (
                "no containers",
                json!({}),
                vec!["spec.containers: Required value"],
            ),
            (
                "a container without name or image",
                json!({"containers": [{}]}),
                vec!["spec.containers[0].name: Required value", "spec.containers[0].image: Required value"],
            ),
            (
                "duplicate container names across init and regular containers",
                json!({"initContainers": [{"name": "a", "image": "x"}], "containers": [{"name": "a", "image": "x"}]}),
                vec!["spec.containers[0].name: Duplicate value: \"a\""],
            ),
            (
                "ports out of range and bad protocol",
                json!({"containers": [{"name": "a", "image": "x", "ports": [{"containerPort": 70000, "protocol": "ICMP"}]}]}),
                vec![
                    "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
                    "spec.containers[0].ports[0].protocol: Unsupported value: \"ICMP\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
                ],
            ),
            (
                "a bad restart policy",
                json!({"restartPolicy": "Sometimes", "containers": [{"name": "a", "image": "x"}]}),
                vec!["spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\""],
            ),
            (
                "duplicate volumes and an unknown mount",
                json!({"volumes": [{"name": "v", "emptyDir": {}}, {"name": "v", "emptyDir": {}}],
                       "containers": [{"name": "a", "image": "x", "volumeMounts": [{"name": "w", "mountPath": "/w"}]}]}),
                vec![
                    "spec.volumes[1].name: Duplicate value: \"v\"",
                    "spec.containers[0].volumeMounts[0].name: Not found: \"w\"",
                ],
            ),
            (
                "probes need exactly one handler and a valid port",
                json!({"containers": [{"name": "a", "image": "x",
                    "livenessProbe": {"successThreshold": 2},
                    "readinessProbe": {"httpGet": {"port": 0}, "tcpSocket": {"port": 80}}}]}),
                vec![
                    "spec.containers[0].livenessProbe: Required value: must specify a handler type",
                    "spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1",
                    "spec.containers[0].readinessProbe.httpGet.port: Invalid value: 0: must be between 1 and 65535, inclusive",
                    "spec.containers[0].readinessProbe.tcpSocket: Forbidden: may not specify more than 1 handler type",
                ],
            ),
            (
                "tolerations follow upstream's rules",
                json!({"containers": [{"name": "a", "image": "x"}], "tolerations": [
                    {"operator": "Equal", "value": "x"},
                    {"key": "k", "operator": "Exists", "value": "v"},
                    {"key": "k", "operator": "Near"},
                    {"key": "k", "effect": "NoSchedule", "tolerationSeconds": 5},
                    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
                ]}),
                vec![
                    "spec.tolerations[0].operator: Invalid value: \"Equal\": operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
                    "spec.tolerations[1].operator: Invalid value: \"v\": value must be empty when `operator` is 'Exists'",
                    "spec.tolerations[2].operator: Unsupported value: \"Near\": supported values: \"Equal\", \"Exists\"",
                    "spec.tolerations[3].effect: Invalid value: \"NoSchedule\": effect must be 'NoExecute' when `tolerationSeconds` is set",
                ],
            ),
            (
                "node selector labels and node names are checked",
                json!({"containers": [{"name": "a", "image": "x"}], "nodeSelector": {"disk": "a b"}, "nodeName": "N1"}),
                vec![
                    "spec.nodeSelector: Invalid value: \"a b\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
                    "spec.nodeName: Invalid value: \"N1\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
                ],
            ),
            (
                "an upper-case container name",
                json!({"containers": [{"name": "Web", "image": "x"}]}),
                vec!["spec.containers[0].name: Invalid value: \"Web\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"],
            ),
        ];
        for (name, spec, want) in cases {
            let spec = defaulted(spec);
            let got = validate_pod_spec(&spec, "spec").messages();
            assert_eq!(got, want, "{name}");
        }
    }
}
