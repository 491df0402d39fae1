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

const DATABASE: &str = "dossier.sqlite3";
const MANIFEST: &str = "backup.json";

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
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

/// The lock the sweeper and backups share (see the module's comment).
pub fn blob_lock(blobs: &Path) -> Result<File, BackupError> {
    let path = blobs.join(".lock");
    File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io(&path))
}

/// Back the data directory up into `dest` (which must not exist or be empty).
pub fn backup(data_dir: &Path, dest: &Path) -> Result<Manifest, BackupError> {
    if dest.exists() && fs::read_dir(dest).map_err(io(dest))?.next().is_some() {
        return Err(BackupError::Refused(format!(
            "{} is not empty",
            dest.display()
        )));
    }
    let blobs_dest = dest.join("blobs");
    fs::create_dir_all(&blobs_dest).map_err(io(&blobs_dest))?;
    let blobs = data_dir.join("blobs");
    let lock = blob_lock(&blobs)?;
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
    let hashes = image_hashes(&copy)?;
    copy.execute_batch("PRAGMA journal_mode=DELETE")?;
    drop(copy);
    File::open(&copy_path)
        .and_then(|f| f.sync_all())
        .map_err(io(&copy_path))?;

    let mut blob_bytes = 0;
    let mut dirs = BTreeSet::new();
    for sha in &hashes {
        let from = blob_path(&blobs, sha);
        let to = blob_path(&blobs_dest, sha);
        let dir = to.parent().expect("two-level path").to_path_buf();
        if dirs.insert(dir.clone()) {
            fs::create_dir_all(&dir).map_err(io(&dir))?;
        }
        if fs::hard_link(&from, &to).is_err() {
            fs::copy(&from, &to).map_err(io(&from))?;
            File::open(&to)
                .and_then(|f| f.sync_all())
                .map_err(io(&to))?;
        }
        blob_bytes += fs::metadata(&to).map_err(io(&to))?.len();
    }
    for dir in dirs.iter().chain([&blobs_dest, &dest.to_path_buf()]) {
        File::open(dir)
            .and_then(|f| f.sync_all())
            .map_err(io(dir))?;
    }
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
    write_synced(
        &dest.join(MANIFEST),
        &serde_json::to_vec_pretty(&manifest).expect("serialisable"),
    )?;
    Ok(manifest)
}

/// Check that every image row's blob is present with its SHA-256, and the database's integrity.
pub fn verify(dir: &Path) -> Result<Verified, BackupError> {
    let conn = Connection::open_with_flags(dir.join(DATABASE), OpenFlags::SQLITE_OPEN_READ_WRITE)?;
    let integrity: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    if integrity != "ok" {
        return Err(BackupError::Damaged(format!(
            "database integrity: {integrity}"
        )));
    }
    let mut verified = Verified {
        images: conn.query_row("SELECT COUNT(*) FROM images", [], |r| r.get(0))?,
        ..Verified::default()
    };
    let blobs = dir.join("blobs");
    for sha in image_hashes(&conn)? {
        verified.blobs += 1;
        match fs::read(blob_path(&blobs, &sha)) {
            Ok(bytes) if hex::encode(Sha256::digest(&bytes)) == sha => {}
            Ok(_) => verified.corrupt.push(sha),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => verified.missing.push(sha),
            Err(e) => return Err(BackupError::Io(sha, e)),
        }
    }
    Ok(verified)
}

/// Restore a verified backup into an empty data directory (the server stopped).
pub fn restore(backup: &Path, data_dir: &Path) -> Result<Verified, BackupError> {
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
    let blobs = data_dir.join("blobs");
    fs::create_dir_all(blobs.join("tmp")).map_err(io(&blobs))?;
    // The database last, under its final name only when complete: a restore cut off midway
    // leaves no database, so it is simply run again.
    let from_blobs = backup.join("blobs");
    for entry in fs::read_dir(&from_blobs).map_err(io(&from_blobs))? {
        let dir = entry.map_err(io(&from_blobs))?.path();
        if !dir.is_dir() {
            continue;
        }
        let to_dir = blobs.join(dir.file_name().expect("named"));
        fs::create_dir_all(&to_dir).map_err(io(&to_dir))?;
        for file in fs::read_dir(&dir).map_err(io(&dir))? {
            let from = file.map_err(io(&dir))?.path();
            let to = to_dir.join(from.file_name().expect("named"));
            if fs::hard_link(&from, &to).is_err() {
                fs::copy(&from, &to).map_err(io(&from))?;
                File::open(&to)
                    .and_then(|f| f.sync_all())
                    .map_err(io(&to))?;
            }
        }
        File::open(&to_dir)
            .and_then(|f| f.sync_all())
            .map_err(io(&to_dir))?;
    }
    let partial = data_dir.join(format!("{DATABASE}.restoring"));
    fs::copy(backup.join(DATABASE), &partial).map_err(io(&partial))?;
    File::open(&partial)
        .and_then(|f| f.sync_all())
        .map_err(io(&partial))?;
    fs::rename(&partial, data_dir.join(DATABASE)).map_err(io(data_dir))?;
    File::open(data_dir)
        .and_then(|f| f.sync_all())
        .map_err(io(data_dir))?;
    Ok(verified)
}

fn image_hashes(conn: &Connection) -> Result<Vec<String>, BackupError> {
    let mut stmt = conn.prepare("SELECT DISTINCT sha256 FROM images ORDER BY sha256")?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn blob_path(root: &Path, sha256: &str) -> PathBuf {
    root.join(&sha256[..2.min(sha256.len())]).join(sha256)
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), BackupError> {
    let mut file = File::create(path).map_err(io(path))?;
    file.write_all(bytes)
        .and_then(|_| file.sync_all())
        .map_err(io(path))
}
