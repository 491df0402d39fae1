//! Blobs in a local folder (the default): files named by their SHA-256, written so that a file
//! under its final name is always complete and on disk (temp file, fsync, rename, fsync the
//! directory).
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

use crate::storage::StorageError;

/// Where the blob with this SHA-256 lives under a store's root (also in a backup's copy).
pub fn blob_path(root: &Path, sha256: &str) -> PathBuf {
    root.join(&sha256[..2.min(sha256.len())]).join(sha256)
}

/// The lock file that the sweeper takes exclusively and a backup shares while it copies the
/// blobs its snapshot names (`ops::backup`), so none of those is swept before it is copied.
pub fn lock_file(root: &Path) -> std::io::Result<File> {
    File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(root.join(".lock"))
}

#[derive(Clone)]
pub struct FolderBlobs {
    root: PathBuf,
    /// `put` (shared) and the sweeper's check-and-delete of one file (exclusive) never overlap:
    /// a blob that `put` found or wrote has a fresh mtime before the sweeper looks at it again,
    /// and one the sweeper deleted is written anew by `put`.
    sweeping: Arc<RwLock<()>>,
}

impl FolderBlobs {
    pub fn open(root: &Path) -> Result<FolderBlobs, StorageError> {
        fs::create_dir_all(root.join("tmp"))?;
        Ok(FolderBlobs {
            root: root.to_path_buf(),
            sweeping: Arc::new(RwLock::new(())),
        })
    }

    /// The store at `root` as it is, creating nothing (to read a backup's blobs).
    pub fn at(root: &Path) -> FolderBlobs {
        FolderBlobs {
            root: root.to_path_buf(),
            sweeping: Arc::new(RwLock::new(())),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path_of(&self, sha256: &str) -> PathBuf {
        blob_path(&self.root, sha256)
    }

    /// Store `bytes` durably; returns their SHA-256 (hex). Storing the same bytes twice is one file.
    pub fn put(&self, bytes: &[u8]) -> Result<String, StorageError> {
        self.put_hashed(bytes, hex::encode(Sha256::digest(bytes)))
    }

    /// `put` when the caller has just hashed these very bytes (an upload is hashed on arrival
    /// for its idempotency check; hashing 200 KB again was a measurable share of the rush).
    pub fn put_hashed(&self, bytes: &[u8], sha256: String) -> Result<String, StorageError> {
        debug_assert_eq!(sha256, hex::encode(Sha256::digest(bytes)));
        let dest = self.path_of(&sha256);
        let _no_sweep = self.sweeping.read().unwrap_or_else(|p| p.into_inner());
        if let Ok(existing) = File::options().append(true).open(&dest) {
            // Only complete, synced files ever get their final name. It may be an orphan the
            // sweeper would remove: make it young again, as the row that will name it is coming.
            existing.set_modified(SystemTime::now())?;
            return Ok(sha256);
        }
        let dir = dest.parent().expect("two-level path");
        fs::create_dir_all(dir)?;
        let tmp = self.root.join("tmp").join(uuid::Uuid::new_v4().to_string());
        let result = (|| {
            let mut file = File::create(&tmp)?;
            file.write_all(bytes)?;
            file.sync_all()?;
            drop_from_page_cache(&file);
            fs::rename(&tmp, &dest)?;
            File::open(dir)?.sync_all()
        })();
        if let Err(e) = result {
            let _ = fs::remove_file(&tmp);
            return Err(e.into());
        }
        Ok(sha256)
    }

    /// For `/readyz`: a small file can be written, synced and removed in the store.
    pub fn probe(&self) -> Result<(), StorageError> {
        let tmp = self
            .root
            .join("tmp")
            .join(format!("probe-{}", uuid::Uuid::new_v4()));
        let result = (|| {
            let mut file = File::create(&tmp)?;
            file.write_all(b"ready")?;
            file.sync_all()
        })();
        let _ = fs::remove_file(&tmp);
        result.map_err(StorageError::from)
    }

    /// Bytes free for an unprivileged writer on the store's file system.
    pub fn free_bytes(&self) -> Result<u64, StorageError> {
        use std::os::unix::ffi::OsStrExt;
        let path = std::ffi::CString::new(self.root.as_os_str().as_bytes())
            .map_err(|e| StorageError::Malformed(e.to_string()))?;
        let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
        // SAFETY: a NUL-terminated path and a statvfs the call fills in.
        if unsafe { libc::statvfs(path.as_ptr(), &mut stat) } != 0 {
            return Err(std::io::Error::last_os_error().into());
        }
        Ok(stat.f_bavail as u64 * stat.f_frsize as u64)
    }

    pub fn get(&self, sha256: &str) -> Result<Vec<u8>, StorageError> {
        match fs::read(self.path_of(sha256)) {
            Ok(bytes) => Ok(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(StorageError::NotFound),
            Err(e) => Err(e.into()),
        }
    }

    /// Remove temp files and blobs that no row references (`is_referenced` says), if older than
    /// `grace`: an upload writes its blob before it commits its row, so a young blob without a row
    /// may be one in flight. Returns how many files were removed.
    pub fn sweep(
        &self,
        grace: Duration,
        is_referenced: impl Fn(&str) -> bool,
    ) -> Result<usize, StorageError> {
        // A backup is copying the blobs its snapshot names: sweep next time (`lock_file`).
        let lock = lock_file(&self.root)?;
        if lock.try_lock().is_err() {
            return Ok(0);
        }
        let old = |p: &Path| {
            fs::metadata(p)
                .and_then(|m| m.modified())
                .map(|t| SystemTime::now().duration_since(t).unwrap_or_default() > grace)
                .unwrap_or(false)
        };
        let mut removed = 0;
        for entry in fs::read_dir(self.root.join("tmp"))? {
            let path = entry?.path();
            if old(&path) && fs::remove_file(&path).is_ok() {
                removed += 1;
            }
        }
        for dir in fs::read_dir(&self.root)? {
            let dir = dir?.path();
            if !dir.is_dir() || dir.file_name().is_some_and(|n| n == "tmp") {
                continue;
            }
            for entry in fs::read_dir(&dir)? {
                let path = entry?.path();
                let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                    continue;
                };
                let _exclusive = self.sweeping.write().unwrap_or_else(|p| p.into_inner());
                if old(&path) && !is_referenced(name) && fs::remove_file(&path).is_ok() {
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }
}

/// Let the kernel drop a blob's pages from its page cache once they are on disk. A blob is
/// written once and read rarely (by the reviewers' analysis once, by a reviewer days later), so
/// a rush's gigabytes kept in the cache would only push out what is read again (the database's
/// pages) and leave the kernel to reclaim them later. Dropped at once, the pages go back to the
/// free lists warm and the next blob's write takes them. On a VM whose balloon reports free
/// memory to its host, writing into pages the guest had left free costs a fault in the host for
/// each one: that copy was 60% of a blob's put and 14% of the server's CPU in the rush
/// (docs/deadline-rush.md). Advice only: if it fails, nothing stored changes.
fn drop_from_page_cache(file: &File) {
    #[cfg(target_os = "linux")]
    // SAFETY: an open file's descriptor; the call only advises the kernel about its pages.
    unsafe {
        use std::os::fd::AsRawFd;
        libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = file;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_is_content_addressed_and_sweep_keeps_referenced() {
        let dir = std::env::temp_dir().join(format!("dossier-blobs-{}", uuid::Uuid::new_v4()));
        let store = FolderBlobs::open(&dir).unwrap();
        let a = store.put(b"first").unwrap();
        assert_eq!(store.put(b"first").unwrap(), a);
        let b = store.put(b"second").unwrap();
        assert_eq!(store.get(&a).unwrap(), b"first");
        // An old orphan that is uploaded again becomes young: the sweeper leaves it to its row.
        let old = SystemTime::now() - Duration::from_secs(7200);
        for sha in [&a, &b] {
            File::options()
                .append(true)
                .open(store.path_of(sha))
                .unwrap()
                .set_modified(old)
                .unwrap();
        }
        assert_eq!(store.put(b"second").unwrap(), b);
        assert_eq!(
            store.sweep(Duration::from_secs(3600), |_| false).unwrap(),
            1,
            "only the old orphan goes"
        );
        assert!(matches!(store.get(&a), Err(StorageError::NotFound)));
        assert_eq!(store.get(&b).unwrap(), b"second");
        let removed = store.sweep(Duration::ZERO, |sha| sha == b).unwrap();
        assert_eq!(removed, 0);
        assert!(store.get(&b).is_ok());
        fs::remove_dir_all(dir).unwrap();
    }
}
