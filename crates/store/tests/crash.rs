//! Crash safety of the embedded store: a child process writes until it is
//! killed with SIGKILL at a random acknowledged write; the reopened store must
//! hold every acknowledged write, whole, and a gap-free history.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{bail, ensure, Context};
use futures::StreamExt;
use rand::{Rng, SeedableRng};
use rkube_store::embedded::{EmbeddedOptions, EmbeddedStore};
use rkube_store::{EventKind, KeyRange, PrevKv, RangeRequest, Revision, Store, WatchRequest};

/// How long to wait for the child's next line or for the history replay.
const WAIT: Duration = Duration::from_secs(60);

/// One acknowledged write, as the child printed it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ack {
    Put {
        revision: Revision,
        key: String,
        n: u64,
        len: usize,
    },
    Delete {
        revision: Revision,
        key: String,
    },
}

impl Ack {
    fn parse(line: &str) -> anyhow::Result<Ack> {
        let fields: Vec<&str> = line.split_whitespace().collect();
        Ok(match fields.as_slice() {
            ["put", revision, key, n, len] => Ack::Put {
                revision: revision.parse()?,
                key: (*key).to_owned(),
                n: n.parse()?,
                len: len.parse()?,
            },
            ["del", revision, key] => Ack::Delete {
                revision: revision.parse()?,
                key: (*key).to_owned(),
            },
            _ => bail!("unexpected line from the writer: {line:?}"),
        })
    }
}

/// The child, killed when dropped so a failing test leaves nothing behind.
struct Writer(Child);

impl Drop for Writer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Checks a value has the writer's shape for `key`: `<key>|<n>|<len>|` and
/// `len` filler bytes. Returns `(n, len)`.
fn whole_value(key: &[u8], value: &[u8]) -> anyhow::Result<(u64, usize)> {
    let text = String::from_utf8_lossy(value);
    let mut parts = text.splitn(4, '|');
    let (Some(k), Some(n), Some(len), Some(filler)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        bail!(
            "torn value for {:?}: {text:?}",
            String::from_utf8_lossy(key)
        );
    };
    ensure!(k.as_bytes() == key, "value of {k} stored under another key");
    let n: u64 = n.parse()?;
    let len: usize = len.parse()?;
    let expected = b'a' + u8::try_from(n % 26)?;
    ensure!(
        filler.len() == len && filler.bytes().all(|b| b == expected),
        "torn value for {k}: {} of {len} filler bytes",
        filler.len()
    );
    Ok((n, len))
}

/// Runs the writer on `dir` until `kill_after` acknowledgements, kills it
/// with SIGKILL and returns every acknowledgement it printed.
fn run_writer_until_killed(
    dir: &std::path::Path,
    seed: u64,
    kill_after: usize,
) -> anyhow::Result<Vec<Ack>> {
    let child = Command::new(env!("CARGO_BIN_EXE_rkube-store-crash-writer"))
        .arg(dir)
        .arg(seed.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("starting the crash writer")?;
    let mut writer = Writer(child);
    let stdout = writer.0.stdout.take().context("child stdout")?;
    let (lines, acks) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut stdout = BufReader::new(stdout);
        let mut line = String::new();
        // Only complete lines are acknowledgements; a line cut by the kill is not.
        while matches!(stdout.read_line(&mut line), Ok(n) if n > 0) && line.ends_with('\n') {
            if lines.send(line.clone()).is_err() {
                break;
            }
            line.clear();
        }
    });
    let mut seen = Vec::new();
    while seen.len() < kill_after {
        let line = acks
            .recv_timeout(WAIT)
            .with_context(|| format!("writer printed only {} acks", seen.len()))?;
        seen.push(Ack::parse(&line)?);
    }
    writer.0.kill().context("SIGKILL")?;
    writer.0.wait()?;
    // Acks already in the pipe were acknowledged before the kill too.
    while let Ok(line) = acks.recv_timeout(WAIT) {
        seen.push(Ack::parse(&line)?);
    }
    reader.join().ok().context("stdout reader panicked")?;
    Ok(seen)
}

/// Reopens the store and checks every acknowledged write and the history.
async fn verify(dir: &std::path::Path, acks: &[Ack]) -> anyhow::Result<()> {
    let store = EmbeddedStore::open(dir, EmbeddedOptions::default())?;
    let current = store.current_revision().await?;
    for ack in acks {
        match ack {
            Ack::Put {
                revision,
                key,
                n,
                len,
            } => {
                let kv = store
                    .get(key.as_bytes(), Some(*revision))
                    .await?
                    .with_context(|| format!("acknowledged put of {key} at {revision} is lost"))?;
                ensure!(kv.mod_revision == *revision, "{key}: {kv:?}");
                ensure!(
                    whole_value(&kv.key, &kv.value)? == (*n, *len),
                    "{key} at {revision}"
                );
            }
            Ack::Delete { revision, key } => {
                let kv = store.get(key.as_bytes(), Some(*revision)).await?;
                ensure!(
                    kv.is_none(),
                    "acknowledged delete of {key} at {revision} is lost"
                );
            }
        }
        let revision = match ack {
            Ack::Put { revision, .. } | Ack::Delete { revision, .. } => *revision,
        };
        ensure!(
            revision <= current,
            "acknowledged {revision} is after the reopened {current}"
        );
    }
    // Every revision up to the current one is one whole write: no gap, no torn value.
    let mut history = store
        .watch(WatchRequest {
            range: KeyRange::prefix("/crash/"),
            start_revision: Some(1),
            prev_kv: PrevKv::Omit,
        })
        .await?;
    let mut expected: Revision = 1;
    while expected <= current {
        let batch = tokio::time::timeout(WAIT, history.next())
            .await
            .context("history replay stalled")?
            .context("history ended early")??;
        for event in batch {
            ensure!(
                event.revision() == expected,
                "history jumps from {expected} to {}",
                event.revision()
            );
            if event.kind == EventKind::Put {
                whole_value(&event.kv.key, &event.kv.value)?;
            }
            expected += 1;
        }
    }
    let now = store
        .range(RangeRequest {
            range: KeyRange::prefix("/crash/"),
            revision: None,
            limit: None,
        })
        .await?;
    for kv in &now.kvs {
        whole_value(&kv.key, &kv.value)?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn acknowledged_writes_survive_kill_9() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut all_acks = Vec::new();
    // Rounds share the directory: each run also recovers the previous crash.
    for seed in 1..=5u64 {
        let kill_after = rand::rngs::StdRng::seed_from_u64(seed).random_range(20..600);
        let path = dir.path().to_path_buf();
        let acks =
            tokio::task::spawn_blocking(move || run_writer_until_killed(&path, seed, kill_after))
                .await??;
        ensure!(acks.len() >= kill_after);
        all_acks.extend(acks);
        verify(dir.path(), &all_acks)
            .await
            .with_context(|| format!("round with seed {seed}, killed after {kill_after} acks"))?;
    }
    Ok(())
}
