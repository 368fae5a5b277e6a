//! The CRI configs for a pod's sandbox and containers, from the pod spec
//! (pkg/kubelet/kuberuntime/kuberuntime_sandbox.go, kuberuntime_container.go).

use std::collections::HashMap;
use std::path::Path;

use k8s_cri::v1 as cri;
use k8s_openapi::api::core::v1::{Container, Pod};

use super::expansion::expand;
use crate::runtime::cri::labels;

/// The sandbox config for `pod`, attempt `attempt`.
pub fn sandbox_config(
    pod: &Pod,
    attempt: u32,
    dns: cri::DnsConfig,
    log_dir: &Path,
) -> cri::PodSandboxConfig {
    let meta = &pod.metadata;
    let spec = pod.spec.as_ref();
    let host_network = spec.and_then(|s| s.host_network).unwrap_or(false);
    let mut port_mappings = Vec::new();
    for container in spec.map(|s| s.containers.as_slice()).unwrap_or(&[]) {
        for port in container.ports.iter().flatten() {
            let Some(host_port) = port.host_port.filter(|p| *p > 0) else {
                continue;
            };
            let protocol = match port.protocol.as_deref() {
                Some("UDP") => cri::Protocol::Udp,
                Some("SCTP") => cri::Protocol::Sctp,
                _ => cri::Protocol::Tcp,
            };
            port_mappings.push(cri::PortMapping {
                protocol: protocol as i32,
                container_port: port.container_port,
                host_port,
                host_ip: port.host_ip.clone().unwrap_or_default(),
            });
        }
    }
    let network = if host_network {
        cri::NamespaceMode::Node
    } else {
        cri::NamespaceMode::Pod
    };
    let pid = if spec
        .and_then(|s| s.share_process_namespace)
        .unwrap_or(false)
    {
        cri::NamespaceMode::Pod
    } else {
        cri::NamespaceMode::Container
    };
    cri::PodSandboxConfig {
        metadata: Some(cri::PodSandboxMetadata {
            name: meta.name.clone().unwrap_or_default(),
            uid: meta.uid.clone().unwrap_or_default(),
            namespace: meta.namespace.clone().unwrap_or_default(),
            attempt,
        }),
        hostname: if host_network {
            String::new()
        } else {
            super::dns::pod_hostname(pod)
        },
        log_directory: log_dir.to_string_lossy().into_owned(),
        dns_config: Some(dns),
        port_mappings,
        labels: pod_labels(pod),
        annotations: meta
            .annotations
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect(),
        linux: Some(cri::LinuxPodSandboxConfig {
            security_context: Some(cri::LinuxSandboxSecurityContext {
                namespace_options: Some(cri::NamespaceOption {
                    network: network as i32,
                    pid: pid as i32,
                    ipc: cri::NamespaceMode::Pod as i32,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The labels every sandbox and container of `pod` carries: the pod's own
/// labels plus the kubelet's keys.
pub fn pod_labels(pod: &Pod) -> HashMap<String, String> {
    let meta = &pod.metadata;
    let mut out: HashMap<String, String> = meta
        .labels
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    out.insert(labels::POD_UID.into(), meta.uid.clone().unwrap_or_default());
    out.insert(
        labels::POD_NAME.into(),
        meta.name.clone().unwrap_or_default(),
    );
    out.insert(
        labels::POD_NAMESPACE.into(),
        meta.namespace.clone().unwrap_or_default(),
    );
    out
}

/// Everything a container config needs besides the spec.
pub struct ContainerInputs {
    /// Resolved environment, in order.
    pub env: Vec<(String, String)>,
    /// The volume mounts.
    pub mounts: Vec<cri::Mount>,
    /// Its restart count.
    pub attempt: u32,
    /// Linux resources.
    pub resources: cri::LinuxContainerResources,
    /// Its log file, relative to the sandbox's log directory.
    pub log_path: String,
}

/// The container config for `container` of `pod`.
pub fn container_config(
    pod: &Pod,
    container: &Container,
    inputs: ContainerInputs,
) -> cri::ContainerConfig {
    let vars: HashMap<String, String> = inputs.env.iter().cloned().collect();
    let expand_all = |list: &Option<Vec<String>>| -> Vec<String> {
        list.iter().flatten().map(|s| expand(s, &vars)).collect()
    };
    let mut labels = pod_labels(pod);
    labels.retain(|k, _| k.starts_with("io.kubernetes."));
    labels.insert(labels::CONTAINER_NAME.into(), container.name.clone());
    let security = container.security_context.as_ref();
    let pod_security = pod.spec.as_ref().and_then(|s| s.security_context.as_ref());
    let run_as_user = security
        .and_then(|s| s.run_as_user)
        .or_else(|| pod_security.and_then(|s| s.run_as_user))
        .map(|value| cri::Int64Value { value });
    let run_as_group = security
        .and_then(|s| s.run_as_group)
        .or_else(|| pod_security.and_then(|s| s.run_as_group))
        .map(|value| cri::Int64Value { value });
    let capabilities = security
        .and_then(|s| s.capabilities.as_ref())
        .map(|c| cri::Capability {
            add_capabilities: c.add.clone().unwrap_or_default(),
            drop_capabilities: c.drop.clone().unwrap_or_default(),
            ..Default::default()
        });
    let host_network = pod
        .spec
        .as_ref()
        .and_then(|s| s.host_network)
        .unwrap_or(false);
    cri::ContainerConfig {
        metadata: Some(cri::ContainerMetadata {
            name: container.name.clone(),
            attempt: inputs.attempt,
        }),
        image: Some(crate::runtime::cri::image_spec(
            container.image.as_deref().unwrap_or(""),
        )),
        command: expand_all(&container.command),
        args: expand_all(&container.args),
        working_dir: container.working_dir.clone().unwrap_or_default(),
        envs: inputs
            .env
            .into_iter()
            .map(|(key, value)| cri::KeyValue { key, value })
            .collect(),
        mounts: inputs.mounts,
        labels,
        annotations: super::termination_message::annotations(container),
        log_path: inputs.log_path,
        stdin: container.stdin.unwrap_or(false),
        stdin_once: container.stdin_once.unwrap_or(false),
        tty: container.tty.unwrap_or(false),
        linux: Some(cri::LinuxContainerConfig {
            resources: Some(inputs.resources),
            security_context: Some(cri::LinuxContainerSecurityContext {
                capabilities,
                privileged: security.and_then(|s| s.privileged).unwrap_or(false),
                run_as_user,
                run_as_group,
                readonly_rootfs: security
                    .and_then(|s| s.read_only_root_filesystem)
                    .unwrap_or(false),
                no_new_privs: security.and_then(|s| s.allow_privilege_escalation) == Some(false),
                namespace_options: Some(cri::NamespaceOption {
                    network: if host_network {
                        cri::NamespaceMode::Node
                    } else {
                        cri::NamespaceMode::Pod
                    } as i32,
                    pid: cri::NamespaceMode::Container as i32,
                    ipc: cri::NamespaceMode::Pod as i32,
                    ..Default::default()
                }),
                ..Default::default()
            }),
        }),
        ..Default::default()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn commands_expand_env_and_labels_name_the_pod_and_container() {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "namespace": "ns", "uid": "u-1", "labels": {"app": "x"}},
            "spec": {"containers": [{"name": "c", "image": "busybox", "command": ["echo", "$(MSG)"], "args": ["$$(MSG)"],
                      "ports": [{"containerPort": 80, "hostPort": 8080}]}]}
        }))
        .unwrap();
        let container = &pod.spec.as_ref().unwrap().containers[0];
        let config = container_config(
            &pod,
            container,
            ContainerInputs {
                env: vec![("MSG".into(), "hi".into())],
                mounts: vec![],
                attempt: 2,
                resources: Default::default(),
                log_path: "c/2.log".into(),
            },
        );
        assert_eq!(config.command, vec!["echo", "hi"]);
        assert_eq!(config.args, vec!["$(MSG)"]);
        assert_eq!(
            config.labels.get(labels::POD_UID).map(String::as_str),
            Some("u-1")
        );
        assert_eq!(
            config
                .labels
                .get(labels::CONTAINER_NAME)
                .map(String::as_str),
            Some("c")
        );
        assert_eq!(config.metadata.unwrap().attempt, 2);

        let sandbox = sandbox_config(&pod, 0, Default::default(), Path::new("/logs"));
        assert_eq!(sandbox.hostname, "p");
        assert_eq!(sandbox.port_mappings.len(), 1);
        assert_eq!(sandbox.labels.get("app").map(String::as_str), Some("x"));
    }
}
