//! The event recorder: Events a user sees in `kubectl describe`, best effort like upstream's
//! `record.EventRecorder` (an event that fails to post is logged, never fails a sync).

use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::{Client, Resource};

/// An upstream event reason (`SuccessfulCreate`, `ScalingReplicaSet`, …). Controllers declare
/// theirs as constants so the wire strings live in one place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reason(pub &'static str);

/// Posts Events as one component (upstream's event source, e.g. `replicaset-controller`).
#[derive(Clone)]
pub struct EventRecorder {
    recorder: Recorder,
}

impl EventRecorder {
    /// A recorder reporting as `component` from `instance` (the manager's identity).
    pub fn new(client: Client, component: &str, instance: &str) -> Self {
        EventRecorder {
            recorder: Recorder::new(
                client,
                Reporter {
                    controller: component.to_owned(),
                    instance: Some(instance.to_owned()),
                },
            ),
        }
    }

    /// Records a `Normal` event about `object`.
    pub fn normal<K: Resource<DynamicType = ()>>(
        &self,
        object: &K,
        reason: Reason,
        message: String,
    ) {
        self.record(object, EventType::Normal, reason, message);
    }

    /// Records a `Warning` event about `object`.
    pub fn warning<K: Resource<DynamicType = ()>>(
        &self,
        object: &K,
        reason: Reason,
        message: String,
    ) {
        self.record(object, EventType::Warning, reason, message);
    }

    fn record<K: Resource<DynamicType = ()>>(
        &self,
        object: &K,
        type_: EventType,
        reason: Reason,
        message: String,
    ) {
        let reference = object.object_ref(&());
        let event = Event {
            type_,
            reason: reason.0.to_owned(),
            note: Some(message),
            action: reason.0.to_owned(),
            secondary: None,
        };
        let recorder = self.recorder.clone();
        // Posting is off the sync path, as upstream's broadcaster does it asynchronously.
        tokio::spawn(async move {
            if let Err(error) = recorder.publish(&event, &reference).await {
                tracing::warn!(reason = %event.reason, %error, "could not record event");
            }
        });
    }
}
