//! Events about a pod's containers as the kubelet reports them
//! (`Unhealthy`, `Killing`, `FailedPostStartHook`…). Like upstream's
//! kubelet (client-go `tools/record`), these are core/v1 Events with
//! `source.component: kubelet` and the node as host, and a repeat of the
//! same event bumps `count` and `lastTimestamp` instead of adding one
//! (the recorder's correlator). Best effort: posting happens off the sync
//! path and a failure is only logged.

use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::Resource;

/// An upstream event reason; the wire strings live here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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

    fn event_type(self) -> &'static str {
        match self {
            Reason::Killing => "Normal",
            _ => "Warning",
        }
    }
}

/// How many distinct events a pod remembers for aggregation.
const MAX_REMEMBERED: usize = 256;

/// Events already posted, by what makes them the same event.
type Posted = HashMap<(String, Reason, String), (String, i32)>;

/// Posts events about one pod's containers, as `kubelet` on its node.
#[derive(Clone)]
pub struct PodEvents {
    client: kube::Client,
    pod: ObjectReference,
    node: Option<String>,
    posted: Arc<tokio::sync::Mutex<Posted>>,
}

impl PodEvents {
    /// A recorder for `pod`.
    pub fn new(client: kube::Client, pod: &Pod) -> PodEvents {
        PodEvents {
            client,
            pod: pod.object_ref(&()),
            node: pod.spec.as_ref().and_then(|s| s.node_name.clone()),
            posted: Arc::default(),
        }
    }

    /// Records `reason` about container `container` (its field path, as
    /// upstream's container references carry).
    pub fn record(&self, container: &str, reason: Reason, message: String) {
        let this = self.clone();
        let container = container.to_string();
        tokio::spawn(async move {
            if let Err(error) = this.post(&container, reason, message).await {
                tracing::debug!(reason = reason.as_str(), %error, "could not record an event");
            }
        });
    }

    async fn post(
        &self,
        container: &str,
        reason: Reason,
        message: String,
    ) -> Result<(), kube::Error> {
        let namespace = self
            .pod
            .namespace
            .clone()
            .unwrap_or_else(|| "default".into());
        let api: Api<Event> = Api::namespaced(self.client.clone(), &namespace);
        let now = Time(k8s_openapi::jiff::Timestamp::now());
        // Holding the lock across the call keeps a burst of repeats in order.
        let mut posted = self.posted.lock().await;
        let key = (container.to_string(), reason, message.clone());
        if let Some((name, count)) = posted.get_mut(&key) {
            *count += 1;
            let patch = serde_json::json!({"count": *count, "lastTimestamp": now});
            api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
                .await?;
            return Ok(());
        }
        let mut reference = self.pod.clone();
        reference.field_path = Some(format!("spec.containers{{{container}}}"));
        let name = format!(
            "{}.{:x}",
            self.pod.name.as_deref().unwrap_or("pod"),
            now.0.as_nanosecond()
        );
        let event = Event {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(namespace),
                ..Default::default()
            },
            involved_object: reference,
            reason: Some(reason.as_str().into()),
            message: Some(message),
            type_: Some(reason.event_type().into()),
            source: Some(EventSource {
                component: Some("kubelet".into()),
                host: self.node.clone(),
            }),
            first_timestamp: Some(now.clone()),
            last_timestamp: Some(now),
            count: Some(1),
            reporting_component: Some("kubelet".into()),
            reporting_instance: self.node.clone(),
            ..Default::default()
        };
        api.create(&PostParams::default(), &event).await?;
        // Messages can vary without end (probe output); forget rather than grow.
        if posted.len() >= MAX_REMEMBERED {
            posted.clear();
        }
        posted.insert(key, (name, 1));
        Ok(())
    }
}
