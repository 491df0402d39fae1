//! The blob store: every stored photo's bytes, named by their SHA-256, so storing the same bytes
//! twice is one blob and a put can be repeated safely. Two stores behind one interface, chosen by
//! `blobs.url`: a local folder (the default, `folder`) or an S3-compatible object store
//! (`objects`). Both make a blob durable before the upload's row commits, and both sweep blobs
//! no row names once they are older than a grace period longer than any upload.
//!
//! An enum, not a trait object: the set is closed, and the folder's blocking calls move to the
//! blocking pool here, in one place.
pub mod folder;
pub mod objects;

use std::time::Duration;

use bytes::Bytes;
use sha2::{Digest, Sha256};

pub use folder::{FolderBlobs, blob_path, lock_file};
pub use objects::ObjectBlobs;

use super::StorageError;

#[derive(Clone)]
pub enum BlobStore {
    Folder(FolderBlobs),
    Objects(ObjectBlobs),
}

impl BlobStore {
    /// `s3://bucket/prefix` is an object store (credentials from `AWS_*`, see `ObjectBlobs`);
    /// anything else is a folder (`file://` optional).
    pub fn open(url: &str) -> Result<BlobStore, StorageError> {
        if url.starts_with("s3://") {
            return ObjectBlobs::open(url).map(BlobStore::Objects);
        }
        if let Some((scheme, _)) = url.split_once("://")
            && scheme != "file"
        {
            return Err(StorageError::Malformed(format!(
                "blobs.url {url}: a folder or s3://bucket/prefix"
            )));
        }
        let path = url.strip_prefix("file://").unwrap_or(url);
        FolderBlobs::open(std::path::Path::new(path)).map(BlobStore::Folder)
    }

    /// An object store at `s3://bucket/prefix` configured with `object_store`'s keys over the
    /// environment's (`ObjectBlobs::open_with`).
    pub fn open_s3(url: &str, config: &[(String, String)]) -> Result<BlobStore, StorageError> {
        ObjectBlobs::open_with(url, config).map(BlobStore::Objects)
    }

    /// The folder, for the commands that copy blobs file by file (`backup`, `restore`).
    pub fn folder(&self) -> Option<&FolderBlobs> {
        match self {
            BlobStore::Folder(f) => Some(f),
            BlobStore::Objects(_) => None,
        }
    }

    /// Store `bytes` durably; returns their SHA-256 (hex). `sha256`: the caller has just hashed
    /// these very bytes (an upload is hashed on arrival for its idempotency check; hashing
    /// 200 KB again was a measurable share of the deadline rush).
    pub async fn put(&self, bytes: Bytes, sha256: Option<String>) -> Result<String, StorageError> {
        let sha256 = sha256.unwrap_or_else(|| hex::encode(Sha256::digest(&bytes)));
        match self {
            BlobStore::Folder(f) => {
                let f = f.clone();
                blocking(move || f.put_hashed(&bytes, sha256)).await
            }
            BlobStore::Objects(o) => o.put(bytes, sha256).await,
        }
    }

    /// The bytes of a blob; `NotFound` for a name that is no SHA-256 or no blob.
    pub async fn read(&self, sha256: &str) -> Result<Vec<u8>, StorageError> {
        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(StorageError::NotFound);
        }
        match self {
            BlobStore::Folder(f) => {
                let (f, sha256) = (f.clone(), sha256.to_string());
                blocking(move || f.get(&sha256)).await
            }
            BlobStore::Objects(o) => o.get(sha256).await,
        }
    }

    /// For `/readyz`: a small blob can be written durably and removed.
    pub async fn probe(&self) -> Result<(), StorageError> {
        match self {
            BlobStore::Folder(f) => {
                let f = f.clone();
                blocking(move || f.probe()).await
            }
            BlobStore::Objects(o) => o.probe().await,
        }
    }

    /// Room left for blobs, when the store has a limit it tells (a folder's file system); an
    /// object store answers `None`.
    pub async fn free_bytes(&self) -> Result<Option<u64>, StorageError> {
        match self {
            BlobStore::Folder(f) => {
                let f = f.clone();
                blocking(move || f.free_bytes().map(Some)).await
            }
            BlobStore::Objects(_) => Ok(None),
        }
    }

    /// Remove blobs that no row names (`is_referenced`) and older than `grace`. Returns how many.
    pub async fn sweep(
        &self,
        grace: Duration,
        is_referenced: impl Fn(&str) -> bool + Send + 'static,
    ) -> Result<usize, StorageError> {
        match self {
            BlobStore::Folder(f) => {
                let f = f.clone();
                blocking(move || f.sweep(grace, is_referenced)).await
            }
            BlobStore::Objects(o) => o.sweep(grace, is_referenced).await,
        }
    }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StorageError> + Send + 'static,
) -> Result<T, StorageError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| StorageError::Task(e.to_string()))?
}
