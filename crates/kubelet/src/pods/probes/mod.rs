//! Container probes (pkg/kubelet/prober): startup, liveness and readiness
//! probes run as one task per probe and container instance
//! ([`runner`]), each driven by a pure state machine ([`state`]); the
//! actions are exec ([`exec`]), HTTP GET ([`http`]), TCP ([`tcp`]) and
//! gRPC health ([`grpc`]). The pod worker reads the verdicts through
//! [`ProbeManager`]: `started`/`ready` for the status, failed liveness and
//! startup probes to kill the container.

pub mod events;
pub mod exec;
pub mod grpc;
pub mod http;
mod runner;
pub mod state;
pub mod tcp;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use k8s_openapi::api::core::v1::{Container, HTTPGetAction, Pod, Probe};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use tokio::task::AbortHandle;

use self::events::PodEvents;
use self::http::{HttpGet, Scheme};
use self::runner::ProbeRun;
use self::state::{Outcome, ProbeKind, ProbeResult, ProbeState, Timing};
use super::observed::{ObservedPod, RuntimeState};
use crate::runtime::cri::Cri;

/// `host:port`, bracketing IPv6 hosts.
pub fn address(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// A port given by number or by the name of one of the container's ports
/// (upstream's `probe.ResolveContainerPort`).
pub fn resolve_port(port: &IntOrString, container: &Container) -> Result<u16, String> {
    let number = match port {
        IntOrString::Int(n) => *n,
        IntOrString::String(name) => match name.parse::<i32>() {
            Ok(n) => n,
            Err(_) => container
                .ports
                .iter()
                .flatten()
                .find(|p| p.name.as_deref() == Some(name.as_str()))
                .map(|p| p.container_port)
                .ok_or_else(|| format!("couldn't find port: {name} in {}", container.name))?,
        },
    };
    u16::try_from(number)
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("invalid port number: {number}"))
}

/// An HTTP GET from the spec: the host defaults to the pod's IP.
pub fn http_get(
    action: &HTTPGetAction,
    container: &Container,
    pod_ip: &str,
) -> Result<HttpGet, String> {
    Ok(HttpGet {
        scheme: Scheme::parse(action.scheme.as_deref()),
        host: action
            .host
            .clone()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| pod_ip.to_string()),
        port: resolve_port(&action.port, container)?,
        path: action.path.clone().unwrap_or_default(),
        headers: action
            .http_headers
            .iter()
            .flatten()
            .map(|h| (h.name.clone(), h.value.clone()))
            .collect(),
    })
}

/// What a probe does.
#[derive(Debug, Clone)]
pub(crate) enum Action {
    /// A command in the container.
    Exec(Vec<String>),
    /// An HTTP GET.
    HttpGet(HttpGet),
    /// A TCP connect.
    TcpSocket { host: String, port: u16 },
    /// A gRPC health check.
    Grpc {
        host: String,
        port: u16,
        service: String,
    },
    /// The spec is unusable; every run fails with this message.
    Invalid(String),
}

impl Action {
    /// The action of `probe` on `container` in a pod at `pod_ip`.
    fn of(probe: &Probe, container: &Container, pod_ip: &str) -> Action {
        let resolved = if let Some(exec) = &probe.exec {
            Ok(Action::Exec(exec.command.clone().unwrap_or_default()))
        } else if let Some(get) = &probe.http_get {
            http_get(get, container, pod_ip).map(Action::HttpGet)
        } else if let Some(tcp) = &probe.tcp_socket {
            resolve_port(&tcp.port, container).map(|port| Action::TcpSocket {
                host: tcp
                    .host
                    .clone()
                    .filter(|h| !h.is_empty())
                    .unwrap_or_else(|| pod_ip.to_string()),
                port,
            })
        } else if let Some(grpc) = &probe.grpc {
            u16::try_from(grpc.port)
                .map_err(|_| format!("invalid port number: {}", grpc.port))
                .map(|port| Action::Grpc {
                    host: pod_ip.to_string(),
                    port,
                    service: grpc.service.clone().unwrap_or_default(),
                })
        } else {
            Err("missing probe handler".to_string())
        };
        resolved.unwrap_or_else(Action::Invalid)
    }

    /// Runs once against container `id`.
    pub(crate) async fn run(&self, cri: &Cri, id: &str, timeout: Duration) -> Outcome {
        match self {
            Action::Exec(command) => exec::run(cri, id, command.clone(), timeout).await,
            Action::HttpGet(get) => get.probe(timeout).await,
            Action::TcpSocket { host, port } => tcp::run(host, *port, timeout).await,
            Action::Grpc {
                host,
                port,
                service,
            } => grpc::run(host, *port, service, timeout).await,
            Action::Invalid(message) => Outcome::Failure(message.clone()),
        }
    }
}

/// Verdicts by container instance id, shared by the probe tasks and the
/// pod worker.
#[derive(Debug, Default)]
pub(crate) struct Results(Mutex<HashMap<String, HashMap<ProbeKind, ProbeResult>>>);

impl Results {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, HashMap<ProbeKind, ProbeResult>>> {
        // A panicked probe task cannot leave the map half-written.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set(&self, id: &str, kind: ProbeKind, result: ProbeResult) {
        self.lock()
            .entry(id.to_string())
            .or_default()
            .insert(kind, result);
    }

    fn get(&self, id: &str, kind: ProbeKind) -> Option<ProbeResult> {
        self.lock().get(id).and_then(|r| r.get(&kind)).copied()
    }

    fn retain(&self, keep: impl Fn(&str) -> bool) {
        self.lock().retain(|id, _| keep(id));
    }
}

/// A running container's `started` and `ready`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Health {
    /// Its startup probe passed (or it has none).
    pub started: bool,
    /// Started and its readiness probe passes (or it has none).
    pub ready: bool,
}

/// A container whose liveness or startup probe failed: it must be killed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedProbe {
    /// The container's name.
    pub container: String,
    /// The instance's CRI id.
    pub id: String,
    /// Which probe.
    pub kind: ProbeKind,
}

fn probe_of(container: &Container, kind: ProbeKind) -> Option<&Probe> {
    match kind {
        ProbeKind::Startup => container.startup_probe.as_ref(),
        ProbeKind::Liveness => container.liveness_probe.as_ref(),
        ProbeKind::Readiness => container.readiness_probe.as_ref(),
    }
}

const KINDS: [ProbeKind; 3] = [
    ProbeKind::Startup,
    ProbeKind::Liveness,
    ProbeKind::Readiness,
];

/// `started`/`ready` of `container` from its probes' verdicts (upstream's
/// `prober_manager.go` `UpdatePodStatus`).
fn health_of(container: &Container, result: impl Fn(ProbeKind) -> Option<ProbeResult>) -> Health {
    let passes =
        |kind| probe_of(container, kind).is_none() || result(kind) == Some(ProbeResult::Success);
    let started = passes(ProbeKind::Startup);
    Health {
        started,
        ready: started && passes(ProbeKind::Readiness),
    }
}

/// The probes of one pod's running containers.
pub struct ProbeManager {
    cri: Cri,
    tasks: HashMap<(String, ProbeKind), AbortHandle>,
    results: Arc<Results>,
}

impl ProbeManager {
    /// No probes yet.
    pub fn new(cri: Cri) -> ProbeManager {
        ProbeManager {
            cri,
            tasks: HashMap::new(),
            results: Arc::default(),
        }
    }

    /// The running instances of the pod's app containers with their spec.
    fn running<'a>(
        pod: &'a Pod,
        observed: &'a ObservedPod,
    ) -> impl Iterator<Item = (&'a Container, &'a super::observed::ObservedContainer)> {
        super::status::containers(pod).iter().filter_map(|spec| {
            observed
                .latest(&spec.name)
                .filter(|c| c.state == RuntimeState::Running)
                .map(|c| (spec, c))
        })
    }

    /// Starts the probes of newly running containers and stops those of
    /// containers that are no longer running.
    pub fn sync(&mut self, pod: &Pod, observed: &ObservedPod, pod_ip: &str, events: &PodEvents) {
        let running: Vec<_> = Self::running(pod, observed).collect();
        self.tasks.retain(|(id, _), task| {
            let keep = running.iter().any(|(_, c)| &c.id == id);
            if !keep {
                task.abort();
            }
            keep
        });
        self.results
            .retain(|id| running.iter().any(|(_, c)| c.id == id));
        for (spec, instance) in running {
            let has_startup_probe = spec.startup_probe.is_some();
            for kind in KINDS {
                let Some(probe) = probe_of(spec, kind) else {
                    continue;
                };
                let key = (instance.id.clone(), kind);
                if self.tasks.contains_key(&key) {
                    continue;
                }
                let timing = Timing::of(probe);
                let started_at = UNIX_EPOCH
                    + Duration::from_nanos(u64::try_from(instance.started_at).unwrap_or(0));
                let run = ProbeRun {
                    kind,
                    state: ProbeState::new(kind, timing),
                    action: Action::of(probe, spec, pod_ip),
                    period: timing.period,
                    timeout: timing.timeout,
                    cri: self.cri.clone(),
                    container: spec.name.clone(),
                    container_id: instance.id.clone(),
                    started_at: started_at.min(SystemTime::now()),
                    has_startup_probe,
                    results: self.results.clone(),
                    events: events.clone(),
                };
                let task = tokio::spawn(run.run());
                self.tasks.insert(key, task.abort_handle());
            }
        }
    }

    /// `started` and `ready` of each running app container, by name.
    pub fn health(&self, pod: &Pod, observed: &ObservedPod) -> HashMap<String, Health> {
        Self::running(pod, observed)
            .map(|(spec, c)| {
                (
                    spec.name.clone(),
                    health_of(spec, |kind| self.results.get(&c.id, kind)),
                )
            })
            .collect()
    }

    /// Running containers whose liveness or startup probe failed.
    pub fn failed(&self, pod: &Pod, observed: &ObservedPod) -> Vec<FailedProbe> {
        let mut failed = Vec::new();
        for (spec, c) in Self::running(pod, observed) {
            for kind in [ProbeKind::Startup, ProbeKind::Liveness] {
                if self.results.get(&c.id, kind) == Some(ProbeResult::Failure) {
                    failed.push(FailedProbe {
                        container: spec.name.clone(),
                        id: c.id.clone(),
                        kind,
                    });
                }
            }
        }
        failed
    }
}

impl Drop for ProbeManager {
    fn drop(&mut self) {
        for task in self.tasks.values() {
            task.abort();
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    /// (name, container, startup result, readiness result, health)
    type Case = (
        &'static str,
        Container,
        Option<ProbeResult>,
        Option<ProbeResult>,
        Health,
    );
    use k8s_openapi::api::core::v1::ContainerPort;

    fn container(startup: bool, readiness: bool) -> Container {
        Container {
            name: "c".into(),
            startup_probe: startup.then(Probe::default),
            readiness_probe: readiness.then(Probe::default),
            ports: Some(vec![ContainerPort {
                name: Some("http".into()),
                container_port: 8080,
                ..Default::default()
            }]),
            ..Default::default()
        }
    }

    #[test]
    fn started_and_ready_follow_the_probes_the_container_has() {
        use ProbeResult::{Failure, Success};
        let cases: Vec<Case> = vec![
            (
                "no probes: started and ready",
                container(false, false),
                None,
                None,
                Health {
                    started: true,
                    ready: true,
                },
            ),
            (
                "readiness not yet passed",
                container(false, true),
                None,
                Some(Failure),
                Health {
                    started: true,
                    ready: false,
                },
            ),
            (
                "readiness passed",
                container(false, true),
                None,
                Some(Success),
                Health {
                    started: true,
                    ready: true,
                },
            ),
            (
                "startup pending gates readiness",
                container(true, true),
                None,
                Some(Success),
                Health {
                    started: false,
                    ready: false,
                },
            ),
            (
                "startup passed, no readiness probe",
                container(true, false),
                Some(Success),
                None,
                Health {
                    started: true,
                    ready: true,
                },
            ),
        ];
        for (name, c, startup, readiness, want) in cases {
            let got = health_of(&c, |kind| match kind {
                ProbeKind::Startup => startup,
                ProbeKind::Readiness => readiness,
                ProbeKind::Liveness => None,
            });
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn ports_resolve_by_number_or_by_name() {
        let c = container(false, false);
        let cases = [
            (IntOrString::Int(80), Ok(80)),
            (IntOrString::String("http".into()), Ok(8080)),
            (IntOrString::String("9090".into()), Ok(9090)),
            (
                IntOrString::String("nope".into()),
                Err("couldn't find port: nope in c".to_string()),
            ),
            (
                IntOrString::Int(0),
                Err("invalid port number: 0".to_string()),
            ),
            (
                IntOrString::Int(70000),
                Err("invalid port number: 70000".to_string()),
            ),
        ];
        for (port, want) in cases {
            assert_eq!(resolve_port(&port, &c), want, "{port:?}");
        }
    }

    #[test]
    fn an_http_get_defaults_to_the_pod_ip() {
        let action = HTTPGetAction {
            port: IntOrString::String("http".into()),
            path: Some("/ready".into()),
            scheme: Some("HTTPS".into()),
            ..Default::default()
        };
        let get = http_get(&action, &container(false, false), "10.1.2.3").unwrap();
        assert_eq!(get.url(), "https://10.1.2.3:8080/ready");
    }

    #[test]
    fn ipv6_hosts_are_bracketed() {
        assert_eq!(address("fd00::1", 80), "[fd00::1]:80");
        assert_eq!(address("10.0.0.1", 80), "10.0.0.1:80");
    }
}
