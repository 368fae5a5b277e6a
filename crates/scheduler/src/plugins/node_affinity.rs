//! NodeAffinity: `spec.nodeSelector` and required node affinity filter nodes;
//! preferred node affinity scores them by the summed weights of matching
//! terms (upstream plugins/nodeaffinity). The plugin's `addedAffinity`
//! argument applies to every pod of the profile.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::NodeAffinity as NodeAffinitySpec;
use serde::Deserialize;

use crate::framework::{
    default_normalize, ClusterEvent, CycleState, Filter, NodeInfo, NodeScore, NormalizeScore,
    Plugin, PodInfo, PreFilter, PreScore, Score, ScoreOrder, Snapshot, Status,
};
use crate::selector::{NodeSelectorMatcher, NodeSelectorTermMatcher, SelectorError};
use std::sync::Arc;

/// The plugin's configuration name.
pub const NAME: &str = "NodeAffinity";

/// Upstream's reason string (`ErrReasonPod`).
pub const REASON: &str = "node(s) didn't match Pod's node affinity/selector";

/// `NodeAffinityArgs` from the scheduler configuration.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeAffinityArgs {
    /// Affinity added to every pod scheduled by the profile.
    pub added_affinity: Option<NodeAffinitySpec>,
}

/// Compiled required and preferred parts of a node affinity.
#[derive(Debug, Clone, Default)]
struct CompiledAffinity {
    required: Option<NodeSelectorMatcher>,
    preferred: Vec<(NodeSelectorTermMatcher, i64)>,
}

impl CompiledAffinity {
    fn compile(spec: Option<&NodeAffinitySpec>) -> Result<Self, SelectorError> {
        let Some(spec) = spec else {
            return Ok(Self::default());
        };
        let required = spec
            .required_during_scheduling_ignored_during_execution
            .as_ref()
            .map(NodeSelectorMatcher::compile)
            .transpose()?;
        let preferred = spec
            .preferred_during_scheduling_ignored_during_execution
            .iter()
            .flatten()
            .filter(|t| t.weight != 0)
            .map(|t| {
                Ok((
                    NodeSelectorTermMatcher::compile(&t.preference)?,
                    i64::from(t.weight),
                ))
            })
            .collect::<Result<_, SelectorError>>()?;
        Ok(CompiledAffinity {
            required,
            preferred,
        })
    }
}

/// What a pod requires of a node: its `nodeSelector` and required node
/// affinity (upstream `nodeaffinity.RequiredNodeAffinity`).
#[derive(Debug, Clone, Default)]
pub struct RequiredNodeAffinity {
    node_selector: BTreeMap<String, String>,
    affinity: Option<NodeSelectorMatcher>,
}

impl RequiredNodeAffinity {
    /// Compiles the pod's requirements.
    pub fn from_pod(pod: &PodInfo) -> Result<Self, SelectorError> {
        Ok(RequiredNodeAffinity {
            node_selector: pod
                .pod
                .spec
                .as_ref()
                .and_then(|s| s.node_selector.clone())
                .unwrap_or_default(),
            affinity: NodeAffinity::pod_affinity(pod)?.required,
        })
    }

    /// True when the node meets the requirements.
    pub fn matches(&self, node: &NodeInfo) -> bool {
        let labels = node.labels();
        self.node_selector
            .iter()
            .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
            && self
                .affinity
                .as_ref()
                .is_none_or(|a| a.matches(node.node()))
    }
}

/// The NodeAffinity plugin.
#[derive(Debug, Default)]
pub struct NodeAffinity {
    added: CompiledAffinity,
}

impl NodeAffinity {
    /// The plugin with its arguments.
    pub fn new(args: NodeAffinityArgs) -> Result<Self, SelectorError> {
        Ok(NodeAffinity {
            added: CompiledAffinity::compile(args.added_affinity.as_ref())?,
        })
    }

    fn pod_affinity(pod: &PodInfo) -> Result<CompiledAffinity, SelectorError> {
        CompiledAffinity::compile(
            pod.pod
                .spec
                .as_ref()
                .and_then(|s| s.affinity.as_ref())
                .and_then(|a| a.node_affinity.as_ref()),
        )
    }
}

/// PreFilter state: the pod's compiled requirements.
#[derive(Debug)]
struct PreFilterState(RequiredNodeAffinity);

/// PreScore state: the pod's compiled preferred terms.
#[derive(Debug)]
struct PreScoreState(Vec<(NodeSelectorTermMatcher, i64)>);

impl Plugin for NodeAffinity {
    fn name(&self) -> &'static str {
        NAME
    }
    fn as_pre_filter(&self) -> Option<&dyn PreFilter> {
        Some(self)
    }
    fn as_filter(&self) -> Option<&dyn Filter> {
        Some(self)
    }
    fn as_pre_score(&self) -> Option<&dyn PreScore> {
        Some(self)
    }
    fn as_score(&self) -> Option<&dyn Score> {
        Some(self)
    }
    fn events_to_register(&self) -> &'static [ClusterEvent] {
        &[ClusterEvent::NodeAdded, ClusterEvent::NodeLabelsChanged]
    }
}

impl PreFilter for NodeAffinity {
    fn pre_filter(&self, state: &mut CycleState, pod: &PodInfo, _: &Snapshot) -> Status {
        let required = match RequiredNodeAffinity::from_pod(pod) {
            Ok(r) => r,
            Err(e) => return Status::Error(e.to_string()),
        };
        if required.node_selector.is_empty()
            && required.affinity.is_none()
            && self.added.required.is_none()
        {
            return Status::Skip;
        }
        state.write(PreFilterState(required));
        Status::Success
    }
}

impl Filter for NodeAffinity {
    fn filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        if self
            .added
            .required
            .as_ref()
            .is_some_and(|a| !a.matches(node.node()))
        {
            return Status::unresolvable("node(s) didn't match scheduler-enforced node affinity");
        }
        let fits = match state.read::<PreFilterState>() {
            Some(PreFilterState(required)) => required.matches(node),
            None => match RequiredNodeAffinity::from_pod(pod) {
                Ok(required) => required.matches(node),
                Err(e) => return Status::Error(e.to_string()),
            },
        };
        if fits {
            Status::Success
        } else {
            Status::unresolvable(REASON)
        }
    }
}

impl PreScore for NodeAffinity {
    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        _: &Snapshot,
        _: &[Arc<NodeInfo>],
    ) -> Status {
        let preferred = match Self::pod_affinity(pod) {
            Ok(a) => a.preferred,
            Err(e) => return Status::Error(e.to_string()),
        };
        if preferred.is_empty() && self.added.preferred.is_empty() {
            return Status::Skip;
        }
        state.write(PreScoreState(preferred));
        Status::Success
    }
}

impl Score for NodeAffinity {
    fn score(&self, state: &CycleState, _: &PodInfo, node: &NodeInfo) -> Result<i64, String> {
        let pod_terms = state
            .read::<PreScoreState>()
            .map(|s| s.0.as_slice())
            .unwrap_or_default();
        Ok(pod_terms
            .iter()
            .chain(&self.added.preferred)
            .filter(|(term, _)| term.matches(node.node()))
            .map(|(_, weight)| weight)
            .sum())
    }

    fn normalizer(&self) -> Option<&dyn NormalizeScore> {
        Some(self)
    }
}

impl NormalizeScore for NodeAffinity {
    fn normalize(&self, _: &CycleState, _: &PodInfo, scores: &mut [NodeScore]) -> Status {
        default_normalize(scores, ScoreOrder::Direct);
        Status::Success
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{filter_all, node, pod, req, score_all, snapshot};

    #[test]
    fn filter_honours_node_selector_and_required_affinity() {
        let nodes = || {
            snapshot(
                vec![
                    node("a").zone("z1").label("disk", "ssd").build(),
                    node("b").zone("z2").build(),
                ],
                vec![],
            )
        };
        let no = Status::unresolvable(REASON);
        let cases = [
            (
                "no constraints fit everywhere",
                pod("p").info(),
                vec![Status::Success, Status::Success],
            ),
            (
                "nodeSelector must match",
                pod("p").node_selector("disk", "ssd").info(),
                vec![Status::Success, no.clone()],
            ),
            (
                "required terms are ORed",
                pod("p")
                    .required_node_affinity(vec![
                        vec![req("topology.kubernetes.io/zone", "In", &["z9"])],
                        vec![req("topology.kubernetes.io/zone", "In", &["z2"])],
                    ])
                    .info(),
                vec![no.clone(), Status::Success],
            ),
            (
                "nodeSelector and affinity must both match",
                pod("p")
                    .node_selector("disk", "ssd")
                    .required_node_affinity(vec![vec![req(
                        "topology.kubernetes.io/zone",
                        "NotIn",
                        &["z1"],
                    )]])
                    .info(),
                vec![no.clone(), no.clone()],
            ),
            (
                "an empty term list matches nothing",
                pod("p").required_node_affinity(vec![]).info(),
                vec![no.clone(), no],
            ),
        ];
        for (name, p, want) in cases {
            assert_eq!(
                filter_all(&NodeAffinity::default(), &p, &nodes()),
                want,
                "{name}"
            );
        }
    }

    #[test]
    fn score_sums_weights_of_matching_preferred_terms() {
        let s = snapshot(
            vec![
                node("a").zone("z1").label("disk", "ssd").build(),
                node("b").zone("z1").build(),
                node("c").zone("z2").build(),
            ],
            vec![],
        );
        let p = pod("p")
            .preferred_node_affinity(30, vec![req("topology.kubernetes.io/zone", "In", &["z1"])])
            .preferred_node_affinity(10, vec![req("disk", "Exists", &[])])
            .info();
        assert_eq!(
            score_all(&NodeAffinity::default(), &p, &s),
            vec![100, 75, 0]
        );
        assert_eq!(
            score_all(&NodeAffinity::default(), &pod("q").info(), &s),
            vec![0, 0, 0]
        );
    }

    #[test]
    fn added_affinity_applies_to_every_pod() {
        let args: NodeAffinityArgs = serde_json::from_value(serde_json::json!({
            "addedAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["z2"]}]}
            ]}}
        }))
        .unwrap_or_default();
        let plugin = NodeAffinity::new(args).unwrap_or_default();
        let s = snapshot(
            vec![node("a").zone("z1").build(), node("b").zone("z2").build()],
            vec![],
        );
        let got = filter_all(&plugin, &pod("p").info(), &s);
        assert_eq!(
            got[0],
            Status::unresolvable("node(s) didn't match scheduler-enforced node affinity")
        );
        assert_eq!(got[1], Status::Success);
    }
}
