//! Which nodes run a daemon pod (upstream `NodeShouldRunDaemonPod` in
//! `pkg/controller/daemon/daemon_controller.go`): the pod's nodeSelector and required node
//! affinity must match the node, and every NoSchedule/NoExecute taint must be tolerated
//! (a pod already there keeps running unless a NoExecute taint is not tolerated).

use k8s_openapi::api::core::v1::{
    Affinity, Node, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, PodSpec,
    Taint, Toleration,
};

/// Where a daemon pod belongs relative to one node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placement {
    /// A daemon pod should be created on the node.
    pub should_run: bool,
    /// A daemon pod already on the node may stay.
    pub should_continue_running: bool,
}

/// The tolerations every daemon pod gets (upstream `AddOrUpdateDaemonPodTolerations`): it
/// survives not-ready/unreachable nodes, pressure and cordoning.
pub fn add_default_tolerations(spec: &mut PodSpec) {
    let mut wanted = vec![
        ("node.kubernetes.io/not-ready", "NoExecute"),
        ("node.kubernetes.io/unreachable", "NoExecute"),
        ("node.kubernetes.io/disk-pressure", "NoSchedule"),
        ("node.kubernetes.io/memory-pressure", "NoSchedule"),
        ("node.kubernetes.io/pid-pressure", "NoSchedule"),
        ("node.kubernetes.io/unschedulable", "NoSchedule"),
    ];
    if spec.host_network == Some(true) {
        wanted.push(("node.kubernetes.io/network-unavailable", "NoSchedule"));
    }
    let tolerations = spec.tolerations.get_or_insert_with(Vec::new);
    for (key, effect) in wanted {
        let present = tolerations
            .iter()
            .any(|t| t.key.as_deref() == Some(key) && t.effect.as_deref() == Some(effect));
        if !present {
            tolerations.push(Toleration {
                key: Some(key.to_owned()),
                operator: Some("Exists".to_owned()),
                effect: Some(effect.to_owned()),
                ..Toleration::default()
            });
        }
    }
}

/// Where a pod with `spec` (default tolerations included) belongs on `node`.
pub fn placement(node: &Node, spec: &PodSpec) -> Placement {
    let name = node.metadata.name.as_deref().unwrap_or_default();
    let never = Placement {
        should_run: false,
        should_continue_running: false,
    };
    if spec
        .node_name
        .as_deref()
        .is_some_and(|wanted| !wanted.is_empty() && wanted != name)
    {
        return never;
    }
    if !selector_matches(node, spec) {
        return never;
    }
    let tolerations = spec.tolerations.as_deref().unwrap_or_default();
    let untolerated: Vec<&Taint> = node
        .spec
        .as_ref()
        .and_then(|spec| spec.taints.as_deref())
        .unwrap_or_default()
        .iter()
        .filter(|taint| taint.effect == "NoSchedule" || taint.effect == "NoExecute")
        .filter(|taint| !tolerations.iter().any(|t| tolerates(t, taint)))
        .collect();
    Placement {
        should_run: untolerated.is_empty(),
        should_continue_running: !untolerated.iter().any(|t| t.effect == "NoExecute"),
    }
}

/// Whether `toleration` tolerates `taint` (upstream `ToleratesTaint`).
pub fn tolerates(toleration: &Toleration, taint: &Taint) -> bool {
    if toleration
        .effect
        .as_deref()
        .is_some_and(|effect| !effect.is_empty() && effect != taint.effect)
    {
        return false;
    }
    let key = toleration.key.as_deref().unwrap_or_default();
    let exists = toleration.operator.as_deref() == Some("Exists");
    if key.is_empty() {
        return exists;
    }
    if key != taint.key {
        return false;
    }
    exists
        || toleration.value.as_deref().unwrap_or_default()
            == taint.value.as_deref().unwrap_or_default()
}

/// nodeSelector and required node affinity (terms ORed, requirements ANDed).
fn selector_matches(node: &Node, spec: &PodSpec) -> bool {
    let empty = Default::default();
    let labels = node.metadata.labels.as_ref().unwrap_or(&empty);
    let selected = spec
        .node_selector
        .iter()
        .flatten()
        .all(|(key, value)| labels.get(key) == Some(value));
    let required = spec
        .affinity
        .as_ref()
        .and_then(|affinity| affinity.node_affinity.as_ref())
        .and_then(|affinity| {
            affinity
                .required_during_scheduling_ignored_during_execution
                .as_ref()
        });
    let name = node.metadata.name.as_deref().unwrap_or_default();
    selected
        && required.is_none_or(|selector| {
            selector.node_selector_terms.iter().any(|term| {
                let expressions = term.match_expressions.as_deref().unwrap_or_default();
                let fields = term.match_fields.as_deref().unwrap_or_default();
                !(expressions.is_empty() && fields.is_empty())
                    && expressions.iter().all(|req| {
                        requirement_matches(req, labels.get(&req.key).map(String::as_str))
                    })
                    && fields.iter().all(|req| {
                        req.key == "metadata.name" && requirement_matches(req, Some(name))
                    })
            })
        })
}

fn requirement_matches(requirement: &NodeSelectorRequirement, value: Option<&str>) -> bool {
    let values = requirement.values.as_deref().unwrap_or_default();
    let number = |text: &str| text.parse::<i64>().ok();
    match requirement.operator.as_str() {
        "In" => value.is_some_and(|v| values.iter().any(|want| want == v)),
        "NotIn" => value.is_none_or(|v| !values.iter().any(|want| want == v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" | "Lt" => {
            let (Some(have), Some(bound)) = (
                value.and_then(number),
                values.first().and_then(|v| number(v)),
            ) else {
                return false;
            };
            if requirement.operator == "Gt" {
                have > bound
            } else {
                have < bound
            }
        }
        _ => false,
    }
}

/// Pins a daemon pod to `node` with required node affinity on `metadata.name`, so the
/// default scheduler binds it (upstream `ReplaceDaemonSetPodNodeNameNodeAffinity`, since
/// 1.12); the label terms were already checked by [`placement`].
pub fn pin_to_node(spec: &mut PodSpec, node: &str) {
    let term = NodeSelectorTerm {
        match_fields: Some(vec![NodeSelectorRequirement {
            key: "metadata.name".to_owned(),
            operator: "In".to_owned(),
            values: Some(vec![node.to_owned()]),
        }]),
        match_expressions: None,
    };
    let affinity = spec.affinity.get_or_insert_with(Affinity::default);
    let node_affinity = affinity
        .node_affinity
        .get_or_insert_with(NodeAffinity::default);
    node_affinity.required_during_scheduling_ignored_during_execution = Some(NodeSelector {
        node_selector_terms: vec![term],
    });
}

/// The node a daemon pod is for: its nodeName, else its `metadata.name` affinity (upstream
/// `GetTargetNodeName`).
pub fn target_node(spec: &PodSpec) -> Option<&str> {
    if let Some(name) = spec.node_name.as_deref().filter(|name| !name.is_empty()) {
        return Some(name);
    }
    spec.affinity
        .as_ref()?
        .node_affinity
        .as_ref()?
        .required_during_scheduling_ignored_during_execution
        .as_ref()?
        .node_selector_terms
        .iter()
        .flat_map(|term| term.match_fields.iter().flatten())
        .find(|req| req.key == "metadata.name" && req.operator == "In")?
        .values
        .as_ref()?
        .first()
        .map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::NodeSpec;
    use kube::api::ObjectMeta;

    fn node(labels: &[(&str, &str)], taints: &[(&str, &str)]) -> Node {
        Node {
            metadata: ObjectMeta {
                name: Some("n1".to_owned()),
                labels: Some(
                    labels
                        .iter()
                        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                        .collect(),
                ),
                ..ObjectMeta::default()
            },
            spec: Some(NodeSpec {
                taints: Some(
                    taints
                        .iter()
                        .map(|(key, effect)| Taint {
                            key: (*key).to_owned(),
                            effect: (*effect).to_owned(),
                            ..Taint::default()
                        })
                        .collect(),
                ),
                ..NodeSpec::default()
            }),
            status: None,
        }
    }

    fn daemon_spec() -> PodSpec {
        let mut spec = PodSpec::default();
        add_default_tolerations(&mut spec);
        spec
    }

    #[test]
    fn nodes_run_daemon_pods_as_upstream_decides() {
        let with_selector = PodSpec {
            node_selector: Some([("disk".to_owned(), "ssd".to_owned())].into()),
            ..daemon_spec()
        };
        let mut tolerant = daemon_spec();
        tolerant
            .tolerations
            .get_or_insert_with(Vec::new)
            .push(Toleration {
                key: Some("dedicated".to_owned()),
                operator: Some("Exists".to_owned()),
                ..Toleration::default()
            });
        let mut pinned_elsewhere = daemon_spec();
        pin_to_node(&mut pinned_elsewhere, "n2");
        let mut pinned_here = daemon_spec();
        pin_to_node(&mut pinned_here, "n1");
        // (name, node, spec, should run, should continue running)
        let cases = [
            ("plain node", node(&[], &[]), daemon_spec(), true, true),
            (
                "selector matches",
                node(&[("disk", "ssd")], &[]),
                with_selector.clone(),
                true,
                true,
            ),
            (
                "selector misses",
                node(&[("disk", "hdd")], &[]),
                with_selector,
                false,
                false,
            ),
            (
                "NoSchedule taint",
                node(&[], &[("dedicated", "NoSchedule")]),
                daemon_spec(),
                false,
                true,
            ),
            (
                "NoExecute taint",
                node(&[], &[("dedicated", "NoExecute")]),
                daemon_spec(),
                false,
                false,
            ),
            (
                "tolerated taint",
                node(&[], &[("dedicated", "NoExecute")]),
                tolerant,
                true,
                true,
            ),
            (
                "PreferNoSchedule is ignored",
                node(&[], &[("dedicated", "PreferNoSchedule")]),
                daemon_spec(),
                true,
                true,
            ),
            (
                "cordoned node",
                node(&[], &[("node.kubernetes.io/unschedulable", "NoSchedule")]),
                daemon_spec(),
                true,
                true,
            ),
            (
                "not-ready node",
                node(&[], &[("node.kubernetes.io/not-ready", "NoExecute")]),
                daemon_spec(),
                true,
                true,
            ),
            (
                "affinity to another node",
                node(&[], &[]),
                pinned_elsewhere,
                false,
                false,
            ),
            (
                "affinity to this node",
                node(&[], &[]),
                pinned_here,
                true,
                true,
            ),
        ];
        for (name, node, spec, run, keep) in cases {
            assert_eq!(
                placement(&node, &spec),
                Placement {
                    should_run: run,
                    should_continue_running: keep
                },
                "{name}"
            );
        }
    }

    #[test]
    fn a_pinned_pod_targets_its_node_and_default_tolerations_are_not_duplicated() {
        let mut spec = daemon_spec();
        add_default_tolerations(&mut spec);
        assert_eq!(spec.tolerations.as_ref().map(Vec::len), Some(6));
        assert_eq!(target_node(&spec), None);
        pin_to_node(&mut spec, "n7");
        assert_eq!(target_node(&spec), Some("n7"));
        spec.node_name = Some("n8".to_owned());
        assert_eq!(target_node(&spec), Some("n8"));
    }
}
