//! A randomized model test for the embedded store: random operations, and
//! reopens, checked against a `BTreeMap` model of etcd's semantics (after
//! sled's `tests/tree` approach).

use std::collections::BTreeMap;

use anyhow::{bail, ensure, Context};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rkube_store::embedded::{EmbeddedOptions, EmbeddedStore};
use rkube_store::{
    Error, Event, EventKind, KeyRange, KeyValue, PrevKv, RangeRequest, RangeResponse, Revision,
    Store, WatchRequest,
};

use crate::conformance::take_events;

/// Keys chosen so that prefixes with and without a trailing slash differ.
const KEYS: [&str; 7] = ["/m/a", "/m/a/1", "/m/a/2", "/m/ab", "/m/b", "/m/b/1", "/n"];
const PREFIXES: [&str; 5] = ["/m/", "/m/a", "/m/a/", "/m/b/", "/"];

/// A refused operation, comparable between store and model.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Refusal {
    AlreadyExists(KeyValue),
    NotFound,
    Conflict(Revision, KeyValue),
    Compacted(Revision, Revision),
    Future(Revision, Revision),
}

/// A store answer, with refusals made comparable and real failures kept as errors.
fn outcome<T>(result: Result<T, Error>) -> anyhow::Result<Result<T, Refusal>> {
    Ok(match result {
        Ok(value) => Ok(value),
        Err(Error::AlreadyExists { current }) => Err(Refusal::AlreadyExists(*current)),
        Err(Error::NotFound) => Err(Refusal::NotFound),
        Err(Error::Conflict { expected, current }) => Err(Refusal::Conflict(expected, *current)),
        Err(Error::Compacted {
            requested,
            compacted,
        }) => Err(Refusal::Compacted(requested, compacted)),
        Err(Error::FutureRevision { requested, current }) => {
            Err(Refusal::Future(requested, current))
        }
        Err(e) => bail!("store failed: {e}"),
    })
}

type State = BTreeMap<Vec<u8>, KeyValue>;

/// etcd's semantics over an in-memory map: the state after every revision.
struct Model {
    states: BTreeMap<Revision, State>,
    events: Vec<Event>,
    compacted: Revision,
}

impl Model {
    fn new() -> Self {
        Model {
            states: BTreeMap::from([(0, State::new())]),
            events: Vec::new(),
            compacted: 0,
        }
    }

    fn revision(&self) -> Revision {
        self.states.keys().next_back().copied().unwrap_or(0)
    }

    fn now(&self) -> State {
        self.states
            .values()
            .next_back()
            .cloned()
            .unwrap_or_default()
    }

    fn at(&self, revision: Option<Revision>) -> Result<(Revision, State), Refusal> {
        let current = self.revision();
        let r = match revision {
            None => current,
            Some(r) if r <= 0 => current,
            Some(r) if r > current => return Err(Refusal::Future(r, current)),
            Some(r) if r < self.compacted => return Err(Refusal::Compacted(r, self.compacted)),
            Some(r) => r,
        };
        let state = self
            .states
            .range(..=r)
            .next_back()
            .map(|(_, s)| s.clone())
            .unwrap_or_default();
        Ok((r, state))
    }

    fn commit(&mut self, state: State, event: Event) {
        self.states.insert(event.revision(), state);
        self.events.push(event);
    }

    fn create(&mut self, key: &[u8], value: &[u8]) -> Result<KeyValue, Refusal> {
        let mut state = self.now();
        if let Some(current) = state.get(key) {
            return Err(Refusal::AlreadyExists(current.clone()));
        }
        let r = self.revision() + 1;
        let kv = KeyValue {
            key: key.to_vec(),
            value: value.to_vec(),
            create_revision: r,
            mod_revision: r,
        };
        state.insert(key.to_vec(), kv.clone());
        self.commit(
            state,
            Event {
                kind: EventKind::Put,
                kv: kv.clone(),
                prev_kv: None,
            },
        );
        Ok(kv)
    }

    fn checked(&self, key: &[u8], expected: Option<Revision>) -> Result<KeyValue, Refusal> {
        let current = self.now().get(key).cloned().ok_or(Refusal::NotFound)?;
        match expected {
            Some(e) if e != current.mod_revision => Err(Refusal::Conflict(e, current)),
            _ => Ok(current),
        }
    }

    fn update(
        &mut self,
        key: &[u8],
        value: &[u8],
        expected: Revision,
    ) -> Result<KeyValue, Refusal> {
        let prev = self.checked(key, Some(expected))?;
        let mut state = self.now();
        let kv = KeyValue {
            key: key.to_vec(),
            value: value.to_vec(),
            create_revision: prev.create_revision,
            mod_revision: self.revision() + 1,
        };
        state.insert(key.to_vec(), kv.clone());
        self.commit(
            state,
            Event {
                kind: EventKind::Put,
                kv: kv.clone(),
                prev_kv: Some(prev),
            },
        );
        Ok(kv)
    }

    fn delete(
        &mut self,
        key: &[u8],
        expected: Option<Revision>,
    ) -> Result<(KeyValue, Revision), Refusal> {
        let prev = self.checked(key, expected)?;
        let mut state = self.now();
        state.remove(key);
        let r = self.revision() + 1;
        let kv = KeyValue {
            key: key.to_vec(),
            value: Vec::new(),
            create_revision: 0,
            mod_revision: r,
        };
        self.commit(
            state,
            Event {
                kind: EventKind::Delete,
                kv,
                prev_kv: Some(prev.clone()),
            },
        );
        Ok((prev, r))
    }

    fn compact(&mut self, at: Revision) -> Result<(), Refusal> {
        if at <= self.compacted {
            return Err(Refusal::Compacted(at, self.compacted));
        }
        if at > self.revision() {
            return Err(Refusal::Future(at, self.revision()));
        }
        self.compacted = at;
        Ok(())
    }

    fn range(
        &self,
        prefix: &str,
        revision: Option<Revision>,
        limit: usize,
    ) -> Result<RangeResponse, Refusal> {
        let (revision, state) = self.at(revision)?;
        let mut kvs: Vec<KeyValue> = state
            .into_values()
            .filter(|kv| kv.key.starts_with(prefix.as_bytes()))
            .collect();
        let more = limit > 0 && kvs.len() > limit;
        if limit > 0 {
            kvs.truncate(limit);
        }
        Ok(RangeResponse {
            kvs,
            more,
            revision,
        })
    }
}

/// A revision to read at: now, a past one (maybe compacted) or a future one.
fn any_revision(rng: &mut StdRng, model: &Model) -> Option<Revision> {
    rng.random_bool(0.8)
        .then(|| rng.random_range(0..=model.revision() + 2))
}

/// Runs `ops` random operations from `seed` and fails at the first
/// difference between store and model.
pub async fn run(seed: u64, ops: usize) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let open = || EmbeddedStore::open(dir.path(), EmbeddedOptions::default());
    let mut store = open()?;
    let mut model = Model::new();
    let mut rng = StdRng::seed_from_u64(seed);
    for step in 0..ops {
        let key = KEYS[rng.random_range(0..KEYS.len())].as_bytes();
        let value = format!("{seed}-{step}").into_bytes();
        let current = model.now().get(key).map(|kv| kv.mod_revision);
        let context = || format!("seed {seed}, step {step}");
        match rng.random_range(0..100) {
            0..20 => {
                let got = outcome(store.create(key, value.clone()).await)?;
                ensure!(
                    got == model.create(key, &value),
                    "create: {got:?}; {}",
                    context()
                );
            }
            20..40 => {
                let expected = match current {
                    Some(r) if rng.random_bool(0.7) => r,
                    _ => rng.random_range(0..=model.revision() + 1),
                };
                let got = outcome(store.update(key, value.clone(), expected).await)?;
                ensure!(
                    got == model.update(key, &value, expected),
                    "update: {got:?}; {}",
                    context()
                );
            }
            40..50 => {
                let expected = match rng.random_range(0..3) {
                    0 => None,
                    1 => current,
                    _ => Some(rng.random_range(0..=model.revision() + 1)),
                };
                let got = outcome(store.delete(key, expected).await)?;
                ensure!(
                    got == model.delete(key, expected),
                    "delete: {got:?}; {}",
                    context()
                );
            }
            50..65 => {
                let at = any_revision(&mut rng, &model);
                let got = outcome(store.get(key, at).await)?;
                let want = model.at(at).map(|(_, state)| state.get(key).cloned());
                ensure!(got == want, "get at {at:?}: {got:?}; {}", context());
            }
            65..80 => {
                let prefix = PREFIXES[rng.random_range(0..PREFIXES.len())];
                let at = any_revision(&mut rng, &model);
                let limit = rng.random_range(0..4);
                let got = outcome(
                    store
                        .range(RangeRequest {
                            range: KeyRange::prefix(prefix),
                            revision: at,
                            limit: Some(limit),
                        })
                        .await,
                )?;
                ensure!(
                    got == model.range(prefix, at, limit),
                    "range {prefix} at {at:?}: {got:?}; {}",
                    context()
                );
            }
            80..85 => {
                let at = rng.random_range(0..=model.revision() + 1);
                let got = outcome(store.compact(at).await)?;
                ensure!(
                    got == model.compact(at),
                    "compact at {at}: {got:?}; {}",
                    context()
                );
            }
            85..90 => {
                let prefix = PREFIXES[rng.random_range(0..PREFIXES.len())];
                let (count, at) = store.count(KeyRange::prefix(prefix)).await?;
                let want = model
                    .range(prefix, None, 0)
                    .map(|r| (r.kvs.len(), r.revision));
                ensure!(
                    Ok((count, at)) == want,
                    "count {prefix}: {count} at {at}; {}",
                    context()
                );
            }
            90..94 => {
                drop(store);
                store = open()?;
                ensure!(
                    store.current_revision().await? == model.revision(),
                    "reopen; {}",
                    context()
                );
            }
            _ => check_watch(&store, &model, &mut rng)
                .await
                .with_context(context)?,
        }
    }
    Ok(())
}

/// Watches a random prefix from a random, uncompacted revision and compares
/// the replayed events, previous values included, with the model's.
async fn check_watch(store: &EmbeddedStore, model: &Model, rng: &mut StdRng) -> anyhow::Result<()> {
    let prefix = PREFIXES[rng.random_range(0..PREFIXES.len())];
    let first = model.compacted + 1;
    if first > model.revision() {
        return Ok(());
    }
    let start = rng.random_range(first..=model.revision());
    let want: Vec<Event> = model
        .events
        .iter()
        .filter(|e| e.revision() >= start && e.kv.key.starts_with(prefix.as_bytes()))
        .cloned()
        .collect();
    if want.is_empty() {
        return Ok(());
    }
    let mut watch = store
        .watch(WatchRequest {
            range: KeyRange::prefix(prefix),
            start_revision: Some(start),
            prev_kv: PrevKv::Include,
        })
        .await?;
    let got = take_events(&mut watch, want.len()).await?;
    ensure!(got == want, "watch {prefix} from {start}: {got:?}");
    Ok(())
}
