//! A small pool of read connections. In WAL mode each reads a consistent
//! snapshot without blocking the writer; queries run on tokio's blocking
//! threads so they never stall the async runtime.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;
use tokio::sync::Semaphore;

use super::schema::open_reader;
use crate::{Error, Result};

/// Read connections, opened on demand up to a bound and then reused.
#[derive(Debug)]
pub(super) struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    permits: Semaphore,
}

impl Readers {
    /// A pool of at most `size` connections to the database at `path`.
    pub(super) fn new(path: PathBuf, size: usize) -> Self {
        Readers {
            path,
            idle: Mutex::new(Vec::new()),
            permits: Semaphore::new(size.max(1)),
        }
    }

    /// Runs `read` on a pooled connection on a blocking thread.
    pub(super) async fn run<T, F>(self: &Arc<Self>, read: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let _permit = self.permits.acquire().await.map_err(|_| Error::Closed)?;
        let pool = Arc::clone(self);
        let joined = tokio::task::spawn_blocking(move || {
            let mut conn = match pool.take() {
                Some(conn) => conn,
                None => open_reader(&pool.path)?,
            };
            let result = read(&mut conn);
            pool.give_back(conn);
            result
        })
        .await;
        match joined {
            Ok(result) => result,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => Err(Error::Closed),
        }
    }

    fn take(&self) -> Option<Connection> {
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .pop()
    }

    fn give_back(&self, conn: Connection) {
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(conn);
    }
}
