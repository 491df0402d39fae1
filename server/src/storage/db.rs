//! The SQLite connection set: one writer (so writes never fight over the lock), a few readers (WAL
//! lets them read while the writer writes), every call run off the async threads.
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

use super::StorageError;
use super::migrations;

#[derive(Clone)]
pub struct Db {
    inner: Arc<Inner>,
    /// The server's bound on writes waiting for the writer (the CLI has none).
    gate: Option<Arc<WriteGate>>,
}

/// At most `places` write transactions waiting or running; one that finds no place within `wait`
/// is refused (`StorageError::Busy`), so a rush is answered "come back shortly" instead of piling
/// up behind the one writer until clients time out.
struct WriteGate {
    places: tokio::sync::Semaphore,
    wait: std::time::Duration,
    retry_after_secs: u64,
    refused: prometheus_client::metrics::counter::Counter,
}

struct Inner {
    writer: Mutex<Connection>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
}

const READERS: usize = 4;

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    // WAL: readers never block the writer. synchronous=FULL: a commit is on disk when it returns,
    // which is what "durable before acknowledged" needs (NORMAL may lose the last commits on power
    // loss in WAL mode).
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

impl Db {
    /// Open (creating if needed) and migrate the database at `path`.
    pub fn open(path: &Path) -> Result<Db, StorageError> {
        let mut writer = Connection::open(path)?;
        configure(&writer)?;
        migrations::migrate(&mut writer)?;
        // Refresh the planner's statistics where tables grew or indexes are new (bounded work,
        // as SQLite recommends on opening a long-lived connection).
        writer.execute_batch("PRAGMA optimize=0x10002")?;
        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            let reader = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            reader.busy_timeout(std::time::Duration::from_secs(10))?;
            readers.push(Mutex::new(reader));
        }
        Ok(Db {
            inner: Arc::new(Inner {
                writer: Mutex::new(writer),
                readers,
                next_reader: AtomicUsize::new(0),
            }),
            gate: None,
        })
    }

    /// Bound the writes waiting for the writer (see `WriteGate`); `refused` counts refusals.
    pub fn with_write_limit(
        mut self,
        places: usize,
        wait: std::time::Duration,
        retry_after_secs: u64,
        refused: prometheus_client::metrics::counter::Counter,
    ) -> Db {
        self.gate = Some(Arc::new(WriteGate {
            places: tokio::sync::Semaphore::new(places.max(1)),
            wait,
            retry_after_secs,
            refused,
        }));
        self
    }

    /// Run `f` in a write transaction (`BEGIN IMMEDIATE`), committed if it returns `Ok`.
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StorageError> + Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T, E> + Send + 'static,
    {
        let _place = match &self.gate {
            Some(gate) => match tokio::time::timeout(gate.wait, gate.places.acquire()).await {
                Ok(Ok(place)) => Some(place),
                _ => {
                    gate.refused.inc();
                    return Err(E::from(StorageError::Busy {
                        retry_after_secs: gate.retry_after_secs,
                    }));
                }
            },
            None => None,
        };
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = inner.writer.lock().unwrap_or_else(|p| p.into_inner());
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(StorageError::from)?;
            let value = f(&tx)?;
            tx.commit().map_err(StorageError::from)?;
            Ok(value)
        })
        .await
        .map_err(|e| E::from(StorageError::Task(e.to_string())))?
    }

    /// Run `f` on a read-only connection.
    pub async fn read<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StorageError> + Send + 'static,
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let i = inner.next_reader.fetch_add(1, Ordering::Relaxed) % inner.readers.len();
            let conn = inner.readers[i].lock().unwrap_or_else(|p| p.into_inner());
            f(&conn)
        })
        .await
        .map_err(|e| E::from(StorageError::Task(e.to_string())))?
    }

    /// Move the WAL's pages into the database file and empty the WAL (at shutdown, so a copy of
    /// the data directory taken afterwards is the database file alone).
    pub async fn checkpoint(&self) -> Result<(), StorageError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let conn = inner.writer.lock().unwrap_or_else(|p| p.into_inner());
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
            Ok(())
        })
        .await
        .map_err(|e| StorageError::Task(e.to_string()))?
    }

    /// For the CLI and tests: the writer connection, synchronously.
    pub fn blocking_write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        E: From<StorageError>,
        F: FnOnce(&Transaction<'_>) -> Result<T, E>,
    {
        let mut conn = self.inner.writer.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(StorageError::from)?;
        let value = f(&tx)?;
        tx.commit().map_err(StorageError::from)?;
        Ok(value)
    }
}
