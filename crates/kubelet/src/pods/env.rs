//! A container's environment: Service variables, `envFrom`, then `env`
//! (value, fieldRef, configMapKeyRef, secretKeyRef), each value expanded
//! against the variables before it, in upstream's order
//! (pkg/kubelet/kubelet_pods.go `makeEnvironmentVariables`).
//!
//! Resolution is pure: the ConfigMaps, Secrets and Services it may read are
//! fetched beforehand into [`EnvSources`].

use std::collections::{BTreeMap, HashMap};

use k8s_openapi::api::core::v1::{ConfigMap, Container, Pod, Secret, Service};

use super::expansion::expand;
use super::ConfigError;

/// What env resolution may read, fetched from the API for one pod.
#[derive(Debug, Default, Clone)]
pub struct EnvSources {
    /// ConfigMaps of the pod's namespace by name (absent: not found).
    pub config_maps: HashMap<String, ConfigMap>,
    /// Secrets of the pod's namespace by name (absent: not found).
    pub secrets: HashMap<String, Secret>,
    /// Services whose variables the pod gets (its namespace's, plus
    /// `default/kubernetes`), empty when `enableServiceLinks` is false.
    pub services: Vec<Service>,
}

/// The pod's addresses, for `status.*` field references.
#[derive(Debug, Default, Clone)]
pub struct PodAddresses {
    /// The node's IP.
    pub host_ip: String,
    /// The pod's IP (empty with none yet).
    pub pod_ip: String,
}

/// The environment for `container`, in order, as name/value pairs.
pub fn container_env(
    pod: &Pod,
    container: &Container,
    sources: &EnvSources,
    addresses: &PodAddresses,
) -> Result<Vec<(String, String)>, ConfigError> {
    let namespace = pod.metadata.namespace.as_deref().unwrap_or("default");
    let mut env = OrderedEnv::default();
    for (name, value) in service_env(&sources.services) {
        env.set(name, value);
    }
    for from in container.env_from.iter().flatten() {
        let prefix = from.prefix.as_deref().unwrap_or("");
        if let Some(source) = &from.config_map_ref {
            let optional = source.optional.unwrap_or(false);
            match sources.config_maps.get(&source.name) {
                Some(cm) => {
                    for (k, v) in cm.data.iter().flatten() {
                        env.set(format!("{prefix}{k}"), v.clone());
                    }
                }
                None if optional => {}
                None => return Err(ConfigError::not_found("configmap", &source.name)),
            }
        }
        if let Some(source) = &from.secret_ref {
            let optional = source.optional.unwrap_or(false);
            match sources.secrets.get(&source.name) {
                Some(secret) => {
                    for (k, v) in secret_data(secret) {
                        env.set(format!("{prefix}{k}"), v);
                    }
                }
                None if optional => {}
                None => return Err(ConfigError::not_found("secret", &source.name)),
            }
        }
    }
    for var in container.env.iter().flatten() {
        let value = match &var.value_from {
            None => expand(var.value.as_deref().unwrap_or(""), &env.values),
            Some(from) => {
                if let Some(field) = &from.field_ref {
                    field_value(pod, &field.field_path, addresses)?
                } else if let Some(key) = &from.config_map_key_ref {
                    let found = sources.config_maps.get(&key.name);
                    let optional = key.optional.unwrap_or(false);
                    match found.and_then(|cm| cm.data.as_ref()?.get(&key.key).cloned()) {
                        Some(v) => v,
                        None if optional => continue,
                        None if found.is_none() => {
                            return Err(ConfigError::not_found("configmap", &key.name))
                        }
                        None => {
                            return Err(ConfigError::MissingKey {
                                kind: "ConfigMap",
                                object: format!("{namespace}/{}", key.name),
                                key: key.key.clone(),
                            })
                        }
                    }
                } else if let Some(key) = &from.secret_key_ref {
                    let found = sources.secrets.get(&key.name);
                    let optional = key.optional.unwrap_or(false);
                    let value = found.and_then(|s| secret_data(s).remove(&key.key));
                    match value {
                        Some(v) => v,
                        None if optional => continue,
                        None if found.is_none() => {
                            return Err(ConfigError::not_found("secret", &key.name))
                        }
                        None => {
                            return Err(ConfigError::MissingKey {
                                kind: "Secret",
                                object: format!("{namespace}/{}", key.name),
                                key: key.key.clone(),
                            })
                        }
                    }
                } else {
                    return Err(ConfigError::Unsupported(format!(
                        "env {}: only fieldRef, configMapKeyRef and secretKeyRef are supported",
                        var.name
                    )));
                }
            }
        };
        env.set(var.name.clone(), value);
    }
    Ok(env.into_pairs())
}

/// A Secret's data and stringData as text (stringData wins, as the
/// apiserver merges it on write).
pub fn secret_data(secret: &Secret) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = secret
        .data
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), String::from_utf8_lossy(&v.0).into_owned()))
        .collect();
    for (k, v) in secret.string_data.iter().flatten() {
        out.insert(k.clone(), v.clone());
    }
    out
}

/// The value of a downward-API field path (pkg/apis/core/validation's
/// supported list for env).
pub fn field_value(pod: &Pod, path: &str, addresses: &PodAddresses) -> Result<String, ConfigError> {
    let meta = &pod.metadata;
    let spec = pod.spec.as_ref();
    let keyed = |prefix: &str, map: Option<&BTreeMap<String, String>>| {
        let key = path.strip_prefix(prefix)?.strip_suffix("']")?;
        Some(map.and_then(|m| m.get(key)).cloned().unwrap_or_default())
    };
    let value = match path {
        "metadata.name" => meta.name.clone().unwrap_or_default(),
        "metadata.namespace" => meta.namespace.clone().unwrap_or_default(),
        "metadata.uid" => meta.uid.clone().unwrap_or_default(),
        "spec.nodeName" => spec.and_then(|s| s.node_name.clone()).unwrap_or_default(),
        "spec.serviceAccountName" => spec
            .and_then(|s| s.service_account_name.clone())
            .unwrap_or_default(),
        "status.hostIP" | "status.hostIPs" => addresses.host_ip.clone(),
        "status.podIP" | "status.podIPs" => addresses.pod_ip.clone(),
        _ => keyed("metadata.labels['", meta.labels.as_ref())
            .or_else(|| keyed("metadata.annotations['", meta.annotations.as_ref()))
            .ok_or_else(|| ConfigError::Unsupported(format!("fieldRef {path}")))?,
    };
    Ok(value)
}

/// Variables for Services (pkg/kubelet/envvars/envvars.go): `{SVC}_SERVICE_HOST`,
/// `{SVC}_SERVICE_PORT[_{PORT}]` and the Docker-link style `{SVC}_PORT…`.
/// Headless Services (no cluster IP) get none.
pub fn service_env(services: &[Service]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for service in services {
        let Some(spec) = &service.spec else { continue };
        let ip = spec.cluster_ip.as_deref().unwrap_or("");
        if ip.is_empty() || ip == "None" {
            continue;
        }
        let name = env_name(service.metadata.name.as_deref().unwrap_or(""));
        let ports = spec.ports.as_deref().unwrap_or(&[]);
        out.push((format!("{name}_SERVICE_HOST"), ip.to_string()));
        if let Some(first) = ports.first() {
            out.push((format!("{name}_SERVICE_PORT"), first.port.to_string()));
        }
        for port in ports {
            if let Some(port_name) = port.name.as_deref().filter(|n| !n.is_empty()) {
                out.push((
                    format!("{name}_SERVICE_PORT_{}", env_name(port_name)),
                    port.port.to_string(),
                ));
            }
        }
        if let Some(first) = ports.first() {
            let proto = first.protocol.as_deref().unwrap_or("TCP").to_lowercase();
            out.push((
                format!("{name}_PORT"),
                format!("{proto}://{ip}:{}", first.port),
            ));
        }
        for port in ports {
            let proto_upper = port.protocol.as_deref().unwrap_or("TCP").to_uppercase();
            let proto = proto_upper.to_lowercase();
            let prefix = format!("{name}_PORT_{}_{proto_upper}", port.port);
            out.push((prefix.clone(), format!("{proto}://{ip}:{}", port.port)));
            out.push((format!("{prefix}_PROTO"), proto));
            out.push((format!("{prefix}_PORT"), port.port.to_string()));
            out.push((format!("{prefix}_ADDR"), ip.to_string()));
        }
    }
    out
}

fn env_name(name: &str) -> String {
    name.to_uppercase().replace('-', "_")
}

/// Variables in first-definition order; a later definition replaces the
/// value in place.
#[derive(Default)]
struct OrderedEnv {
    order: Vec<String>,
    values: HashMap<String, String>,
}

impl OrderedEnv {
    fn set(&mut self, name: String, value: String) {
        if self.values.insert(name.clone(), value).is_none() {
            self.order.push(name);
        }
    }
    fn into_pairs(mut self) -> Vec<(String, String)> {
        self.order
            .into_iter()
            .filter_map(|name| {
                let value = self.values.remove(&name)?;
                Some((name, value))
            })
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{
        ConfigMapKeySelector, EnvVar, EnvVarSource, ObjectFieldSelector, ServicePort, ServiceSpec,
    };
    use k8s_openapi::ByteString;

    fn pod() -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "namespace": "ns", "uid": "u-1", "labels": {"app": "web"}},
            "spec": {"nodeName": "n1", "containers": [{"name": "c"}]}
        }))
        .unwrap()
    }

    fn var(name: &str, value: &str) -> EnvVar {
        EnvVar {
            name: name.into(),
            value: Some(value.into()),
            value_from: None,
        }
    }

    fn from(name: &str, source: EnvVarSource) -> EnvVar {
        EnvVar {
            name: name.into(),
            value: None,
            value_from: Some(source),
        }
    }

    fn sources() -> EnvSources {
        let cm = ConfigMap {
            data: Some(BTreeMap::from([("GREETING".into(), "hello".into())])),
            ..Default::default()
        };
        let secret = Secret {
            data: Some(BTreeMap::from([("pw".into(), ByteString(b"s3".to_vec()))])),
            ..Default::default()
        };
        let service = Service {
            metadata: kube::api::ObjectMeta {
                name: Some("my-svc".into()),
                ..Default::default()
            },
            spec: Some(ServiceSpec {
                cluster_ip: Some("10.43.0.5".into()),
                ports: Some(vec![ServicePort {
                    name: Some("http".into()),
                    port: 80,
                    protocol: Some("TCP".into()),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        };
        EnvSources {
            config_maps: HashMap::from([("cfg".into(), cm)]),
            secrets: HashMap::from([("sec".into(), secret)]),
            services: vec![service],
        }
    }

    fn env_of(vars: Vec<EnvVar>) -> Result<HashMap<String, String>, ConfigError> {
        let container = Container {
            name: "c".into(),
            env: Some(vars),
            ..Default::default()
        };
        let addresses = PodAddresses {
            host_ip: "192.0.2.1".into(),
            pod_ip: "10.42.0.7".into(),
        };
        Ok(container_env(&pod(), &container, &sources(), &addresses)?
            .into_iter()
            .collect())
    }

    #[test]
    fn values_references_and_service_variables_resolve() {
        let env = env_of(vec![
            var("A", "one"),
            var("B", "$(A)-two"),
            from(
                "POD",
                EnvVarSource {
                    field_ref: Some(ObjectFieldSelector {
                        field_path: "metadata.name".into(),
                        api_version: None,
                    }),
                    ..Default::default()
                },
            ),
            from(
                "APP",
                EnvVarSource {
                    field_ref: Some(ObjectFieldSelector {
                        field_path: "metadata.labels['app']".into(),
                        api_version: None,
                    }),
                    ..Default::default()
                },
            ),
            from(
                "G",
                EnvVarSource {
                    config_map_key_ref: Some(ConfigMapKeySelector {
                        name: "cfg".into(),
                        key: "GREETING".into(),
                        optional: None,
                    }),
                    ..Default::default()
                },
            ),
        ])
        .unwrap();
        let want = [
            ("A", "one"),
            ("B", "one-two"),
            ("POD", "p"),
            ("APP", "web"),
            ("G", "hello"),
            ("MY_SVC_SERVICE_HOST", "10.43.0.5"),
            ("MY_SVC_SERVICE_PORT", "80"),
            ("MY_SVC_SERVICE_PORT_HTTP", "80"),
            ("MY_SVC_PORT", "tcp://10.43.0.5:80"),
            ("MY_SVC_PORT_80_TCP_ADDR", "10.43.0.5"),
        ];
        for (name, value) in want {
            assert_eq!(env.get(name).map(String::as_str), Some(value), "{name}");
        }
    }

    #[test]
    fn missing_config_is_a_config_error_unless_optional() {
        let key = |name: &str, key: &str, optional| EnvVarSource {
            config_map_key_ref: Some(ConfigMapKeySelector {
                name: name.into(),
                key: key.into(),
                optional,
            }),
            ..Default::default()
        };
        let cases = [
            ("a missing configmap fails", key("nope", "k", None), false),
            ("a missing key fails", key("cfg", "nope", None), false),
            (
                "an optional missing key is skipped",
                key("cfg", "nope", Some(true)),
                true,
            ),
        ];
        for (name, source, ok) in cases {
            assert_eq!(env_of(vec![from("X", source)]).is_ok(), ok, "{name}");
        }
    }
}
