//! Node health from heartbeats (upstream
//! `pkg/controller/nodelifecycle/node_lifecycle_controller.go`,
//! `tryUpdateNodeHealth`): a node whose Lease and Ready heartbeat have not
//! moved for the grace period gets every kubelet-owned condition set to
//! `Unknown`. Time is the controller's own clock at which it last saw a
//! heartbeat change, as upstream does, so clock skew between the node and
//! the controller cannot fake health.

use k8s_openapi::api::core::v1::{Node, NodeCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};

/// The conditions the kubelet reports and this controller marks `Unknown`.
pub const KUBELET_CONDITIONS: [&str; 4] =
    ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"];

/// The Ready condition's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadyStatus {
    /// `True`.
    Ready,
    /// `False`.
    NotReady,
    /// `Unknown` or missing.
    Unknown,
}

/// The node's Ready condition status.
pub fn ready_status(node: &Node) -> ReadyStatus {
    match ready_condition(node).map(|c| c.status.as_str()) {
        Some("True") => ReadyStatus::Ready,
        Some("False") => ReadyStatus::NotReady,
        _ => ReadyStatus::Unknown,
    }
}

fn ready_condition(node: &Node) -> Option<&NodeCondition> {
    node.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready")
}

/// What counts as a heartbeat: the Lease's renew time and the Ready
/// condition's heartbeat time; either moving means the kubelet is alive.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Heartbeat {
    /// The node Lease's `spec.renewTime`.
    pub lease_renew: Option<Timestamp>,
    /// The Ready condition's `lastHeartbeatTime`.
    pub ready_heartbeat: Option<Timestamp>,
}

impl Heartbeat {
    /// The heartbeat values visible on a node and its Lease.
    pub fn of(node: &Node, lease_renew: Option<Timestamp>) -> Self {
        Heartbeat {
            lease_renew,
            ready_heartbeat: ready_condition(node)
                .and_then(|c| c.last_heartbeat_time.as_ref())
                .map(|t| t.0),
        }
    }
}

/// What the controller remembers per node: the last heartbeat seen and its
/// own time of seeing it change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// The heartbeat values.
    pub heartbeat: Heartbeat,
    /// When they were last seen to change, on the controller's clock.
    pub changed_at: Timestamp,
}

/// Folds a fresh look at the node into what was observed before: the clock
/// restarts only when a heartbeat moved (or on first sight).
pub fn observe(previous: Option<&Observed>, heartbeat: Heartbeat, now: Timestamp) -> Observed {
    match previous {
        Some(p) if p.heartbeat == heartbeat => p.clone(),
        _ => Observed {
            heartbeat,
            changed_at: now,
        },
    }
}

/// The conditions to write when the node's heartbeats are older than the
/// grace period, or `None` when the node is healthy or already marked.
pub fn stale_conditions(
    node: &Node,
    observed: &Observed,
    now: Timestamp,
    grace: SignedDuration,
) -> Option<Vec<NodeCondition>> {
    if now.duration_since(observed.changed_at) <= grace {
        return None;
    }
    let mut conditions = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    let mut changed = false;
    for kind in KUBELET_CONDITIONS {
        match conditions.iter_mut().find(|c| c.type_ == kind) {
            Some(c) if c.status == "Unknown" => {}
            Some(c) => {
                c.status = "Unknown".into();
                c.reason = Some("NodeStatusUnknown".into());
                c.message = Some("Kubelet stopped posting node status.".into());
                c.last_transition_time = Some(Time(now));
                changed = true;
            }
            None => {
                conditions.push(NodeCondition {
                    type_: kind.into(),
                    status: "Unknown".into(),
                    reason: Some("NodeStatusNeverUpdated".into()),
                    message: Some("Kubelet never posted node status.".into()),
                    last_heartbeat_time: node.metadata.creation_timestamp.clone(),
                    last_transition_time: Some(Time(now)),
                });
                changed = true;
            }
        }
    }
    changed.then_some(conditions)
}

/// How long until the node turns stale if no heartbeat arrives.
pub fn time_until_stale(
    observed: &Observed,
    now: Timestamp,
    grace: SignedDuration,
) -> SignedDuration {
    let left = grace - now.duration_since(observed.changed_at);
    if left.is_negative() {
        SignedDuration::ZERO
    } else {
        left
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::NodeStatus;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + secs).unwrap()
    }

    fn node(ready: Option<&str>) -> Node {
        Node {
            status: Some(NodeStatus {
                conditions: ready.map(|s| {
                    vec![NodeCondition {
                        type_: "Ready".into(),
                        status: s.into(),
                        last_heartbeat_time: Some(Time(at(0))),
                        ..Default::default()
                    }]
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn the_clock_restarts_only_when_a_heartbeat_moves() {
        let first = observe(
            None,
            Heartbeat {
                lease_renew: Some(at(0)),
                ready_heartbeat: None,
            },
            at(5),
        );
        assert_eq!(first.changed_at, at(5));
        let same = observe(Some(&first), first.heartbeat.clone(), at(30));
        assert_eq!(same.changed_at, at(5));
        let renewed = observe(
            Some(&first),
            Heartbeat {
                lease_renew: Some(at(10)),
                ready_heartbeat: None,
            },
            at(31),
        );
        assert_eq!(renewed.changed_at, at(31));
    }

    #[test]
    fn stale_nodes_get_unknown_conditions_after_the_grace_period() {
        let grace = SignedDuration::from_secs(40);
        let observed = Observed {
            heartbeat: Heartbeat::default(),
            changed_at: at(0),
        };
        let cases = [
            ("inside the grace period", node(Some("True")), at(40), None),
            (
                "a ready node past the grace period",
                node(Some("True")),
                at(41),
                Some(("Unknown", "NodeStatusUnknown")),
            ),
            (
                "a node that never reported",
                node(None),
                at(41),
                Some(("Unknown", "NodeStatusNeverUpdated")),
            ),
            (
                "a node already unknown",
                {
                    let mut n = node(Some("Unknown"));
                    if let Some(c) = n.status.as_mut().and_then(|s| s.conditions.as_mut()) {
                        for kind in &KUBELET_CONDITIONS[1..] {
                            c.push(NodeCondition {
                                type_: kind.to_string(),
                                status: "Unknown".into(),
                                ..Default::default()
                            });
                        }
                    }
                    n
                },
                at(100),
                None,
            ),
        ];
        for (name, n, now, want) in cases {
            let got = stale_conditions(&n, &observed, now, grace);
            let ready = got
                .as_ref()
                .and_then(|c| c.iter().find(|c| c.type_ == "Ready").cloned());
            assert_eq!(
                ready
                    .as_ref()
                    .map(|c| (c.status.as_str(), c.reason.as_deref().unwrap_or(""))),
                want,
                "{name}"
            );
            if let Some(conditions) = got {
                assert_eq!(conditions.len(), KUBELET_CONDITIONS.len(), "{name}");
            }
        }
    }

    #[test]
    fn time_until_stale_never_goes_negative() {
        let observed = Observed {
            heartbeat: Heartbeat::default(),
            changed_at: at(0),
        };
        let grace = SignedDuration::from_secs(40);
        assert_eq!(
            time_until_stale(&observed, at(10), grace),
            SignedDuration::from_secs(30)
        );
        assert_eq!(
            time_until_stale(&observed, at(50), grace),
            SignedDuration::ZERO
        );
    }

    #[test]
    fn ready_status_reads_the_ready_condition() {
        assert_eq!(ready_status(&node(Some("True"))), ReadyStatus::Ready);
        assert_eq!(ready_status(&node(Some("False"))), ReadyStatus::NotReady);
        assert_eq!(ready_status(&node(Some("Unknown"))), ReadyStatus::Unknown);
        assert_eq!(ready_status(&node(None)), ReadyStatus::Unknown);
    }
}
