//! What the operators' views read: the review queues' depths and the outbox's backlog, counted
//! from covering indexes at scrape time (no counters to keep in step with the rows).
use rusqlite::Connection;

use super::StorageError;

/// Dossiers per review stage and state (site/district, waiting/claimed/returned...).
pub fn review_depths(conn: &Connection) -> Result<Vec<(String, String, i64)>, StorageError> {
    let mut stmt =
        conn.prepare_cached("SELECT stage, state, COUNT(*) FROM reviews GROUP BY stage, state")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Notifications not yet delivered (pending, sending) and given up (failed), per channel.
pub fn outbox_backlog(conn: &Connection) -> Result<Vec<(String, String, i64)>, StorageError> {
    let mut stmt = conn.prepare_cached(
        "SELECT channel, state, COUNT(*) FROM outbox \
         WHERE state IN ('pending', 'sending', 'failed') GROUP BY channel, state",
    )?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// For `/readyz`: the database answers.
pub fn ping(conn: &Connection) -> Result<(), StorageError> {
    conn.query_row("SELECT 1", [], |_| Ok(()))?;
    Ok(())
}
