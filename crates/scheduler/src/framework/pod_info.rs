//! A pod together with what the scheduler derives from it once: its resource
//! requests, its host ports and its compiled (anti-)affinity terms
//! (upstream `framework.PodInfo`, pkg/scheduler/framework/types.go).

use std::collections::BTreeSet;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Pod, PodAffinityTerm, WeightedPodAffinityTerm};

use crate::resources::{pod_request, MissingRequests, Resources};
use crate::selector::{Labels, Selector, SelectorError};

/// A pod's identity in scheduler maps: its UID, or `namespace/name` when the
/// pod has no UID yet (tests, or objects not from the apiserver).
pub type PodKey = String;

/// The key of a pod.
pub fn pod_key(pod: &Pod) -> PodKey {
    match pod.metadata.uid.as_deref() {
        Some(uid) if !uid.is_empty() => uid.to_string(),
        _ => format!(
            "{}/{}",
            pod.metadata.namespace.as_deref().unwrap_or_default(),
            pod.metadata.name.as_deref().unwrap_or_default()
        ),
    }
}

/// A compiled `PodAffinityTerm`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AffinityTerm {
    /// Namespaces named by the term (the pod's own when neither these nor a
    /// namespace selector are given).
    pub namespaces: BTreeSet<String>,
    /// Namespaces selected by labels; `nothing` when no selector was given.
    pub namespace_selector: Selector,
    /// Which pods the term is about.
    pub selector: Selector,
    /// The node label whose value defines a topology domain.
    pub topology_key: String,
}

impl AffinityTerm {
    fn compile(term: &PodAffinityTerm, pod: &Pod) -> Result<Self, SelectorError> {
        let mut namespaces: BTreeSet<String> = term.namespaces.iter().flatten().cloned().collect();
        if namespaces.is_empty() && term.namespace_selector.is_none() {
            namespaces.insert(pod.metadata.namespace.clone().unwrap_or_default());
        }
        Ok(AffinityTerm {
            namespaces,
            namespace_selector: Selector::from_label_selector(term.namespace_selector.as_ref())?,
            selector: Selector::from_label_selector(term.label_selector.as_ref())?,
            topology_key: term.topology_key.clone(),
        })
    }

    /// True when `pod` (whose namespace carries `namespace_labels`) is one
    /// of the pods this term is about (upstream `AffinityTerm.Matches`).
    pub fn matches(&self, pod: &Pod, namespace_labels: Option<&Labels>) -> bool {
        let ns = pod.metadata.namespace.as_deref().unwrap_or_default();
        (self.namespaces.contains(ns) || self.namespace_selector.matches(namespace_labels))
            && self.selector.matches(pod.metadata.labels.as_ref())
    }
}

/// A compiled `WeightedPodAffinityTerm`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeightedAffinityTerm {
    /// The term.
    pub term: AffinityTerm,
    /// Its weight, 1–100.
    pub weight: i64,
}

/// A requested host port (`hostIP`, protocol, port).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HostPort {
    /// The host IP, `0.0.0.0` when unset (all addresses).
    pub ip: String,
    /// `TCP`, `UDP` or `SCTP`.
    pub protocol: String,
    /// The port number.
    pub port: i32,
}

/// The wildcard host IP.
pub const ANY_IP: &str = "0.0.0.0";

/// A pod plus its derived scheduling facts.
#[derive(Debug, Clone)]
pub struct PodInfo {
    /// The pod object.
    pub pod: Arc<Pod>,
    /// Requests with missing ones counted as zero.
    pub request: Resources,
    /// Requests with missing CPU/memory counted as upstream's defaults.
    pub non_zero_request: Resources,
    /// Host ports the pod's containers ask for.
    pub host_ports: Vec<HostPort>,
    /// Required pod affinity terms.
    pub required_affinity: Vec<AffinityTerm>,
    /// Required pod anti-affinity terms.
    pub required_anti_affinity: Vec<AffinityTerm>,
    /// Preferred pod affinity terms.
    pub preferred_affinity: Vec<WeightedAffinityTerm>,
    /// Preferred pod anti-affinity terms.
    pub preferred_anti_affinity: Vec<WeightedAffinityTerm>,
    /// Why some of the pod's affinity terms could not be compiled; such a
    /// pod cannot be scheduled (upstream fails `NewPodInfo` the same way).
    pub parse_error: Option<SelectorError>,
    /// The pod's key, computed once.
    key: PodKey,
}

fn compile_terms(
    terms: Option<&Vec<PodAffinityTerm>>,
    pod: &Pod,
    error: &mut Option<SelectorError>,
) -> Vec<AffinityTerm> {
    terms
        .into_iter()
        .flatten()
        .filter_map(|t| match AffinityTerm::compile(t, pod) {
            Ok(term) => Some(term),
            Err(e) => {
                error.get_or_insert(e);
                None
            }
        })
        .collect()
}

fn compile_weighted(
    terms: Option<&Vec<WeightedPodAffinityTerm>>,
    pod: &Pod,
    error: &mut Option<SelectorError>,
) -> Vec<WeightedAffinityTerm> {
    terms
        .into_iter()
        .flatten()
        .filter_map(|t| match AffinityTerm::compile(&t.pod_affinity_term, pod) {
            Ok(term) => Some(WeightedAffinityTerm {
                term,
                weight: i64::from(t.weight),
            }),
            Err(e) => {
                error.get_or_insert(e);
                None
            }
        })
        .collect()
}

fn host_ports(pod: &Pod) -> Vec<HostPort> {
    let containers = pod.spec.iter().flat_map(|s| s.containers.iter());
    containers
        .flat_map(|c| c.ports.iter().flatten())
        .filter_map(|p| {
            let port = p.host_port.filter(|port| *port > 0)?;
            Some(HostPort {
                ip: p
                    .host_ip
                    .clone()
                    .filter(|ip| !ip.is_empty())
                    .unwrap_or_else(|| ANY_IP.to_string()),
                protocol: p.protocol.clone().unwrap_or_else(|| "TCP".to_string()),
                port,
            })
        })
        .collect()
}

impl PodInfo {
    /// Derives the scheduling facts of `pod`.
    pub fn new(pod: Arc<Pod>) -> Self {
        let mut error = None;
        let affinity = pod.spec.as_ref().and_then(|s| s.affinity.as_ref());
        let pod_affinity = affinity.and_then(|a| a.pod_affinity.as_ref());
        let anti = affinity.and_then(|a| a.pod_anti_affinity.as_ref());
        let required_affinity = compile_terms(
            pod_affinity.and_then(|a| {
                a.required_during_scheduling_ignored_during_execution
                    .as_ref()
            }),
            &pod,
            &mut error,
        );
        let required_anti_affinity = compile_terms(
            anti.and_then(|a| {
                a.required_during_scheduling_ignored_during_execution
                    .as_ref()
            }),
            &pod,
            &mut error,
        );
        let preferred_affinity = compile_weighted(
            pod_affinity.and_then(|a| {
                a.preferred_during_scheduling_ignored_during_execution
                    .as_ref()
            }),
            &pod,
            &mut error,
        );
        let preferred_anti_affinity = compile_weighted(
            anti.and_then(|a| {
                a.preferred_during_scheduling_ignored_during_execution
                    .as_ref()
            }),
            &pod,
            &mut error,
        );
        PodInfo {
            request: pod_request(&pod, MissingRequests::AsZero),
            non_zero_request: pod_request(&pod, MissingRequests::AsDefaults),
            host_ports: host_ports(&pod),
            required_affinity,
            required_anti_affinity,
            preferred_affinity,
            preferred_anti_affinity,
            parse_error: error,
            key: pod_key(&pod),
            pod,
        }
    }

    /// The pod's key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The pod's namespace.
    pub fn namespace(&self) -> &str {
        self.pod.metadata.namespace.as_deref().unwrap_or_default()
    }

    /// The pod's labels.
    pub fn labels(&self) -> Option<&Labels> {
        self.pod.metadata.labels.as_ref()
    }

    /// True when the pod has any (anti-)affinity term, required or preferred.
    pub fn has_affinity(&self) -> bool {
        !(self.required_affinity.is_empty()
            && self.required_anti_affinity.is_empty()
            && self.preferred_affinity.is_empty()
            && self.preferred_anti_affinity.is_empty())
    }

    /// True when the pod is being deleted (such pods do not count for
    /// topology spreading, upstream `podtopologyspread/common.go`).
    pub fn is_terminating(&self) -> bool {
        self.pod.metadata.deletion_timestamp.is_some()
    }
}
