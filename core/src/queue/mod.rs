//! The phone's offline upload queue: a prepared photo is enqueued durably with an idempotency key
//! made then, and uploaded exactly once whenever the network allows, across app kills and reboots.
//!
//! SQLite in WAL mode with `synchronous=FULL` (an enqueue that returned is on disk), numbered
//! migrations in `PRAGMA user_version`, one connection. A row per item: its key, category, state,
//! attempts, next try and last error; the JPEG in a table of its own until the server has it. An item found `uploading` when the queue opens was cut
//! off by a kill: it goes back to waiting and is sent again with the same key, and the server stores
//! it once.
//!
//! `drain` uploads a few items at a time when the network and the user's "Wi-Fi only" preference
//! allow (the preference yields when the deadline is near); listeners hear of every change and of
//! the bytes sent.
//!
//! The queue belongs to one account at a time: each photo records the account it was queued
//! under, and only that account's session sends it (`signed_in`, `signed_out`). Signing in as
//! another account drops the cached page; the first account's photos stay, unsent and unlisted,
//! until it signs in again or discards them at sign-out.
//!
//! The same database caches the dossier and the messages (`refresh`, `cached`), so the app shows
//! them offline with their age. A refresh also reconciles: a queued item whose key the server
//! already holds becomes uploaded without being sent again (its answer was lost), and held items
//! wait again once their material is open (a reviewer returned it, the window opened).
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::api::{DossierView, ErrorCode, MessageList, WindowState};
use crate::client::{Action, Client, ClientError, UploadRequest};

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("queue storage: {0}")]
    Storage(#[from] rusqlite::Error),
    #[error("no queued item {0}")]
    NotFound(i64),
    /// A refresh could not reach the server or was refused; the cache is unchanged.
    #[error(transparent)]
    Client(#[from] ClientError),
}

/// What the app shows for an item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemState {
    /// Waiting for the network or for its next try.
    Waiting,
    /// Being sent now.
    Uploading,
    /// Stored by the server.
    Uploaded {
        image: Uuid,
    },
    /// The server cannot take it now and retrying will not help until something changes (the
    /// material is locked, the window is not open): kept, not retried.
    Held {
        code: ErrorCode,
        message: String,
    },
    /// The server refused it for good (count reached, not a valid photo...): the user must act.
    NeedsAttention {
        code: Option<ErrorCode>,
        message: String,
    },
    Cancelled,
}

#[derive(Debug, Clone)]
pub struct QueueItem {
    pub id: i64,
    pub key: Uuid,
    pub category: String,
    pub slot: Option<u32>,
    pub replaces: Option<Uuid>,
    pub bytes: u64,
    pub state: ItemState,
    pub attempts: u32,
    pub next_try_at: OffsetDateTime,
    pub created_at: OffsetDateTime,
}

const MIGRATIONS: &[&str] = &[
    r#"
    CREATE TABLE items (
        id INTEGER PRIMARY KEY,
        key TEXT NOT NULL UNIQUE,
        category TEXT NOT NULL,
        slot INTEGER,
        replaces TEXT,
        jpeg BLOB NOT NULL,
        state TEXT NOT NULL,
        image TEXT,
        error_code TEXT,
        error_message TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_try_at INTEGER NOT NULL,
        created_at INTEGER NOT NULL
    ) STRICT;
"#,
    // 2: the last dossier and messages the server sent, shown offline with their age.
    r#"
    CREATE TABLE cache (
        name TEXT PRIMARY KEY,
        json TEXT NOT NULL,
        fetched_at INTEGER NOT NULL
    ) STRICT;
"#,
    // 3: the photo's bytes apart from its state, so a state change rewrites a small row and not
    // the 200 KB photo; and the bytes can go once the server has them.
    r#"
    CREATE TABLE item_photos (
        item INTEGER PRIMARY KEY REFERENCES items(id),
        jpeg BLOB NOT NULL
    ) STRICT;
    INSERT INTO item_photos (item, jpeg) SELECT id, jpeg FROM items WHERE state != 'uploaded';
    ALTER TABLE items ADD COLUMN bytes INTEGER NOT NULL DEFAULT 0;
    UPDATE items SET bytes = length(jpeg);
    ALTER TABLE items DROP COLUMN jpeg;
    CREATE TRIGGER forget_photos_sent_or_cancelled AFTER UPDATE OF state ON items
    WHEN NEW.state IN ('uploaded', 'cancelled')
    BEGIN
        DELETE FROM item_photos WHERE item = NEW.id;
    END;
"#,
    // 4: whose each photo is, and whose session the app holds: a photo goes only with its own
    // account's session. Photos queued before (no account) are adopted by the first account the
    // server names (`signed_in`), the one whose session queued them.
    r#"
    ALTER TABLE items ADD COLUMN account TEXT;
    CREATE TABLE account (
        only INTEGER PRIMARY KEY CHECK (only = 1),
        username TEXT NOT NULL
    ) STRICT;
"#,
];

/// The items of the account the queue belongs to now (none of another's; while no account is
/// known, only those queued without one). `IS` so that NULL matches NULL.
const OWN: &str = "account IS (SELECT username FROM account)";

/// The dossier and messages as the server last sent them.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct CachedDossier {
    pub dossier: DossierView,
    pub messages: MessageList,
    #[serde(with = "time::serde::rfc3339")]
    pub fetched_at: OffsetDateTime,
}

impl CachedDossier {
    /// How old the cached copy is, for "updated 3 hours ago".
    pub fn age(&self, now: OffsetDateTime) -> time::Duration {
        now - self.fetched_at
    }
}

/// Backoff before attempt `attempts + 1`: 1 s doubling to at most an hour, with jitter (half to
/// all of it) so a thousand phones coming back online do not retry in step.
pub fn backoff(attempts: u32, jitter: f64) -> Duration {
    let full = (1u64 << attempts.min(12)).min(3600) as f64;
    Duration::from_secs_f64(full * (0.5 + 0.5 * jitter.clamp(0.0, 1.0)))
}

/// Told of every change, so the app's list and its upload notification follow without polling.
/// Called on the thread that made the change; keep it short (post to the UI thread).
pub trait QueueListener: Send + Sync {
    fn item_changed(&self, item: &QueueItem);
    /// `sent` of `total` bytes of item `id` handed to the connection.
    fn upload_progress(&self, _id: i64, _sent: u64, _total: u64) {}
    /// A refresh brought a new dossier and messages (after uploads, a push, the app's start).
    fn dossier_changed(&self, _cached: &CachedDossier) {}
}

type Listeners = Arc<Mutex<Vec<(u64, Arc<dyn QueueListener>)>>>;

/// Keeps a listener subscribed; dropping it unsubscribes.
pub struct Subscription {
    id: u64,
    listeners: Listeners,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.listeners
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(id, _)| *id != self.id);
    }
}

/// What the phone knows about its connection (from the platform's connectivity callbacks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Network {
    Offline,
    /// Mobile data, or a metered hotspot.
    Metered,
    Unmetered,
}

/// When and how fast to drain.
#[derive(Debug, Clone)]
pub struct DrainPolicy {
    pub network: Network,
    /// The user's "upload on Wi-Fi only" preference...
    pub wifi_only: bool,
    /// ...dropped when the upload window closes within this long: a missed deadline costs more
    /// than mobile data.
    pub wifi_only_until_deadline_within: Duration,
    /// The upload window's end, from the dossier.
    pub deadline: Option<OffsetDateTime>,
    /// Uploads at a time.
    pub concurrency: usize,
}

impl Default for DrainPolicy {
    fn default() -> Self {
        DrainPolicy {
            network: Network::Unmetered,
            wifi_only: false,
            wifi_only_until_deadline_within: Duration::from_secs(24 * 3600),
            deadline: None,
            concurrency: 3,
        }
    }
}

impl DrainPolicy {
    /// Why not to drain now, if so.
    pub fn blocked(&self, now: OffsetDateTime) -> Option<DrainOutcome> {
        match self.network {
            Network::Offline => Some(DrainOutcome::WaitingForNetwork),
            Network::Metered if self.wifi_only => {
                let near = self
                    .deadline
                    .is_some_and(|d| d - now <= self.wifi_only_until_deadline_within);
                (!near).then_some(DrainOutcome::WaitingForWifi)
            }
            _ => None,
        }
    }
}

pub struct Queue {
    conn: Mutex<Connection>,
    listeners: Listeners,
    next_listener: std::sync::atomic::AtomicU64,
    /// Raised by `stop`: the runs in progress end (see `drain`).
    stops: tokio::sync::watch::Sender<u64>,
}

fn code_text(code: ErrorCode) -> String {
    serde_json::to_value(code)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

fn text_code(text: &str) -> Option<ErrorCode> {
    serde_json::from_value(serde_json::Value::String(text.to_string())).ok()
}

fn item_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<QueueItem> {
    let uuid = |s: Option<String>| s.and_then(|s| Uuid::parse_str(&s).ok());
    let state: String = r.get(6)?;
    let code: Option<String> = r.get(8)?;
    let message: Option<String> = r.get(9)?;
    let state = match state.as_str() {
        "uploading" => ItemState::Uploading,
        "uploaded" => ItemState::Uploaded {
            image: uuid(r.get(7)?).unwrap_or_default(),
        },
        "held" => ItemState::Held {
            code: code
                .as_deref()
                .and_then(text_code)
                .unwrap_or(ErrorCode::Locked),
            message: message.unwrap_or_default(),
        },
        "attention" => ItemState::NeedsAttention {
            code: code.as_deref().and_then(text_code),
            message: message.unwrap_or_default(),
        },
        "cancelled" => ItemState::Cancelled,
        _ => ItemState::Waiting,
    };
    Ok(QueueItem {
        id: r.get(0)?,
        key: uuid(r.get(1)?).unwrap_or_default(),
        category: r.get(2)?,
        slot: r.get(3)?,
        replaces: uuid(r.get(4)?),
        bytes: r.get(5)?,
        state,
        attempts: r.get(10)?,
        next_try_at: OffsetDateTime::from_unix_timestamp(r.get(11)?)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH),
        created_at: OffsetDateTime::from_unix_timestamp(r.get(12)?)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH),
    })
}

const ITEM_COLUMNS: &str = "id, key, category, slot, replaces, bytes, state, image, error_code, error_message, \
     attempts, next_try_at, created_at";

/// An item being uploaded by a drain; dropped unsettled (the drain's future was dropped), it
/// puts the item back.
struct Claim<'q> {
    queue: &'q Queue,
    id: i64,
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        let _ = self.queue.unclaim(self.id);
    }
}

/// How a drain ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DrainOutcome {
    /// Nothing is waiting any more (all uploaded, held or needing attention).
    Done,
    /// Items wait for a later try (network trouble, server busy); the earliest is due at this time.
    RetryAt(OffsetDateTime),
    /// The session ended: sign in again, then drain again.
    SignInNeeded,
    /// `stop` was called (the app's background time ran out): an upload under way was cut off
    /// and waits again, to be sent under its key by a later run.
    Stopped,
    /// Offline: drain when the network is back.
    WaitingForNetwork,
    /// On mobile data with "Wi-Fi only" set and the deadline not near.
    WaitingForWifi,
}

impl Queue {
    /// Open (or create) the queue at `path`. Items cut off mid-upload go back to waiting.
    pub fn open(path: &Path) -> Result<Queue, QueueError> {
        let mut conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        crate::store::migrate(&mut conn, MIGRATIONS)?;
        conn.execute(
            "UPDATE items SET state = 'waiting' WHERE state = 'uploading'",
            [],
        )?;
        Ok(Queue {
            conn: Mutex::new(conn),
            listeners: Listeners::default(),
            next_listener: Default::default(),
            stops: tokio::sync::watch::channel(0).0,
        })
    }

    /// Subscribe to item changes until the returned handle is dropped.
    pub fn subscribe(&self, listener: Arc<dyn QueueListener>) -> Subscription {
        let id = self
            .next_listener
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.listeners
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((id, listener));
        Subscription {
            id,
            listeners: self.listeners.clone(),
        }
    }

    fn listeners(&self) -> Vec<Arc<dyn QueueListener>> {
        self.listeners
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(_, l)| l.clone())
            .collect()
    }

    /// Tell every listener about item `id` as it is now.
    fn announce(&self, id: i64) -> Result<(), QueueError> {
        let item = self.item(id)?;
        for listener in self.listeners() {
            listener.item_changed(&item);
        }
        Ok(())
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queue a prepared photo; returns once it is on disk, with the idempotency key made now.
    pub fn enqueue(
        &self,
        category: &str,
        jpeg: &[u8],
        slot: Option<u32>,
        replaces: Option<Uuid>,
    ) -> Result<QueueItem, QueueError> {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let key = Uuid::new_v4();
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO items (key, category, slot, replaces, bytes, state, next_try_at, created_at, account)
             VALUES (?1, ?2, ?3, ?4, ?5, 'waiting', ?6, ?6, (SELECT username FROM account))",
            params![key.to_string(), category, slot, replaces.map(|r| r.to_string()), jpeg.len(), now],
        )?;
        let id = tx.last_insert_rowid();
        tx.execute(
            "INSERT INTO item_photos (item, jpeg) VALUES (?1, ?2)",
            params![id, jpeg],
        )?;
        tx.commit()?;
        drop(conn);
        self.announce(id)?;
        self.item(id)
    }

    pub fn item(&self, id: i64) -> Result<QueueItem, QueueError> {
        self.conn()
            .query_row(
                &format!("SELECT {ITEM_COLUMNS} FROM items WHERE id = ?1"),
                [id],
                item_row,
            )
            .optional()?
            .ok_or(QueueError::NotFound(id))
    }

    /// Every item of the account the queue belongs to, oldest first.
    pub fn items(&self) -> Result<Vec<QueueItem>, QueueError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {ITEM_COLUMNS} FROM items WHERE {OWN} ORDER BY id"
        ))?;
        let items = stmt.query_map([], item_row)?.collect::<Result<_, _>>()?;
        Ok(items)
    }

    /// The account the queue belongs to now: the one signed in, if any.
    pub fn account(&self) -> Result<Option<String>, QueueError> {
        Ok(self
            .conn()
            .query_row("SELECT username FROM account", [], |r| r.get(0))
            .optional()?)
    }

    /// `username` signed in: the queue is theirs now. Another account's cached page goes (it is
    /// not theirs to see); another account's photos stay, neither listed nor sent, until that
    /// account signs in again. Photos queued while no account was known become theirs.
    pub fn signed_in(&self, username: &str) -> Result<(), QueueError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let before: Option<String> = tx
            .query_row("SELECT username FROM account", [], |r| r.get(0))
            .optional()?;
        if before.as_deref() != Some(username) {
            tx.execute("DELETE FROM cache", [])?;
            tx.execute(
                "INSERT INTO account (only, username) VALUES (1, ?1)
                 ON CONFLICT(only) DO UPDATE SET username = ?1",
                [username],
            )?;
            tx.execute(
                "UPDATE items SET account = ?1 WHERE account IS NULL",
                [username],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The account signed out: the queue belongs to nobody and the cached page goes. With
    /// `keep_photos` the account's unsent photos stay for its next sign-in (and only its); else
    /// they are deleted with every record of them.
    pub fn signed_out(&self, keep_photos: bool) -> Result<(), QueueError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        if !keep_photos {
            tx.execute(
                &format!(
                    "DELETE FROM item_photos WHERE item IN (SELECT id FROM items WHERE {OWN})"
                ),
                [],
            )?;
            tx.execute(&format!("DELETE FROM items WHERE {OWN}"), [])?;
        }
        tx.execute("DELETE FROM cache", [])?;
        tx.execute("DELETE FROM account", [])?;
        tx.commit()?;
        Ok(())
    }

    /// Stop every run in progress, at once: an upload under way is cut off and its item waits
    /// again (sent under the same key later, so stored once); the runs return `Stopped`. For the
    /// app whose background time is up, since a foreign async call is not dropped when the
    /// caller's task is cancelled (uniffi-rs #2771). Runs started afterwards go on as usual.
    pub fn stop(&self) {
        self.stops.send_modify(|n| *n += 1);
    }

    /// Cancel an item that has not been uploaded.
    pub fn cancel(&self, id: i64) -> Result<(), QueueError> {
        let n = self.conn().execute(
            &format!("UPDATE items SET state = 'cancelled' WHERE id = ?1 AND state != 'uploaded' AND {OWN}"),
            [id],
        )?;
        if n == 0 {
            return Err(QueueError::NotFound(id));
        }
        self.announce(id)
    }

    /// The network is back (the app's connectivity callback): every waiting item is due now.
    pub fn retry_now(&self) -> Result<usize, QueueError> {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        Ok(self.conn().execute(
            "UPDATE items SET next_try_at = ?1 WHERE state = 'waiting'",
            [now],
        )?)
    }

    /// The dossier and messages as last fetched, if ever.
    pub fn cached(&self) -> Result<Option<CachedDossier>, QueueError> {
        let json: Option<String> = self
            .conn()
            .query_row("SELECT json FROM cache WHERE name = 'dossier'", [], |r| {
                r.get(0)
            })
            .optional()?;
        // A cache written by another version that no longer parses is as good as none.
        Ok(json.and_then(|j| serde_json::from_str(&j).ok()))
    }

    /// Fetch the dossier and messages, cache them, reconcile the queue with them and tell the
    /// listeners. Call on start, when a push arrives, and when the user pulls to refresh; `drain`
    /// calls it after uploads.
    pub async fn refresh(&self, client: &Client) -> Result<CachedDossier, QueueError> {
        let (dossier, messages) =
            futures_util::future::join(client.dossier(), client.messages()).await;
        let cached = CachedDossier {
            dossier: dossier?,
            messages: messages?,
            fetched_at: OffsetDateTime::now_utc(),
        };
        // The server says whose session this is; the queue follows (unless it was signed out
        // while the answer was on its way).
        if client.is_signed_in() {
            self.signed_in(&cached.dossier.profile.username)?;
        }
        let changed = self.reconcile(&cached)?;
        for id in changed {
            self.announce(id)?;
        }
        for listener in self.listeners() {
            listener.dossier_changed(&cached);
        }
        Ok(cached)
    }

    /// Store `cached` and bring the queue in line with it, in one transaction; returns the items
    /// that changed.
    fn reconcile(&self, cached: &CachedDossier) -> Result<Vec<i64>, QueueError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO cache (name, json, fetched_at) VALUES ('dossier', ?1, ?2)
             ON CONFLICT(name) DO UPDATE SET json = ?1, fetched_at = ?2",
            params![
                serde_json::to_string(cached).expect("serialisable"),
                cached.fetched_at.unix_timestamp()
            ],
        )?;
        let mut changed = Vec::new();
        // Items in flight are left to the upload that carries them.
        let mut recognise = tx.prepare_cached(
            "UPDATE items SET state = 'uploaded', image = ?2, error_code = NULL, error_message = NULL
             WHERE key = ?1 AND state IN ('waiting', 'held') RETURNING id",
        )?;
        for image in cached.dossier.materials.iter().flat_map(|m| &m.images) {
            let Some(key) = image.upload_key else {
                continue;
            };
            let id: Option<i64> = recognise
                .query_row(params![key.to_string(), image.id.to_string()], |r| r.get(0))
                .optional()?;
            changed.extend(id);
        }
        drop(recognise);
        if cached.dossier.window.state == WindowState::Open {
            let now = cached.fetched_at.unix_timestamp();
            let mut release = tx.prepare_cached(&format!(
                "UPDATE items SET state = 'waiting', next_try_at = ?2
                     WHERE category = ?1 AND state = 'held' AND {OWN} RETURNING id"
            ))?;
            for material in cached.dossier.materials.iter().filter(|m| !m.locked) {
                let ids = release
                    .query_map(params![material.category.code, now], |r| r.get(0))?
                    .collect::<Result<Vec<i64>, _>>()?;
                changed.extend(ids);
            }
        }
        tx.commit()?;
        Ok(changed)
    }

    /// The next waiting item due by `now`, claimed as uploading, with its bytes.
    fn claim_due(&self, now: OffsetDateTime) -> Result<Option<(QueueItem, Vec<u8>)>, QueueError> {
        let conn = self.conn();
        let row: Option<(i64, Vec<u8>)> = conn
            .query_row(
                &format!(
                    "SELECT id, jpeg FROM items JOIN item_photos ON item = id
                     WHERE state = 'waiting' AND next_try_at <= ?1 AND {OWN} ORDER BY id LIMIT 1"
                ),
                [now.unix_timestamp()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((id, jpeg)) = row else {
            return Ok(None);
        };
        conn.execute(
            "UPDATE items SET state = 'uploading', attempts = attempts + 1 WHERE id = ?1",
            [id],
        )?;
        drop(conn);
        self.announce(id)?;
        Ok(Some((self.item(id)?, jpeg)))
    }

    /// An upload that was cut off within this process: waiting again, due now.
    fn unclaim(&self, id: i64) -> Result<(), QueueError> {
        let changed = self.conn().execute(
            "UPDATE items SET state = 'waiting' WHERE id = ?1 AND state = 'uploading'",
            [id],
        )?;
        if changed > 0 {
            self.announce(id)?;
        }
        Ok(())
    }

    fn settle(
        &self,
        item: &QueueItem,
        result: &Result<crate::api::ImageView, ClientError>,
    ) -> Result<(), QueueError> {
        let conn = self.conn();
        match result {
            Ok(view) => {
                conn.execute(
                    "UPDATE items SET state = 'uploaded', image = ?2 WHERE id = ?1",
                    params![item.id, view.id.to_string()],
                )?;
            }
            Err(e) => {
                let code = e.code();
                let (state, next) = match (e.action(), code) {
                    (Action::RetryLater, _) => {
                        let wait = backoff(item.attempts, rand_unit())
                            .max(e.retry_after().unwrap_or_default());
                        ("waiting", OffsetDateTime::now_utc() + wait)
                    }
                    (Action::SignIn, _) => ("waiting", OffsetDateTime::now_utc()),
                    (
                        _,
                        Some(
                            ErrorCode::Locked | ErrorCode::WindowClosed | ErrorCode::WindowNotOpen,
                        ),
                    ) => ("held", OffsetDateTime::now_utc()),
                    _ => ("attention", OffsetDateTime::now_utc()),
                };
                conn.execute(
                    "UPDATE items SET state = ?2, error_code = ?3, error_message = ?4, next_try_at = ?5 WHERE id = ?1",
                    params![item.id, state, code.map(code_text), e.to_string(), next.unix_timestamp()],
                )?;
            }
        }
        drop(conn);
        self.announce(item.id)
    }

    /// Upload every due item, `policy.concurrency` at a time, until none is due, if the network
    /// and the user's preference allow. Safe to call again at any time, from a fresh process too:
    /// keys make every retry land once.
    pub async fn drain(
        &self,
        client: &Client,
        policy: &DrainPolicy,
    ) -> Result<DrainOutcome, QueueError> {
        if let Some(blocked) = policy.blocked(OffsetDateTime::now_utc()) {
            return Ok(blocked);
        }
        if !client.is_signed_in() {
            return Ok(DrainOutcome::SignInNeeded);
        }
        // Only a `stop` after this run began ends it.
        let stops = self.stops.subscribe();
        if self.account()?.is_none() {
            // A session the queue has not been told of (a phone updated from a version without
            // accounts): the server names its account before anything is sent under it.
            let mut stop = stops.clone();
            let asked = tokio::select! {
                asked = self.refresh(client) => asked,
                _ = stop.changed() => return Ok(DrainOutcome::Stopped),
            };
            match asked {
                Ok(_) => {}
                Err(QueueError::Client(e)) if e.action() == Action::SignIn => {
                    return Ok(DrainOutcome::SignInNeeded);
                }
                Err(QueueError::Client(e)) if e.action() == Action::RetryLater => {
                    let wait = backoff(0, rand_unit()).max(e.retry_after().unwrap_or_default());
                    return Ok(DrainOutcome::RetryAt(OffsetDateTime::now_utc() + wait));
                }
                Err(e) => return Err(e),
            }
        }
        let signed_out = std::sync::atomic::AtomicBool::new(false);
        let uploaded = std::sync::atomic::AtomicBool::new(false);
        let stopped = std::sync::atomic::AtomicBool::new(false);
        let worker = || async {
            let mut stops = stops.clone();
            while !signed_out.load(std::sync::atomic::Ordering::Relaxed) {
                if stops.has_changed().unwrap_or(false) {
                    stopped.store(true, std::sync::atomic::Ordering::Relaxed);
                    break;
                }
                let Some((item, jpeg)) = self.claim_due(OffsetDateTime::now_utc())? else {
                    break;
                };
                let request = UploadRequest {
                    category: &item.category,
                    jpeg,
                    idempotency_key: item.key,
                    slot: item.slot,
                    replaces: item.replaces,
                };
                let listeners = self.listeners();
                let id = item.id;
                let progress = Arc::new(move |sent, total| {
                    for listener in &listeners {
                        listener.upload_progress(id, sent, total);
                    }
                });
                // If this future is dropped mid-upload (the app cancelled the run), the item
                // waits again at once instead of staying `uploading` until the queue reopens.
                let claim = Claim {
                    queue: self,
                    id: item.id,
                };
                let result = tokio::select! {
                    result = client.upload_with_progress(&request, progress) => result,
                    _ = stops.changed() => {
                        // The claim is dropped here: the item waits again at once.
                        stopped.store(true, std::sync::atomic::Ordering::Relaxed);
                        break;
                    }
                };
                std::mem::forget(claim);
                self.settle(&item, &result)?;
                if result.is_ok() {
                    uploaded.store(true, std::sync::atomic::Ordering::Relaxed);
                }
                if matches!(&result, Err(e) if e.action() == Action::SignIn) {
                    signed_out.store(true, std::sync::atomic::Ordering::Relaxed);
                }
            }
            Ok::<_, QueueError>(())
        };
        let workers: Vec<_> = (0..policy.concurrency.max(1)).map(|_| worker()).collect();
        for result in futures_util::future::join_all(workers).await {
            result?;
        }
        if signed_out.load(std::sync::atomic::Ordering::Relaxed) {
            return Ok(DrainOutcome::SignInNeeded);
        }
        if stopped.load(std::sync::atomic::Ordering::Relaxed) {
            return Ok(DrainOutcome::Stopped);
        }
        if uploaded.load(std::sync::atomic::Ordering::Relaxed) {
            // Best effort: the uploads are done either way, and a stale cache says its age.
            let _ = self.refresh(client).await;
        }
        let next: Option<i64> = self.conn().query_row(
            &format!("SELECT MIN(next_try_at) FROM items WHERE state = 'waiting' AND {OWN}"),
            [],
            |r| r.get(0),
        )?;
        Ok(match next {
            Some(t) => DrainOutcome::RetryAt(
                OffsetDateTime::from_unix_timestamp(t).unwrap_or(OffsetDateTime::UNIX_EPOCH),
            ),
            None => DrainOutcome::Done,
        })
    }
}

/// A number in [0, 1) for jitter; the clock's nanoseconds are random enough for spreading retries.
fn rand_unit() -> f64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .subsec_nanos();
    (nanos % 1_000_000) as f64 / 1_000_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_from_a_second_to_an_hour_with_jitter() {
        assert_eq!(backoff(0, 1.0), Duration::from_secs(1));
        assert_eq!(backoff(3, 1.0), Duration::from_secs(8));
        assert_eq!(backoff(30, 1.0), Duration::from_secs(3600));
        assert_eq!(backoff(30, 0.0), Duration::from_secs(1800));
    }

    #[test]
    fn wifi_only_yields_when_the_deadline_is_near() {
        let now = OffsetDateTime::now_utc();
        let policy = |network, wifi_only, hours: i64| DrainPolicy {
            network,
            wifi_only,
            deadline: Some(now + time::Duration::hours(hours)),
            ..DrainPolicy::default()
        };
        assert_eq!(
            policy(Network::Offline, false, 100).blocked(now),
            Some(DrainOutcome::WaitingForNetwork)
        );
        assert_eq!(
            policy(Network::Metered, true, 100).blocked(now),
            Some(DrainOutcome::WaitingForWifi)
        );
        assert_eq!(policy(Network::Metered, true, 23).blocked(now), None);
        assert_eq!(policy(Network::Metered, false, 100).blocked(now), None);
        assert_eq!(policy(Network::Unmetered, true, 100).blocked(now), None);
    }

    #[test]
    fn enqueued_items_survive_reopening_and_cut_off_uploads_wait_again() {
        let dir = std::env::temp_dir().join(format!("dossier-queue-{}", Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("queue.sqlite3");
        let queue = Queue::open(&path).unwrap();
        let a = queue.enqueue("id_card", b"jpeg-a", Some(0), None).unwrap();
        let b = queue.enqueue("diploma", b"jpeg-b", None, None).unwrap();
        assert_ne!(a.key, b.key);
        let (claimed, bytes) = queue.claim_due(OffsetDateTime::now_utc()).unwrap().unwrap();
        assert_eq!(
            (claimed.id, bytes.as_slice(), claimed.state.clone()),
            (a.id, &b"jpeg-a"[..], ItemState::Uploading)
        );
        drop(queue); // the app is killed mid-upload
        let queue = Queue::open(&path).unwrap();
        let items = queue.items().unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].state, ItemState::Waiting);
        assert_eq!(
            (items[0].key, items[0].attempts),
            (a.key, 1),
            "same key, so the server stores it once"
        );
        queue.cancel(b.id).unwrap();
        assert_eq!(queue.item(b.id).unwrap().state, ItemState::Cancelled);
        let photos: i64 = queue
            .conn()
            .query_row("SELECT COUNT(*) FROM item_photos", [], |r| r.get(0))
            .unwrap();
        assert_eq!(
            photos, 1,
            "a cancelled item's photo is deleted from the phone"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_queue_from_before_migration_3_keeps_its_photos() {
        let dir = std::env::temp_dir().join(format!("dossier-queue-{}", Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("queue.sqlite3");
        {
            let mut conn = Connection::open(&path).unwrap();
            crate::store::migrate(&mut conn, &MIGRATIONS[..2]).unwrap();
            conn.execute(
                "INSERT INTO items (key, category, jpeg, state, next_try_at, created_at)
                 VALUES (?1, 'diploma', x'ffd8ffd9', 'waiting', 0, 0)",
                [Uuid::new_v4().to_string()],
            )
            .unwrap();
        }
        let queue = Queue::open(&path).unwrap();
        let (item, jpeg) = queue.claim_due(OffsetDateTime::now_utc()).unwrap().unwrap();
        assert_eq!((item.bytes, jpeg), (4, vec![0xff, 0xd8, 0xff, 0xd9]));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
