//! The event recorder: Events a user sees in `kubectl describe`, best effort like upstream's
//! `record.EventRecorder` (an event that fails to post is logged, never fails a sync).
//!
//! Written as core/v1 Events, as upstream's kube-controller-manager does (client-go's
//! `tools/record`), because that is the version `kubectl get events` and `kubectl describe`
//! read. Repeats of the same event (same object, type, reason and message from the same
//! component) bump `count` and `lastTimestamp` of the Event already written instead of adding
//! a new one, as upstream's event correlator does.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::{Client, Resource};

/// How many distinct events a recorder remembers for aggregation (upstream's correlator keeps
/// an LRU of 4096); when full it forgets everything and starts over, which only costs a new
/// Event object for a repeat.
const REMEMBERED_EVENTS: usize = 4096;

/// An upstream event reason (`SuccessfulCreate`, `ScalingReplicaSet`, …). Controllers declare
/// theirs as constants so the wire strings live in one place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reason(pub &'static str);

/// What makes two events the same one for aggregation.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct EventKey {
    object_uid: String,
    object_name: String,
    namespace: String,
    event_type: &'static str,
    reason: &'static str,
    message: String,
}

/// The Event already written for a key, and how often it happened.
#[derive(Clone, Debug)]
struct Written {
    name: String,
    count: i32,
}

/// Posts Events as one component (upstream's event source, e.g. `replicaset-controller`).
#[derive(Clone)]
pub struct EventRecorder {
    client: Client,
    component: String,
    host: String,
    written: Arc<Mutex<HashMap<EventKey, Written>>>,
}

impl EventRecorder {
    /// A recorder reporting as `component` from `instance` (the manager's identity).
    pub fn new(client: Client, component: &str, instance: &str) -> Self {
        EventRecorder {
            client,
            component: component.to_owned(),
            host: instance.to_owned(),
            written: Arc::default(),
        }
    }

    /// Records a `Normal` event about `object`.
    pub fn normal<K: Resource<DynamicType = ()>>(
        &self,
        object: &K,
        reason: Reason,
        message: String,
    ) {
        self.record(object, "Normal", reason, message);
    }

    /// Records a `Warning` event about `object`.
    pub fn warning<K: Resource<DynamicType = ()>>(
        &self,
        object: &K,
        reason: Reason,
        message: String,
    ) {
        self.record(object, "Warning", reason, message);
    }

    fn record<K: Resource<DynamicType = ()>>(
        &self,
        object: &K,
        event_type: &'static str,
        reason: Reason,
        message: String,
    ) {
        let involved = object.object_ref(&());
        // Cluster-scoped objects' events live in `default`, as upstream's recorder puts them.
        let namespace = involved
            .namespace
            .clone()
            .unwrap_or_else(|| "default".to_owned());
        let key = EventKey {
            object_uid: involved.uid.clone().unwrap_or_default(),
            object_name: involved.name.clone().unwrap_or_default(),
            namespace: namespace.clone(),
            event_type,
            reason: reason.0,
            message,
        };
        let recorder = self.clone();
        // Posting is off the sync path, as upstream's broadcaster does it asynchronously.
        tokio::spawn(async move {
            let api: Api<Event> = Api::namespaced(recorder.client.clone(), &namespace);
            if let Err(error) = recorder.post(&api, key.clone(), involved).await {
                tracing::warn!(reason = key.reason, %error, "could not record event");
            }
        });
    }

    /// Bumps the Event already written for `key`, or creates one.
    async fn post(
        &self,
        api: &Api<Event>,
        key: EventKey,
        involved: ObjectReference,
    ) -> Result<(), kube::Error> {
        let now = Timestamp::now();
        let repeat = self.remembered(&key);
        if let Some(previous) = repeat {
            let count = previous.count + 1;
            let patch = serde_json::json!({
                "count": count,
                "lastTimestamp": Time(now),
            });
            match api
                .patch(
                    &previous.name,
                    &PatchParams::default(),
                    &Patch::Merge(&patch),
                )
                .await
            {
                Ok(_) => {
                    self.remember(key, previous.name, count);
                    return Ok(());
                }
                // Deleted meanwhile (TTL or by a user): start a new Event.
                Err(kube::Error::Api(status)) if status.code == 404 => {}
                Err(error) => return Err(error),
            }
        }
        let event = self.event(&key, involved, now);
        let created = api.create(&PostParams::default(), &event).await?;
        self.remember(key, created.metadata.name.unwrap_or_default(), 1);
        Ok(())
    }

    fn event(&self, key: &EventKey, involved: ObjectReference, now: Timestamp) -> Event {
        Event {
            metadata: ObjectMeta {
                // Upstream names events `<object>.<unique hex>`.
                name: Some(format!("{}.{:x}", key.object_name, now.as_nanosecond())),
                namespace: Some(key.namespace.clone()),
                ..ObjectMeta::default()
            },
            involved_object: involved,
            reason: Some(key.reason.to_owned()),
            message: Some(key.message.clone()),
            type_: Some(key.event_type.to_owned()),
            source: Some(EventSource {
                component: Some(self.component.clone()),
                host: None,
            }),
            reporting_component: Some(self.component.clone()),
            reporting_instance: Some(self.host.clone()),
            first_timestamp: Some(Time(now)),
            last_timestamp: Some(Time(now)),
            count: Some(1),
            ..Event::default()
        }
    }

    fn remembered(&self, key: &EventKey) -> Option<Written> {
        self.lock().get(key).cloned()
    }

    fn remember(&self, key: EventKey, name: String, count: i32) {
        let mut written = self.lock();
        if written.len() >= REMEMBERED_EVENTS && !written.contains_key(&key) {
            written.clear();
        }
        written.insert(key, Written { name, count });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<EventKey, Written>> {
        self.written.lock().unwrap_or_else(|e| e.into_inner())
    }
}
