//! A pod's status from what the runtime has and what the worker is waiting
//! on: phase, conditions, IPs and container statuses with upstream's
//! reasons (pkg/kubelet/kubelet_pods.go `getPhase`, `convertToAPIContainerStatuses`;
//! pkg/kubelet/status/generate.go). Pure.

use std::collections::HashMap;

use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateRunning, ContainerStateTerminated,
    ContainerStateWaiting, ContainerStatus, HostIP, Pod, PodCondition, PodIP, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::observed::{ObservedContainer, ObservedPod, RuntimeState};
use super::probes::Health;

/// Why a container is not running, in upstream's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitingReason {
    /// The sandbox or container is being created.
    ContainerCreating,
    /// Init containers have not finished.
    PodInitializing,
    /// The last pull failed.
    ErrImagePull,
    /// Pulls are backing off.
    ImagePullBackOff,
    /// The image is absent and the policy is Never.
    ErrImageNeverPull,
    /// Restarts are backing off.
    CrashLoopBackOff,
    /// Env or volumes could not be resolved.
    CreateContainerConfigError,
    /// The runtime refused to create it.
    CreateContainerError,
    /// The runtime refused to start it.
    RunContainerError,
}

impl WaitingReason {
    /// The wire string.
    pub fn as_str(self) -> &'static str {
        match self {
            WaitingReason::ContainerCreating => "ContainerCreating",
            WaitingReason::PodInitializing => "PodInitializing",
            WaitingReason::ErrImagePull => "ErrImagePull",
            WaitingReason::ImagePullBackOff => "ImagePullBackOff",
            WaitingReason::ErrImageNeverPull => "ErrImageNeverPull",
            WaitingReason::CrashLoopBackOff => "CrashLoopBackOff",
            WaitingReason::CreateContainerConfigError => "CreateContainerConfigError",
            WaitingReason::CreateContainerError => "CreateContainerError",
            WaitingReason::RunContainerError => "RunContainerError",
        }
    }
}

/// A reason and message the worker recorded for a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    /// Why.
    pub reason: WaitingReason,
    /// Details.
    pub message: String,
}

/// The inputs of a status computation.
pub struct StatusInput<'a> {
    /// The pod as the API has it (its spec and current status).
    pub pod: &'a Pod,
    /// The runtime's view.
    pub observed: &'a ObservedPod,
    /// Containers the worker is waiting on, by name.
    pub waiting: &'a HashMap<String, Waiting>,
    /// What the probes say of the running app containers, by name.
    pub health: &'a HashMap<String, Health>,
    /// The sandbox's IP (empty before it has one).
    pub pod_ip: &'a str,
    /// The node's IP.
    pub host_ip: &'a str,
    /// Now, for startTime and new transitions.
    pub now: Time,
}

/// Pod phases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Not all containers started yet.
    Pending,
    /// Running (or restarting).
    Running,
    /// Every container exited 0 and will not restart.
    Succeeded,
    /// A container failed and will not restart.
    Failed,
}

impl Phase {
    /// The wire string.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Pending => "Pending",
            Phase::Running => "Running",
            Phase::Succeeded => "Succeeded",
            Phase::Failed => "Failed",
        }
    }
    /// Parses the wire string.
    pub fn parse(s: &str) -> Option<Phase> {
        Some(match s {
            "Pending" => Phase::Pending,
            "Running" => Phase::Running,
            "Succeeded" => Phase::Succeeded,
            "Failed" => Phase::Failed,
            _ => return None,
        })
    }
    /// Whether the pod is done for good.
    pub fn is_terminal(self) -> bool {
        matches!(self, Phase::Succeeded | Phase::Failed)
    }
}

/// The pod's restart policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartPolicy {
    /// Restart whenever a container exits.
    Always,
    /// Restart on a non-zero exit.
    OnFailure,
    /// Never restart.
    Never,
}

impl RestartPolicy {
    /// The pod's policy (Always when unset, as the apiserver defaults).
    pub fn of(pod: &Pod) -> RestartPolicy {
        match pod.spec.as_ref().and_then(|s| s.restart_policy.as_deref()) {
            Some("Never") => RestartPolicy::Never,
            Some("OnFailure") => RestartPolicy::OnFailure,
            _ => RestartPolicy::Always,
        }
    }
    /// Whether a container that exited with `exit_code` restarts.
    pub fn restarts(self, exit_code: i32) -> bool {
        match self {
            RestartPolicy::Always => true,
            RestartPolicy::OnFailure => exit_code != 0,
            RestartPolicy::Never => false,
        }
    }
}

/// Where init containers stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitProgress {
    /// All exited 0 (or there are none).
    Done,
    /// One is pending or running.
    InProgress,
    /// One failed and the policy is Never.
    Failed,
}

/// Where the pod's init containers stand.
pub fn init_progress(pod: &Pod, observed: &ObservedPod) -> InitProgress {
    let policy = RestartPolicy::of(pod);
    for init in init_containers(pod) {
        match observed.latest(&init.name) {
            Some(c) if c.state == RuntimeState::Exited && c.exit_code == 0 => continue,
            Some(c) if c.state == RuntimeState::Exited && policy == RestartPolicy::Never => {
                return InitProgress::Failed
            }
            _ => return InitProgress::InProgress,
        }
    }
    InitProgress::Done
}

/// The pod's phase.
pub fn phase(pod: &Pod, observed: &ObservedPod) -> Phase {
    match init_progress(pod, observed) {
        InitProgress::Failed => return Phase::Failed,
        InitProgress::InProgress => return Phase::Pending,
        InitProgress::Done => {}
    }
    let policy = RestartPolicy::of(pod);
    let (mut running, mut never_ran, mut succeeded, mut failed) = (0, 0, 0, 0);
    for container in containers(pod) {
        match observed.latest(&container.name) {
            Some(c) if c.state == RuntimeState::Running => running += 1,
            Some(c) if c.state == RuntimeState::Exited => {
                if c.exit_code == 0 {
                    succeeded += 1
                } else {
                    failed += 1
                }
            }
            // A restarting container (created after an earlier run) counts as running.
            Some(c) if c.attempt > 0 => running += 1,
            _ => never_ran += 1,
        }
    }
    if never_ran > 0 {
        return Phase::Pending;
    }
    if running > 0 {
        return Phase::Running;
    }
    match policy {
        RestartPolicy::Always => Phase::Running,
        RestartPolicy::OnFailure if failed > 0 => Phase::Running,
        RestartPolicy::Never if failed > 0 => Phase::Failed,
        _ if succeeded > 0 || failed == 0 => Phase::Succeeded,
        _ => Phase::Failed,
    }
}

/// The pod's full status.
pub fn pod_status(input: &StatusInput<'_>) -> PodStatus {
    let pod = input.pod;
    let current = pod.status.as_ref();
    let phase = match current
        .and_then(|s| s.phase.as_deref())
        .and_then(Phase::parse)
    {
        // Terminal phases are final (upstream never leaves them).
        Some(p) if p.is_terminal() => p,
        _ => phase(pod, input.observed),
    };
    let init_done = init_progress(pod, input.observed) == InitProgress::Done;
    let init_statuses: Vec<ContainerStatus> = init_containers(pod)
        .iter()
        .map(|c| container_status(c, input, WaitingReason::PodInitializing, true))
        .collect();
    let app_default = if init_done {
        WaitingReason::ContainerCreating
    } else {
        WaitingReason::PodInitializing
    };
    let statuses: Vec<ContainerStatus> = containers(pod)
        .iter()
        .map(|c| container_status(c, input, app_default, false))
        .collect();
    let all_ready = !statuses.is_empty() && statuses.iter().all(|s| s.ready);
    let sandbox_ready = input.observed.sandbox().is_some_and(|s| s.ready);
    let terminal_reason = phase.is_terminal().then_some("PodCompleted");
    let not_ready_reason = terminal_reason.or(Some("ContainersNotReady"));
    let not_ready = not_ready_message(&statuses);
    let gates_unmet = unmet_readiness_gate(pod);
    let (ready, ready_reason, ready_message) = match (&not_ready, &gates_unmet) {
        _ if all_ready && gates_unmet.is_none() => (true, None, None),
        (None, Some(gate)) => (false, Some("ReadinessGatesNotReady"), Some(gate.clone())),
        _ => (false, not_ready_reason, not_ready.clone()),
    };
    let mut conditions = vec![
        condition(input, "PodReadyToStartContainers", sandbox_ready, None),
        condition(
            input,
            "Initialized",
            init_done,
            (!init_done).then_some("ContainersNotInitialized"),
        ),
        PodCondition {
            message: ready_message,
            ..condition(input, "Ready", ready, ready_reason)
        },
        PodCondition {
            message: (!all_ready).then_some(not_ready).flatten(),
            ..condition(
                input,
                "ContainersReady",
                all_ready,
                (!all_ready).then_some(not_ready_reason).flatten(),
            )
        },
        condition(input, "PodScheduled", true, None),
    ];
    // Conditions others own (readiness gates, DisruptionTarget…) stay.
    conditions.extend(
        current
            .and_then(|s| s.conditions.as_ref())
            .into_iter()
            .flatten()
            .filter(|c| !KUBELET_CONDITIONS.contains(&c.type_.as_str()))
            .cloned(),
    );
    let start_time = current
        .and_then(|s| s.start_time.clone())
        .unwrap_or_else(|| input.now.clone());
    let pod_ips = (!input.pod_ip.is_empty()).then(|| {
        vec![PodIP {
            ip: input.pod_ip.to_string(),
        }]
    });
    let host_ips = (!input.host_ip.is_empty()).then(|| {
        vec![HostIP {
            ip: input.host_ip.to_string(),
        }]
    });
    PodStatus {
        phase: Some(phase.as_str().to_string()),
        conditions: Some(conditions),
        host_ip: (!input.host_ip.is_empty()).then(|| input.host_ip.to_string()),
        host_ips,
        pod_ip: (!input.pod_ip.is_empty()).then(|| input.pod_ip.to_string()),
        pod_ips,
        start_time: Some(start_time),
        qos_class: Some(qos_class(pod).to_string()),
        init_container_statuses: (!init_statuses.is_empty()).then_some(init_statuses),
        container_statuses: Some(statuses),
        ..Default::default()
    }
}

/// The pod conditions the kubelet owns.
const KUBELET_CONDITIONS: [&str; 5] = [
    "PodReadyToStartContainers",
    "Initialized",
    "Ready",
    "ContainersReady",
    "PodScheduled",
];

/// "containers with unready status: [a b]" (upstream's generate.go).
fn not_ready_message(statuses: &[ContainerStatus]) -> Option<String> {
    let unready: Vec<&str> = statuses
        .iter()
        .filter(|s| !s.ready)
        .map(|s| s.name.as_str())
        .collect();
    (!unready.is_empty())
        .then(|| format!("containers with unready status: [{}]", unready.join(" ")))
}

/// The first readiness gate whose condition is not True, as upstream's
/// message (status/generate.go `GeneratePodReadyCondition`).
fn unmet_readiness_gate(pod: &Pod) -> Option<String> {
    let conditions = pod.status.as_ref().and_then(|s| s.conditions.as_ref());
    for gate in pod
        .spec
        .as_ref()
        .and_then(|s| s.readiness_gates.as_ref())
        .into_iter()
        .flatten()
    {
        let found = conditions
            .into_iter()
            .flatten()
            .find(|c| c.type_ == gate.condition_type);
        match found {
            None => {
                return Some(format!(
                    "corresponding condition of pod readiness gate \"{}\" does not exist.",
                    gate.condition_type
                ))
            }
            Some(c) if c.status != "True" => {
                return Some(format!(
                    "the status of pod readiness gate \"{}\" is not \"True\", but {}",
                    gate.condition_type, c.status
                ))
            }
            Some(_) => {}
        }
    }
    None
}

fn condition(
    input: &StatusInput<'_>,
    type_: &str,
    status: bool,
    reason: Option<&str>,
) -> PodCondition {
    let status = if status { "True" } else { "False" };
    // Keep the transition time while the status holds, so a steady pod's
    // status does not change every sync.
    let previous = input
        .pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == type_))
        .filter(|c| c.status == status)
        .and_then(|c| c.last_transition_time.clone());
    PodCondition {
        type_: type_.to_string(),
        status: status.to_string(),
        reason: reason.map(str::to_string),
        last_transition_time: Some(previous.unwrap_or_else(|| input.now.clone())),
        ..Default::default()
    }
}

fn container_status(
    spec: &Container,
    input: &StatusInput<'_>,
    default_waiting: WaitingReason,
    is_init: bool,
) -> ContainerStatus {
    let latest = input.observed.latest(&spec.name);
    let waiting = input.waiting.get(&spec.name);
    let waiting_state = |reason: &str, message: Option<String>| ContainerState {
        waiting: Some(ContainerStateWaiting {
            reason: Some(reason.to_string()),
            message: message.filter(|m| !m.is_empty()),
        }),
        ..Default::default()
    };
    let (state, last_state) = match latest {
        Some(c) if c.state == RuntimeState::Running => (
            ContainerState {
                running: Some(ContainerStateRunning {
                    started_at: time(c.started_at),
                }),
                ..Default::default()
            },
            input.observed.previous(&spec.name).map(terminated_state),
        ),
        Some(c) if c.state == RuntimeState::Exited => match waiting {
            // Waiting to restart: the exit moves to lastState.
            Some(w) => (
                waiting_state(w.reason.as_str(), Some(w.message.clone())),
                Some(terminated_state(c)),
            ),
            None => (
                terminated_state(c),
                input.observed.previous(&spec.name).map(terminated_state),
            ),
        },
        Some(c) => (
            waiting_state(
                waiting
                    .map_or(WaitingReason::ContainerCreating, |w| w.reason)
                    .as_str(),
                waiting.map(|w| w.message.clone()),
            ),
            input
                .observed
                .previous(&spec.name)
                .map(terminated_state)
                .filter(|_| c.attempt > 0),
        ),
        None => (
            waiting_state(
                waiting.map_or(default_waiting, |w| w.reason).as_str(),
                waiting.map(|w| w.message.clone()),
            ),
            None,
        ),
    };
    let running = latest.is_some_and(|c| c.state == RuntimeState::Running);
    // A running container without an entry has no probes to wait for.
    let health = input.health.get(&spec.name).copied().unwrap_or(Health {
        started: true,
        ready: true,
    });
    let (ready, started) = if is_init {
        let done = latest.is_some_and(|c| c.state == RuntimeState::Exited && c.exit_code == 0);
        (done, running)
    } else {
        (running && health.ready, running && health.started)
    };
    ContainerStatus {
        name: spec.name.clone(),
        image: spec.image.clone().unwrap_or_default(),
        image_id: latest.map(|c| c.image_ref.clone()).unwrap_or_default(),
        container_id: latest.map(|c| format!("containerd://{}", c.id)),
        ready,
        started: Some(started),
        restart_count: latest.map_or(0, |c| i32::try_from(c.attempt).unwrap_or(i32::MAX)),
        state: Some(state),
        last_state: Some(last_state.unwrap_or_default()),
        ..Default::default()
    }
}

/// A terminated state from an exited instance, with upstream's reasons:
/// the runtime's (OOMKilled) first, else Completed for 0 and Error.
fn terminated_state(c: &ObservedContainer) -> ContainerState {
    let reason = if !c.reason.is_empty() && c.reason != "Completed" && c.reason != "Error" {
        c.reason.clone()
    } else if c.exit_code == 0 {
        "Completed".to_string()
    } else {
        "Error".to_string()
    };
    ContainerState {
        terminated: Some(ContainerStateTerminated {
            exit_code: c.exit_code,
            reason: Some(reason),
            message: (!c.message.is_empty()).then(|| c.message.clone()),
            started_at: time(c.started_at),
            finished_at: time(c.finished_at),
            container_id: Some(format!("containerd://{}", c.id)),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A CRI timestamp (ns since the epoch; 0 = unset) as an API time, to the
/// second as the API serialises it.
pub fn time(ns: i64) -> Option<Time> {
    if ns <= 0 {
        return None;
    }
    k8s_openapi::jiff::Timestamp::from_second(ns / 1_000_000_000)
        .ok()
        .map(Time)
}

/// Guaranteed, Burstable or BestEffort (pkg/apis/core/v1/helper/qos).
pub fn qos_class(pod: &Pod) -> &'static str {
    let all: Vec<&Container> = init_containers(pod).iter().chain(containers(pod)).collect();
    let mut any = false;
    let mut guaranteed = true;
    for c in &all {
        let r = c.resources.as_ref();
        let requests = r.and_then(|r| r.requests.as_ref());
        let limits = r.and_then(|r| r.limits.as_ref());
        any |= requests.is_some_and(|m| !m.is_empty()) || limits.is_some_and(|m| !m.is_empty());
        for resource in ["cpu", "memory"] {
            let limit = limits.and_then(|m| m.get(resource));
            let request = requests.and_then(|m| m.get(resource)).or(limit);
            if limit.is_none() || request != limit {
                guaranteed = false;
            }
        }
    }
    match (any, guaranteed) {
        (false, _) => "BestEffort",
        (true, true) => "Guaranteed",
        (true, false) => "Burstable",
    }
}

/// The pod's init containers.
pub fn init_containers(pod: &Pod) -> &[Container] {
    pod.spec
        .as_ref()
        .and_then(|s| s.init_containers.as_deref())
        .unwrap_or(&[])
}

/// The pod's app containers.
pub fn containers(pod: &Pod) -> &[Container] {
    pod.spec.as_ref().map_or(&[], |s| s.containers.as_slice())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn pod(policy: &str, inits: &[&str], apps: &[&str]) -> Pod {
        let c = |n: &&str| serde_json::json!({"name": n, "image": "busybox"});
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "namespace": "ns", "uid": "u"},
            "spec": {
                "restartPolicy": policy,
                "initContainers": inits.iter().map(c).collect::<Vec<_>>(),
                "containers": apps.iter().map(c).collect::<Vec<_>>(),
            }
        }))
        .unwrap()
    }

    fn instance(
        name: &str,
        state: RuntimeState,
        exit_code: i32,
        attempt: u32,
    ) -> ObservedContainer {
        ObservedContainer {
            id: format!("{name}-{attempt}"),
            sandbox_id: "s".into(),
            name: name.into(),
            attempt,
            state,
            created_at: 1,
            started_at: 2_000_000_000,
            finished_at: 3_000_000_000,
            exit_code,
            reason: String::new(),
            message: String::new(),
            image_ref: "sha256:x".into(),
        }
    }

    fn observed(containers: Vec<ObservedContainer>) -> ObservedPod {
        ObservedPod {
            sandboxes: vec![],
            containers,
        }
    }

    use RuntimeState::{Exited, Running};

    #[test]
    fn phases_follow_restart_policy_and_exits() {
        let cases = [
            (
                "nothing started is Pending",
                pod("Always", &[], &["a"]),
                vec![],
                Phase::Pending,
            ),
            (
                "a running container is Running",
                pod("Always", &[], &["a"]),
                vec![instance("a", Running, 0, 0)],
                Phase::Running,
            ),
            (
                "Never with all exits 0 Succeeds",
                pod("Never", &[], &["a", "b"]),
                vec![instance("a", Exited, 0, 0), instance("b", Exited, 0, 0)],
                Phase::Succeeded,
            ),
            (
                "Never with one failure Fails once all stopped",
                pod("Never", &[], &["a", "b"]),
                vec![instance("a", Exited, 1, 0), instance("b", Exited, 0, 0)],
                Phase::Failed,
            ),
            (
                "Never with one still running is Running",
                pod("Never", &[], &["a", "b"]),
                vec![instance("a", Exited, 1, 0), instance("b", Running, 0, 0)],
                Phase::Running,
            ),
            (
                "OnFailure with a failure restarts, so Running",
                pod("OnFailure", &[], &["a"]),
                vec![instance("a", Exited, 1, 0)],
                Phase::Running,
            ),
            (
                "OnFailure with success Succeeds",
                pod("OnFailure", &[], &["a"]),
                vec![instance("a", Exited, 0, 0)],
                Phase::Succeeded,
            ),
            (
                "Always with an exit is Running",
                pod("Always", &[], &["a"]),
                vec![instance("a", Exited, 0, 0)],
                Phase::Running,
            ),
            (
                "an unfinished init container is Pending",
                pod("Always", &["i"], &["a"]),
                vec![instance("i", Running, 0, 0)],
                Phase::Pending,
            ),
            (
                "a failed init under Never Fails",
                pod("Never", &["i"], &["a"]),
                vec![instance("i", Exited, 2, 0)],
                Phase::Failed,
            ),
        ];
        for (name, pod, containers, want) in cases {
            assert_eq!(phase(&pod, &observed(containers)), want, "{name}");
        }
    }

    fn status_of(
        pod: &Pod,
        observed: &ObservedPod,
        waiting: &HashMap<String, Waiting>,
    ) -> PodStatus {
        pod_status(&StatusInput {
            pod,
            observed,
            waiting,
            health: &HashMap::new(),
            pod_ip: "10.42.0.9",
            host_ip: "192.0.2.1",
            now: Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH),
        })
    }

    #[test]
    fn a_container_in_back_off_waits_with_its_last_exit_in_last_state() {
        let p = pod("Always", &[], &["a"]);
        let o = observed(vec![instance("a", Exited, 1, 3)]);
        let waiting = HashMap::from([(
            "a".to_string(),
            Waiting {
                reason: WaitingReason::CrashLoopBackOff,
                message: "back-off 40s".into(),
            },
        )]);
        let status = status_of(&p, &o, &waiting);
        let c = &status.container_statuses.unwrap()[0];
        let w = c.state.as_ref().unwrap().waiting.as_ref().unwrap();
        assert_eq!(w.reason.as_deref(), Some("CrashLoopBackOff"));
        let last = c.last_state.as_ref().unwrap().terminated.as_ref().unwrap();
        assert_eq!((last.exit_code, last.reason.as_deref()), (1, Some("Error")));
        assert_eq!(c.restart_count, 3);
        assert!(!c.ready);
    }

    #[test]
    fn terminated_reasons_prefer_the_runtimes_then_completed_or_error() {
        let mut oom = instance("a", Exited, 137, 0);
        oom.reason = "OOMKilled".into();
        let cases = [
            (instance("a", Exited, 0, 0), "Completed"),
            (instance("a", Exited, 2, 0), "Error"),
            (oom, "OOMKilled"),
        ];
        for (c, want) in cases {
            let state = terminated_state(&c);
            assert_eq!(state.terminated.unwrap().reason.as_deref(), Some(want));
        }
    }

    #[test]
    fn a_running_pod_is_ready_with_its_ip_and_qos() {
        let p = pod("Always", &[], &["a"]);
        let status = status_of(
            &p,
            &observed(vec![instance("a", Running, 0, 0)]),
            &HashMap::new(),
        );
        assert_eq!(status.phase.as_deref(), Some("Running"));
        assert_eq!(status.pod_ip.as_deref(), Some("10.42.0.9"));
        assert_eq!(status.qos_class.as_deref(), Some("BestEffort"));
        let ready = status
            .conditions
            .unwrap()
            .into_iter()
            .find(|c| c.type_ == "Ready")
            .unwrap();
        assert_eq!(ready.status, "True");
    }

    #[test]
    fn probes_and_readiness_gates_decide_ready() {
        let healthy = Health {
            started: true,
            ready: true,
        };
        let unready = Health {
            started: true,
            ready: false,
        };
        let not_started = Health {
            started: false,
            ready: false,
        };
        let gate = |status: Option<&str>| {
            let mut p = pod("Always", &[], &["a"]);
            p.spec.as_mut().unwrap().readiness_gates =
                Some(vec![k8s_openapi::api::core::v1::PodReadinessGate {
                    condition_type: "example.com/gate".into(),
                }]);
            p.status = status.map(|s| PodStatus {
                conditions: Some(vec![PodCondition {
                    type_: "example.com/gate".into(),
                    status: s.into(),
                    ..Default::default()
                }]),
                ..Default::default()
            });
            p
        };
        // (name, pod, health, container ready, started, ContainersReady, Ready, Ready reason)
        let cases = [
            (
                "no probes",
                pod("Always", &[], &["a"]),
                None,
                true,
                true,
                "True",
                "True",
                None,
            ),
            (
                "probes pass",
                pod("Always", &[], &["a"]),
                Some(healthy),
                true,
                true,
                "True",
                "True",
                None,
            ),
            (
                "readiness failing",
                pod("Always", &[], &["a"]),
                Some(unready),
                false,
                true,
                "False",
                "False",
                Some("ContainersNotReady"),
            ),
            (
                "startup pending",
                pod("Always", &[], &["a"]),
                Some(not_started),
                false,
                false,
                "False",
                "False",
                Some("ContainersNotReady"),
            ),
            (
                "gate condition missing",
                gate(None),
                Some(healthy),
                true,
                true,
                "True",
                "False",
                Some("ReadinessGatesNotReady"),
            ),
            (
                "gate condition False",
                gate(Some("False")),
                Some(healthy),
                true,
                true,
                "True",
                "False",
                Some("ReadinessGatesNotReady"),
            ),
            (
                "gate condition True",
                gate(Some("True")),
                Some(healthy),
                true,
                true,
                "True",
                "True",
                None,
            ),
        ];
        for (name, p, health, ready, started, containers_ready, pod_ready, reason) in cases {
            let o = observed(vec![instance("a", Running, 0, 0)]);
            let health: HashMap<String, Health> =
                health.into_iter().map(|h| ("a".to_string(), h)).collect();
            let status = pod_status(&StatusInput {
                pod: &p,
                observed: &o,
                waiting: &HashMap::new(),
                health: &health,
                pod_ip: "10.42.0.9",
                host_ip: "192.0.2.1",
                now: Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH),
            });
            let c = &status.container_statuses.as_ref().unwrap()[0];
            assert_eq!((c.ready, c.started), (ready, Some(started)), "{name}");
            let conditions = status.conditions.unwrap();
            let find = |t: &str| conditions.iter().find(|c| c.type_ == t).unwrap().clone();
            assert_eq!(find("ContainersReady").status, containers_ready, "{name}");
            let ready_condition = find("Ready");
            assert_eq!(ready_condition.status, pod_ready, "{name}");
            assert_eq!(ready_condition.reason.as_deref(), reason, "{name}");
            if p.spec.as_ref().unwrap().readiness_gates.is_some() && p.status.is_some() {
                assert!(
                    conditions.iter().any(|c| c.type_ == "example.com/gate"),
                    "{name}: the gate's condition is kept"
                );
            }
        }
    }
}
