//! SQL of the notification outbox. Rows are written in the transaction of the decision that
//! causes them (`enqueue`), taken by the dispatcher with a lease (`claim_due`), and ended in one
//! of the final states; a row whose lease ran out (its sender died) is taken again.
use rusqlite::params;
use time::OffsetDateTime;
use uuid::Uuid;

use super::sql::Conn;
use super::{Found, StorageError, enum_of, enum_text, from_unix, millis, to_unix, uuid_of};

/// A notification channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Push,
    Sms,
}

/// How a row ended, or that it waits again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboxState {
    Pending,
    Sending,
    Sent,
    /// The candidate read the message before this was due: nothing to tell.
    Skipped,
    /// No push token, no mobile number, or every token was refused as gone.
    NoRecipient,
    /// Refused for good, or still failing after the last attempt.
    Failed,
}

/// Queue a notification of `message`, due at `due` (in the decision's transaction).
pub fn enqueue(
    conn: &Conn,
    candidate: Uuid,
    message: Uuid,
    channel: Channel,
    due: OffsetDateTime,
) -> Result<(), StorageError> {
    conn.execute(
        "INSERT INTO outbox (id, candidate_id, message_id, channel, due_ms, state)
         VALUES (?1, ?2, ?3, ?4, ?5, 'pending')",
        params![
            Uuid::new_v4().to_string(),
            candidate.to_string(),
            message.to_string(),
            enum_text(channel),
            millis(due)
        ],
    )?;
    Ok(())
}

/// A row taken for sending. `id` is the idempotency key every provider is given, the same on
/// every attempt.
#[derive(Debug, Clone)]
pub struct OutboxItem {
    pub id: Uuid,
    pub candidate: Uuid,
    pub message: Uuid,
    pub channel: Channel,
    /// Including this one.
    pub attempts: u32,
}

/// Take up to `limit` due rows, and rows whose sender's lease ran out, leasing them until
/// `lease_until`. The lease is committed before anything is sent.
pub fn claim_due(
    conn: &Conn,
    now: OffsetDateTime,
    lease_until: OffsetDateTime,
    limit: usize,
) -> Result<Vec<OutboxItem>, StorageError> {
    // PostgreSQL, with several instances: rows another transaction holds are skipped, not
    // waited for (the write lock already makes claims one at a time; this keeps a claim from
    // ever blocking on a row whatever takes it). SQLite has one writer and takes the two sets by
    // their indexes.
    let mut stmt = conn.prepare(if conn.is_postgres() {
        "UPDATE outbox SET state = 'sending', lease_until_ms = ?2, attempts = attempts + 1
         WHERE id IN (
             SELECT id FROM outbox
             WHERE (state = 'pending' AND due_ms <= ?1) OR (state = 'sending' AND lease_until_ms <= ?1)
             LIMIT ?3 FOR UPDATE SKIP LOCKED)
         RETURNING id, candidate_id, message_id, channel, attempts"
    } else {
        "UPDATE outbox SET state = 'sending', lease_until_ms = ?2, attempts = attempts + 1
         WHERE id IN (
             SELECT id FROM outbox WHERE state = 'pending' AND due_ms <= ?1
             UNION ALL
             SELECT id FROM outbox WHERE state = 'sending' AND lease_until_ms <= ?1
             LIMIT ?3)
         RETURNING id, candidate_id, message_id, channel, attempts"
    })?;
    let rows = stmt.query_map(
        params![millis(now), millis(lease_until), limit as i64],
        |r| {
            Ok(OutboxItem {
                id: uuid_of(r.get(0)?)?,
                candidate: uuid_of(r.get(1)?)?,
                message: uuid_of(r.get(2)?)?,
                channel: enum_of(r.get(3)?)?,
                attempts: r.get(4)?,
            })
        },
    )?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// At start-up, on SQLite: rows a previous process was sending are due again at once (one
/// dispatcher per database; the providers get the same idempotency key again). Not on
/// PostgreSQL, where other instances may be sending them: their leases run out instead.
pub fn release_leases(conn: &Conn) -> Result<usize, StorageError> {
    conn.execute(
        "UPDATE outbox SET state = 'pending', lease_until_ms = NULL WHERE state = 'sending'",
        [],
    )
}

/// End a row: sent, skipped, no recipient or failed.
pub fn finish(
    conn: &Conn,
    id: Uuid,
    state: OutboxState,
    error: Option<&str>,
    now: OffsetDateTime,
) -> Result<(), StorageError> {
    conn.execute(
        "UPDATE outbox SET state = ?2, lease_until_ms = NULL, last_error = COALESCE(?3, last_error),
             sent_at = CASE WHEN ?2 = 'sent' THEN ?4 ELSE sent_at END
         WHERE id = ?1",
        params![id.to_string(), enum_text(state), error, to_unix(now)],
    )?;
    Ok(())
}

/// Put a row back to wait until `due`. `failed_attempt` false: it was only deferred (the SMS
/// hourly limit), so the attempt it was claimed with is not counted.
pub fn retry_at(
    conn: &Conn,
    id: Uuid,
    due: OffsetDateTime,
    error: Option<&str>,
    failed_attempt: bool,
) -> Result<(), StorageError> {
    conn.execute(
        "UPDATE outbox SET state = 'pending', lease_until_ms = NULL, due_ms = ?2,
             last_error = COALESCE(?3, last_error),
             attempts = attempts - CASE WHEN ?4 THEN 0 ELSE 1 END
         WHERE id = ?1",
        params![id.to_string(), millis(due), error, failed_attempt],
    )?;
    Ok(())
}

/// The SMS of `message` is due now: the push could not reach the candidate.
pub fn sms_now(conn: &Conn, message: Uuid, now: OffsetDateTime) -> Result<(), StorageError> {
    conn.execute(
        "UPDATE outbox SET due_ms = CASE WHEN due_ms < ?2 THEN due_ms ELSE ?2 END
         WHERE message_id = ?1 AND channel = 'sms' AND state = 'pending'",
        params![message.to_string(), millis(now)],
    )?;
    Ok(())
}

/// When the candidate was last sent an SMS.
pub fn last_sms_at(conn: &Conn, candidate: Uuid) -> Result<Option<OffsetDateTime>, StorageError> {
    let at: Option<Option<i64>> = conn
        .query_row(
            "SELECT MAX(sent_at) FROM outbox
             WHERE candidate_id = ?1 AND channel = 'sms' AND state = 'sent'",
            [candidate.to_string()],
            |r| r.get(0),
        )
        .found()?;
    Ok(at.flatten().map(from_unix))
}

/// What a notification says and where it can go.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub title: String,
    pub body: String,
    pub read: bool,
    pub mobile: Option<String>,
    /// 【考区单位名称】 of the district's SMS text.
    pub sms_sign: String,
    /// (platform, token) of the candidate's phones.
    pub tokens: Vec<(String, String)>,
}

pub fn delivery(conn: &Conn, item: &OutboxItem) -> Result<Delivery, StorageError> {
    let (title, body, read, mobile, sms_sign) = conn.query_row(
        "SELECT m.title, m.body, m.read_at IS NOT NULL, c.mobile, d.sms_sign
         FROM messages m JOIN candidates c ON c.id = m.candidate_id
         JOIN districts d ON d.code = c.district
         WHERE m.id = ?1",
        [item.message.to_string()],
        |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, bool>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, String>(4)?,
            ))
        },
    )?;
    let mut stmt = conn.prepare(
        "SELECT platform, token FROM push_tokens WHERE candidate_id = ?1 ORDER BY registered_at DESC",
    )?;
    let tokens = stmt
        .query_map([item.candidate.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(Delivery {
        title,
        body,
        read,
        mobile,
        sms_sign,
        tokens,
    })
}

/// A token the provider says no longer reaches a phone.
pub fn forget_push_token(conn: &Conn, platform: &str, token: &str) -> Result<(), StorageError> {
    conn.execute(
        "DELETE FROM push_tokens WHERE platform = ?1 AND token = ?2",
        params![platform, token],
    )?;
    Ok(())
}
