//! The pod side of every simulated kubelet: one watcher over all pods, one
//! loop that moves pods bound to our nodes through their lifecycle and
//! writes what a kubelet would report through `pods/status`.
//!
//! Per pod: when it is bound to one of our (active) nodes it gets an
//! address and is reported Running at once (no image pulls, no
//! containers). If its annotations say so, its containers exit after a
//! while and the restart policy decides between a restart and a terminal
//! phase. A pod with a `deletionTimestamp` is stopped (its containers are
//! reported terminated) and then deleted with grace 0 and a uid
//! precondition, as the kubelet's status manager finalises a deletion.
//! Writes for one pod are applied in order; writes for different pods run
//! concurrently through the shared write gate.

use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, Patch, PatchParams, Preconditions};
use kube::runtime::watcher::{self, watcher, Event};
use kube::runtime::WatchStreamExt;
use serde_json::json;
use tokio::sync::mpsc;
use tokio::task::{AbortHandle, JoinHandle};
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::behaviour::{after_exit, AfterExit, Behaviour, RestartPolicy};
use crate::control::NodeControl;
use crate::ip_pool::{parse_cidr, IpPool};
use crate::node_object::{NodePlan, SIMULATED_LABEL};
use crate::pod_status::{pod_status, Exit, PodReport, RunState};
use crate::writes::Writes;

/// Where a pod is in the simulator's hands.
#[derive(Debug, Clone, Copy)]
enum Stage {
    /// Seen, not reported yet (new, or its node is stopped).
    New,
    /// Reported as running or finished.
    Reported(PodReport),
    /// It was finished before we saw it (say, before a restart of the
    /// simulator): nothing to do until it is deleted.
    AlreadyFinished,
    /// Being stopped and deleted.
    Deleting,
}

/// A pod bound to one of our nodes.
struct SimPod {
    pod: Pod,
    node: usize,
    stage: Stage,
    behaviour: Behaviour,
    policy: RestartPolicy,
    /// The address we gave it.
    ip: Option<Ipv4Addr>,
    /// Fires when the current run of the containers ends.
    timer: Option<AbortHandle>,
    /// The latest write; the next one waits for it.
    last_write: Option<JoinHandle<()>>,
}

/// A node as the pod side sees it.
struct SimNode {
    host_ip: Ipv4Addr,
    pool: IpPool,
}

/// A write for one pod.
enum PodWrite {
    /// Strategic-merge this status into `pods/status`.
    Status(serde_json::Value),
    /// Delete with grace 0 if the uid still matches.
    Delete,
}

/// The pod loop's state.
pub struct PodSimulator {
    writes: Writes,
    control: NodeControl,
    nodes: Vec<SimNode>,
    pods: HashMap<String, SimPod>,
    exits: mpsc::UnboundedSender<String>,
}

/// Runs the pod loop until `stop` is cancelled.
pub async fn run(
    writes: Writes,
    plans: Arc<[NodePlan]>,
    control: NodeControl,
    mut resumed: mpsc::UnboundedReceiver<usize>,
    stop: CancellationToken,
) {
    let client = writes.client().clone();
    let (exits, mut exited) = mpsc::unbounded_channel();
    let mut sim = PodSimulator {
        writes,
        control,
        nodes: plans
            .iter()
            .map(|p| SimNode {
                host_ip: p.internal_ip,
                pool: IpPool::new(p.fallback_pod_cidr),
            })
            .collect(),
        pods: HashMap::new(),
        exits,
    };
    let pods =
        watcher(Api::<Pod>::all(client.clone()), watcher::Config::default()).default_backoff();
    let node_config = watcher::Config::default().labels(&format!("{SIMULATED_LABEL}=true"));
    let nodes = watcher(Api::<Node>::all(client), node_config).default_backoff();
    futures::pin_mut!(pods, nodes);
    // Pods seen in the current relist, to forget the ones deleted while
    // the watch was down.
    let mut relisted: HashSet<String> = HashSet::new();
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            Some(event) = pods.next() => match event {
                Ok(Event::Apply(pod)) => sim.on_pod(pod),
                Ok(Event::Delete(pod)) => sim.forget(pod.metadata.uid.as_deref().unwrap_or_default()),
                Ok(Event::Init) => relisted.clear(),
                Ok(Event::InitApply(pod)) => {
                    relisted.extend(pod.metadata.uid.clone());
                    sim.on_pod(pod);
                }
                Ok(Event::InitDone) => sim.forget_all_but(&relisted),
                Err(e) => warn!(error = %e, "watching pods"),
            },
            Some(event) = nodes.next() => match event {
                Ok(Event::Apply(node) | Event::InitApply(node)) => sim.on_node(&node),
                Ok(_) => {}
                Err(e) => warn!(error = %e, "watching nodes"),
            },
            Some(uid) = exited.recv() => sim.on_exit(&uid),
            Some(index) = resumed.recv() => sim.on_resume(index),
        }
    }
    for pod in sim.pods.values_mut() {
        if let Some(timer) = pod.timer.take() {
            timer.abort();
        }
    }
}

impl PodSimulator {
    /// Uses the node's `spec.podCIDR` for its pods once it has one.
    fn on_node(&mut self, node: &Node) {
        let Some(index) = node
            .metadata
            .name
            .as_deref()
            .and_then(|n| self.control.index_of(n))
        else {
            return;
        };
        let cidr = node
            .spec
            .as_ref()
            .and_then(|s| s.pod_cidr.as_deref())
            .and_then(parse_cidr);
        if let (Some(cidr), Some(sim_node)) = (cidr, self.nodes.get_mut(index)) {
            if sim_node.pool.cidr() != cidr {
                debug!(node = ?node.metadata.name, %cidr, "pod CIDR assigned");
                sim_node.pool = IpPool::new(cidr);
            }
        }
    }

    fn on_pod(&mut self, pod: Pod) {
        let Some(uid) = pod.metadata.uid.clone() else {
            return;
        };
        let node = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .and_then(|n| self.control.index_of(n));
        let Some(node) = node else {
            return;
        };
        let entry = self.pods.entry(uid.clone()).or_insert_with(|| {
            let behaviour = Behaviour::from_annotations(pod.metadata.annotations.as_ref()).unwrap_or_else(|e| {
                warn!(pod = ?pod.metadata.name, namespace = ?pod.metadata.namespace, error = %e, "ignoring a bad simulation annotation");
                Behaviour::default()
            });
            let policy = RestartPolicy::from_spec(pod.spec.as_ref().and_then(|s| s.restart_policy.as_deref()));
            SimPod {
                pod: pod.clone(),
                node,
                stage: Stage::New,
                behaviour,
                policy,
                ip: None,
                timer: None,
                last_write: None,
            }
        });
        entry.pod = pod;
        self.advance(&uid);
    }

    /// Does what the pod's state calls for now.
    fn advance(&mut self, uid: &str) {
        let Some(sim) = self.pods.get(uid) else {
            return;
        };
        if !self.control.is_active(sim.node) {
            return;
        }
        let deleting = sim.pod.metadata.deletion_timestamp.is_some();
        match (sim.stage, deleting) {
            (Stage::Deleting, _) => {}
            (_, true) => self.stop_and_delete(uid),
            (Stage::New, false) => self.start(uid),
            (Stage::Reported(_) | Stage::AlreadyFinished, false) => {}
        }
    }

    /// The pod is admitted: an address, a start time, running containers.
    fn start(&mut self, uid: &str) {
        let Some(sim) = self.pods.get_mut(uid) else {
            return;
        };
        let status = sim.pod.status.as_ref();
        if matches!(
            status.and_then(|s| s.phase.as_deref()),
            Some("Succeeded" | "Failed")
        ) {
            sim.stage = Stage::AlreadyFinished;
            return;
        }
        let Some(node) = self.nodes.get_mut(sim.node) else {
            return;
        };
        // A pod we reported before a restart keeps its address.
        let previous = status
            .and_then(|s| s.pod_ip.as_deref())
            .and_then(|ip| ip.parse::<Ipv4Addr>().ok());
        let pod_ip = match previous.filter(|ip| node.pool.claim(*ip)) {
            Some(ip) => ip,
            None => match node.pool.allocate() {
                Some(ip) => ip,
                None => {
                    warn!(pod = ?sim.pod.metadata.name, cidr = %node.pool.cidr(), "no free pod address; the pod stays Pending");
                    return;
                }
            },
        };
        let now = Timestamp::now();
        sim.ip = Some(pod_ip);
        sim.stage = Stage::Reported(PodReport {
            host_ip: node.host_ip,
            pod_ip,
            start_time: now,
            readiness: sim.behaviour.readiness,
            run: RunState::Running {
                since: now,
                restarts: 0,
                last_exit: None,
            },
        });
        self.arm_timer(uid);
        self.report(uid);
    }

    /// Starts the clock of the current run, if the pod's containers exit.
    fn arm_timer(&mut self, uid: &str) {
        let Some(sim) = self.pods.get_mut(uid) else {
            return;
        };
        let Some(run_for) = sim.behaviour.run_for else {
            return;
        };
        let exits = self.exits.clone();
        let uid = uid.to_string();
        let timer = tokio::spawn(async move {
            tokio::time::sleep(run_for).await;
            let _ = exits.send(uid);
        });
        sim.timer = Some(timer.abort_handle());
    }

    /// The containers' current run ended.
    fn on_exit(&mut self, uid: &str) {
        let Some(sim) = self.pods.get_mut(uid) else {
            return;
        };
        sim.timer = None;
        let Stage::Reported(mut report) = sim.stage else {
            return;
        };
        let RunState::Running {
            since, restarts, ..
        } = report.run
        else {
            return;
        };
        let now = Timestamp::now();
        let exit = Exit {
            code: sim.behaviour.exit_code,
            started: since,
            finished: now,
        };
        report.run = match after_exit(sim.policy, exit.code) {
            AfterExit::Restart => RunState::Running {
                since: now,
                restarts: restarts.saturating_add(1),
                last_exit: Some(exit),
            },
            AfterExit::Finish(_) => RunState::Finished { exit, restarts },
        };
        sim.stage = Stage::Reported(report);
        if matches!(report.run, RunState::Running { .. }) {
            self.arm_timer(uid);
        }
        if self
            .pods
            .get(uid)
            .is_some_and(|s| self.control.is_active(s.node))
        {
            self.report(uid);
        }
    }

    /// A stopped node came back: report all its pods as they are now.
    fn on_resume(&mut self, index: usize) {
        let uids: Vec<String> = self
            .pods
            .iter()
            .filter(|(_, p)| p.node == index)
            .map(|(uid, _)| uid.clone())
            .collect();
        for uid in uids {
            if matches!(
                self.pods.get(&uid).map(|p| p.stage),
                Some(Stage::Reported(_))
            ) {
                self.report(&uid);
            }
            self.advance(&uid);
        }
    }

    /// The kubelet kills the containers, reports them terminated, and
    /// deletes the pod for good (`status_manager.go` `canBeDeleted`).
    fn stop_and_delete(&mut self, uid: &str) {
        let Some(sim) = self.pods.get_mut(uid) else {
            return;
        };
        if let Some(timer) = sim.timer.take() {
            timer.abort();
        }
        let stage = std::mem::replace(&mut sim.stage, Stage::Deleting);
        if let Stage::Reported(mut report) = stage {
            if let RunState::Running {
                since, restarts, ..
            } = report.run
            {
                // Our containers stop promptly and cleanly on SIGTERM.
                let exit = Exit {
                    code: 0,
                    started: since,
                    finished: Timestamp::now(),
                };
                report.run = RunState::Finished { exit, restarts };
                self.write_report(uid, &report);
            }
        }
        self.write(uid, PodWrite::Delete);
    }

    /// Writes the pod's current report to `pods/status`.
    fn report(&mut self, uid: &str) {
        if let Some(Stage::Reported(report)) = self.pods.get(uid).map(|p| p.stage) {
            self.write_report(uid, &report);
        }
    }

    fn write_report(&mut self, uid: &str, report: &PodReport) {
        let Some(sim) = self.pods.get(uid) else {
            return;
        };
        let status = pod_status(&sim.pod, report, Timestamp::now());
        self.write(uid, PodWrite::Status(json!({ "status": status })));
    }

    /// Queues a write after the pod's previous one.
    fn write(&mut self, uid: &str, write: PodWrite) {
        let Some(sim) = self.pods.get_mut(uid) else {
            return;
        };
        let (Some(name), Some(namespace)) = (
            sim.pod.metadata.name.clone(),
            sim.pod.metadata.namespace.clone(),
        ) else {
            return;
        };
        let previous = sim.last_write.take();
        let writes = self.writes.clone();
        let uid = uid.to_string();
        sim.last_write = Some(tokio::spawn(async move {
            if let Some(previous) = previous {
                let _ = previous.await;
            }
            let api: Api<Pod> = Api::namespaced(writes.client().clone(), &namespace);
            let (what, result) = match write {
                PodWrite::Status(patch) => {
                    let params = PatchParams::default();
                    let patch = Patch::Strategic(patch);
                    (
                        "status",
                        writes
                            .send(|| api.patch_status(&name, &params, &patch))
                            .await,
                    )
                }
                PodWrite::Delete => {
                    let params = DeleteParams {
                        grace_period_seconds: Some(0),
                        preconditions: Some(Preconditions {
                            uid: Some(uid.clone()),
                            resource_version: None,
                        }),
                        ..DeleteParams::default()
                    };
                    ("delete", writes.send(|| api.delete(&name, &params)).await)
                }
            };
            match result {
                Ok(written) => debug!(%namespace, pod = %name, what, ?written, "pod written"),
                Err(e) => {
                    warn!(%namespace, pod = %name, what, error = %e, "writing the pod failed")
                }
            }
        }));
    }

    /// The pod is gone from the API: free its address.
    fn forget(&mut self, uid: &str) {
        let Some(sim) = self.pods.remove(uid) else {
            return;
        };
        if let Some(timer) = sim.timer {
            timer.abort();
        }
        if let (Some(ip), Some(node)) = (sim.ip, self.nodes.get_mut(sim.node)) {
            node.pool.release(ip);
        }
    }

    fn forget_all_but(&mut self, present: &HashSet<String>) {
        let gone: Vec<String> = self
            .pods
            .keys()
            .filter(|uid| !present.contains(*uid))
            .cloned()
            .collect();
        for uid in gone {
            self.forget(&uid);
        }
    }
}
