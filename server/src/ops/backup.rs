//! Online backup, restore and verify. A backup is a folder: `dossier.sqlite3`, a consistent copy
//! of the live database made with SQLite's online backup API (uploads go on meanwhile; WAL lets
//! the copy read a snapshot), `blobs/` with every image file a row of that copy names (hard-linked
//! when on the same filesystem, as blobs are never changed once written, else copied and synced),
//! and `backup.json` saying what it holds. While a backup copies blobs it holds a shared lock on
//! `blobs/.lock`; the server's sweeper skips a round while it cannot take that lock, so a blob the
//! copy names is never swept before it is copied.
use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use sha2::{Digest, Sha256};

use crate::storage::sql::Conn;
use crate::storage::{self, BlobStore, StorageError, blobs};

pub(crate) const DATABASE: &str = "dossier.sqlite3";
const MANIFEST: &str = "backup.json";

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("{0}")]
    Storage(#[from] crate::storage::StorageError),
    #[error("{0}")]
    Refused(String),
    #[error("the backup is damaged: {0}")]
    Damaged(String),
}

fn io(what: impl AsRef<Path>) -> impl FnOnce(std::io::Error) -> BackupError {
    let what = what.as_ref().display().to_string();
    move |e| BackupError::Io(what, e)
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    pub created_at: String,
    pub schema_version: i64,
    pub images: u64,
    pub blobs: u64,
    pub blob_bytes: u64,
}

/// What `verify` found.
#[derive(Debug, Default)]
pub struct Verified {
    pub images: u64,
    pub blobs: u64,
    pub missing: Vec<String>,
    pub corrupt: Vec<String>,
}

impl Verified {
    pub fn ok(&self) -> bool {
        self.missing.is_empty() && self.corrupt.is_empty()
    }
}

/// Back the data directory's database and the blob folder `blobs` up into `dest` (which must
/// not exist or be empty).
pub fn backup(data_dir: &Path, blobs: &Path, dest: &Path) -> Result<Manifest, BackupError> {
    if dest.exists() && fs::read_dir(dest).map_err(io(dest))?.next().is_some() {
        return Err(BackupError::Refused(format!(
            "{} is not empty",
            dest.display()
        )));
    }
    let blobs_dest = dest.join("blobs");
    fs::create_dir_all(&blobs_dest).map_err(io(&blobs_dest))?;
    let lock = blobs::lock_file(blobs).map_err(io(blobs.join(".lock")))?;
    lock.lock_shared().map_err(io(blobs.join(".lock")))?;

    // The consistent copy, a few hundred pages at a time so the server's writer is never held.
    // Opened as the server opens it (a read-only connection cannot set up WAL's shared memory
    // when the server is stopped); it only reads.
    let source =
        Connection::open_with_flags(data_dir.join(DATABASE), OpenFlags::SQLITE_OPEN_READ_WRITE)?;
    source.busy_timeout(Duration::from_secs(10))?;
    let copy_path = dest.join(DATABASE);
    let mut copy = Connection::open(&copy_path)?;
    rusqlite::backup::Backup::new(&source, &mut copy)?.run_to_completion(
        256,
        Duration::ZERO,
        None,
    )?;
    drop(source);
    let schema_version: i64 = copy.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let images: u64 = copy.query_row("SELECT COUNT(*) FROM images", [], |r| r.get(0))?;
    let hashes = storage::all_image_hashes(&Conn::Sqlite(&copy))?;
    copy.execute_batch("PRAGMA journal_mode=DELETE")?;
    drop(copy);
    sync(&copy_path)?;
    let blob_bytes = copy_blobs(blobs, &blobs_dest, &hashes)?;
    sync(dest)?;
    drop(lock);

    let manifest = Manifest {
        created_at: time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        schema_version,
        images,
        blobs: hashes.len() as u64,
        blob_bytes,
    };
    write_manifest(dest, &manifest)?;
    Ok(manifest)
}

pub(crate) fn write_manifest(dest: &Path, manifest: &Manifest) -> Result<(), BackupError> {
    write_synced(
        &dest.join(MANIFEST),
        &serde_json::to_vec_pretty(manifest).expect("serialisable"),
    )?;
    sync(dest)
}

/// Check a backup: the integrity of its database, and that every image row's blob is present in
/// its `blobs/` with its SHA-256.
pub fn verify(dir: &Path) -> Result<Verified, BackupError> {
    let conn = Connection::open_with_flags(dir.join(DATABASE), OpenFlags::SQLITE_OPEN_READ_WRITE)?;
    let store = BlobStore::Folder(blobs::FolderBlobs::at(&dir.join("blobs")));
    check(&Conn::Sqlite(&conn), &store, &runtime(dir)?)
}

/// Check the live data: the database's integrity and every image row's blob in `store` (a
/// folder or an object store), on either database.
pub fn verify_live(
    db: &crate::storage::Db,
    store: &BlobStore,
    dir: &Path,
) -> Result<Verified, BackupError> {
    verify_live_on(db, store, &runtime(dir)?)
}

/// `verify_live` on a runtime the store has been used on already (an object store's client
/// keeps its connections on the runtime that made them).
pub(crate) fn verify_live_on(
    db: &crate::storage::Db,
    store: &BlobStore,
    runtime: &tokio::runtime::Runtime,
) -> Result<Verified, BackupError> {
    db.blocking_read(|conn| check(conn, store, runtime))
}

fn runtime(dir: &Path) -> Result<tokio::runtime::Runtime, BackupError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(io(dir))
}

fn check(
    conn: &Conn,
    store: &BlobStore,
    runtime: &tokio::runtime::Runtime,
) -> Result<Verified, BackupError> {
    let integrity = storage::ops::integrity(conn)?;
    if integrity != "ok" {
        return Err(BackupError::Damaged(format!(
            "database integrity: {integrity}"
        )));
    }
    let mut verified = Verified {
        images: storage::ops::image_count(conn)?,
        ..Verified::default()
    };
    for sha in storage::all_image_hashes(conn)? {
        verified.blobs += 1;
        match runtime.block_on(store.read(&sha)) {
            Ok(bytes) if hex::encode(Sha256::digest(&bytes)) == sha => {}
            Ok(_) => verified.corrupt.push(sha),
            Err(StorageError::NotFound) => verified.missing.push(sha),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(verified)
}

/// Restore a verified backup into an empty data directory and the blob folder `blobs` (the
/// server stopped).
pub fn restore(backup: &Path, data_dir: &Path, blobs: &Path) -> Result<Verified, BackupError> {
    if data_dir.join(DATABASE).exists() {
        return Err(BackupError::Refused(format!(
            "{} already holds a database; restore into an empty data directory",
            data_dir.display()
        )));
    }
    let verified = verify(backup)?;
    if !verified.ok() {
        return Err(BackupError::Damaged(format!(
            "{} blobs missing, {} corrupt",
            verified.missing.len(),
            verified.corrupt.len()
        )));
    }
    fs::create_dir_all(blobs.join("tmp")).map_err(io(blobs))?;
    // The database last, under its final name only when complete: a restore cut off midway
    // leaves no database, so it is simply run again.
    let hashes =
        storage::all_image_hashes(&Conn::Sqlite(&Connection::open(backup.join(DATABASE))?))?;
    copy_blobs(&backup.join("blobs"), blobs, &hashes)?;
    let partial = data_dir.join(format!("{DATABASE}.restoring"));
    fs::copy(backup.join(DATABASE), &partial).map_err(io(&partial))?;
    sync(&partial)?;
    fs::rename(&partial, data_dir.join(DATABASE)).map_err(io(data_dir))?;
    sync(data_dir)?;
    Ok(verified)
}

/// Copy the named blobs from one store's root to another's: hard links where both are on one
/// filesystem (a blob never changes once written), else copies, synced with their folders.
/// Returns the bytes copied.
fn copy_blobs(from: &Path, to: &Path, hashes: &[String]) -> Result<u64, BackupError> {
    let mut bytes = 0;
    let mut dirs = BTreeSet::new();
    for sha in hashes {
        let (source, target) = (blobs::blob_path(from, sha), blobs::blob_path(to, sha));
        let dir = target.parent().expect("two-level path").to_path_buf();
        if dirs.insert(dir.clone()) {
            fs::create_dir_all(&dir).map_err(io(&dir))?;
        }
        if fs::hard_link(&source, &target).is_err() {
            fs::copy(&source, &target).map_err(io(&source))?;
            sync(&target)?;
        }
        bytes += fs::metadata(&target).map_err(io(&target))?.len();
    }
    for dir in dirs.iter().map(PathBuf::as_path).chain([to]) {
        sync(dir)?;
    }
    Ok(bytes)
}

/// fsync a file or a folder.
fn sync(path: &Path) -> Result<(), BackupError> {
    File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(io(path))
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), BackupError> {
    let mut file = File::create(path).map_err(io(path))?;
    file.write_all(bytes)
        .and_then(|_| file.sync_all())
        .map_err(io(path))
}
