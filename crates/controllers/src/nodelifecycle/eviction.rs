//! When a pod must leave a node with NoExecute taints (upstream
//! `pkg/controller/tainteviction/taint_eviction.go` and
//! `v1helper.GetMatchingTolerations`): at once if some NoExecute taint is
//! not tolerated, otherwise after the shortest `tolerationSeconds` among the
//! tolerations used, counted from the taint's `timeAdded`; never when every
//! matching toleration is unbounded.

use k8s_openapi::api::core::v1::{Pod, Taint, Toleration};
use k8s_openapi::jiff::{SignedDuration, Timestamp};

/// When a pod is to be evicted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Eviction {
    /// The pod tolerates the taints for ever (or there are none).
    Never,
    /// The pod is to go now.
    Now,
    /// The pod is to go at this time.
    At(Timestamp),
}

/// Whether a toleration matches a taint (upstream `ToleratesTaint`): an
/// empty effect matches every effect, an empty key with `Exists` matches
/// every key, `Equal` (the default) compares values.
pub fn tolerates(toleration: &Toleration, taint: &Taint) -> bool {
    let effect = toleration.effect.as_deref().unwrap_or("");
    if !effect.is_empty() && effect != taint.effect {
        return false;
    }
    let key = toleration.key.as_deref().unwrap_or("");
    if !key.is_empty() && key != taint.key {
        return false;
    }
    match toleration.operator.as_deref().unwrap_or("Equal") {
        "Exists" => true,
        "Equal" | "" => {
            toleration.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or("")
        }
        _ => false,
    }
}

/// When a pod with these tolerations must leave a node with these taints.
pub fn eviction_time(taints: &[Taint], tolerations: &[Toleration], now: Timestamp) -> Eviction {
    let no_execute: Vec<&Taint> = taints.iter().filter(|t| t.effect == "NoExecute").collect();
    let mut deadline: Option<Timestamp> = None;
    for taint in no_execute {
        let matching: Vec<&Toleration> =
            tolerations.iter().filter(|t| tolerates(t, taint)).collect();
        if matching.is_empty() {
            return Eviction::Now;
        }
        // Unbounded tolerations win; otherwise the shortest bound applies
        // (upstream `getMinTolerationTime`, where <= 0 means evict now).
        if matching.iter().any(|t| t.toleration_seconds.is_none()) {
            continue;
        }
        let seconds = matching
            .iter()
            .filter_map(|t| t.toleration_seconds)
            .min()
            .unwrap_or(0)
            .max(0);
        let added = taint.time_added.as_ref().map_or(now, |t| t.0);
        let at = added
            .checked_add(SignedDuration::from_secs(seconds))
            .unwrap_or(Timestamp::MAX);
        deadline = Some(deadline.map_or(at, |d| d.min(at)));
    }
    match deadline {
        None => Eviction::Never,
        Some(at) if at <= now => Eviction::Now,
        Some(at) => Eviction::At(at),
    }
}

/// When this pod must leave a node with these taints.
pub fn pod_eviction_time(pod: &Pod, taints: &[Taint], now: Timestamp) -> Eviction {
    let tolerations = pod
        .spec
        .as_ref()
        .and_then(|s| s.tolerations.as_deref())
        .unwrap_or_default();
    eviction_time(taints, tolerations, now)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + secs).unwrap()
    }

    fn taint(key: &str, effect: &str, added: i64) -> Taint {
        Taint {
            key: key.into(),
            effect: effect.into(),
            value: None,
            time_added: Some(Time(at(added))),
        }
    }

    fn tol(key: &str, operator: &str, effect: &str, seconds: Option<i64>) -> Toleration {
        Toleration {
            key: Some(key.into()).filter(|k: &String| !k.is_empty()),
            operator: Some(operator.into()),
            effect: Some(effect.into()).filter(|e: &String| !e.is_empty()),
            toleration_seconds: seconds,
            value: None,
        }
    }

    #[test]
    fn pods_leave_when_their_tolerations_run_out() {
        let unreachable = taint("node.kubernetes.io/unreachable", "NoExecute", 0);
        let default_tol = tol(
            "node.kubernetes.io/unreachable",
            "Exists",
            "NoExecute",
            Some(300),
        );
        let cases = [
            ("no taints", vec![], vec![], Eviction::Never),
            (
                "only NoSchedule taints",
                vec![taint("x", "NoSchedule", 0)],
                vec![],
                Eviction::Never,
            ),
            (
                "an untolerated NoExecute taint",
                vec![unreachable.clone()],
                vec![],
                Eviction::Now,
            ),
            (
                "the default 300 s toleration",
                vec![unreachable.clone()],
                vec![default_tol.clone()],
                Eviction::At(at(300)),
            ),
            (
                "an unbounded toleration",
                vec![unreachable.clone()],
                vec![tol(
                    "node.kubernetes.io/unreachable",
                    "Exists",
                    "NoExecute",
                    None,
                )],
                Eviction::Never,
            ),
            (
                "a toleration of everything",
                vec![unreachable.clone()],
                vec![tol("", "Exists", "", None)],
                Eviction::Never,
            ),
            (
                "the shortest of two bounds",
                vec![unreachable.clone()],
                vec![default_tol.clone(), tol("", "Exists", "NoExecute", Some(5))],
                Eviction::At(at(5)),
            ),
            (
                "an expired toleration",
                vec![taint("node.kubernetes.io/unreachable", "NoExecute", -400)],
                vec![default_tol.clone()],
                Eviction::Now,
            ),
            (
                "one tolerated and one not",
                vec![unreachable.clone(), taint("other", "NoExecute", 0)],
                vec![default_tol.clone()],
                Eviction::Now,
            ),
            (
                "a zero toleration",
                vec![unreachable],
                vec![tol(
                    "node.kubernetes.io/unreachable",
                    "Exists",
                    "NoExecute",
                    Some(0),
                )],
                Eviction::Now,
            ),
        ];
        for (name, taints, tolerations, want) in cases {
            assert_eq!(eviction_time(&taints, &tolerations, at(1)), want, "{name}");
        }
    }

    #[test]
    fn equal_tolerations_compare_values() {
        let mut t = taint("k", "NoExecute", 0);
        t.value = Some("v".into());
        let mut same = tol("k", "Equal", "NoExecute", None);
        same.value = Some("v".into());
        let mut other = same.clone();
        other.value = Some("w".into());
        assert!(tolerates(&same, &t));
        assert!(!tolerates(&other, &t));
        assert!(!tolerates(&tol("k", "Exists", "NoSchedule", None), &t));
    }
}
