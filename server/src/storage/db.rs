//! The metadata store's connections, every call run off the async threads, on one of two
//! databases (`database.url`):
//! - SQLite (the default): one writer (so writes never fight over the lock) whose thread commits
//!   the writes waiting together (group commit), a few readers (WAL lets them read while the
//!   writer writes).
//! - PostgreSQL: a pool of writers and one of readers, each connection keeping its prepared
//!   statements. Every write transaction first takes one transaction-scoped advisory lock, so
//!   writes are one at a time across every instance, as on SQLite: the use cases read, decide
//!   and write in one transaction and rely on nothing writing in between (a window closing, a
//!   claim taken, a slot filled), and the outbox's and analysis's claims, the sweeper's round
//!   and the throttles are exclusive across instances by the same lock.
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use super::StorageError;
use super::migrations;
use super::sql::{Conn, PgTx};

#[derive(Clone)]
pub struct Db {
    backend: Arc<Backend>,
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

enum Backend {
    Sqlite(Sqlite),
    Postgres(Postgres),
}

struct Sqlite {
    writer: Arc<Mutex<Connection>>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    /// The async writes' way to the committer thread (see `Db::write`); `None` once dropped.
    committer: Option<Committer>,
}

struct Committer {
    jobs: mpsc::Sender<Box<dyn Job>>,
    thread: std::thread::JoinHandle<()>,
}

impl Drop for Sqlite {
    /// The committer ends when its queue closes; waited for, so the writer connection is closed
    /// when the store is (unless the last handle went on the committer thread itself).
    fn drop(&mut self) {
        if let Some(Committer { jobs, thread }) = self.committer.take() {
            drop(jobs);
            if thread.thread().id() != std::thread::current().id() {
                let _ = thread.join();
            }
        }
    }
}

const READERS: usize = 4;

/// The pools, `None` only while dropped.
struct Postgres(Option<Pools>);

struct Pools {
    writers: r2d2::Pool<PgConnector>,
    readers: r2d2::Pool<PgConnector>,
}

impl Postgres {
    fn pools(&self) -> &Pools {
        self.0.as_ref().expect("open until dropped")
    }
}

impl Drop for Postgres {
    /// Closing a blocking client blocks: the pools' connections are closed on a thread of their
    /// own, as the last handle to the store may be dropped on an async thread.
    fn drop(&mut self) {
        let pools = self.0.take();
        off_runtime(move || drop(pools));
    }
}

/// Writers per instance: the advisory lock lets one write at a time anyway; a second connection
/// has the next write ready when the lock is released.
const PG_WRITERS: u32 = 2;
const PG_READERS: u32 = 8;

/// Any number, taken by every write transaction (see the module's comment).
const WRITE_LOCK: i64 = 0x0064_6f73_7369_6577; // "dossiew"

/// A PostgreSQL connection and the statements prepared on it.
pub struct PgSession {
    client: postgres::Client,
    statements: HashMap<String, postgres::Statement>,
}

struct PgConnector {
    config: postgres::Config,
}

impl r2d2::ManageConnection for PgConnector {
    type Connection = PgSession;
    type Error = postgres::Error;

    fn connect(&self) -> Result<PgSession, postgres::Error> {
        Ok(PgSession {
            client: self.config.connect(postgres::NoTls)?,
            statements: HashMap::new(),
        })
    }

    fn is_valid(&self, session: &mut PgSession) -> Result<(), postgres::Error> {
        session.client.simple_query("").map(|_| ())
    }

    fn has_broken(&self, session: &mut PgSession) -> bool {
        session.client.is_closed()
    }
}

/// Run `f` on a thread of its own: the blocking PostgreSQL client drives its own runtime and
/// must not be called from a thread inside another (the CLI's and the tests' synchronous calls
/// may be made from one).
fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    if tokio::runtime::Handle::try_current().is_err() {
        return f();
    }
    std::thread::scope(|s| {
        s.spawn(f)
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
    })
}

/// Every statement goes through the prepared-statement cache (`sql::Conn`): room for all of them
/// (about 120; rusqlite keeps 16 by default).
const STATEMENT_CACHE: usize = 256;

/// Refresh the planner's statistics where tables grew or indexes are new (bounded work, as
/// SQLite recommends on opening a long-lived connection), keeping only the averages
/// (`sqlite_stat1`). The bundled SQLite is built with STAT4, whose sampled values make a prepared
/// statement expire each time a value compared with an indexed column is bound anew (another
/// value might want another plan): every run of the hot statements was prepared again, which
/// undid the statement cache (2% of the server's CPU in the deadline rush). Our plans do not
/// depend on the values.
fn refresh_statistics(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch("PRAGMA optimize=0x10002")?;
    let sampled: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE name = 'sqlite_stat4')",
        [],
        |r| r.get(0),
    )?;
    if sampled {
        // `ANALYZE sqlite_schema` reloads the statistics of this connection from the tables.
        conn.execute_batch("DELETE FROM sqlite_stat4; ANALYZE sqlite_schema")?;
    }
    Ok(())
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    // WAL: readers never block the writer. synchronous=FULL: a commit is on disk when it returns,
    // which is what "durable before acknowledged" needs (NORMAL may lose the last commits on power
    // loss in WAL mode).
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

/// Whether `url` names a PostgreSQL database (else it is a SQLite file).
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// `url` fit for a log or a terminal: a PostgreSQL URL without its password.
pub fn shown_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if is_postgres_url(url) && parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}

impl Db {
    /// Open and migrate the database `url` names: `postgres://…`, or a SQLite file (a path, or
    /// `sqlite://PATH`), created if needed.
    pub fn connect(url: &str) -> Result<Db, StorageError> {
        if is_postgres_url(url) {
            Self::open_postgres(url)
        } else {
            Self::open(Path::new(url.strip_prefix("sqlite://").unwrap_or(url)))
        }
    }

    fn open_postgres(url: &str) -> Result<Db, StorageError> {
        let mut config: postgres::Config = url.parse()?;
        if config.get_password().is_none()
            && let Ok(password) = std::env::var("PGPASSWORD")
        {
            config.password(password);
        }
        config.application_name("dossier-server");
        off_runtime(|| {
            let mut client = config.connect(postgres::NoTls)?;
            super::postgres::migrate(&mut client)?;
            Ok::<_, StorageError>(())
        })?;
        let pool = |size: u32| {
            r2d2::Pool::builder()
                .max_size(size)
                .min_idle(Some(0))
                .connection_timeout(Duration::from_secs(10))
                .build_unchecked(PgConnector {
                    config: config.clone(),
                })
        };
        Ok(Db {
            backend: Arc::new(Backend::Postgres(Postgres(Some(Pools {
                writers: pool(PG_WRITERS),
                readers: pool(PG_READERS),
            })))),
            gate: None,
        })
    }

    /// Which database this is, for what differs between them (the outbox's start, backups).
    pub fn is_postgres(&self) -> bool {
        matches!(*self.backend, Backend::Postgres(_))
    }

    /// Open (creating if needed) and migrate the SQLite database at `path`.
    pub fn open(path: &Path) -> Result<Db, StorageError> {
        let mut writer = Connection::open(path)?;
        configure(&writer)?;
        migrations::migrate(&mut writer)?;
        // Only an optimisation: a full disk must not keep `verify` or the server from opening.
        if let Err(e) = refresh_statistics(&writer) {
            tracing::warn!(error = %e, "could not refresh the planner's statistics");
        }
        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            let reader = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            reader.busy_timeout(std::time::Duration::from_secs(10))?;
            reader.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
            readers.push(Mutex::new(reader));
        }
        let writer = Arc::new(Mutex::new(writer));
        let (jobs, queue) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("sqlite-commit".into())
            .spawn({
                let writer = writer.clone();
                move || commit_batches(&writer, queue)
            })?;
        Ok(Db {
            backend: Arc::new(Backend::Sqlite(Sqlite {
                writer,
                readers,
                next_reader: AtomicUsize::new(0),
                committer: Some(Committer { jobs, thread }),
            })),
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

    /// Run `f` in a write transaction, committed if it returns `Ok`; answered once committed.
    /// SQLite: on the committer thread, in a savepoint of a transaction shared with the writes
    /// waiting beside it (group commit, see `commit_batches`): what `f` wrote is rolled back
    /// alone if it returns `Err`, and nothing is answered `Ok` before the commit is durable.
    /// PostgreSQL: a transaction of its own, with the write lock.
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StorageError> + Send + 'static,
        F: FnOnce(&Conn<'_>) -> Result<T, E> + Send + 'static,
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
        if let Backend::Sqlite(sqlite) = &*self.backend {
            let (reply, answer) = tokio::sync::oneshot::channel();
            let job = Box::new(Pending {
                write: Some(f),
                outcome: None,
                reply,
            });
            let stopped = || E::from(StorageError::Task("the committer has stopped".into()));
            let committer = sqlite.committer.as_ref().ok_or_else(stopped)?;
            committer.jobs.send(job).map_err(|_| stopped())?;
            return answer.await.map_err(|_| stopped())?;
        }
        let backend = self.backend.clone();
        tokio::task::spawn_blocking(move || backend.write(f))
            .await
            .map_err(|e| E::from(StorageError::Task(e.to_string())))?
    }

    /// Run `f` on a read-only connection.
    pub async fn read<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StorageError> + Send + 'static,
        F: FnOnce(&Conn<'_>) -> Result<T, E> + Send + 'static,
    {
        let backend = self.backend.clone();
        tokio::task::spawn_blocking(move || backend.read(f))
            .await
            .map_err(|e| E::from(StorageError::Task(e.to_string())))?
    }

    /// `read` for work already on the blocking pool (inside `spawn_blocking`), which may block:
    /// the same connections, without a second hand-off. (Not `blocking_read`: a blocking-pool
    /// thread sees the runtime, so on PostgreSQL that would start a thread of its own per call.)
    pub fn read_on_blocking_pool<T, E, F>(&self, f: F) -> Result<T, E>
    where
        E: From<StorageError>,
        F: FnOnce(&Conn<'_>) -> Result<T, E>,
    {
        self.backend.read(f)
    }

    /// SQLite: move the WAL's pages into the database file and empty the WAL (at shutdown, so a
    /// copy of the data directory taken afterwards is the database file alone).
    pub async fn checkpoint(&self) -> Result<(), StorageError> {
        let backend = self.backend.clone();
        tokio::task::spawn_blocking(move || {
            if let Backend::Sqlite(sqlite) = &*backend {
                let conn = sqlite.writer.lock().unwrap_or_else(|p| p.into_inner());
                conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
            }
            Ok(())
        })
        .await
        .map_err(|e| StorageError::Task(e.to_string()))?
    }

    /// For the CLI and tests: a write transaction, synchronously.
    pub fn blocking_write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send,
        E: From<StorageError> + Send,
        F: FnOnce(&Conn<'_>) -> Result<T, E> + Send,
    {
        match &*self.backend {
            Backend::Sqlite(_) => self.backend.write(f),
            Backend::Postgres(_) => off_runtime(|| self.backend.write(f)),
        }
    }
}

impl Db {
    /// For the CLI: a read, synchronously.
    pub fn blocking_read<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send,
        E: From<StorageError> + Send,
        F: FnOnce(&Conn<'_>) -> Result<T, E> + Send,
    {
        match &*self.backend {
            Backend::Sqlite(_) => self.backend.read(f),
            Backend::Postgres(_) => off_runtime(|| self.backend.read(f)),
        }
    }
}

impl Db {
    /// For copies and backups: a read that sees one moment of the database throughout (SQLite:
    /// a read transaction; PostgreSQL: every read is one), synchronously.
    pub fn blocking_snapshot<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send,
        E: From<StorageError> + Send,
        F: FnOnce(&Conn<'_>) -> Result<T, E> + Send,
    {
        match &*self.backend {
            Backend::Sqlite(sqlite) => {
                let conn = sqlite.readers[0].lock().unwrap_or_else(|p| p.into_inner());
                let tx = conn.unchecked_transaction().map_err(StorageError::from)?;
                f(&Conn::Sqlite(&tx))
            }
            Backend::Postgres(_) => off_runtime(|| self.backend.read(f)),
        }
    }
}

impl Db {
    /// A write transaction on this very thread, for work that already holds another store's
    /// transaction (a copy between two databases). Not from an async thread.
    pub fn write_on_this_thread<T, E, F>(&self, f: F) -> Result<T, E>
    where
        E: From<StorageError>,
        F: FnOnce(&Conn<'_>) -> Result<T, E>,
    {
        self.backend.write(f)
    }
}

// ---------------------------------------------------------------------------------------------
// SQLite's group commit

/// At most this many writes in one transaction.
const BATCH: usize = 64;

/// One write waiting for the committer.
trait Job: Send {
    /// Run in the batch's transaction (in a savepoint of its own); whether it succeeded.
    fn run(&mut self, conn: &Conn<'_>) -> bool;
    /// Answer the caller once the batch's fate is known (`Err`: it did not commit).
    fn finish(self: Box<Self>, batch: Result<(), &StorageError>);
}

struct Pending<T, E, F> {
    write: Option<F>,
    outcome: Option<Result<T, E>>,
    reply: tokio::sync::oneshot::Sender<Result<T, E>>,
}

impl<T, E, F> Job for Pending<T, E, F>
where
    T: Send,
    E: From<StorageError> + Send,
    F: FnOnce(&Conn<'_>) -> Result<T, E> + Send,
{
    fn run(&mut self, conn: &Conn<'_>) -> bool {
        let write = self.write.take().expect("run once");
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| write(conn)))
            .unwrap_or_else(|_| Err(E::from(StorageError::Task("a write panicked".into()))));
        let done = outcome.is_ok();
        self.outcome = Some(outcome);
        done
    }

    fn finish(self: Box<Self>, batch: Result<(), &StorageError>) {
        let Pending { outcome, reply, .. } = *self;
        let answer = match (outcome, batch) {
            // Refused: its savepoint was rolled back, whatever became of the others.
            (Some(Err(refused)), _) => Err(refused),
            (Some(Ok(value)), Ok(())) => Ok(value),
            (_, Err(e)) => Err(E::from(again(e))),
            (None, Ok(())) => unreachable!("a batch commits only after running all its writes"),
        };
        let _ = reply.send(answer);
    }
}

/// The committer thread: every write waiting when it is free goes into one transaction, each in
/// a savepoint (one that fails is rolled back alone), and one commit makes them all durable
/// before any is answered. Under a rush the writes that queued during one commit's fsync share
/// the next: one WAL append and one fsync for many uploads. A lone write waits for nothing.
fn commit_batches(writer: &Mutex<Connection>, queue: mpsc::Receiver<Box<dyn Job>>) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        batch.extend(queue.try_iter().take(BATCH - 1));
        let committed = {
            let mut conn = writer.lock().unwrap_or_else(|p| p.into_inner());
            run_batch(&mut conn, &mut batch)
        };
        for job in batch {
            job.finish(committed.as_ref().map(|_| ()));
        }
    }
}

fn run_batch(conn: &mut Connection, batch: &mut [Box<dyn Job>]) -> Result<(), StorageError> {
    let mut tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    for job in batch.iter_mut() {
        let savepoint = tx.savepoint()?;
        if job.run(&Conn::Sqlite(&savepoint)) {
            savepoint.commit()?;
        } // else dropped: rolled back to where this write began
    }
    tx.commit()?;
    Ok(())
}

/// The same failure again, for each write of a batch that did not commit: SQLite's code (what
/// tells a full disk from a bug) and an I/O error's kind are kept.
fn again(e: &StorageError) -> StorageError {
    match e {
        StorageError::Sqlite(rusqlite::Error::SqliteFailure(code, message)) => {
            StorageError::Sqlite(rusqlite::Error::SqliteFailure(*code, message.clone()))
        }
        StorageError::Io(io) => StorageError::Io(std::io::Error::new(io.kind(), io.to_string())),
        other => StorageError::Task(other.to_string()),
    }
}

impl Backend {
    fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        E: From<StorageError>,
        F: FnOnce(&Conn<'_>) -> Result<T, E>,
    {
        match self {
            Backend::Sqlite(sqlite) => {
                let mut conn = sqlite.writer.lock().unwrap_or_else(|p| p.into_inner());
                let tx = conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .map_err(StorageError::from)?;
                let value = f(&Conn::Sqlite(&tx))?;
                tx.commit().map_err(StorageError::from)?;
                Ok(value)
            }
            Backend::Postgres(pg) => {
                let mut session = pg.pools().writers.get().map_err(StorageError::from)?;
                let PgSession { client, statements } = &mut *session;
                let mut tx = client.transaction().map_err(StorageError::from)?;
                tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])
                    .map_err(StorageError::from)?;
                let conn = Conn::Postgres(PgTx::new(tx, statements));
                let value = f(&conn)?;
                conn.commit()?;
                Ok(value)
            }
        }
    }

    fn read<T, E, F>(&self, f: F) -> Result<T, E>
    where
        E: From<StorageError>,
        F: FnOnce(&Conn<'_>) -> Result<T, E>,
    {
        match self {
            Backend::Sqlite(sqlite) => {
                let i = sqlite.next_reader.fetch_add(1, Ordering::Relaxed) % sqlite.readers.len();
                let conn = sqlite.readers[i].lock().unwrap_or_else(|p| p.into_inner());
                f(&Conn::Sqlite(&conn))
            }
            Backend::Postgres(pg) => {
                let mut session = pg.pools().readers.get().map_err(StorageError::from)?;
                let PgSession { client, statements } = &mut *session;
                // Repeatable read: the statements of one read see the same moment.
                let tx = client
                    .build_transaction()
                    .read_only(true)
                    .isolation_level(postgres::IsolationLevel::RepeatableRead)
                    .start()
                    .map_err(StorageError::from)?;
                let conn = Conn::Postgres(PgTx::new(tx, statements));
                let value = f(&conn)?;
                conn.commit()?;
                Ok(value)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes waiting together commit together, each answered with its own outcome: one that
    /// refuses or panics leaves nothing behind and does not take the others down.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writes_waiting_together_commit_together_and_fail_alone() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("dossier.sqlite3")).unwrap();
        db.write(|c| c.execute_batch("CREATE TABLE t (n INTEGER NOT NULL)"))
            .await
            .unwrap();
        // Hold the committer so the writes below queue up behind it and form one batch.
        let (held, hold) = std::sync::mpsc::channel::<()>();
        let holding = tokio::spawn({
            let db = db.clone();
            async move {
                db.write(move |c| {
                    c.execute("INSERT INTO t (n) VALUES (-1)", [])?;
                    let _ = hold.recv_timeout(Duration::from_secs(10));
                    Ok::<_, StorageError>(())
                })
                .await
            }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        let writes: Vec<_> = (0..30i64)
            .map(|n| {
                let db = db.clone();
                tokio::spawn(async move {
                    db.write(move |c| {
                        c.execute("INSERT INTO t (n) VALUES (?1)", [n])?;
                        match n % 10 {
                            3 => Err(StorageError::Malformed(format!("{n} refused"))),
                            7 => panic!("{n} panicked"),
                            _ => Ok(n * 2),
                        }
                    })
                    .await
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(100)).await;
        held.send(()).unwrap();
        holding.await.unwrap().unwrap();
        for (n, write) in writes.into_iter().enumerate() {
            let answer = write.await.unwrap();
            match n % 10 {
                3 => assert!(
                    matches!(answer, Err(StorageError::Malformed(_))),
                    "{n}: {answer:?}"
                ),
                7 => assert!(
                    matches!(answer, Err(StorageError::Task(_))),
                    "{n}: {answer:?}"
                ),
                _ => assert_eq!(answer.unwrap(), n as i64 * 2),
            }
        }
        let stored: Vec<i64> = db
            .read(|c| {
                c.query_map("SELECT n FROM t ORDER BY n", [], |r| r.get(0))?
                    .collect::<rusqlite::Result<Vec<i64>>>()
                    .map_err(StorageError::from)
            })
            .await
            .unwrap();
        let expected: Vec<i64> = std::iter::once(-1)
            .chain((0..30).filter(|n| n % 10 != 3 && n % 10 != 7))
            .collect();
        assert_eq!(stored, expected);
    }

    /// After the statistics are refreshed, a cached statement comparing an indexed column with a
    /// parameter runs for new values without being prepared again.
    #[test]
    fn cached_statements_are_not_prepared_again_for_new_values() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dossier.sqlite3");
        drop(Db::open(&path).unwrap());
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(
                "CREATE TABLE t (a INTEGER NOT NULL, b TEXT NOT NULL);
                 CREATE INDEX t_by_a ON t(a);
                 WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
                 INSERT INTO t SELECT i % 7 + (i / 1900) * 100, 'x' FROM n;",
            )
            .unwrap();
        }
        drop(Db::open(&path).unwrap()); // the statistics are refreshed here
        let conn = Connection::open(&path).unwrap();
        let analysed: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_stat1 WHERE tbl = 't'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!(analysed > 0, "the table was analysed");
        for a in [1, 2, 100, 3] {
            let mut stmt = conn
                .prepare_cached("SELECT COUNT(*) FROM t WHERE a = ?1")
                .unwrap();
            let _: i64 = stmt.query_row([a], |r| r.get(0)).unwrap();
            assert_eq!(
                stmt.get_status(rusqlite::StatementStatus::RePrepare),
                0,
                "prepared again for a = {a}"
            );
        }
    }
}
