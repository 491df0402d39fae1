//! Moving a district between stores: every row of every table and every blob a row names, from
//! one database and blob store to another (SQLite or PostgreSQL; a folder or an object store),
//! checked at the end. `copy-to` is this; so are `backup` and `restore` when either side is not
//! the embedded pair (a SQLite file and a blob folder, which they copy file by file).
//!
//! The source is read in one snapshot (a read transaction), so a running server may go on
//! taking uploads; the blobs are copied before the rows that name them, and the rows in one
//! write transaction, so a copy cut off midway leaves the destination without rows (run it
//! again). The destination must hold no district yet.
use futures_util::{StreamExt, TryStreamExt};
use rusqlite::types::Value;

use super::backup::{BackupError, DATABASE, Manifest, Verified, verify_live_on, write_manifest};
use crate::storage::sql::Conn;
use crate::storage::{self, BlobStore, Db, StorageError};

/// Every table, parents before the rows that refer to them (the order the migrations create
/// them; `tests` holds this list to both schemas).
pub const TABLES: &[&str] = &[
    "districts",
    "categories",
    "candidates",
    "staff",
    "staff_sessions",
    "sessions",
    "used_tickets",
    "login_throttle",
    "materials",
    "images",
    "idempotency",
    "messages",
    "outbox",
    "push_tokens",
    "reviews",
    "decisions",
    "audit",
    "audit_head",
    "analyses",
    "document_marks",
    "reused_documents",
];

/// Blobs copied at once (an object store answers each in a round trip).
const PARALLEL_BLOBS: usize = 16;

/// What a copy moved, and the destination's check afterwards.
#[derive(Debug)]
pub struct Copied {
    pub rows: u64,
    pub blobs: u64,
    pub blob_bytes: u64,
    pub verified: Verified,
}

/// Copy everything from `from` to `to` (see the module's comment).
pub fn copy(from: (&Db, &BlobStore), to: (&Db, &BlobStore)) -> Result<Copied, BackupError> {
    let ((from_db, from_blobs), (to_db, to_blobs)) = (from, to);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| BackupError::Io("a runtime for the blobs".into(), e))?;
    let (rows, blobs, blob_bytes) = from_db.blocking_snapshot(|source| {
        let hashes = storage::all_image_hashes(source)?;
        let blob_bytes = runtime.block_on(copy_blobs(from_blobs, to_blobs, &hashes))?;
        let rows = to_db.write_on_this_thread(|dest| copy_rows(source, dest))?;
        Ok::<_, BackupError>((rows, hashes.len() as u64, blob_bytes))
    })?;
    let verified = verify_live_on(to_db, to_blobs, &runtime)?;
    Ok(Copied {
        rows,
        blobs,
        blob_bytes,
        verified,
    })
}

async fn copy_blobs(
    from: &BlobStore,
    to: &BlobStore,
    hashes: &[String],
) -> Result<u64, StorageError> {
    futures_util::stream::iter(hashes)
        .map(|sha| async move {
            let bytes = from.read(sha).await?;
            let n = bytes.len() as u64;
            to.put(bytes.into(), Some(sha.clone())).await?;
            Ok::<_, StorageError>(n)
        })
        .buffer_unordered(PARALLEL_BLOBS)
        .try_fold(0, |total, n| async move { Ok(total + n) })
        .await
}

fn copy_rows(source: &Conn, dest: &Conn) -> Result<u64, BackupError> {
    let held: i64 = dest.query_row(
        "SELECT (SELECT COUNT(*) FROM districts) + (SELECT COUNT(*) FROM candidates)",
        [],
        |r| r.get(0),
    )?;
    if held > 0 {
        return Err(BackupError::Refused(
            "the destination database already holds a district; copy into an empty one".into(),
        ));
    }
    let mut total = 0;
    for table in TABLES {
        let columns = source.columns(table)?;
        let list = columns.join(", ");
        let marks = (1..=columns.len())
            .map(|i| format!("?{i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let insert = format!("INSERT INTO {table} ({list}) VALUES ({marks})");
        // Messages keep their order of arrival (the rowid both databases number them by).
        let order = if *table == "messages" {
            " ORDER BY rowid"
        } else {
            ""
        };
        let (mut copied, mut failed) = (0u64, None);
        source.for_each(&format!("SELECT {list} FROM {table}{order}"), [], |row| {
            let values = (0..columns.len())
                .map(|i| row.get::<_, Value>(i))
                .collect::<rusqlite::Result<Vec<_>>>()?;
            if let Err(e) = dest.execute(&insert, values.as_slice()) {
                failed = Some(e);
                return Ok(false);
            }
            copied += 1;
            Ok(true)
        })?;
        if let Some(e) = failed {
            return Err(e.into());
        }
        let counted: u64 =
            dest.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))?;
        if counted != copied {
            return Err(BackupError::Damaged(format!(
                "{table}: {copied} rows copied, {counted} in the destination"
            )));
        }
        total += copied;
    }
    if dest.is_postgres() {
        // Decisions were copied with their numbers: the next one gets the number after them.
        dest.execute_batch(
            "SELECT setval(pg_get_serial_sequence('decisions', 'id'),
                           COALESCE((SELECT MAX(id) FROM decisions), 0) + 1, false)",
        )?;
    }
    Ok(total)
}

/// `backup DIR` of a deployment that is not the embedded pair: the same folder a backup of the
/// embedded one is (`dossier.sqlite3`, `blobs/`, `backup.json`), made by copying into it, so
/// `verify DIR` and `restore DIR` take either.
pub fn backup(from: (&Db, &BlobStore), dest: &std::path::Path) -> Result<Manifest, BackupError> {
    let refused = |why: String| Err(BackupError::Refused(why));
    if dest.exists()
        && std::fs::read_dir(dest)
            .map_err(|e| BackupError::Io(dest.display().to_string(), e))?
            .next()
            .is_some()
    {
        return refused(format!("{} is not empty", dest.display()));
    }
    let to_blobs = BlobStore::Folder(storage::blobs::FolderBlobs::open(&dest.join("blobs"))?);
    let to_db = Db::open(&dest.join(DATABASE))?;
    let copied = copy(from, (&to_db, &to_blobs))?;
    let schema_version =
        to_db.blocking_read(|c| c.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0)))?;
    drop(to_db);
    // One file, as the embedded backup leaves it (no WAL beside it).
    rusqlite::Connection::open(dest.join(DATABASE))?.execute_batch("PRAGMA journal_mode=DELETE")?;
    let manifest = Manifest {
        created_at: time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        schema_version,
        images: copied.verified.images,
        blobs: copied.blobs,
        blob_bytes: copied.blob_bytes,
    };
    write_manifest(dest, &manifest)?;
    Ok(manifest)
}

/// `restore DIR` into a deployment that is not the embedded pair: the backup verified, then
/// copied into the (empty) database and blob store.
pub fn restore(backup: &std::path::Path, to: (&Db, &BlobStore)) -> Result<Verified, BackupError> {
    let verified = super::backup::verify(backup)?;
    if !verified.ok() {
        return Err(BackupError::Damaged(format!(
            "{} blobs missing, {} corrupt",
            verified.missing.len(),
            verified.corrupt.len()
        )));
    }
    let from_db = Db::open(&backup.join(DATABASE))?;
    let from_blobs = BlobStore::Folder(storage::blobs::FolderBlobs::at(&backup.join("blobs")));
    Ok(copy((&from_db, &from_blobs), to)?.verified)
}
