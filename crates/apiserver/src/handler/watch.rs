//! WATCH: newline-delimited JSON events on a chunked response, served from
//! the resource's watch cache (upstream `handlers/watch.go` + `cacher`).
//!
//! Without a resourceVersion (or with `0`) the stream starts with an ADDED
//! event per current object; with `N` it replays the cached events after
//! `N`, or sends one `ERROR` event with a 410 `Expired` Status when `N` is
//! older than the cache remembers. Selectors are applied per event: an
//! object that stops matching is DELETED for this watcher, one that starts
//! matching is ADDED, as upstream.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use http::{Response, StatusCode};
use serde_json::{json, Map, Value};
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;

use super::resource::Call;
use crate::negotiation::{Body, Output};
use crate::registry::{self, Filter, ListOptions, Registry};
use crate::status::{ApiError, ApiResult};
use crate::table::{self, Headers, IncludeObject};
use crate::watch_cache::{encode_frame, CacheError, CacheEvent, EventType, Subscription};

/// Upstream's `--min-request-timeout` default: watches without
/// `timeoutSeconds` end after about this long and clients re-watch.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);

/// How often a watch that allows bookmarks gets one (upstream sends them
/// roughly every minute).
const BOOKMARK_INTERVAL: Duration = Duration::from_secs(60);

/// Frames buffered per watcher before the writer waits for the client.
const FRAME_BUFFER: usize = 64;

/// One watcher's view: which keys, which objects, which representation.
struct Watcher {
    def: Arc<rkube_api::ResourceDef>,
    prefix: String,
    name: Option<String>,
    filter: Filter,
    output: Output,
    include: IncludeObject,
    headers_sent: bool,
}

impl Watcher {
    fn selects(&self, key: &str, obj: &Value) -> bool {
        key.starts_with(&self.prefix)
            && self
                .name
                .as_deref()
                .is_none_or(|n| registry::meta::name(obj) == n)
            && self.filter.matches(&self.def, obj)
    }

    /// What this watcher sees of a shared event, if anything.
    fn view(&self, event: &CacheEvent) -> Option<EventType> {
        let now = self.selects(&event.key, &event.object);
        let before = event
            .prev
            .as_deref()
            .is_some_and(|p| self.selects(&event.key, p));
        match event.kind {
            EventType::Added => now.then_some(EventType::Added),
            EventType::Modified => match (before, now) {
                (true, true) => Some(EventType::Modified),
                (false, true) => Some(EventType::Added),
                (true, false) => Some(EventType::Deleted),
                (false, false) => None,
            },
            EventType::Deleted => (before || now).then_some(EventType::Deleted),
            EventType::Bookmark | EventType::Error => Some(event.kind),
        }
    }

    fn frame(&mut self, kind: EventType, obj: &Value, shared: Option<&CacheEvent>) -> Bytes {
        match self.output {
            Output::Table => {
                let headers = if self.headers_sent {
                    Headers::Omit
                } else {
                    Headers::Include
                };
                self.headers_sent = true;
                let mut meta = Map::new();
                meta.insert(
                    "resourceVersion".into(),
                    Value::String(registry::meta::meta_str(obj, "resourceVersion").to_string()),
                );
                let t = table::table(
                    &self.def,
                    &[Arc::new(obj.clone())],
                    meta,
                    self.include,
                    headers,
                );
                encode_frame(kind, &t)
            }
            Output::PartialMetadata => encode_frame(kind, &table::partial_metadata(obj)),
            // The shared, serialise-once frame when this watcher sees the
            // event as it is.
            _ => match shared {
                Some(event) if event.kind == kind => event.frame(),
                _ => encode_frame(kind, obj),
            },
        }
    }

    /// The bookmark that ends the initial events of a watch-list, with
    /// upstream's `k8s.io/initial-events-end` annotation.
    fn initial_events_end(&self, revision: i64) -> Bytes {
        let obj = json!({
            "kind": self.def.kind,
            "apiVersion": self.def.api_version(),
            "metadata": {
                "resourceVersion": revision.to_string(),
                "creationTimestamp": null,
                "annotations": {"k8s.io/initial-events-end": "true"},
            },
        });
        encode_frame(EventType::Bookmark, &obj)
    }

    fn bookmark(&self, revision: i64) -> Bytes {
        let obj = json!({
            "kind": self.def.kind,
            "apiVersion": self.def.api_version(),
            "metadata": {"resourceVersion": revision.to_string(), "creationTimestamp": null},
        });
        encode_frame(EventType::Bookmark, &obj)
    }
}

pub(super) async fn watch(call: &Call<'_>, name: Option<&str>) -> ApiResult<Response<Body>> {
    let opts = ListOptions::from_query(call.query)?;
    let filter = Filter::parse(
        call.def,
        opts.label_selector.as_deref(),
        opts.field_selector.as_deref(),
    )?;
    let include = crate::table::IncludeObject::parse(
        call.query
            .iter()
            .rev()
            .find(|(k, _)| k == "includeObject")
            .map(|(_, v)| v.as_str()),
    )?;
    let requested = registry::parse_revision(opts.resource_version.as_deref())?;
    let cache = call.api.registry.cache(call.def).await?;
    let mut watcher = Watcher {
        def: call.def.clone(),
        prefix: Registry::list_prefix(call.def, call.namespace),
        name: name.map(String::from),
        filter,
        output: call.output,
        include,
        headers_sent: false,
    };
    let (tx, rx) = mpsc::channel::<Bytes>(FRAME_BUFFER);
    let mut initial: Vec<Bytes> = Vec::new();
    // `sendInitialEvents=true` (the watch-list protocol): the current state
    // as ADDED events, then a bookmark marking their end, then changes.
    let watch_list = opts.send_initial_events == Some(true);
    // Where the stream starts: the snapshot the initial events showed, or
    // the client's resourceVersion.
    let mut start_revision = requested.unwrap_or(0);
    let subscription = match requested {
        // "Any state" is the cache's, as upstream.
        Some(0) if !watch_list => {
            let (objects, sub) = cache.snapshot_and_subscribe();
            initial.extend(initial_events(&mut watcher, objects));
            Some(sub)
        }
        // "The most recent state" (and every watch-list) starts from a
        // consistent store read, so a client sees its own writes even when
        // the cache has not caught up yet; cached events up to that
        // snapshot are skipped.
        None | Some(0) => {
            let page = call
                .api
                .registry
                .list(call.def, call.namespace, &Filter::all(), &ListOptions::default())
                .await?;
            start_revision = page.revision;
            initial.extend(initial_events(&mut watcher, page.items));
            if watch_list {
                initial.push(watcher.initial_events_end(page.revision));
            }
            Some(cache.subscribe(Some(page.revision)).map_err(ApiError::internal)?)
        }
        Some(rv) if watch_list => {
            return Err(ApiError::bad_request(format!(
                "sendInitialEvents with resourceVersion {rv} is not supported: use an empty resourceVersion"
            )))
        }
        Some(rv) => match cache.subscribe(Some(rv)) {
            Ok(sub) => Some(sub),
            Err(CacheError::TooOld { requested, oldest }) => {
                let status =
                    ApiError::expired(format!("too old resource version: {requested} ({oldest})"));
                initial.push(encode_frame(EventType::Error, &status.to_value()));
                None
            }
            Err(other) => return Err(ApiError::internal(other)),
        },
    };
    let timeout = opts
        .timeout_seconds
        .map(Duration::from_secs)
        .unwrap_or(DEFAULT_TIMEOUT);
    let bookmarks = opts.allow_bookmarks;
    tokio::spawn(async move {
        for frame in initial {
            if tx.send(frame).await.is_err() {
                return;
            }
        }
        if let Some(sub) = subscription {
            stream_events(&mut watcher, sub, &tx, timeout, bookmarks, start_revision).await;
        }
    });
    let stream = ReceiverStream::new(rx).map(Ok::<_, Infallible>);
    let mut response = Response::new(Body::from_stream(stream));
    *response.status_mut() = StatusCode::OK;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

/// ADDED frames for the current objects this watcher selects, in key order.
fn initial_events(watcher: &mut Watcher, objects: Vec<Arc<Value>>) -> Vec<Bytes> {
    let def = watcher.def.clone();
    let mut keyed: Vec<(String, Arc<Value>)> = objects
        .into_iter()
        .map(|o| {
            let key = def.key(
                non_empty(registry::meta::namespace(&o)),
                registry::meta::name(&o),
            );
            (key, o)
        })
        .collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    let mut frames = Vec::new();
    for (key, obj) in keyed {
        if watcher.selects(&key, &obj) {
            frames.push(watcher.frame(EventType::Added, &obj, None));
        }
    }
    frames
}

fn non_empty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

async fn stream_events(
    watcher: &mut Watcher,
    sub: Subscription,
    tx: &mpsc::Sender<Bytes>,
    timeout: Duration,
    bookmarks: bool,
    start_revision: i64,
) {
    let Subscription {
        backlog,
        mut live,
        revision,
    } = sub;
    let mut last = revision.max(start_revision);
    for event in backlog {
        last = last.max(event.revision);
        if !send_event(watcher, &event, tx).await {
            return;
        }
    }
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    let mut ticker = tokio::time::interval(BOOKMARK_INTERVAL);
    ticker.tick().await;
    loop {
        tokio::select! {
            () = &mut deadline => return,
            () = tx.closed() => return,
            _ = ticker.tick(), if bookmarks => {
                if tx.send(watcher.bookmark(last)).await.is_err() {
                    return;
                }
            }
            received = live.recv() => match received {
                Ok(event) => {
                    // Events at or before the watch's start were already
                    // part of what the client listed.
                    if event.revision <= start_revision {
                        continue;
                    }
                    last = last.max(event.revision);
                    if !send_event(watcher, &event, tx).await {
                        return;
                    }
                }
                // Too slow, or the cache was reset: end the watch; the
                // client re-lists and watches again.
                Err(broadcast::error::RecvError::Lagged(_)) | Err(broadcast::error::RecvError::Closed) => return,
            },
        }
    }
}

async fn send_event(
    watcher: &mut Watcher,
    event: &Arc<CacheEvent>,
    tx: &mpsc::Sender<Bytes>,
) -> bool {
    match watcher.view(event) {
        Some(kind) => {
            let frame = watcher.frame(kind, &event.object, Some(event));
            tx.send(frame).await.is_ok()
        }
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rkube_api::Scope;

    fn event(kind: EventType, now: Value, prev: Option<Value>) -> CacheEvent {
        CacheEvent::for_test(kind, "/registry/configmaps/d/a", now, prev)
    }

    #[test]
    fn selector_transitions_become_added_and_deleted_for_the_watcher() {
        let def = Arc::new(crate::testing::def(
            "",
            "v1",
            "ConfigMap",
            "configmaps",
            Scope::Namespaced,
        ));
        let watcher = Watcher {
            filter: Filter::parse(&def, Some("app=web"), None).expect("selector"),
            def,
            prefix: "/registry/configmaps/d/".into(),
            name: None,
            output: Output::Json,
            include: IncludeObject::Metadata,
            headers_sent: false,
        };
        let web = json!({"metadata": {"name": "a", "labels": {"app": "web"}}});
        let other = json!({"metadata": {"name": "a", "labels": {"app": "db"}}});
        let cases = [
            (EventType::Added, web.clone(), None, Some(EventType::Added)),
            (EventType::Added, other.clone(), None, None),
            (
                EventType::Modified,
                web.clone(),
                Some(web.clone()),
                Some(EventType::Modified),
            ),
            (
                EventType::Modified,
                web.clone(),
                Some(other.clone()),
                Some(EventType::Added),
            ),
            (
                EventType::Modified,
                other.clone(),
                Some(web.clone()),
                Some(EventType::Deleted),
            ),
            (
                EventType::Modified,
                other.clone(),
                Some(other.clone()),
                None,
            ),
            (
                EventType::Deleted,
                web.clone(),
                Some(web.clone()),
                Some(EventType::Deleted),
            ),
        ];
        for (kind, now, prev, want) in cases {
            assert_eq!(
                watcher.view(&event(kind, now.clone(), prev.clone())),
                want,
                "{kind:?} {now} {prev:?}"
            );
        }
    }
}
