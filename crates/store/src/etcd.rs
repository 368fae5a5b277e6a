//! The etcd v3 backend: the [`Store`] trait over an external etcd cluster, for
//! HA control planes.
//!
//! Keys are stored as given, with no prefix of our own, so an etcd-backed
//! cluster can be inspected with `etcdctl get --prefix /registry/`. Revisions
//! are etcd's own revisions.
//!
//! Each write is one etcd transaction, the way kube-apiserver's etcd3 store
//! does it (`staging/src/k8s.io/apiserver/pkg/storage/etcd3/store.go`):
//!
//! - create: `if create_revision(key) == 0 then put else get`;
//! - update / guarded delete: `if mod_revision(key) == expected and
//!   version(key) > 0 then put|delete else get`. The `version` check is there
//!   because etcd compares an absent key as if all its fields were 0.
//!
//! The `else get` tells a failed compare apart (absent key or conflict) and
//! hands back the current state without a second round trip.
//!
//! Differences from the embedded backend that callers can see:
//!
//! - a fresh etcd is at revision 1, not 0: etcd starts counting at 1 before
//!   any write, so the first write gets revision 2;
//! - etcd must accept requests of 1.5 MiB plus a key: start it with
//!   `--max-request-bytes` above its 1.5 MiB default (3 MiB is plenty);
//! - a compaction at revision 1 drops nothing and reads as "never compacted".

use std::collections::VecDeque;
use std::time::Duration;

use etcd_client::{
    Client, Compare, CompareOp, ConnectOptions, DeleteOptions, EventType, GetOptions, KvClient,
    Txn, TxnOp, TxnOpResponse, TxnResponse, WatchClient, WatchFilterType, WatchOptions,
};

use crate::{
    check_write, Error, Event, EventKind, KeyRange, KeyValue, PrevKv, RangeRequest, RangeResponse,
    Result, Revision, Store, WatchRequest, WatchStream,
};

/// gRPC messages we accept from etcd. A range can return many values of up
/// to 1.5 MiB each, far over tonic's 4 MiB default; etcd itself sends up to
/// `math.MaxInt32` bytes.
const MAX_RESPONSE_BYTES: usize = i32::MAX as usize;

/// How long to wait for the TCP connection to an endpoint.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// HTTP/2 keep-alive, so a dead etcd fails watches instead of hanging them
/// (kube-apiserver uses the same figures: `storage/storagebackend/factory/etcd3.go`).
const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(30);
const KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long etcd may take to report a compaction to a watch started below it.
/// etcd checks unsynced watchers every 100 ms (`mvcc/watchable_store.go`).
const COMPACTION_REPORT_DEADLINE: Duration = Duration::from_secs(10);

/// The messages etcd puts in its gRPC errors (`etcdserver/api/v3rpc/rpctypes`).
const COMPACTED_MESSAGE: &str = "required revision has been compacted";
const FUTURE_REVISION_MESSAGE: &str = "required revision is a future revision";

/// A key no rkube object uses, for requests whose answer is only the header
/// or an error (`current_revision`, compaction checks).
const PROBE_KEY: &[u8] = b"\0";

/// The [`Store`] over an etcd v3 cluster.
#[derive(Clone)]
pub struct EtcdStore {
    kv: KvClient,
    watch: WatchClient,
}

impl std::fmt::Debug for EtcdStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdStore").finish_non_exhaustive()
    }
}

impl EtcdStore {
    /// Connects to the etcd cluster at `endpoints` (e.g.
    /// `["http://127.0.0.1:2379"]`). Requests are balanced over them.
    ///
    /// ```no_run
    /// # async fn run() -> rkube_store::Result<()> {
    /// use rkube_store::{etcd::EtcdStore, Store};
    ///
    /// let store = EtcdStore::connect(&["http://127.0.0.1:2379"]).await?;
    /// let kv = store.create(b"/registry/configmaps/default/a", b"{}".to_vec()).await?;
    /// println!("created at revision {}", kv.mod_revision);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn connect<E: AsRef<str>>(endpoints: &[E]) -> Result<Self> {
        let options = ConnectOptions::new()
            .with_connect_timeout(CONNECT_TIMEOUT)
            .with_keep_alive(KEEP_ALIVE_INTERVAL, KEEP_ALIVE_TIMEOUT);
        let client = Client::connect(endpoints, Some(options)).await?;
        Ok(EtcdStore {
            kv: client
                .kv_client()
                .max_decoding_message_size(MAX_RESPONSE_BYTES),
            watch: client
                .watch_client()
                .max_decoding_message_size(MAX_RESPONSE_BYTES),
        })
    }

    /// A handle for one request: etcd-client's calls take `&mut self`, and a
    /// clone shares the connection.
    fn kv(&self) -> KvClient {
        self.kv.clone()
    }

    /// Turns an etcd error of a read at `requested` into the store's error.
    async fn read_error(&self, error: etcd_client::Error, requested: Revision) -> Error {
        match classify(&error) {
            Refusal::Compacted => match self.compacted_revision().await {
                Ok(compacted) => Error::Compacted {
                    requested,
                    compacted,
                },
                Err(e) => e,
            },
            Refusal::FutureRevision => match self.current_revision().await {
                Ok(current) => Error::FutureRevision { requested, current },
                Err(e) => e,
            },
            Refusal::Other => Error::Etcd(error),
        }
    }

    /// Fails with [`Error::Compacted`] if `revision` is below the compacted
    /// revision. A future revision passes: watches may start there.
    async fn check_not_compacted(&self, revision: Revision) -> Result<()> {
        let options = GetOptions::new().with_revision(revision).with_count_only();
        match self.kv().get(PROBE_KEY, Some(options)).await {
            Ok(_) => Ok(()),
            Err(e) => match self.read_error(e, revision).await {
                Error::FutureRevision { .. } => Ok(()),
                other => Err(other),
            },
        }
    }

    /// Runs a guarded write: `if mod_revision == expected and the key exists
    /// then ops else get`, and maps a failed guard to NotFound or Conflict.
    async fn guarded(
        &self,
        key: &[u8],
        expected: Revision,
        ops: Vec<TxnOp>,
    ) -> Result<TxnResponse> {
        let txn = Txn::new()
            .when([
                Compare::mod_revision(key, CompareOp::Equal, expected),
                Compare::version(key, CompareOp::Greater, 0),
            ])
            .and_then(ops)
            .or_else([TxnOp::get(key, None)]);
        let response = self.kv().txn(txn).await?;
        if response.succeeded() {
            return Ok(response);
        }
        match first_range_kv(&response) {
            None => Err(Error::NotFound),
            Some(current) => Err(Error::Conflict {
                expected,
                current: Box::new(current),
            }),
        }
    }
}

#[async_trait::async_trait]
impl Store for EtcdStore {
    async fn current_revision(&self) -> Result<Revision> {
        let options = GetOptions::new().with_count_only();
        let response = self.kv().get(PROBE_KEY, Some(options)).await?;
        header_revision(response.header())
    }

    async fn get(&self, key: &[u8], revision: Option<Revision>) -> Result<Option<KeyValue>> {
        let response = self
            .range(RangeRequest {
                range: KeyRange::key(key),
                revision,
                limit: None,
            })
            .await?;
        Ok(response.kvs.into_iter().next())
    }

    async fn range(&self, request: RangeRequest) -> Result<RangeResponse> {
        request.range.validate()?;
        let (key, mut options) = get_options(&request.range);
        // etcd reads at the current revision for 0 or less, as the trait's `None`.
        let revision = request.revision.filter(|r| *r > 0);
        if let Some(revision) = revision {
            options = options.with_revision(revision);
        }
        if let Some(limit) = request.limit.filter(|l| *l > 0) {
            options = options.with_limit(i64::try_from(limit).unwrap_or(i64::MAX));
        }
        let mut response = match self.kv().get(key, Some(options)).await {
            Ok(response) => response,
            Err(e) => return Err(self.read_error(e, revision.unwrap_or(0)).await),
        };
        // etcd's header always carries the current revision, even for a read
        // at an older one.
        let revision = match revision {
            Some(revision) => revision,
            None => header_revision(response.header())?,
        };
        Ok(RangeResponse {
            more: response.more(),
            kvs: response.take_kvs().into_iter().map(key_value).collect(),
            revision,
        })
    }

    async fn count(&self, range: KeyRange) -> Result<(usize, Revision)> {
        range.validate()?;
        let (key, options) = get_options(&range);
        let response = self.kv().get(key, Some(options.with_count_only())).await?;
        let count = usize::try_from(response.count()).map_err(|_| {
            Error::UnexpectedResponse(format!("negative count {}", response.count()))
        })?;
        Ok((count, header_revision(response.header())?))
    }

    async fn create(&self, key: &[u8], value: Vec<u8>) -> Result<KeyValue> {
        check_write(key, &value)?;
        let txn = Txn::new()
            .when([Compare::create_revision(key, CompareOp::Equal, 0)])
            .and_then([TxnOp::put(key, value.clone(), None)])
            .or_else([TxnOp::get(key, None)]);
        let response = self.kv().txn(txn).await?;
        if !response.succeeded() {
            let current = first_range_kv(&response)
                .ok_or_else(|| Error::UnexpectedResponse("a failed create found no key".into()))?;
            return Err(Error::AlreadyExists {
                current: Box::new(current),
            });
        }
        let revision = header_revision(response.header())?;
        Ok(KeyValue {
            key: key.to_vec(),
            value,
            create_revision: revision,
            mod_revision: revision,
        })
    }

    async fn update(&self, key: &[u8], value: Vec<u8>, expected: Revision) -> Result<KeyValue> {
        check_write(key, &value)?;
        // The get after the put reads the key's create_revision inside the
        // same transaction, without sending the value back.
        let ops = vec![
            TxnOp::put(key, value.clone(), None),
            TxnOp::get(key, Some(GetOptions::new().with_keys_only())),
        ];
        let response = self.guarded(key, expected, ops).await?;
        let written = first_range_kv(&response).ok_or_else(|| {
            Error::UnexpectedResponse("an update did not read back its key".into())
        })?;
        Ok(KeyValue { value, ..written })
    }

    async fn delete(&self, key: &[u8], expected: Option<Revision>) -> Result<(KeyValue, Revision)> {
        if key.is_empty() {
            return Err(Error::EmptyKey);
        }
        let with_prev = || Some(DeleteOptions::new().with_prev_key());
        let (deleted, header) = match expected {
            Some(expected) => {
                let response = self
                    .guarded(key, expected, vec![TxnOp::delete(key, with_prev())])
                    .await?;
                let deleted = response.op_responses().into_iter().find_map(|op| match op {
                    TxnOpResponse::Delete(mut d) => d.take_prev_kvs().into_iter().next(),
                    _ => None,
                });
                (deleted, header_revision(response.header()))
            }
            None => {
                let mut response = self.kv().delete(key, with_prev()).await?;
                let header = header_revision(response.header());
                (response.take_prev_kvs().into_iter().next(), header)
            }
        };
        match deleted {
            Some(kv) => Ok((key_value(kv), header?)),
            None => Err(Error::NotFound),
        }
    }

    async fn watch(&self, request: WatchRequest) -> Result<WatchStream> {
        request.range.validate()?;
        let start = request.start_revision.filter(|r| *r > 0);
        // etcd would accept the watch and cancel it a moment later; asking
        // first gives the caller the error from `watch` itself.
        if let Some(start) = start {
            self.check_not_compacted(start).await?;
        }
        let (key, mut options) = watch_options(&request.range);
        if let Some(start) = start {
            options = options.with_start_revision(start);
        }
        if request.prev_kv == PrevKv::Include {
            options = options.with_prev_key();
        }
        let mut stream = self.watch.clone().watch(key, Some(options)).await?;
        // etcd registers the watcher before it answers "created": waiting for
        // that answer makes every write acknowledged after `watch` returns
        // visible to the watch, also when it starts "now".
        let created = stream.message().await?.ok_or_else(|| {
            Error::UnexpectedResponse("watch closed before it was created".into())
        })?;
        if !created.created() {
            return Err(Error::UnexpectedResponse(
                "first watch response was not a creation".into(),
            ));
        }
        let next_revision = match start {
            Some(start) => start,
            None => header_revision(created.header())? + 1,
        };
        let mut watch = EtcdWatch {
            stream,
            batches: VecDeque::new(),
            next_revision,
            ended: false,
        };
        // A watch created and cancelled at once (etcd 3.5 does this for a
        // compacted start) carries its reason in the creation response.
        if let Some(end) = watch.take_response(created) {
            return Err(end);
        }
        Ok(Box::pin(futures::stream::unfold(
            watch,
            EtcdWatch::next_batch,
        )))
    }

    async fn compact(&self, revision: Revision) -> Result<()> {
        match self.kv().compact(revision, None).await {
            Ok(_) => Ok(()),
            Err(e) => Err(self.read_error(e, revision).await),
        }
    }

    /// etcd has no call that returns its compacted revision, but it puts it in
    /// the cancellation of a watch that starts below it. So: if revision 1 can
    /// still be read, nothing was compacted; otherwise start a watch at 1 that
    /// filters out every event, and read the revision from its cancellation.
    async fn compacted_revision(&self) -> Result<Revision> {
        let options = GetOptions::new().with_revision(1).with_count_only();
        match self.kv().get(PROBE_KEY, Some(options)).await {
            Ok(_) => return Ok(0),
            Err(e) if classify(&e) == Refusal::Compacted => {}
            Err(e) => return Err(Error::Etcd(e)),
        }
        let options = WatchOptions::new()
            .with_start_revision(1)
            .with_filters([WatchFilterType::NoPut, WatchFilterType::NoDelete]);
        let mut stream = self.watch.clone().watch(PROBE_KEY, Some(options)).await?;
        let report = async {
            while let Some(response) = stream.message().await? {
                if response.compact_revision() > 0 {
                    return Ok(response.compact_revision());
                }
            }
            Err(Error::UnexpectedResponse(
                "watch below the compacted revision ended without reporting it".into(),
            ))
        };
        match tokio::time::timeout(COMPACTION_REPORT_DEADLINE, report).await {
            Ok(result) => result,
            Err(_) => Err(Error::UnexpectedResponse(format!(
                "etcd did not report its compacted revision within {COMPACTION_REPORT_DEADLINE:?}"
            ))),
        }
    }
}

/// One watch: etcd's stream plus the batches already received but not yet
/// handed out.
struct EtcdWatch {
    stream: etcd_client::WatchStream,
    /// One batch per revision, in order.
    batches: VecDeque<Vec<Event>>,
    /// The revision the next event will have at the least.
    next_revision: Revision,
    /// Set once the watch has reported its end: nothing follows.
    ended: bool,
}

impl EtcdWatch {
    /// The next batch, or the error that ends the watch.
    async fn next_batch(mut self) -> Option<(Result<Vec<Event>>, Self)> {
        loop {
            if let Some(batch) = self.batches.pop_front() {
                return Some((Ok(batch), self));
            }
            if self.ended {
                return None;
            }
            let end = match self.stream.message().await {
                Ok(Some(response)) => self.take_response(response),
                Ok(None) => Some(Error::Etcd(etcd_client::Error::WatchError(
                    "etcd closed the watch stream".into(),
                ))),
                Err(e) => Some(Error::Etcd(e)),
            };
            if let Some(end) = end {
                self.ended = true;
                return Some((Err(end), self));
            }
        }
    }

    /// Queues a response's events, or returns why the watch ended.
    ///
    /// etcd may pack several revisions into one response (a watcher catching
    /// up from history) and sends progress notifications with no events; the
    /// store's contract is one batch per revision, so the events are split at
    /// revision boundaries and empty responses are skipped.
    fn take_response(&mut self, response: etcd_client::WatchResponse) -> Option<Error> {
        if response.compact_revision() > 0 {
            return Some(Error::Compacted {
                requested: self.next_revision,
                compacted: response.compact_revision(),
            });
        }
        if response.canceled() {
            return Some(Error::Etcd(etcd_client::Error::WatchError(format!(
                "etcd cancelled the watch: {}",
                response.cancel_reason()
            ))));
        }
        for event in response.events() {
            let Some(kv) = event.kv() else {
                return Some(Error::UnexpectedResponse(
                    "watch event without a key".into(),
                ));
            };
            let kind = match event.event_type() {
                EventType::Put => EventKind::Put,
                EventType::Delete => EventKind::Delete,
            };
            let event = Event {
                kind,
                kv: key_value_ref(kv),
                prev_kv: event.prev_kv().map(key_value_ref),
            };
            let revision = event.revision();
            match self.batches.back_mut() {
                Some(batch) if batch.last().map(Event::revision) == Some(revision) => {
                    batch.push(event)
                }
                _ => self.batches.push_back(vec![event]),
            }
            self.next_revision = revision + 1;
        }
        None
    }
}

/// The ways etcd refuses a read that the store has its own errors for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    Compacted,
    FutureRevision,
    Other,
}

/// Recognises etcd's compacted and future-revision errors by their message,
/// the only thing that tells them apart on the wire (both are OutOfRange).
fn classify(error: &etcd_client::Error) -> Refusal {
    match error {
        etcd_client::Error::GRpcStatus(status) if status.message().contains(COMPACTED_MESSAGE) => {
            Refusal::Compacted
        }
        etcd_client::Error::GRpcStatus(status)
            if status.message().contains(FUTURE_REVISION_MESSAGE) =>
        {
            Refusal::FutureRevision
        }
        _ => Refusal::Other,
    }
}

/// etcd's `range_end` for `range`: none for a single key, and `"\0"` (etcd's
/// "every key from `key` on") for a prefix with no upper bound.
fn range_end(range: &KeyRange) -> Option<Vec<u8>> {
    match range {
        KeyRange::Key(_) => None,
        KeyRange::Prefix(_) | KeyRange::Interval { .. } => {
            Some(range.end().unwrap_or_else(|| vec![0]))
        }
    }
}

/// The key and the options of a range read over `range`.
fn get_options(range: &KeyRange) -> (Vec<u8>, GetOptions) {
    let options = GetOptions::new();
    let options = match range_end(range) {
        Some(end) => options.with_range(end),
        None => options,
    };
    (range.start().to_vec(), options)
}

/// The key and the options of a watch over `range`.
fn watch_options(range: &KeyRange) -> (Vec<u8>, WatchOptions) {
    let options = WatchOptions::new();
    let options = match range_end(range) {
        Some(end) => options.with_range(end),
        None => options,
    };
    (range.start().to_vec(), options)
}

/// The revision in a response header; etcd always sends one.
fn header_revision(header: Option<&etcd_client::ResponseHeader>) -> Result<Revision> {
    header
        .map(etcd_client::ResponseHeader::revision)
        .ok_or_else(|| Error::UnexpectedResponse("response without a header".into()))
}

/// The first key-value of the first range in a transaction's answer.
fn first_range_kv(response: &TxnResponse) -> Option<KeyValue> {
    response.op_responses().into_iter().find_map(|op| match op {
        TxnOpResponse::Get(mut get) => get.take_kvs().into_iter().next().map(key_value),
        _ => None,
    })
}

fn key_value(kv: etcd_client::KeyValue) -> KeyValue {
    let (create_revision, mod_revision) = (kv.create_revision(), kv.mod_revision());
    let (key, value) = kv.into_key_value();
    KeyValue {
        key,
        value,
        create_revision,
        mod_revision,
    }
}

fn key_value_ref(kv: &etcd_client::KeyValue) -> KeyValue {
    KeyValue {
        key: kv.key().to_vec(),
        value: kv.value().to_vec(),
        create_revision: kv.create_revision(),
        mod_revision: kv.mod_revision(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_become_etcd_range_ends() {
        let cases: [(KeyRange, Option<&[u8]>); 5] = [
            (KeyRange::key("/a"), None),
            (KeyRange::prefix("/a/"), Some(b"/a0")),
            (KeyRange::prefix(vec![b'a', 0xff]), Some(b"b")),
            (KeyRange::prefix(vec![0xff, 0xff]), Some(b"\0")),
            (KeyRange::interval("/a", "/c"), Some(b"/c")),
        ];
        for (range, end) in cases {
            assert_eq!(range_end(&range).as_deref(), end, "{range:?}");
        }
    }
}
