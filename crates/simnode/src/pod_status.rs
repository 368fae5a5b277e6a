//! The status a kubelet would report for a pod, built without I/O
//! (kubelet `kubelet_pods.go` `generateAPIPodStatus`, `status/generate.go`).

use std::net::Ipv4Addr;

use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStatus,
    HostIP, Pod, PodCondition, PodIP, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use crate::behaviour::{Finished, Readiness};

/// One run of the containers that has ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit {
    /// The exit code.
    pub code: i32,
    /// When that run started.
    pub started: Timestamp,
    /// When it ended.
    pub finished: Timestamp,
}

impl Exit {
    /// The kubelet's reason for a terminated container.
    fn reason(&self) -> &'static str {
        if self.code == 0 {
            "Completed"
        } else {
            "Error"
        }
    }
}

/// Where the pod's containers are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunState {
    /// Running since `since`, after `restarts` restarts; `last_exit` is the
    /// previous run, if any.
    Running {
        /// Start of the current run.
        since: Timestamp,
        /// How many times they restarted.
        restarts: i32,
        /// The run before this one.
        last_exit: Option<Exit>,
    },
    /// Exited for good: the pod is terminal.
    Finished {
        /// The last run.
        exit: Exit,
        /// How many times they restarted before.
        restarts: i32,
    },
}

/// Everything the simulator knows about one pod besides its spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PodReport {
    /// The node's InternalIP.
    pub host_ip: Ipv4Addr,
    /// The pod's address.
    pub pod_ip: Ipv4Addr,
    /// When the simulator accepted the pod (`status.startTime`).
    pub start_time: Timestamp,
    /// Whether running containers are ready.
    pub readiness: Readiness,
    /// Where the containers are.
    pub run: RunState,
}

impl PodReport {
    /// The terminal phase, if the pod is finished.
    pub fn finished(&self) -> Option<Finished> {
        match self.run {
            RunState::Finished { exit, .. } => Some(Finished::from_exit_code(exit.code)),
            RunState::Running { .. } => None,
        }
    }

    fn containers_ready(&self) -> bool {
        matches!(self.run, RunState::Running { .. }) && self.readiness == Readiness::Ready
    }
}

/// The status to report for `pod` at `now`. Conditions keep their
/// `lastTransitionTime` from the pod's current status while their status
/// stays the same; only the kubelet's conditions are included (the rest
/// are kept by the strategic merge on `type`).
pub fn pod_status(pod: &Pod, report: &PodReport, now: Timestamp) -> PodStatus {
    let spec = pod.spec.as_ref();
    let uid = pod.metadata.uid.as_deref().unwrap_or_default();
    let containers = spec.map(|s| s.containers.as_slice()).unwrap_or_default();
    let init_containers = spec
        .and_then(|s| s.init_containers.as_deref())
        .unwrap_or_default();
    let phase = match report.finished() {
        Some(finished) => finished.phase(),
        None => "Running",
    };
    PodStatus {
        phase: Some(phase.into()),
        host_ip: Some(report.host_ip.to_string()),
        host_ips: Some(vec![HostIP {
            ip: report.host_ip.to_string(),
        }]),
        pod_ip: Some(report.pod_ip.to_string()),
        pod_ips: Some(vec![PodIP {
            ip: report.pod_ip.to_string(),
        }]),
        start_time: Some(Time(report.start_time)),
        conditions: Some(conditions(pod, report, containers, now)),
        container_statuses: Some(
            containers
                .iter()
                .map(|c| running_container_status(uid, c, report))
                .collect(),
        ),
        init_container_statuses: (!init_containers.is_empty()).then(|| {
            init_containers
                .iter()
                .map(|c| init_container_status(uid, c, report))
                .collect()
        }),
        ..PodStatus::default()
    }
}

fn conditions(
    pod: &Pod,
    report: &PodReport,
    containers: &[Container],
    now: Timestamp,
) -> Vec<PodCondition> {
    let existing = pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default();
    let condition = |type_: &str, status: bool, reason: Option<&str>, message: Option<String>| {
        let status = if status { "True" } else { "False" };
        let since = existing
            .iter()
            .find(|c| c.type_ == type_ && c.status == status)
            .and_then(|c| c.last_transition_time.clone())
            .unwrap_or(Time(now));
        PodCondition {
            type_: type_.into(),
            status: status.into(),
            reason: reason.map(str::to_string),
            message,
            last_transition_time: Some(since),
            ..PodCondition::default()
        }
    };
    let running = report.finished().is_none();
    let ready = report.containers_ready();
    // Upstream's reasons (status/generate.go): a succeeded pod is
    // "PodCompleted", otherwise the unready containers are named.
    let (not_ready_reason, not_ready_message) = match report.finished() {
        Some(Finished::Succeeded) => ("PodCompleted", None),
        _ => {
            let names: Vec<&str> = containers.iter().map(|c| c.name.as_str()).collect();
            (
                "ContainersNotReady",
                Some(format!(
                    "containers with unready status: [{}]",
                    names.join(" ")
                )),
            )
        }
    };
    let readiness = |type_: &str| {
        if ready {
            condition(type_, true, None, None)
        } else {
            condition(
                type_,
                false,
                Some(not_ready_reason),
                not_ready_message.clone(),
            )
        }
    };
    vec![
        condition("PodReadyToStartContainers", running, None, None),
        condition("Initialized", true, None, None),
        readiness("Ready"),
        readiness("ContainersReady"),
        condition("PodScheduled", true, None, None),
    ]
}

fn container_id(uid: &str, name: &str, restarts: i32) -> String {
    format!("sim://{uid}/{name}/{restarts}")
}

fn terminated(container_id: String, exit: &Exit) -> ContainerState {
    ContainerState {
        terminated: Some(ContainerStateTerminated {
            container_id: Some(container_id),
            exit_code: exit.code,
            reason: Some(exit.reason().into()),
            started_at: Some(Time(exit.started)),
            finished_at: Some(Time(exit.finished)),
            ..ContainerStateTerminated::default()
        }),
        ..ContainerState::default()
    }
}

/// A regular container (or a sidecar: an init container that restarts
/// always) follows the pod's run state.
fn running_container_status(uid: &str, c: &Container, report: &PodReport) -> ContainerStatus {
    let base = ContainerStatus {
        name: c.name.clone(),
        image: c.image.clone().unwrap_or_default(),
        image_id: format!("sim://{}", c.image.as_deref().unwrap_or_default()),
        ..ContainerStatus::default()
    };
    match report.run {
        RunState::Running {
            since,
            restarts,
            last_exit,
        } => ContainerStatus {
            container_id: Some(container_id(uid, &c.name, restarts)),
            state: Some(ContainerState {
                running: Some(ContainerStateRunning {
                    started_at: Some(Time(since)),
                }),
                ..ContainerState::default()
            }),
            last_state: last_exit.map(|exit| {
                terminated(
                    container_id(uid, &c.name, restarts.saturating_sub(1)),
                    &exit,
                )
            }),
            ready: report.readiness == Readiness::Ready,
            started: Some(true),
            restart_count: restarts,
            ..base
        },
        RunState::Finished { exit, restarts } => {
            let id = container_id(uid, &c.name, restarts);
            ContainerStatus {
                container_id: Some(id.clone()),
                state: Some(terminated(id, &exit)),
                ready: false,
                started: Some(false),
                restart_count: restarts,
                ..base
            }
        }
    }
}

/// Init containers ran to completion before the pod's containers started.
fn init_container_status(uid: &str, c: &Container, report: &PodReport) -> ContainerStatus {
    if c.restart_policy.as_deref() == Some("Always") {
        return running_container_status(uid, c, report);
    }
    let id = container_id(uid, &c.name, 0);
    let exit = Exit {
        code: 0,
        started: report.start_time,
        finished: report.start_time,
    };
    ContainerStatus {
        name: c.name.clone(),
        image: c.image.clone().unwrap_or_default(),
        image_id: format!("sim://{}", c.image.as_deref().unwrap_or_default()),
        container_id: Some(id.clone()),
        state: Some(terminated(id, &exit)),
        ready: true,
        started: Some(false),
        restart_count: 0,
        ..ContainerStatus::default()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::PodSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(seconds).unwrap()
    }

    fn pod(containers: &[&str], init: &[&str]) -> Pod {
        let container = |name: &&str| Container {
            name: name.to_string(),
            image: Some("busybox".into()),
            ..Container::default()
        };
        Pod {
            metadata: ObjectMeta {
                uid: Some("u1".into()),
                ..ObjectMeta::default()
            },
            spec: Some(PodSpec {
                containers: containers.iter().map(container).collect(),
                init_containers: (!init.is_empty()).then(|| init.iter().map(container).collect()),
                ..PodSpec::default()
            }),
            status: None,
        }
    }

    fn report(readiness: Readiness, run: RunState) -> PodReport {
        PodReport {
            host_ip: Ipv4Addr::new(172, 16, 0, 1),
            pod_ip: Ipv4Addr::new(100, 64, 0, 2),
            start_time: at(100),
            readiness,
            run,
        }
    }

    fn running(restarts: i32, last_exit: Option<Exit>) -> RunState {
        RunState::Running {
            since: at(110),
            restarts,
            last_exit,
        }
    }

    fn finished(code: i32) -> RunState {
        RunState::Finished {
            exit: Exit {
                code,
                started: at(110),
                finished: at(120),
            },
            restarts: 0,
        }
    }

    fn condition_summary(status: &PodStatus) -> Vec<String> {
        status
            .conditions
            .iter()
            .flatten()
            .map(|c| {
                format!(
                    "{}={}{}",
                    c.type_,
                    c.status,
                    c.reason
                        .as_deref()
                        .map(|r| format!("({r})"))
                        .unwrap_or_default()
                )
            })
            .collect()
    }

    #[test]
    fn phases_and_conditions_follow_the_run_state() {
        let cases = [
            (
                "a running ready pod",
                Readiness::Ready,
                running(0, None),
                "Running",
                vec![
                    "PodReadyToStartContainers=True",
                    "Initialized=True",
                    "Ready=True",
                    "ContainersReady=True",
                    "PodScheduled=True",
                ],
            ),
            (
                "a running pod that is never ready",
                Readiness::NeverReady,
                running(0, None),
                "Running",
                vec![
                    "PodReadyToStartContainers=True",
                    "Initialized=True",
                    "Ready=False(ContainersNotReady)",
                    "ContainersReady=False(ContainersNotReady)",
                    "PodScheduled=True",
                ],
            ),
            (
                "a pod whose containers exited 0",
                Readiness::Ready,
                finished(0),
                "Succeeded",
                vec![
                    "PodReadyToStartContainers=False",
                    "Initialized=True",
                    "Ready=False(PodCompleted)",
                    "ContainersReady=False(PodCompleted)",
                    "PodScheduled=True",
                ],
            ),
            (
                "a pod whose containers exited 1",
                Readiness::Ready,
                finished(1),
                "Failed",
                vec![
                    "PodReadyToStartContainers=False",
                    "Initialized=True",
                    "Ready=False(ContainersNotReady)",
                    "ContainersReady=False(ContainersNotReady)",
                    "PodScheduled=True",
                ],
            ),
        ];
        for (name, readiness, run, phase, conditions) in cases {
            let status = pod_status(&pod(&["app"], &[]), &report(readiness, run), at(130));
            assert_eq!(status.phase.as_deref(), Some(phase), "{name}");
            assert_eq!(condition_summary(&status), conditions, "{name}");
            assert_eq!(status.pod_ip.as_deref(), Some("100.64.0.2"), "{name}");
            assert_eq!(status.host_ip.as_deref(), Some("172.16.0.1"), "{name}");
        }
    }

    #[test]
    fn a_restarted_container_shows_its_count_and_last_exit() {
        let last = Exit {
            code: 3,
            started: at(100),
            finished: at(105),
        };
        let status = pod_status(
            &pod(&["app"], &[]),
            &report(Readiness::Ready, running(2, Some(last))),
            at(130),
        );
        let c = &status.container_statuses.unwrap()[0];
        assert_eq!(c.restart_count, 2);
        assert_eq!(c.container_id.as_deref(), Some("sim://u1/app/2"));
        assert_eq!(c.image_id, "sim://busybox");
        assert!(c.ready && c.started == Some(true));
        let last = c.last_state.as_ref().unwrap().terminated.as_ref().unwrap();
        assert_eq!((last.exit_code, last.reason.as_deref()), (3, Some("Error")));
        assert_eq!(last.container_id.as_deref(), Some("sim://u1/app/1"));
    }

    #[test]
    fn finished_containers_are_terminated_with_their_exit_code() {
        let status = pod_status(
            &pod(&["a", "b"], &["init"]),
            &report(Readiness::Ready, finished(0)),
            at(130),
        );
        let names: Vec<(String, i32, Option<String>)> = status
            .container_statuses
            .unwrap()
            .into_iter()
            .chain(status.init_container_statuses.unwrap())
            .map(|c| {
                let t = c.state.unwrap().terminated.unwrap();
                (c.name, t.exit_code, t.reason)
            })
            .collect();
        let want = [
            ("a", 0, "Completed"),
            ("b", 0, "Completed"),
            ("init", 0, "Completed"),
        ];
        let want: Vec<(String, i32, Option<String>)> = want
            .iter()
            .map(|(n, c, r)| (n.to_string(), *c, Some(r.to_string())))
            .collect();
        assert_eq!(names, want);
    }

    #[test]
    fn transition_times_stay_while_a_condition_keeps_its_status() {
        let mut p = pod(&["app"], &[]);
        p.status = Some(pod_status(
            &p,
            &report(Readiness::Ready, running(0, None)),
            at(130),
        ));
        let later = pod_status(&p, &report(Readiness::Ready, finished(0)), at(200));
        let since = |type_: &str| {
            later
                .conditions
                .iter()
                .flatten()
                .find(|c| c.type_ == type_)
                .and_then(|c| c.last_transition_time.clone())
                .unwrap()
        };
        assert_eq!(since("Initialized"), Time(at(130)), "unchanged");
        assert_eq!(since("Ready"), Time(at(200)), "became False");
    }
}
