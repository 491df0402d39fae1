//! What the server's database and the phone's queue share about SQLite: numbered migrations
//! tracked in `PRAGMA user_version`, one transaction each.
use rusqlite::Connection;

/// Bring the database to the newest of `migrations` (append to them; never edit a released one).
/// Returns the version reached.
pub fn migrate(conn: &mut Connection, migrations: &[&str]) -> rusqlite::Result<u32> {
    let current: u32 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    for (i, sql) in migrations.iter().enumerate().skip(current as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as u32)?;
        tx.commit()?;
    }
    Ok(migrations.len() as u32)
}
