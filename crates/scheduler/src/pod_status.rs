//! The status the scheduler writes on pods, as strategic merge patches of
//! the `pods/status` subresource (conditions merge by `type`, so other
//! conditions stay): PodScheduled=False with the failure message and the
//! nominated node (upstream `updatePod` in schedule_one.go), and the
//! DisruptionTarget condition a preemption victim gets before it is deleted
//! (upstream preemption `prepareCandidate`).

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams};
use serde_json::{json, Value};

use crate::scheduler::FailureReason;

/// Upstream's DisruptionTarget reason for preemption victims
/// (`v1.PodReasonPreemptionByScheduler`).
pub(crate) const REASON_PREEMPTION_BY_SCHEDULER: &str = "PreemptionByScheduler";

/// The patch that marks a pod not scheduled, and nominated if preemption
/// found it a node.
pub(crate) fn unschedulable_patch(
    reason: FailureReason,
    message: &str,
    nominated_node: Option<&str>,
    now: Timestamp,
) -> Value {
    let mut status = json!({
        "conditions": [{
            "type": "PodScheduled",
            "status": "False",
            "reason": reason.as_str(),
            "message": message,
            "lastProbeTime": null,
            "lastTransitionTime": now.to_string(),
        }],
    });
    if let (Some(node), Some(map)) = (nominated_node, status.as_object_mut()) {
        map.insert("nominatedNodeName".into(), json!(node));
    }
    json!({ "status": status })
}

/// The patch that tells a victim why it is going away.
pub(crate) fn disruption_target_patch(profile: &str, now: Timestamp) -> Value {
    json!({
        "status": {
            "conditions": [{
                "type": "DisruptionTarget",
                "status": "True",
                "reason": REASON_PREEMPTION_BY_SCHEDULER,
                "message": format!("{profile}: preempting to accommodate a higher priority pod"),
                "lastTransitionTime": now.to_string(),
            }],
        }
    })
}

/// Applies `patch` to the pod's status.
pub(crate) async fn patch(client: &kube::Client, pod: &Pod, patch: &Value) -> kube::Result<()> {
    let namespace = pod.metadata.namespace.as_deref().unwrap_or("default");
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
    api.patch_status(name, &PatchParams::default(), &Patch::Strategic(patch))
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_unschedulable_patch_sets_the_condition_and_the_nomination() {
        let now = Timestamp::UNIX_EPOCH;
        let cases = [
            ("without a nomination", None, None),
            ("with a nomination", Some("n1"), Some(json!("n1"))),
        ];
        for (name, nominated, want_node) in cases {
            let got =
                unschedulable_patch(FailureReason::Unschedulable, "0/1 nodes", nominated, now);
            assert_eq!(
                got.pointer("/status/conditions/0/reason"),
                Some(&json!("Unschedulable")),
                "{name}"
            );
            assert_eq!(
                got.pointer("/status/conditions/0/status"),
                Some(&json!("False")),
                "{name}"
            );
            assert_eq!(
                got.pointer("/status/conditions/0/message"),
                Some(&json!("0/1 nodes")),
                "{name}"
            );
            assert_eq!(
                got.pointer("/status/nominatedNodeName").cloned(),
                want_node,
                "{name}"
            );
        }
    }

    #[test]
    fn a_victim_gets_the_disruption_target_condition() {
        let got = disruption_target_patch("default-scheduler", Timestamp::UNIX_EPOCH);
        assert_eq!(
            got.pointer("/status/conditions/0/type"),
            Some(&json!("DisruptionTarget"))
        );
        assert_eq!(
            got.pointer("/status/conditions/0/reason"),
            Some(&json!(REASON_PREEMPTION_BY_SCHEDULER))
        );
    }
}
