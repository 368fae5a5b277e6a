//! Builders for the nodes and pods that tests need (test-only).

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{
    Affinity, Container, ContainerImage, ContainerPort, Node, NodeAffinity, NodeSelector,
    NodeSelectorRequirement, NodeSelectorTerm, NodeSpec, NodeStatus, Pod, PodAffinity,
    PodAffinityTerm, PodAntiAffinity, PodSpec, PreferredSchedulingTerm, ResourceRequirements,
    Taint, Toleration, TopologySpreadConstraint, WeightedPodAffinityTerm,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

use crate::framework::{NodeInfo, PodInfo, Snapshot};

/// Starts a node with 110 allocatable pods.
pub fn node(name: &str) -> NodeBuilder {
    let mut allocatable = BTreeMap::new();
    allocatable.insert("pods".to_string(), Quantity("110".into()));
    NodeBuilder(Node {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some(BTreeMap::from([(
                "kubernetes.io/hostname".to_string(),
                name.to_string(),
            )])),
            ..Default::default()
        },
        spec: Some(NodeSpec::default()),
        status: Some(NodeStatus {
            allocatable: Some(allocatable),
            ..Default::default()
        }),
    })
}

/// A node under construction.
pub struct NodeBuilder(Node);

impl NodeBuilder {
    pub fn resource(mut self, name: &str, q: &str) -> Self {
        if let Some(a) = self.0.status.as_mut().and_then(|s| s.allocatable.as_mut()) {
            a.insert(name.into(), Quantity(q.into()));
        }
        self
    }
    pub fn cpu(self, q: &str) -> Self {
        self.resource("cpu", q)
    }
    pub fn memory(self, q: &str) -> Self {
        self.resource("memory", q)
    }
    pub fn label(mut self, k: &str, v: &str) -> Self {
        self.0
            .metadata
            .labels
            .get_or_insert_with(Default::default)
            .insert(k.into(), v.into());
        self
    }
    pub fn zone(self, zone: &str) -> Self {
        self.label("topology.kubernetes.io/zone", zone)
    }
    pub fn taint(mut self, key: &str, value: &str, effect: &str) -> Self {
        if let Some(spec) = self.0.spec.as_mut() {
            spec.taints.get_or_insert_with(Vec::new).push(Taint {
                key: key.into(),
                value: (!value.is_empty()).then(|| value.to_string()),
                effect: effect.into(),
                time_added: None,
            });
        }
        self
    }
    pub fn unschedulable(mut self) -> Self {
        if let Some(spec) = self.0.spec.as_mut() {
            spec.unschedulable = Some(true);
        }
        self
    }
    pub fn image(mut self, name: &str, size: i64) -> Self {
        if let Some(status) = self.0.status.as_mut() {
            status
                .images
                .get_or_insert_with(Vec::new)
                .push(ContainerImage {
                    names: Some(vec![name.into()]),
                    size_bytes: Some(size),
                });
        }
        self
    }
    pub fn build(self) -> Node {
        self.0
    }
}

/// Starts a pod in namespace `default` with one container and no requests.
pub fn pod(name: &str) -> PodBuilder {
    PodBuilder(Pod {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some("default".into()),
            ..Default::default()
        },
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "main".into(),
                ..Default::default()
            }],
            ..Default::default()
        }),
        status: None,
    })
}

/// Builds a label selector from `matchLabels` pairs.
pub fn selector(pairs: &[(&str, &str)]) -> LabelSelector {
    LabelSelector {
        match_labels: Some(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ),
        match_expressions: None,
    }
}

/// A pod affinity term selecting `pairs` within `topology_key`.
pub fn term(pairs: &[(&str, &str)], topology_key: &str) -> PodAffinityTerm {
    PodAffinityTerm {
        label_selector: Some(selector(pairs)),
        topology_key: topology_key.into(),
        ..Default::default()
    }
}

/// A node selector requirement.
pub fn req(key: &str, op: &str, values: &[&str]) -> NodeSelectorRequirement {
    NodeSelectorRequirement {
        key: key.into(),
        operator: op.into(),
        values: Some(values.iter().map(|s| s.to_string()).collect()),
    }
}

/// A pod under construction.
pub struct PodBuilder(Pod);

impl PodBuilder {
    fn spec(&mut self) -> &mut PodSpec {
        self.0.spec.get_or_insert_with(Default::default)
    }
    fn main(&mut self) -> &mut Container {
        let spec = self.spec();
        if spec.containers.is_empty() {
            spec.containers.push(Container::default());
        }
        let last = spec.containers.len() - 1;
        &mut spec.containers[last]
    }
    fn affinity(&mut self) -> &mut Affinity {
        self.spec().affinity.get_or_insert_with(Default::default)
    }
    pub fn namespace(mut self, ns: &str) -> Self {
        self.0.metadata.namespace = Some(ns.into());
        self
    }
    pub fn label(mut self, k: &str, v: &str) -> Self {
        self.0
            .metadata
            .labels
            .get_or_insert_with(Default::default)
            .insert(k.into(), v.into());
        self
    }
    pub fn resource(mut self, name: &str, q: &str) -> Self {
        self.main()
            .resources
            .get_or_insert_with(ResourceRequirements::default)
            .requests
            .get_or_insert_with(Default::default)
            .insert(name.into(), Quantity(q.into()));
        self
    }
    pub fn cpu(self, q: &str) -> Self {
        self.resource("cpu", q)
    }
    pub fn memory(self, q: &str) -> Self {
        self.resource("memory", q)
    }
    pub fn image(mut self, image: &str) -> Self {
        self.main().image = Some(image.into());
        self
    }
    pub fn host_port_on(mut self, ip: &str, protocol: &str, port: i32) -> Self {
        self.main()
            .ports
            .get_or_insert_with(Vec::new)
            .push(ContainerPort {
                container_port: port,
                host_port: Some(port),
                host_ip: (!ip.is_empty()).then(|| ip.to_string()),
                protocol: (!protocol.is_empty()).then(|| protocol.to_string()),
                name: None,
            });
        self
    }
    pub fn host_port(self, port: i32) -> Self {
        self.host_port_on("", "", port)
    }
    pub fn node_name(mut self, node: &str) -> Self {
        self.spec().node_name = Some(node.into());
        self
    }
    pub fn scheduler_name(mut self, name: &str) -> Self {
        self.spec().scheduler_name = Some(name.into());
        self
    }
    pub fn node_selector(mut self, k: &str, v: &str) -> Self {
        self.spec()
            .node_selector
            .get_or_insert_with(Default::default)
            .insert(k.into(), v.into());
        self
    }
    pub fn required_node_affinity(mut self, terms: Vec<Vec<NodeSelectorRequirement>>) -> Self {
        self.affinity()
            .node_affinity
            .get_or_insert_with(NodeAffinity::default)
            .required_during_scheduling_ignored_during_execution = Some(NodeSelector {
            node_selector_terms: terms
                .into_iter()
                .map(|r| NodeSelectorTerm {
                    match_expressions: Some(r),
                    match_fields: None,
                })
                .collect(),
        });
        self
    }
    pub fn preferred_node_affinity(
        mut self,
        weight: i32,
        reqs: Vec<NodeSelectorRequirement>,
    ) -> Self {
        self.affinity()
            .node_affinity
            .get_or_insert_with(NodeAffinity::default)
            .preferred_during_scheduling_ignored_during_execution
            .get_or_insert_with(Vec::new)
            .push(PreferredSchedulingTerm {
                weight,
                preference: NodeSelectorTerm {
                    match_expressions: Some(reqs),
                    match_fields: None,
                },
            });
        self
    }
    pub fn toleration(mut self, key: &str, operator: &str, value: &str, effect: &str) -> Self {
        let opt = |s: &str| (!s.is_empty()).then(|| s.to_string());
        self.spec()
            .tolerations
            .get_or_insert_with(Vec::new)
            .push(Toleration {
                key: opt(key),
                operator: opt(operator),
                value: opt(value),
                effect: opt(effect),
                toleration_seconds: None,
            });
        self
    }
    pub fn pod_affinity(mut self, t: PodAffinityTerm) -> Self {
        self.affinity()
            .pod_affinity
            .get_or_insert_with(PodAffinity::default)
            .required_during_scheduling_ignored_during_execution
            .get_or_insert_with(Vec::new)
            .push(t);
        self
    }
    pub fn pod_anti_affinity(mut self, t: PodAffinityTerm) -> Self {
        self.affinity()
            .pod_anti_affinity
            .get_or_insert_with(PodAntiAffinity::default)
            .required_during_scheduling_ignored_during_execution
            .get_or_insert_with(Vec::new)
            .push(t);
        self
    }
    pub fn preferred_pod_affinity(mut self, weight: i32, t: PodAffinityTerm) -> Self {
        self.affinity()
            .pod_affinity
            .get_or_insert_with(PodAffinity::default)
            .preferred_during_scheduling_ignored_during_execution
            .get_or_insert_with(Vec::new)
            .push(WeightedPodAffinityTerm {
                weight,
                pod_affinity_term: t,
            });
        self
    }
    pub fn preferred_pod_anti_affinity(mut self, weight: i32, t: PodAffinityTerm) -> Self {
        self.affinity()
            .pod_anti_affinity
            .get_or_insert_with(PodAntiAffinity::default)
            .preferred_during_scheduling_ignored_during_execution
            .get_or_insert_with(Vec::new)
            .push(WeightedPodAffinityTerm {
                weight,
                pod_affinity_term: t,
            });
        self
    }
    pub fn spread(mut self, max_skew: i32, key: &str, when: &str, sel: &[(&str, &str)]) -> Self {
        self.spec()
            .topology_spread_constraints
            .get_or_insert_with(Vec::new)
            .push(TopologySpreadConstraint {
                max_skew,
                topology_key: key.into(),
                when_unsatisfiable: when.into(),
                label_selector: Some(selector(sel)),
                ..Default::default()
            });
        self
    }
    pub fn min_domains(mut self, n: i32) -> Self {
        if let Some(c) = self
            .spec()
            .topology_spread_constraints
            .as_mut()
            .and_then(|c| c.last_mut())
        {
            c.min_domains = Some(n);
        }
        self
    }
    pub fn priority(mut self, p: i32) -> Self {
        self.spec().priority = Some(p);
        self
    }
    pub fn terminating(mut self) -> Self {
        self.0.metadata.deletion_timestamp =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
            ));
        self
    }
    pub fn build(self) -> Pod {
        self.0
    }
    pub fn info(self) -> PodInfo {
        PodInfo::new(Arc::new(self.0))
    }
}

/// A snapshot of `nodes` with `pods` placed on the node named by each pod's
/// `spec.nodeName`.
pub fn snapshot(nodes: Vec<Node>, pods: Vec<Pod>) -> Snapshot {
    let mut infos: Vec<NodeInfo> = nodes
        .into_iter()
        .map(|n| NodeInfo::new(Arc::new(n)))
        .collect();
    for p in pods {
        let node_name = p
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .unwrap_or_default();
        if let Some(info) = infos.iter_mut().find(|i| i.name() == node_name) {
            info.add_pod(Arc::new(PodInfo::new(Arc::new(p))));
        }
    }
    Snapshot::new(infos)
}

/// Runs a plugin's PreFilter (if any) then its Filter on every node, in
/// snapshot order. A PreFilter rejection is returned for every node; a Skip
/// turns into Success.
pub fn filter_all(
    plugin: &dyn crate::framework::Plugin,
    pod: &PodInfo,
    snapshot: &Snapshot,
) -> Vec<crate::framework::Status> {
    use crate::framework::{CycleState, Status};
    let mut state = CycleState::new();
    if let Some(pre) = plugin.as_pre_filter() {
        match pre.pre_filter(&mut state, pod, snapshot) {
            Status::Success => {}
            Status::Skip => return snapshot.nodes().iter().map(|_| Status::Success).collect(),
            other => return snapshot.nodes().iter().map(|_| other.clone()).collect(),
        }
    }
    let Some(filter) = plugin.as_filter() else {
        return Vec::new();
    };
    snapshot
        .nodes()
        .iter()
        .map(|n| filter.filter(&state, pod, n))
        .collect()
}

/// Runs a plugin's PreScore (if any), Score and normalization over every node
/// of the snapshot, as if all were feasible.
pub fn score_all(
    plugin: &dyn crate::framework::Plugin,
    pod: &PodInfo,
    snapshot: &Snapshot,
) -> Vec<i64> {
    use crate::framework::{CycleState, NodeScore, Status};
    let mut state = CycleState::new();
    if let Some(pre) = plugin.as_pre_filter() {
        let _ = pre.pre_filter(&mut state, pod, snapshot);
    }
    if let Some(pre) = plugin.as_pre_score() {
        if pre.pre_score(&mut state, pod, snapshot, snapshot.nodes()) == Status::Skip {
            return snapshot.nodes().iter().map(|_| 0).collect();
        }
    }
    let Some(score) = plugin.as_score() else {
        return Vec::new();
    };
    let mut scores: Vec<NodeScore> = snapshot
        .nodes()
        .iter()
        .map(|n| NodeScore {
            name: n.shared_name().clone(),
            score: score.score(&state, pod, n).unwrap_or(-1),
        })
        .collect();
    if let Some(norm) = score.normalizer() {
        assert_eq!(norm.normalize(&state, pod, &mut scores), Status::Success);
    }
    scores.into_iter().map(|s| s.score).collect()
}
