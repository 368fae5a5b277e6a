//! Events for `kubectl describe pod` (upstream's event recorder with the
//! scheduler's reasons: Scheduled, FailedScheduling, Preempted), written as
//! core/v1 Events in the pod's namespace.

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};

/// Whether an event is routine or worth a look (the Event `type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EventType {
    /// `Normal`.
    Normal,
    /// `Warning`.
    Warning,
}

/// What happened, as the Event `reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reason {
    /// The pod was bound.
    Scheduled,
    /// No node fits (or the cycle failed).
    FailedScheduling,
    /// The pod is being evicted for a higher-priority one.
    Preempted,
}

impl Reason {
    fn as_str(self) -> &'static str {
        match self {
            Reason::Scheduled => "Scheduled",
            Reason::FailedScheduling => "FailedScheduling",
            Reason::Preempted => "Preempted",
        }
    }

    fn event_type(self) -> EventType {
        match self {
            Reason::Scheduled => EventType::Normal,
            Reason::FailedScheduling | Reason::Preempted => EventType::Warning,
        }
    }
}

/// The Event about `pod`, reported by the scheduler profile `component`.
pub(crate) fn event(
    pod: &Pod,
    component: &str,
    reason: Reason,
    message: &str,
    now: Timestamp,
) -> Event {
    let name = pod.metadata.name.clone().unwrap_or_default();
    let namespace = pod.metadata.namespace.clone();
    let event_type = match reason.event_type() {
        EventType::Normal => "Normal",
        EventType::Warning => "Warning",
    };
    Event {
        metadata: ObjectMeta {
            // Upstream names events `<object>.<unique hex>`.
            name: Some(format!("{name}.{:x}", now.as_nanosecond())),
            namespace: namespace.clone(),
            ..Default::default()
        },
        involved_object: ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Pod".into()),
            name: Some(name),
            namespace,
            uid: pod.metadata.uid.clone(),
            resource_version: pod.metadata.resource_version.clone(),
            ..Default::default()
        },
        reason: Some(reason.as_str().into()),
        message: Some(message.into()),
        type_: Some(event_type.into()),
        source: Some(EventSource {
            component: Some(component.into()),
            host: None,
        }),
        reporting_component: Some(component.into()),
        first_timestamp: Some(Time(now)),
        last_timestamp: Some(Time(now)),
        count: Some(1),
        ..Default::default()
    }
}

/// Writes the Event; failures are only logged, as upstream's recorder does.
pub(crate) async fn record(
    client: &kube::Client,
    pod: &Pod,
    component: &str,
    reason: Reason,
    message: &str,
) {
    let event = event(pod, component, reason, message, Timestamp::now());
    let namespace = pod.metadata.namespace.as_deref().unwrap_or("default");
    let api: Api<Event> = Api::namespaced(client.clone(), namespace);
    if let Err(error) = api.create(&PostParams::default(), &event).await {
        tracing::debug!(pod = ?pod.metadata.name, %error, reason = reason.as_str(), "recording an event");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_carry_the_reason_type_and_the_pod() {
        let pod = crate::testing::pod("web").build();
        let cases = [
            (Reason::Scheduled, "Normal"),
            (Reason::FailedScheduling, "Warning"),
            (Reason::Preempted, "Warning"),
        ];
        for (reason, want_type) in cases {
            let e = event(
                &pod,
                "default-scheduler",
                reason,
                "m",
                Timestamp::UNIX_EPOCH,
            );
            assert_eq!(e.type_.as_deref(), Some(want_type), "{reason:?}");
            assert_eq!(e.reason.as_deref(), Some(reason.as_str()));
            assert_eq!(e.involved_object.name.as_deref(), Some("web"));
            assert_eq!(e.involved_object.namespace.as_deref(), Some("default"));
            assert_eq!(e.metadata.namespace.as_deref(), Some("default"));
            assert_eq!(
                e.source.and_then(|s| s.component).as_deref(),
                Some("default-scheduler")
            );
        }
    }
}
