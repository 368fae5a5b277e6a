//! Test helper for `tests/crash.rs`: writes to an embedded store until it is
//! killed, printing every acknowledged write on its own line.
//!
//! Usage: `rkube-store-crash-writer <store-dir> <seed>`.
//!
//! Lines: `put <revision> <key> <n> <len>` or `del <revision> <key>`. The
//! value of a put is `<key>|<n>|<len>|` followed by `len` bytes, all
//! `b'a' + n % 26`, so a reader can tell a whole value from a torn one.

use std::collections::HashMap;
use std::sync::Arc;

use rkube_store::embedded::{EmbeddedOptions, EmbeddedStore};
use rkube_store::{Error, Revision, Store};

/// Concurrent writers, so acknowledged writes share group commits.
const WRITERS: u64 = 32;
/// Keys per writer; each writer owns its keys.
const KEYS_PER_WRITER: u64 = 4;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(dir), Some(seed)) = (args.next(), args.next()) else {
        return Err("usage: rkube-store-crash-writer <store-dir> <seed>".into());
    };
    let seed: u64 = seed.parse()?;
    let store = Arc::new(EmbeddedStore::open(dir, EmbeddedOptions::default())?);
    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| tokio::spawn(write_forever(Arc::clone(&store), writer, seed)))
        .collect();
    for writer in writers {
        writer.await??;
    }
    Ok(())
}

/// Creates, updates and deletes this writer's keys forever.
async fn write_forever(store: Arc<EmbeddedStore>, writer: u64, seed: u64) -> Result<(), Error> {
    // What this writer believes each key's mod_revision is (None: absent).
    // A previous run may have left other states; errors correct the belief.
    let mut known: HashMap<String, Option<Revision>> = HashMap::new();
    for n in 0u64.. {
        let key = format!("/crash/{writer}/{}", n % KEYS_PER_WRITER);
        let belief = known.get(&key).copied().flatten();
        if n % 7 == 6 {
            match store.delete(key.as_bytes(), None).await {
                Ok((_, revision)) => println!("del {revision} {key}"),
                Err(Error::NotFound) => {}
                Err(e) => return Err(e),
            }
            known.insert(key, None);
            continue;
        }
        let len =
            usize::try_from(seed.wrapping_mul(7919).wrapping_add(n * 97 + writer * 13) % 8192)
                .unwrap_or(0);
        let filler = b'a' + u8::try_from(n % 26).unwrap_or(0);
        let mut value = format!("{key}|{n}|{len}|").into_bytes();
        value.resize(value.len() + len, filler);
        let mut belief = belief;
        let kv = loop {
            let attempt = match belief {
                None => store.create(key.as_bytes(), value.clone()).await,
                Some(expected) => store.update(key.as_bytes(), value.clone(), expected).await,
            };
            match attempt {
                Ok(kv) => break kv,
                Err(Error::AlreadyExists { current } | Error::Conflict { current, .. }) => {
                    belief = Some(current.mod_revision);
                }
                Err(Error::NotFound) => belief = None,
                Err(e) => return Err(e),
            }
        };
        println!("put {} {key} {n} {len}", kv.mod_revision);
        known.insert(key, Some(kv.mod_revision));
    }
    Ok(())
}
