//! PostgreSQL's schema (server/migrations/postgres/) against SQLite's (the migrations in
//! server/src/storage/migrations.rs), on a real throwaway cluster: the same tables, the same
//! columns in the same order with the same types and nullability, the same indexes, so one set
//! of statements can serve both; every statement of the storage module prepares on it, taking
//! and giving only the value types SQLite's map to; and the migrations run once however many
//! instances start together.
use std::collections::BTreeMap;

use dossier_server::storage::postgres::{MIGRATIONS, migrate, version};
use dossier_tests::postgres_cluster::PostgresCluster;

/// table → [(column, type, not null)]
type Columns = BTreeMap<String, Vec<(String, String, bool)>>;

fn sqlite_schema() -> (Columns, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dossier.sqlite3");
    drop(dossier_server::storage::Db::open(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    let names = |kind: &str| -> Vec<String> {
        let mut names: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = ?1 AND name NOT LIKE 'sqlite_%'")
            .unwrap()
            .query_map([kind], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        names.sort();
        names
    };
    let tables = names("table");
    let mut columns = Columns::new();
    for table in tables {
        let cols = conn
            .prepare(&format!("PRAGMA table_info(\"{table}\")"))
            .unwrap()
            .query_map([], |r| {
                let ty: String = r.get(2)?;
                let pk: i64 = r.get(5)?;
                let not_null: bool = r.get::<_, i64>(3)? == 1 || pk > 0;
                let ty = match ty.as_str() {
                    "INTEGER" => "bigint",
                    "TEXT" => "text",
                    "BLOB" => "bytea",
                    other => panic!("{table}: a column of type {other}"),
                };
                Ok((r.get::<_, String>(1)?, ty.to_string(), not_null))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        columns.insert(table, cols);
    }
    (columns, names("index"))
}

fn postgres_schema(client: &mut postgres::Client) -> (Columns, Vec<String>) {
    let mut columns = Columns::new();
    for row in client
        .query(
            "SELECT table_name::text, column_name::text, data_type::text, is_nullable::text
               FROM information_schema.columns
              WHERE table_schema = 'public' AND table_name <> 'dossier_schema'
              ORDER BY table_name, ordinal_position",
            &[],
        )
        .unwrap()
    {
        columns.entry(row.get(0)).or_default().push((
            row.get(1),
            row.get(2),
            row.get::<_, String>(3) == "NO",
        ));
    }
    // Constraints' own indexes (primary keys, UNIQUE) are SQLite's automatic ones.
    let indexes: Vec<String> = client
        .query(
            "SELECT indexname::text FROM pg_indexes
              WHERE schemaname = 'public' AND indexname NOT LIKE '%\\_pkey'
                AND indexname NOT LIKE '%\\_key' ORDER BY indexname",
            &[],
        )
        .unwrap()
        .into_iter()
        .map(|r| r.get(0))
        .collect();
    (columns, indexes)
}

#[test]
fn postgres_schema_matches_sqlite_and_migrates_once() {
    let cluster = PostgresCluster::start();
    let url = cluster.create_database();
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    assert_eq!(version(&mut client).unwrap(), 0, "a new database is at 0");

    // Three instances starting at once: each migrates, none fails, the schema is made once.
    let racers: Vec<_> = (0..3)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || {
                let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
                migrate(&mut client).unwrap()
            })
        })
        .collect();
    for r in racers {
        assert_eq!(r.join().unwrap(), MIGRATIONS.len() as u32);
    }
    assert_eq!(version(&mut client).unwrap(), MIGRATIONS.len() as u32);
    // Again, later: nothing to do.
    assert_eq!(migrate(&mut client).unwrap(), MIGRATIONS.len() as u32);

    let (sqlite_columns, sqlite_indexes) = sqlite_schema();
    let (pg_columns, pg_indexes) = postgres_schema(&mut client);
    assert_eq!(
        sqlite_columns.keys().collect::<Vec<_>>(),
        pg_columns.keys().collect::<Vec<_>>(),
        "the same tables"
    );
    for (table, columns) in &sqlite_columns {
        // SQLite's implicit rowid is a column of its own on PostgreSQL where a statement
        // orders by it.
        let pg: Vec<_> = pg_columns[table]
            .iter()
            .filter(|(name, _, _)| name != "rowid")
            .cloned()
            .collect();
        assert_eq!(
            columns, &pg,
            "table {table}: the same columns, in order, with the same types and nullability"
        );
    }
    assert_eq!(sqlite_indexes, pg_indexes, "the same indexes");
}

/// The SQL string literals of the storage module's sources: every statement written out whole,
/// its column lists (`{IMAGE_COLUMNS}`) put in; those assembled from other parts at run time are
/// left out, and counted.
fn storage_statements() -> (Vec<(String, String)>, usize) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../server/src/storage");
    let mut found = Vec::new();
    let mut assembled = 0;
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .collect();
    files.sort();
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        // Not the shared statements: SQLite's migrations, and PostgreSQL's own (its migrations,
        // the write lock, the catalogue read by `Conn::columns`).
        if ["migrations.rs", "postgres.rs", "db.rs", "sql.rs"].contains(&name.as_str()) {
            continue;
        }
        let source = std::fs::read_to_string(&path).unwrap();
        // `const COLUMNS: &str = "…"` lists, put into the statements that name them.
        let constants: Vec<(String, String)> = source
            .match_indices("const ")
            .filter_map(|(at, _)| {
                let rest = &source[at + 6..];
                let (name, rest) = rest.split_once(": &str =")?;
                let name = name.trim();
                (name.chars().all(|c| c.is_ascii_uppercase() || c == '_')).then(|| {
                    Some((
                        format!("{{{name}}}"),
                        string_literals(rest).into_iter().next()?,
                    ))
                })?
            })
            .collect();
        for mut literal in string_literals(&source) {
            for (name, value) in &constants {
                literal = literal.replace(name, value);
            }
            let head = literal.trim_start();
            if !["SELECT", "INSERT", "UPDATE", "DELETE", "WITH"]
                .iter()
                .any(|k| head.starts_with(k))
            {
                continue;
            }
            if literal.contains('{') {
                assembled += 1;
                continue;
            }
            found.push((name.clone(), literal));
        }
    }
    (found, assembled)
}

/// Rust's "…" literals in `source`, escapes undone (`\` at a line's end joins the lines).
fn string_literals(source: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = source.chars().peekable();
    let mut in_comment = false;
    let mut previous = ' ';
    while let Some(c) = chars.next() {
        if in_comment {
            if c == '\n' {
                in_comment = false;
            }
            previous = c;
            continue;
        }
        if c == '/' && chars.peek() == Some(&'/') {
            in_comment = true;
            continue;
        }
        // A char literal '"' is not the start of a string.
        if c == '"' && previous != '\'' {
            let mut s = String::new();
            while let Some(c) = chars.next() {
                match c {
                    '"' => break,
                    '\\' => match chars.next() {
                        Some('\n') => {
                            while chars.peek().is_some_and(|c| c.is_whitespace()) {
                                chars.next();
                            }
                        }
                        Some('n') => s.push('\n'),
                        Some('t') => s.push('\t'),
                        Some(other) => s.push(other),
                        None => {}
                    },
                    c => s.push(c),
                }
            }
            out.push(s);
            previous = '"';
            continue;
        }
        previous = c;
    }
    out
}

#[test]
fn every_storage_statement_is_valid_postgresql() {
    let cluster = PostgresCluster::start();
    let url = cluster.create_database();
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    migrate(&mut client).unwrap();
    let (statements, assembled) = storage_statements();
    assert!(
        statements.len() > 80,
        "found {} statements",
        statements.len()
    );
    let failures: Vec<String> = statements
        .iter()
        .filter_map(|(file, sql)| {
            let sql = dossier_server::storage::postgres::placeholders(sql);
            let prepared = client.prepare(&sql);
            if let Ok(p) = &prepared {
                // What SQLite's values become: INTEGER as int8 (int4 where PostgreSQL infers
                // it, bool for a condition), TEXT as text, BLOB as bytea. Nothing else (a
                // SUM's numeric, a timestamp) may reach the store's rows or parameters.
                let types = p.columns().iter().map(|c| c.type_()).chain(p.params());
                let odd: Vec<String> = types
                    .filter(|t| !["int8", "int4", "bool", "text", "bytea"].contains(&t.name()))
                    .map(|t| t.name().to_string())
                    .collect();
                if !odd.is_empty() {
                    return Some(format!("{file}: values of type {odd:?}\n  {sql}"));
                }
            }
            prepared.err().map(|e| {
                format!(
                    "{file}: {}\n  {sql}",
                    e.as_db_error()
                        .map_or(e.to_string(), |d| d.message().to_string())
                )
            })
        })
        .collect();
    eprintln!(
        "{} statements prepared on PostgreSQL, {} assembled at run time not checked here",
        statements.len(),
        assembled
    );
    assert!(
        failures.is_empty(),
        "not valid PostgreSQL:\n{}",
        failures.join("\n")
    );
}
