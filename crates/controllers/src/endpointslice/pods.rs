//! What a Service's endpoints know about one pod, shared by the
//! EndpointSlice and Endpoints controllers (upstream
//! `pkg/controller/util/endpoint/controller_utils.go` and
//! `pkg/controller/endpointslice/util`): whether the pod belongs in the
//! endpoints at all, its ready/serving/terminating state, and the port each
//! Service port resolves to on it.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ObjectReference, Pod, Service, ServicePort};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::runtime::reflector::{ObjectRef, Store};

/// Whether terminating pods still count (EndpointSlices keep them with
/// `terminating: true`; Endpoints drop them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Terminating {
    /// Terminating pods are listed.
    Include,
    /// Terminating pods are left out.
    Exclude,
}

/// Whether every key of a Service's selector is among the pod's labels.
pub fn selector_matches(
    selector: &BTreeMap<String, String>,
    labels: Option<&BTreeMap<String, String>>,
) -> bool {
    selector
        .iter()
        .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
}

/// The Service's selector, when it has a non-empty one: services without a
/// selector are managed by their users (upstream skips them).
pub fn service_selector(service: &Service) -> Option<&BTreeMap<String, String>> {
    service
        .spec
        .as_ref()
        .and_then(|s| s.selector.as_ref())
        .filter(|s| !s.is_empty())
}

/// The pods in the Service's namespace its selector matches; `None` for a
/// Service without a selector.
pub fn selected_pods(pods: &Store<Pod>, service: &Service) -> Option<Vec<Pod>> {
    let selector = service_selector(service)?;
    let namespace = service.metadata.namespace.as_deref();
    Some(
        pods.state()
            .iter()
            .filter(|p| p.metadata.namespace.as_deref() == namespace)
            .filter(|p| selector_matches(selector, p.metadata.labels.as_ref()))
            .map(|p| (**p).clone())
            .collect(),
    )
}

/// The Services whose selector matches the pod, plus `listing` (those whose
/// endpoints list it, so a pod relabelled out of a Service still updates
/// it), sorted and without repeats.
pub fn services_of_pod(
    services: &Store<Service>,
    pod: &Pod,
    listing: impl IntoIterator<Item = ObjectRef<Service>>,
) -> Vec<ObjectRef<Service>> {
    let namespace = pod.metadata.namespace.as_deref();
    let mut keys: Vec<ObjectRef<Service>> = services
        .state()
        .iter()
        .filter(|s| s.metadata.namespace.as_deref() == namespace)
        .filter(|s| {
            service_selector(s)
                .is_some_and(|sel| selector_matches(sel, pod.metadata.labels.as_ref()))
        })
        .map(|s| ObjectRef::from_obj(&**s))
        .chain(listing)
        .collect();
    keys.sort_by(|a, b| a.name.cmp(&b.name));
    keys.dedup();
    keys
}

/// Whether the Service is headless (`clusterIP: None`).
pub fn is_headless(service: &Service) -> bool {
    service.spec.as_ref().and_then(|s| s.cluster_ip.as_deref()) == Some("None")
}

/// Whether the Service asks for not-ready pods to be published.
pub fn publishes_not_ready(service: &Service) -> bool {
    service
        .spec
        .as_ref()
        .and_then(|s| s.publish_not_ready_addresses)
        .unwrap_or(false)
}

/// The pod's IP, when it has one.
pub fn pod_ip(pod: &Pod) -> Option<&str> {
    pod.status
        .as_ref()
        .and_then(|s| s.pod_ip.as_deref())
        .filter(|ip| !ip.is_empty())
}

/// Whether the pod belongs in a Service's endpoints (upstream
/// `ShouldPodBeInEndpoints`): it has an IP, is not finished for good given
/// its restart policy, and is not terminating unless those are included.
pub fn should_be_in_endpoints(pod: &Pod, terminating: Terminating) -> bool {
    if pod_ip(pod).is_none() {
        return false;
    }
    if terminating == Terminating::Exclude && pod.metadata.deletion_timestamp.is_some() {
        return false;
    }
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    let restart_policy = pod.spec.as_ref().and_then(|s| s.restart_policy.as_deref());
    match restart_policy {
        Some("Never") => !matches!(phase, Some("Failed") | Some("Succeeded")),
        Some("OnFailure") => phase != Some("Succeeded"),
        _ => true,
    }
}

/// Whether the pod's `Ready` condition is `True`.
pub fn is_pod_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
        .is_some_and(|c| c.status == "True")
}

/// An endpoint's three conditions (upstream `podToEndpoint`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Readiness {
    /// Ready for new traffic.
    pub ready: bool,
    /// Passing readiness, whether or not terminating.
    pub serving: bool,
    /// Being deleted.
    pub terminating: bool,
}

/// The pod's endpoint conditions: `publishNotReadyAddresses` makes every pod
/// ready and serving; a terminating pod is never ready unless published
/// regardless of readiness.
pub fn readiness(service: &Service, pod: &Pod) -> Readiness {
    let publish = publishes_not_ready(service);
    let serving = publish || is_pod_ready(pod);
    let terminating = pod.metadata.deletion_timestamp.is_some();
    Readiness {
        ready: publish || (serving && !terminating),
        serving,
        terminating,
    }
}

/// The container port a Service port targets on this pod (upstream
/// `podutil.FindPort`): a number is taken as is (the port itself when
/// unset), a name is looked up among the pod's container ports with the
/// same protocol. `None` when the name is not found.
pub fn resolve_target_port(pod: &Pod, port: &ServicePort) -> Option<i32> {
    match &port.target_port {
        None => Some(port.port),
        Some(IntOrString::Int(n)) => Some(*n),
        Some(IntOrString::String(name)) => {
            if let Ok(n) = name.parse::<i32>() {
                return Some(n);
            }
            let protocol = port.protocol.as_deref().unwrap_or("TCP");
            pod.spec
                .as_ref()?
                .containers
                .iter()
                .flat_map(|c| c.ports.iter().flatten())
                .find(|p| {
                    p.name.as_deref() == Some(name.as_str())
                        && p.protocol.as_deref().unwrap_or("TCP") == protocol
                })
                .map(|p| p.container_port)
        }
    }
}

/// One Service port resolved on one pod.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ResolvedPort {
    /// The Service port's name.
    pub name: Option<String>,
    /// The pod's port number.
    pub port: i32,
    /// TCP, UDP or SCTP.
    pub protocol: String,
    /// The Service port's appProtocol.
    pub app_protocol: Option<String>,
}

/// Every Service port that resolves on the pod, in the Service's order;
/// ports whose named target the pod lacks are left out for this pod.
pub fn resolved_ports(service: &Service, pod: &Pod) -> Vec<ResolvedPort> {
    service
        .spec
        .as_ref()
        .and_then(|s| s.ports.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|sp| {
            Some(ResolvedPort {
                name: sp.name.clone().filter(|n| !n.is_empty()),
                port: resolve_target_port(pod, sp)?,
                protocol: sp.protocol.clone().unwrap_or_else(|| "TCP".to_string()),
                app_protocol: sp.app_protocol.clone(),
            })
        })
        .collect()
}

/// A pod's hostname in the Service's DNS records: set when the pod names
/// the Service as its subdomain (upstream `getEndpointAddresses`).
pub fn hostname_for(service: &Service, pod: &Pod) -> Option<String> {
    let spec = pod.spec.as_ref()?;
    let hostname = spec.hostname.as_deref().filter(|h| !h.is_empty())?;
    let same_service = spec.subdomain.as_deref() == service.metadata.name.as_deref()
        && pod.metadata.namespace == service.metadata.namespace;
    same_service.then(|| hostname.to_string())
}

/// The pod as an endpoint's `targetRef`.
pub fn target_ref(pod: &Pod) -> ObjectReference {
    ObjectReference {
        kind: Some("Pod".into()),
        namespace: pod.metadata.namespace.clone(),
        name: pod.metadata.name.clone(),
        uid: pod.metadata.uid.clone(),
        ..Default::default()
    }
}

/// Whether one of `targets` (an endpoint object's `targetRef`s) names the pod.
pub fn lists_pod<'a>(
    mut targets: impl Iterator<Item = Option<&'a ObjectReference>>,
    pod: &Pod,
) -> bool {
    targets.any(|r| r.and_then(|r| r.name.as_deref()) == pod.metadata.name.as_deref())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
pub(crate) mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{
        Container, ContainerPort, PodCondition, PodSpec, PodStatus, ServiceSpec,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
    use k8s_openapi::jiff::Timestamp;

    /// A pod builder for the endpoint tests.
    pub(crate) struct PodBuilder(pub Pod);

    impl PodBuilder {
        pub(crate) fn new(name: &str) -> Self {
            PodBuilder(Pod {
                metadata: ObjectMeta {
                    name: Some(name.into()),
                    namespace: Some("default".into()),
                    uid: Some(format!("uid-{name}")),
                    labels: Some([("app".to_string(), "web".to_string())].into()),
                    ..Default::default()
                },
                spec: Some(PodSpec {
                    node_name: Some("node-1".into()),
                    containers: vec![Container {
                        name: "c".into(),
                        ports: Some(vec![ContainerPort {
                            name: Some("http".into()),
                            container_port: 8080,
                            ..Default::default()
                        }]),
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
                status: Some(PodStatus {
                    phase: Some("Running".into()),
                    ..Default::default()
                }),
            })
        }
        pub(crate) fn ip(mut self, ip: &str) -> Self {
            if let Some(s) = self.0.status.as_mut() {
                s.pod_ip = Some(ip.into());
            }
            self
        }
        pub(crate) fn ready(mut self, ready: bool) -> Self {
            if let Some(s) = self.0.status.as_mut() {
                s.conditions = Some(vec![PodCondition {
                    type_: "Ready".into(),
                    status: if ready { "True" } else { "False" }.into(),
                    ..Default::default()
                }]);
            }
            self
        }
        pub(crate) fn terminating(mut self) -> Self {
            self.0.metadata.deletion_timestamp = Some(Time(Timestamp::UNIX_EPOCH));
            self
        }
        pub(crate) fn phase(mut self, phase: &str, restart_policy: &str) -> Self {
            if let Some(s) = self.0.status.as_mut() {
                s.phase = Some(phase.into());
            }
            if let Some(s) = self.0.spec.as_mut() {
                s.restart_policy = Some(restart_policy.into());
            }
            self
        }
        pub(crate) fn no_named_port(mut self) -> Self {
            if let Some(s) = self.0.spec.as_mut() {
                s.containers.iter_mut().for_each(|c| c.ports = None);
            }
            self
        }
        pub(crate) fn hostname(mut self, hostname: &str, subdomain: &str) -> Self {
            if let Some(s) = self.0.spec.as_mut() {
                s.hostname = Some(hostname.into());
                s.subdomain = Some(subdomain.into());
            }
            self
        }
        pub(crate) fn build(self) -> Pod {
            self.0
        }
    }

    /// A Service `web` selecting `app=web` with port 80 → `http`.
    pub(crate) fn service() -> Service {
        Service {
            metadata: ObjectMeta {
                name: Some("web".into()),
                namespace: Some("default".into()),
                uid: Some("svc-uid".into()),
                ..Default::default()
            },
            spec: Some(ServiceSpec {
                selector: Some([("app".to_string(), "web".to_string())].into()),
                cluster_ip: Some("10.43.0.20".into()),
                ports: Some(vec![ServicePort {
                    name: Some("http".into()),
                    port: 80,
                    target_port: Some(IntOrString::String("http".into())),
                    protocol: Some("TCP".into()),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            status: None,
        }
    }

    #[test]
    fn pods_belong_in_endpoints_by_ip_phase_and_deletion() {
        let cases = [
            (
                "a running pod with an IP",
                PodBuilder::new("p").ip("10.42.0.5").build(),
                Terminating::Exclude,
                true,
            ),
            (
                "a pod without an IP",
                PodBuilder::new("p").build(),
                Terminating::Include,
                false,
            ),
            (
                "a terminating pod when excluded",
                PodBuilder::new("p").ip("10.42.0.5").terminating().build(),
                Terminating::Exclude,
                false,
            ),
            (
                "a terminating pod when included",
                PodBuilder::new("p").ip("10.42.0.5").terminating().build(),
                Terminating::Include,
                true,
            ),
            (
                "a failed pod that never restarts",
                PodBuilder::new("p")
                    .ip("10.42.0.5")
                    .phase("Failed", "Never")
                    .build(),
                Terminating::Include,
                false,
            ),
            (
                "a failed pod restarted on failure",
                PodBuilder::new("p")
                    .ip("10.42.0.5")
                    .phase("Failed", "OnFailure")
                    .build(),
                Terminating::Include,
                true,
            ),
            (
                "a succeeded pod restarted on failure",
                PodBuilder::new("p")
                    .ip("10.42.0.5")
                    .phase("Succeeded", "OnFailure")
                    .build(),
                Terminating::Include,
                false,
            ),
            (
                "a succeeded pod always restarted",
                PodBuilder::new("p")
                    .ip("10.42.0.5")
                    .phase("Succeeded", "Always")
                    .build(),
                Terminating::Include,
                true,
            ),
        ];
        for (name, pod, terminating, want) in cases {
            assert_eq!(should_be_in_endpoints(&pod, terminating), want, "{name}");
        }
    }

    #[test]
    fn readiness_follows_conditions_deletion_and_publish_not_ready() {
        let mut publishing = service();
        if let Some(s) = publishing.spec.as_mut() {
            s.publish_not_ready_addresses = Some(true);
        }
        let r = |ready, serving, terminating| Readiness {
            ready,
            serving,
            terminating,
        };
        let cases = [
            (
                "a ready pod",
                service(),
                PodBuilder::new("p").ready(true).build(),
                r(true, true, false),
            ),
            (
                "an unready pod",
                service(),
                PodBuilder::new("p").ready(false).build(),
                r(false, false, false),
            ),
            (
                "a pod without conditions",
                service(),
                PodBuilder::new("p").build(),
                r(false, false, false),
            ),
            (
                "a ready terminating pod",
                service(),
                PodBuilder::new("p").ready(true).terminating().build(),
                r(false, true, true),
            ),
            (
                "an unready pod published anyway",
                publishing.clone(),
                PodBuilder::new("p").ready(false).build(),
                r(true, true, false),
            ),
            (
                "a terminating pod published anyway",
                publishing,
                PodBuilder::new("p").ready(false).terminating().build(),
                r(true, true, true),
            ),
        ];
        for (name, svc, pod, want) in cases {
            assert_eq!(readiness(&svc, &pod), want, "{name}");
        }
    }

    #[test]
    fn target_ports_resolve_by_number_or_by_name_per_pod() {
        let port = |target: Option<IntOrString>, protocol: &str| ServicePort {
            port: 80,
            target_port: target,
            protocol: Some(protocol.into()),
            ..Default::default()
        };
        let pod = PodBuilder::new("p").build();
        let bare = PodBuilder::new("p").no_named_port().build();
        let cases = [
            (
                "no target port means the service port",
                port(None, "TCP"),
                &pod,
                Some(80),
            ),
            (
                "a numeric target port",
                port(Some(IntOrString::Int(9000)), "TCP"),
                &pod,
                Some(9000),
            ),
            (
                "a numeric string",
                port(Some(IntOrString::String("9001".into())), "TCP"),
                &pod,
                Some(9001),
            ),
            (
                "a named port",
                port(Some(IntOrString::String("http".into())), "TCP"),
                &pod,
                Some(8080),
            ),
            (
                "a named port with another protocol",
                port(Some(IntOrString::String("http".into())), "UDP"),
                &pod,
                None,
            ),
            (
                "a named port the pod lacks",
                port(Some(IntOrString::String("http".into())), "TCP"),
                &bare,
                None,
            ),
        ];
        for (name, sp, pod, want) in cases {
            assert_eq!(resolve_target_port(pod, &sp), want, "{name}");
        }
    }

    #[test]
    fn selectors_need_every_key() {
        let sel: BTreeMap<String, String> =
            [("app".into(), "web".into()), ("tier".into(), "fe".into())].into();
        let both: BTreeMap<String, String> = [
            ("app".into(), "web".into()),
            ("tier".into(), "fe".into()),
            ("x".into(), "y".into()),
        ]
        .into();
        let one: BTreeMap<String, String> = [("app".into(), "web".into())].into();
        assert!(selector_matches(&sel, Some(&both)));
        assert!(!selector_matches(&sel, Some(&one)));
        assert!(!selector_matches(&sel, None));
    }

    #[test]
    fn hostnames_need_the_service_as_subdomain() {
        let svc = service();
        let cases = [
            (
                "matching subdomain",
                PodBuilder::new("p").hostname("web-0", "web").build(),
                Some("web-0"),
            ),
            (
                "another subdomain",
                PodBuilder::new("p").hostname("web-0", "db").build(),
                None,
            ),
            ("no hostname", PodBuilder::new("p").build(), None),
        ];
        for (name, pod, want) in cases {
            assert_eq!(hostname_for(&svc, &pod).as_deref(), want, "{name}");
        }
    }
}
