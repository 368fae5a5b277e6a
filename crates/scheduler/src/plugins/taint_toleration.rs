//! TaintToleration: a pod may only land on a node whose `NoSchedule` /
//! `NoExecute` taints it tolerates, and prefers nodes with fewer untolerated
//! `PreferNoSchedule` taints (upstream plugins/tainttoleration).

use k8s_openapi::api::core::v1::{Taint, Toleration};

use crate::framework::{
    default_normalize, ClusterEvent, CycleState, Filter, NodeInfo, NodeScore, NormalizeScore,
    Plugin, PodInfo, Score, ScoreOrder, Status,
};

/// The plugin's configuration name.
pub const NAME: &str = "TaintToleration";

/// True when `toleration` tolerates `taint` (upstream `Toleration.ToleratesTaint`):
/// an empty effect or key matches any, `Exists` ignores the value, and an
/// empty operator means `Equal`.
pub fn tolerates(toleration: &Toleration, taint: &Taint) -> bool {
    let effect = toleration.effect.as_deref().unwrap_or_default();
    if !effect.is_empty() && effect != taint.effect {
        return false;
    }
    let key = toleration.key.as_deref().unwrap_or_default();
    if !key.is_empty() && key != taint.key {
        return false;
    }
    match toleration.operator.as_deref().unwrap_or_default() {
        "" | "Equal" => {
            toleration.value.as_deref().unwrap_or_default()
                == taint.value.as_deref().unwrap_or_default()
        }
        "Exists" => true,
        _ => false,
    }
}

/// The pod's tolerations.
pub fn pod_tolerations(pod: &PodInfo) -> &[Toleration] {
    pod.pod
        .spec
        .as_ref()
        .and_then(|s| s.tolerations.as_deref())
        .unwrap_or_default()
}

/// The node's taints.
pub fn node_taints(node: &NodeInfo) -> &[Taint] {
    node.node()
        .spec
        .as_ref()
        .and_then(|s| s.taints.as_deref())
        .unwrap_or_default()
}

/// The first taint with an effect `effect_applies` accepts that no toleration
/// tolerates.
pub fn first_untolerated<'a>(
    taints: &'a [Taint],
    tolerations: &[Toleration],
    effect_applies: impl Fn(&str) -> bool,
) -> Option<&'a Taint> {
    taints
        .iter()
        .filter(|t| effect_applies(&t.effect))
        .find(|t| !tolerations.iter().any(|tol| tolerates(tol, t)))
}

/// The TaintToleration plugin.
#[derive(Debug, Default)]
pub struct TaintToleration;

impl Plugin for TaintToleration {
    fn name(&self) -> &'static str {
        NAME
    }
    fn as_filter(&self) -> Option<&dyn Filter> {
        Some(self)
    }
    fn as_score(&self) -> Option<&dyn Score> {
        Some(self)
    }
    fn events_to_register(&self) -> &'static [ClusterEvent] {
        &[ClusterEvent::NodeAdded, ClusterEvent::NodeTaintsChanged]
    }
}

impl Filter for TaintToleration {
    fn filter(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let blocking = |effect: &str| effect == "NoSchedule" || effect == "NoExecute";
        match first_untolerated(node_taints(node), pod_tolerations(pod), blocking) {
            None => Status::Success,
            Some(taint) => Status::unresolvable(format!(
                "node(s) had untolerated taint {{{}: {}}}",
                taint.key,
                taint.value.as_deref().unwrap_or_default()
            )),
        }
    }
}

impl Score for TaintToleration {
    /// The number of `PreferNoSchedule` taints the pod does not tolerate;
    /// only tolerations with an empty or `PreferNoSchedule` effect count.
    fn score(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Result<i64, String> {
        let soft = |t: &&Toleration| {
            matches!(
                t.effect.as_deref(),
                None | Some("") | Some("PreferNoSchedule")
            )
        };
        let count = node_taints(node)
            .iter()
            .filter(|t| t.effect == "PreferNoSchedule")
            .filter(|t| {
                !pod_tolerations(pod)
                    .iter()
                    .filter(soft)
                    .any(|tol| tolerates(tol, t))
            })
            .count();
        Ok(count as i64)
    }

    fn normalizer(&self) -> Option<&dyn NormalizeScore> {
        Some(self)
    }
}

impl NormalizeScore for TaintToleration {
    fn normalize(&self, _: &CycleState, _: &PodInfo, scores: &mut [NodeScore]) -> Status {
        default_normalize(scores, ScoreOrder::Reversed);
        Status::Success
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{filter_all, node, pod, score_all, snapshot};

    #[test]
    fn filter_rejects_untolerated_hard_taints() {
        let cp = |n: &str| node(n).taint("node-role.kubernetes.io/control-plane", "", "NoSchedule");
        let cases = [
            (
                "no taints pass",
                node("n").build(),
                pod("p").build(),
                Status::Success,
            ),
            (
                "an untolerated NoSchedule taint is unresolvable",
                cp("n").build(),
                pod("p").build(),
                Status::unresolvable(
                    "node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }",
                ),
            ),
            (
                "Exists with the key tolerates",
                cp("n").build(),
                pod("p")
                    .toleration(
                        "node-role.kubernetes.io/control-plane",
                        "Exists",
                        "",
                        "NoSchedule",
                    )
                    .build(),
                Status::Success,
            ),
            (
                "an empty key with Exists tolerates everything",
                node("n").taint("a", "b", "NoExecute").build(),
                pod("p").toleration("", "Exists", "", "").build(),
                Status::Success,
            ),
            (
                "Equal needs the same value",
                node("n").taint("gpu", "yes", "NoSchedule").build(),
                pod("p")
                    .toleration("gpu", "Equal", "no", "NoSchedule")
                    .build(),
                Status::unresolvable("node(s) had untolerated taint {gpu: yes}"),
            ),
            (
                "a toleration for another effect does not help",
                node("n").taint("gpu", "yes", "NoSchedule").build(),
                pod("p")
                    .toleration("gpu", "Equal", "yes", "NoExecute")
                    .build(),
                Status::unresolvable("node(s) had untolerated taint {gpu: yes}"),
            ),
            (
                "PreferNoSchedule never blocks",
                node("n").taint("soft", "", "PreferNoSchedule").build(),
                pod("p").build(),
                Status::Success,
            ),
        ];
        for (name, n, p, want) in cases {
            let got = filter_all(
                &TaintToleration,
                &PodInfo::new(p.into()),
                &snapshot(vec![n], vec![]),
            );
            assert_eq!(got, vec![want], "{name}");
        }
    }

    #[test]
    fn score_prefers_nodes_with_fewer_untolerated_soft_taints() {
        let nodes = vec![
            node("clean").build(),
            node("one").taint("a", "", "PreferNoSchedule").build(),
            node("two")
                .taint("a", "", "PreferNoSchedule")
                .taint("b", "", "PreferNoSchedule")
                .build(),
            node("tolerated").taint("c", "", "PreferNoSchedule").build(),
        ];
        let p = pod("p")
            .toleration("c", "Exists", "", "PreferNoSchedule")
            .info();
        assert_eq!(
            score_all(&TaintToleration, &p, &snapshot(nodes, vec![])),
            vec![100, 50, 0, 100]
        );
    }
}
