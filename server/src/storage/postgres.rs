//! PostgreSQL, the metadata store for more than one instance (`database.url = postgres://…`):
//! its numbered migrations, one file each under `server/migrations/postgres/`, applied in order,
//! one transaction each, the version kept in `dossier_schema`. The schema is SQLite's, table for
//! table and column for column (`tests/tests/postgres_schema.rs` holds them to it), so the
//! storage module's statements can serve both.
//!
//! The `postgres` crate (tokio-postgres's blocking client, the same maintainers) rather than sqlx:
//! the store's operations already run as closures on the blocking pool, one connection each, as
//! rusqlite's do; a blocking client keeps that shape, where sqlx would make every one async.

/// The migrations, oldest first. Append; never edit one that has been released.
pub const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/postgres/0001_schema.sql"),
    include_str!("../../migrations/postgres/0002_category_example_last.sql"),
];

/// Any number taken for the migration's lock: instances starting together migrate one at a time.
const MIGRATION_LOCK: i64 = 0x0064_6f73_7369_6572; // "dossier" in ASCII

/// Bring the database to the newest migration; returns the version reached. Safe to run from
/// several instances at once: each migration takes a transaction-scoped advisory lock and reads
/// the version again under it.
pub fn migrate(client: &mut postgres::Client) -> Result<u32, postgres::Error> {
    // Under the lock too: two CREATE TABLE IF NOT EXISTS at once can both try to create it.
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS dossier_schema (
             id BIGINT PRIMARY KEY CHECK (id = 1),
             version BIGINT NOT NULL
         );
         INSERT INTO dossier_schema (id, version) VALUES (1, 0) ON CONFLICT DO NOTHING",
    )?;
    tx.commit()?;
    for (i, sql) in MIGRATIONS.iter().enumerate() {
        let mut tx = client.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
        let current: i64 = tx
            .query_one("SELECT version FROM dossier_schema WHERE id = 1", &[])?
            .get(0);
        if current > i as i64 {
            continue;
        }
        tx.batch_execute(sql)?;
        tx.execute(
            "UPDATE dossier_schema SET version = $1 WHERE id = 1",
            &[&(i as i64 + 1)],
        )?;
        tx.commit()?;
    }
    Ok(MIGRATIONS.len() as u32)
}

/// The version a database is at (0: never migrated).
pub fn version(client: &mut postgres::Client) -> Result<u32, postgres::Error> {
    let exists: bool = client
        .query_one("SELECT to_regclass('dossier_schema') IS NOT NULL", &[])?
        .get(0);
    if !exists {
        return Ok(0);
    }
    let v: i64 = client
        .query_one("SELECT version FROM dossier_schema WHERE id = 1", &[])?
        .get(0);
    Ok(v as u32)
}

/// A statement as the storage module writes it (SQLite's `?1`, `?2`… and bare `?`) with
/// PostgreSQL's `$1`, `$2`…: bare `?` numbered as SQLite numbers it (one past the largest so
/// far), nothing changed inside quotes.
pub fn placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut chars = sql.chars().peekable();
    let (mut largest, mut quote) = (0u32, None::<char>);
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => {
                quote = None;
                out.push(c);
            }
            (Some(_), c) => out.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                out.push(c);
            }
            (None, '?') => {
                let mut digits = String::new();
                while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    digits.push(*d);
                    chars.next();
                }
                let n = digits.parse().unwrap_or(largest + 1);
                largest = largest.max(n);
                out.push('$');
                out.push_str(&n.to_string());
            }
            (None, c) => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::placeholders;

    #[test]
    fn placeholders_are_numbered_as_sqlite_numbers_them() {
        assert_eq!(
            placeholders("SELECT a FROM t WHERE b = ?2 AND c = ?1"),
            "SELECT a FROM t WHERE b = $2 AND c = $1"
        );
        assert_eq!(
            placeholders("x LIKE ? ESCAPE '\\' OR y = ? OR z = ?1 OR w = ?"),
            "x LIKE $1 ESCAPE '\\' OR y = $2 OR z = $1 OR w = $3"
        );
        assert_eq!(
            placeholders("SELECT '?', \"?\" WHERE a = ?"),
            "SELECT '?', \"?\" WHERE a = $1"
        );
    }
}
