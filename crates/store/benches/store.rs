//! Store benchmark: the embedded backend and a real etcd, measured in the same
//! run on the same machine.
//!
//! ```sh
//! cargo bench -p rkube-store --bench store
//! ```
//!
//! For each backend: create throughput and latency with 1, 16 and 256
//! concurrent writers (1 KiB values under `/registry/...` keys), get
//! throughput, and watch delivery latency. Then the embedded/etcd ratios.
//! Each phase runs for a fixed time, so the whole run takes about a minute.
//!
//! Without `--bench` (as `cargo test --all-targets` runs it) it does a short
//! smoke run: every phase, a fraction of a second each, figures not meaningful.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use rkube_store::embedded::{EmbeddedOptions, EmbeddedStore};
use rkube_store::etcd::EtcdStore;
use rkube_store::{KeyRange, PrevKv, Store, WatchRequest};
use rkube_testkit::{EtcdProcess, Latencies};

/// Concurrent writers per write phase.
const WRITERS: [usize; 3] = [1, 16, 256];
/// Size of each written value, about a small Kubernetes object.
const VALUE_BYTES: usize = 1024;
/// Concurrent readers in the read phase.
const READERS: usize = 16;
/// Keys the read phase reads from (created first).
const READ_KEYS: usize = 1000;
/// Writes observed by the watch phase.
const WATCHED_WRITES: usize = 500;

/// How long each phase runs.
#[derive(Debug, Clone, Copy)]
struct Budget {
    write_phase: Duration,
    read_phase: Duration,
    watched_writes: usize,
}

const FULL: Budget = Budget {
    write_phase: Duration::from_secs(6),
    read_phase: Duration::from_secs(4),
    watched_writes: WATCHED_WRITES,
};

const SMOKE: Budget = Budget {
    write_phase: Duration::from_millis(200),
    read_phase: Duration::from_millis(200),
    watched_writes: 20,
};

/// What one backend achieved.
struct Figures {
    /// Per writer count: writes/s, p50 ms, p99 ms.
    writes: Vec<(usize, f64, f64, f64)>,
    reads_per_sec: f64,
    /// Write issued → event received: p50, p99 ms.
    watch_e2e: (f64, f64),
    /// Write acknowledged → event received (0 when the event came first): p50, p99 ms.
    watch_after_ack: (f64, f64),
}

fn main() -> anyhow::Result<()> {
    let budget = rkube_testkit::bench_size(FULL, SMOKE);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(budget))
}

async fn run(budget: Budget) -> anyhow::Result<()> {
    let etcd = tokio::task::spawn_blocking(EtcdProcess::start).await??;
    let etcd_store: Arc<dyn Store> = Arc::new(EtcdStore::connect(&[etcd.endpoint()]).await?);
    let dir = tempfile::tempdir()?;
    let embedded: Arc<dyn Store> =
        Arc::new(EmbeddedStore::open(dir.path(), EmbeddedOptions::default())?);

    let embedded_figures = measure("embedded", &embedded, budget).await?;
    let etcd_figures = measure("etcd", &etcd_store, budget).await?;
    print_report(&embedded_figures, &etcd_figures);
    Ok(())
}

async fn measure(name: &str, store: &Arc<dyn Store>, budget: Budget) -> anyhow::Result<Figures> {
    eprintln!("measuring {name} …");
    let mut writes = Vec::new();
    for writers in WRITERS {
        let (rate, latencies) = write_phase(store, writers, budget.write_phase).await?;
        writes.push((
            writers,
            rate,
            latencies.percentile_ms(50.0),
            latencies.percentile_ms(99.0),
        ));
    }
    let reads_per_sec = read_phase(store, budget.read_phase).await?;
    let (e2e, after_ack) = watch_phase(store, budget.watched_writes).await?;
    Ok(Figures {
        writes,
        reads_per_sec,
        watch_e2e: (e2e.percentile_ms(50.0), e2e.percentile_ms(99.0)),
        watch_after_ack: (after_ack.percentile_ms(50.0), after_ack.percentile_ms(99.0)),
    })
}

/// `writers` tasks create new keys until `length` has passed. Returns
/// creates per second and every create's latency.
async fn write_phase(
    store: &Arc<dyn Store>,
    writers: usize,
    length: Duration,
) -> anyhow::Result<(f64, Latencies)> {
    let start = Instant::now();
    let deadline = start + length;
    let mut tasks = Vec::with_capacity(writers);
    for writer in 0..writers {
        let store = Arc::clone(store);
        tasks.push(tokio::spawn(async move {
            let value = vec![b'x'; VALUE_BYTES];
            let mut latencies = Vec::new();
            let mut i = 0usize;
            while Instant::now() < deadline {
                let key = format!("/registry/configmaps/bench-w{writers}/cm-{writer}-{i}");
                let issued = Instant::now();
                store.create(key.as_bytes(), value.clone()).await?;
                latencies.push(issued.elapsed());
                i += 1;
            }
            anyhow::Ok(latencies)
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await??);
    }
    let elapsed = start.elapsed().as_secs_f64();
    Ok((all.len() as f64 / elapsed, Latencies::new(all)))
}

/// Creates [`READ_KEYS`] keys, then [`READERS`] tasks get them round-robin
/// until `length` has passed. Returns gets per second.
async fn read_phase(store: &Arc<dyn Store>, length: Duration) -> anyhow::Result<f64> {
    let value = vec![b'r'; VALUE_BYTES];
    let keys: Arc<Vec<String>> = Arc::new(
        (0..READ_KEYS)
            .map(|i| format!("/registry/secrets/bench-read/s-{i}"))
            .collect(),
    );
    for key in keys.iter() {
        store.create(key.as_bytes(), value.clone()).await?;
    }
    let reads = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let deadline = start + length;
    let mut tasks = Vec::with_capacity(READERS);
    for reader in 0..READERS {
        let (store, keys, reads) = (Arc::clone(store), Arc::clone(&keys), Arc::clone(&reads));
        tasks.push(tokio::spawn(async move {
            let mut i = reader;
            while Instant::now() < deadline {
                let key = &keys[i % keys.len()];
                if store.get(key.as_bytes(), None).await?.is_none() {
                    anyhow::bail!("{key} vanished");
                }
                reads.fetch_add(1, Ordering::Relaxed);
                i += READERS;
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(reads.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64())
}

/// One watcher on a prefix, one writer creating `count` keys under it one
/// after another. Returns, per write, issued → received and acknowledged →
/// received (0 when the event arrived before the acknowledgement).
async fn watch_phase(
    store: &Arc<dyn Store>,
    count: usize,
) -> anyhow::Result<(Latencies, Latencies)> {
    let prefix = "/registry/events/bench-watch/";
    let mut watch = store
        .watch(WatchRequest {
            range: KeyRange::prefix(prefix),
            start_revision: None,
            prev_kv: PrevKv::Omit,
        })
        .await?;
    let receiver = tokio::spawn(async move {
        let mut received = Vec::with_capacity(count);
        while received.len() < count {
            let batch = tokio::time::timeout(Duration::from_secs(30), watch.next())
                .await
                .map_err(|_| anyhow::anyhow!("no watch event for 30 s"))?
                .ok_or_else(|| anyhow::anyhow!("watch ended"))??;
            let now = Instant::now();
            received.extend(batch.into_iter().map(|event| (event.kv.key, now)));
        }
        anyhow::Ok(received)
    });
    let value = vec![b'w'; VALUE_BYTES];
    let mut sent = Vec::with_capacity(count);
    for i in 0..count {
        let key = format!("{prefix}e-{i:06}");
        let issued = Instant::now();
        store.create(key.as_bytes(), value.clone()).await?;
        sent.push((key.into_bytes(), issued, Instant::now()));
    }
    let received = receiver.await??;
    let mut e2e = Vec::with_capacity(count);
    let mut after_ack = Vec::with_capacity(count);
    for ((key, issued, acked), (got, at)) in sent.into_iter().zip(received) {
        anyhow::ensure!(key == got, "watch delivered events out of order");
        e2e.push(at.saturating_duration_since(issued));
        after_ack.push(at.saturating_duration_since(acked));
    }
    Ok((Latencies::new(e2e), Latencies::new(after_ack)))
}

fn print_report(embedded: &Figures, etcd: &Figures) {
    println!();
    println!("| measure | embedded | etcd | embedded/etcd |\n| --- | ---: | ---: | ---: |");
    for (e, d) in embedded.writes.iter().zip(&etcd.writes) {
        let writers = e.0;
        println!(
            "| creates/s, {writers} writers | {:.0} | {:.0} | {:.2}× |",
            e.1,
            d.1,
            e.1 / d.1
        );
        println!(
            "| create p50 / p99 ms, {writers} writers | {:.2} / {:.2} | {:.2} / {:.2} | |",
            e.2, e.3, d.2, d.3
        );
    }
    println!(
        "| gets/s, {READERS} readers | {:.0} | {:.0} | {:.2}× |",
        embedded.reads_per_sec,
        etcd.reads_per_sec,
        embedded.reads_per_sec / etcd.reads_per_sec
    );
    println!(
        "| watch, write issued → event, p50 / p99 ms | {:.2} / {:.2} | {:.2} / {:.2} | |",
        embedded.watch_e2e.0, embedded.watch_e2e.1, etcd.watch_e2e.0, etcd.watch_e2e.1
    );
    println!(
        "| watch, write acked → event, p50 / p99 ms | {:.2} / {:.2} | {:.2} / {:.2} | |",
        embedded.watch_after_ack.0,
        embedded.watch_after_ack.1,
        etcd.watch_after_ack.0,
        etcd.watch_after_ack.1
    );
}
