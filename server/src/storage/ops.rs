//! What the operators' views read: the review queues' depths and the outbox's backlog, counted
//! from covering indexes at scrape time (no counters to keep in step with the rows).
use super::sql::Conn;

use super::StorageError;

/// Dossiers per review stage and state (site/district, waiting/claimed/returned...).
pub fn review_depths(conn: &Conn) -> Result<Vec<(String, String, i64)>, StorageError> {
    let mut stmt =
        conn.prepare_cached("SELECT stage, state, COUNT(*) FROM reviews GROUP BY stage, state")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Notifications not yet delivered (pending, sending) and given up (failed), per channel.
pub fn outbox_backlog(conn: &Conn) -> Result<Vec<(String, String, i64)>, StorageError> {
    let mut stmt = conn.prepare_cached(
        "SELECT channel, state, COUNT(*) FROM outbox \
         WHERE state IN ('pending', 'sending', 'failed') GROUP BY channel, state",
    )?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// For `/readyz`: the database answers.
pub fn ping(conn: &Conn) -> Result<(), StorageError> {
    conn.query_row("SELECT 1", [], |_| Ok(()))?;
    Ok(())
}

/// The database's own consistency check: SQLite's `integrity_check` ("ok" when sound). PostgreSQL
/// has no such check short of an extension; its pages carry checksums when the cluster enables
/// them, so "ok".
pub fn integrity(conn: &Conn) -> Result<String, StorageError> {
    if conn.is_postgres() {
        return Ok("ok".into());
    }
    conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))
}

pub fn image_count(conn: &Conn) -> Result<u64, StorageError> {
    conn.query_row("SELECT COUNT(*) FROM images", [], |r| r.get(0))
}
