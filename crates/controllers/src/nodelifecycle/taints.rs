//! The taints that follow a node's Ready condition (upstream
//! `node_lifecycle_controller.go`: `doNoExecuteTaintingPass` and
//! `doNoScheduleTaintingPass`): `node.kubernetes.io/not-ready` for
//! `Ready=False`, `node.kubernetes.io/unreachable` for `Ready=Unknown`, each
//! as NoSchedule (keep new pods off) and NoExecute (evict running ones).

use k8s_openapi::api::core::v1::Taint;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use super::health::ReadyStatus;

/// Taint key for a node whose Ready condition is `False`.
pub const NOT_READY: &str = "node.kubernetes.io/not-ready";
/// Taint key for a node whose Ready condition is `Unknown`.
pub const UNREACHABLE: &str = "node.kubernetes.io/unreachable";

const EFFECTS: [&str; 2] = ["NoSchedule", "NoExecute"];

fn wanted_key(ready: ReadyStatus) -> Option<&'static str> {
    match ready {
        ReadyStatus::Ready => None,
        ReadyStatus::NotReady => Some(NOT_READY),
        ReadyStatus::Unknown => Some(UNREACHABLE),
    }
}

/// The node's taints with the readiness taints swapped to match `ready`,
/// or `None` when they already match. Other taints are kept as they are;
/// existing readiness taints keep their `timeAdded`, which starts pods'
/// toleration clocks.
pub fn reconcile(current: &[Taint], ready: ReadyStatus, now: Timestamp) -> Option<Vec<Taint>> {
    let wanted = wanted_key(ready);
    let is_readiness = |t: &Taint| {
        (t.key == NOT_READY || t.key == UNREACHABLE) && EFFECTS.contains(&t.effect.as_str())
    };
    let mut next: Vec<Taint> = current
        .iter()
        .filter(|t| !is_readiness(t) || Some(t.key.as_str()) == wanted)
        .cloned()
        .collect();
    if let Some(key) = wanted {
        for effect in EFFECTS {
            if !next.iter().any(|t| t.key == key && t.effect == effect) {
                next.push(Taint {
                    key: key.into(),
                    effect: effect.into(),
                    value: None,
                    time_added: (effect == "NoExecute").then_some(Time(now)),
                });
            }
        }
    }
    (next != current).then_some(next)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    fn taint(key: &str, effect: &str) -> Taint {
        Taint {
            key: key.into(),
            effect: effect.into(),
            ..Default::default()
        }
    }

    fn keys(taints: &[Taint]) -> Vec<String> {
        taints
            .iter()
            .map(|t| format!("{}:{}", t.key, t.effect))
            .collect()
    }

    #[test]
    fn readiness_taints_follow_the_ready_condition() {
        let now = Timestamp::UNIX_EPOCH;
        let user = taint("dedicated", "NoSchedule");
        type Case<'a> = (&'a str, Vec<Taint>, ReadyStatus, Option<Vec<&'a str>>);
        let cases: Vec<Case> = vec![
            (
                "a ready untainted node",
                vec![user.clone()],
                ReadyStatus::Ready,
                None,
            ),
            (
                "an unreachable node",
                vec![user.clone()],
                ReadyStatus::Unknown,
                Some(vec![
                    "dedicated:NoSchedule",
                    "node.kubernetes.io/unreachable:NoSchedule",
                    "node.kubernetes.io/unreachable:NoExecute",
                ]),
            ),
            (
                "a not-ready node",
                vec![],
                ReadyStatus::NotReady,
                Some(vec![
                    "node.kubernetes.io/not-ready:NoSchedule",
                    "node.kubernetes.io/not-ready:NoExecute",
                ]),
            ),
            (
                "an unreachable node turning not-ready",
                vec![
                    taint(UNREACHABLE, "NoSchedule"),
                    taint(UNREACHABLE, "NoExecute"),
                ],
                ReadyStatus::NotReady,
                Some(vec![
                    "node.kubernetes.io/not-ready:NoSchedule",
                    "node.kubernetes.io/not-ready:NoExecute",
                ]),
            ),
            (
                "a recovered node",
                vec![taint(UNREACHABLE, "NoExecute"), user.clone()],
                ReadyStatus::Ready,
                Some(vec!["dedicated:NoSchedule"]),
            ),
            (
                "an already tainted node",
                vec![
                    taint(UNREACHABLE, "NoSchedule"),
                    taint(UNREACHABLE, "NoExecute"),
                ],
                ReadyStatus::Unknown,
                None,
            ),
        ];
        for (name, current, ready, want) in cases {
            let got = reconcile(&current, ready, now).map(|t| keys(&t));
            let want = want.map(|w| w.into_iter().map(String::from).collect::<Vec<_>>());
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn no_execute_taints_record_when_they_were_added() {
        let now = Timestamp::from_second(1_700_000_000).unwrap();
        let taints = reconcile(&[], ReadyStatus::Unknown, now).unwrap();
        let no_execute = taints.iter().find(|t| t.effect == "NoExecute").unwrap();
        assert_eq!(no_execute.time_added, Some(Time(now)));
    }
}
