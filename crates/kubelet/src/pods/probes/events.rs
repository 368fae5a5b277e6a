//! Events about a pod's containers as the kubelet reports them
//! (`Unhealthy`, `Killing`, `FailedPostStartHook`…), best effort: posting
//! happens off the sync path and a failure is only logged, as upstream's
//! recorder does.

use k8s_openapi::api::core::v1::{ObjectReference, Pod};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::Resource;

/// An upstream event reason; the wire strings live here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// A probe run failed (Warning).
    Unhealthy,
    /// The kubelet is stopping a container (Normal).
    Killing,
    /// A postStart hook failed (Warning).
    FailedPostStartHook,
    /// A preStop hook failed (Warning).
    FailedPreStopHook,
}

impl Reason {
    fn as_str(self) -> &'static str {
        match self {
            Reason::Unhealthy => "Unhealthy",
            Reason::Killing => "Killing",
            Reason::FailedPostStartHook => "FailedPostStartHook",
            Reason::FailedPreStopHook => "FailedPreStopHook",
        }
    }

    fn event_type(self) -> EventType {
        match self {
            Reason::Killing => EventType::Normal,
            _ => EventType::Warning,
        }
    }
}

/// Posts events about one pod's containers, as `kubelet` on its node.
#[derive(Clone)]
pub struct PodEvents {
    recorder: Recorder,
    pod: ObjectReference,
}

impl PodEvents {
    /// A recorder for `pod`.
    pub fn new(client: kube::Client, pod: &Pod) -> PodEvents {
        let node = pod.spec.as_ref().and_then(|s| s.node_name.clone());
        PodEvents {
            recorder: Recorder::new(
                client,
                Reporter {
                    controller: "kubelet".into(),
                    instance: node,
                },
            ),
            pod: pod.object_ref(&()),
        }
    }

    /// Records `reason` about container `container` (its field path, as
    /// upstream's container references carry).
    pub fn record(&self, container: &str, reason: Reason, message: String) {
        let mut reference = self.pod.clone();
        reference.field_path = Some(format!("spec.containers{{{container}}}"));
        let event = Event {
            type_: reason.event_type(),
            reason: reason.as_str().into(),
            note: Some(message),
            action: reason.as_str().into(),
            secondary: None,
        };
        let recorder = self.recorder.clone();
        tokio::spawn(async move {
            if let Err(error) = recorder.publish(&event, &reference).await {
                tracing::debug!(reason = %event.reason, %error, "could not record an event");
            }
        });
    }
}
