//! Blobs in an S3-compatible object store (MinIO, Ceph, SeaweedFS, Alibaba Cloud OSS, AWS S3)
//! through the `object_store` crate: one object per blob, `PREFIX/ab/abcd…` by its SHA-256, as
//! the folder store names its files. An S3 PUT is atomic and durable when it answers, so a blob
//! is whole before the row that names it commits, as on disk.
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::TryStreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::aws::AmazonS3ConfigKey::Client;
use object_store::path::Path as Key;
use object_store::{BackoffConfig, ClientConfigKey, RetryConfig};
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use time::OffsetDateTime;
use tokio::sync::RwLock;

use crate::storage::StorageError;

#[derive(Clone)]
pub struct ObjectBlobs {
    store: Arc<dyn ObjectStore>,
    /// Where the blobs live in the bucket (may be empty).
    prefix: Key,
    /// `put` (shared) and the sweeper's check-and-delete of one object (exclusive) never
    /// overlap: a PUT always writes (an object store's "touch"), so a blob put while the sweeper
    /// looks is young when it looks again, and one it deleted is written anew.
    sweeping: Arc<RwLock<()>>,
    url: String,
}

impl std::fmt::Debug for ObjectBlobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectBlobs")
            .field("url", &self.url)
            .finish()
    }
}

impl ObjectBlobs {
    /// `s3://bucket/prefix`. Credentials, region and endpoint come from the standard `AWS_*`
    /// environment variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`,
    /// `AWS_ENDPOINT_URL` for a store that is not AWS, `AWS_ALLOW_HTTP=true` for plain http,
    /// `AWS_VIRTUAL_HOSTED_STYLE_REQUEST=true` for a store that wants the bucket in the host
    /// name, as Alibaba Cloud OSS does), never from the settings file.
    pub fn open(url: &str) -> Result<ObjectBlobs, StorageError> {
        ObjectBlobs::open_with(url, &[])
    }

    /// `open`, with `object_store` configuration keys (`aws_endpoint_url`, ...) set over the
    /// environment's (the tests, which share one process environment).
    pub fn open_with(url: &str, config: &[(String, String)]) -> Result<ObjectBlobs, StorageError> {
        let rest = url
            .strip_prefix("s3://")
            .ok_or_else(|| StorageError::Malformed(format!("not an s3:// URL: {url}")))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(StorageError::Malformed(format!(
                "{url} names no bucket (s3://bucket/prefix)"
            )));
        }
        // The TLS of every client here is rustls with ring (`notify`, core's client).
        let _ = rustls::crypto::ring::default_provider().install_default();
        // A photo is 200 KB at most: an answer within seconds or trouble, retried a little
        // (the phone's queue retries the upload itself after the 503's Retry-After). The
        // crate's defaults retry for up to three minutes while a candidate waits.
        let mut builder = AmazonS3Builder::from_env()
            .with_config(Client(ClientConfigKey::ConnectTimeout), "5s")
            .with_config(Client(ClientConfigKey::Timeout), "30s")
            .with_retry(RetryConfig {
                backoff: BackoffConfig::default(),
                max_retries: 3,
                retry_timeout: Duration::from_secs(10),
            });
        for (key, value) in config {
            let key = key
                .parse()
                .map_err(|e| StorageError::Malformed(format!("{key}: {e}")))?;
            builder = builder.with_config(key, value);
        }
        let store = builder
            .with_bucket_name(bucket)
            .build()
            .map_err(|e| StorageError::Malformed(format!("the object store {url}: {e}")))?;
        Ok(ObjectBlobs {
            store: Arc::new(store),
            prefix: Key::from(prefix.trim_matches('/')),
            sweeping: Arc::new(RwLock::new(())),
            url: url.to_string(),
        })
    }

    fn key_of(&self, sha256: &str) -> Key {
        self.prefix
            .clone()
            .join(&sha256[..2.min(sha256.len())])
            .join(sha256)
    }

    pub async fn put(&self, bytes: Bytes, sha256: String) -> Result<String, StorageError> {
        let key = self.key_of(&sha256);
        let _no_sweep = self.sweeping.read().await;
        self.store
            .put(&key, PutPayload::from_bytes(bytes))
            .await
            .map_err(trouble)?;
        Ok(sha256)
    }

    /// Where the sweeper puts a blob it removes, for a sweep's grace period (see `sweep`).
    fn trash_key(&self, sha256: &str) -> Key {
        self.prefix.clone().join(TRASH).join(sha256)
    }

    pub async fn get(&self, sha256: &str) -> Result<Vec<u8>, StorageError> {
        match self.store.get(&self.key_of(sha256)).await {
            Ok(got) => Ok(got.bytes().await.map_err(trouble)?.to_vec()),
            // Swept by another instance in the moment an upload of the same bytes was about to
            // name it (see `sweep`): taken back from the trash.
            Err(object_store::Error::NotFound { .. }) => {
                let trashed = self
                    .store
                    .get(&self.trash_key(sha256))
                    .await
                    .map_err(trouble)?;
                let bytes = trashed.bytes().await.map_err(trouble)?;
                self.store
                    .copy(&self.trash_key(sha256), &self.key_of(sha256))
                    .await
                    .map_err(trouble)?;
                tracing::warn!(
                    sha256,
                    "a swept blob a row names was taken back from the trash"
                );
                Ok(bytes.to_vec())
            }
            Err(e) => Err(trouble(e)),
        }
    }

    /// For `/readyz`: a small object can be written and removed.
    pub async fn probe(&self) -> Result<(), StorageError> {
        let key = self
            .prefix
            .clone()
            .join("tmp")
            .join(format!("probe-{}", uuid::Uuid::new_v4()));
        let put = self
            .store
            .put(&key, PutPayload::from_static(b"ready"))
            .await
            .map_err(trouble);
        let _ = self.store.delete(&key).await;
        put.map(|_| ())
    }

    /// Remove blobs that `is_referenced` does not name and that were last written more than
    /// `grace` ago (an upload writes its blob before it commits its row). Returns how many were
    /// taken out.
    ///
    /// Several instances share the store, and an upload on one may put the very bytes of an
    /// old orphan (refreshing it) between this sweep's last look at its age and its delete, then
    /// commit a row naming it; no lock spans instances and the store has no conditional delete.
    /// So a blob is not deleted but moved to `PREFIX/trash/` and deleted from there a grace
    /// period later, unless a row names it by then: then it goes back (and `get` takes it back
    /// at once if it is read before).
    pub async fn sweep(
        &self,
        grace: Duration,
        is_referenced: impl Fn(&str) -> bool,
    ) -> Result<usize, StorageError> {
        let cutoff = OffsetDateTime::now_utc() - grace;
        let old = |meta: &object_store::ObjectMeta| {
            meta.last_modified.timestamp() < cutoff.unix_timestamp()
        };
        // The trash first: back what a row names now, gone what has waited a grace period.
        let trash = self.prefix.clone().join(TRASH);
        let mut listing = self.store.list(Some(&trash));
        let mut removed = 0;
        while let Some(meta) = listing.try_next().await.map_err(trouble)? {
            let Some(name) = meta.location.filename().map(str::to_string) else {
                continue;
            };
            if is_referenced(&name) {
                self.store
                    .copy(&meta.location, &self.key_of(&name))
                    .await
                    .map_err(trouble)?;
                tracing::warn!(sha256 = name, "a swept blob a row names was put back");
                let _ = self.store.delete(&meta.location).await;
            } else if old(&meta) {
                let _ = self.store.delete(&meta.location).await;
            }
        }
        // One page of the listing at a time: a district holds hundreds of thousands of blobs.
        let mut listing = self.store.list(Some(&self.prefix));
        while let Some(meta) = listing.try_next().await.map_err(trouble)? {
            if !old(&meta) || meta.location.prefix_matches(&trash) {
                continue;
            }
            let Some(name) = meta.location.filename().map(str::to_string) else {
                continue;
            };
            let probe = name.starts_with("probe-");
            if !probe && is_referenced(&name) {
                continue;
            }
            let _exclusive = self.sweeping.write().await;
            // Listed a while ago: written again since (an upload of the same bytes)?
            match self.store.head(&meta.location).await {
                Ok(now) if old(&now) => {}
                _ => continue,
            }
            if !probe {
                // The copy is young: it waits a grace period in the trash.
                self.store
                    .copy(&meta.location, &self.trash_key(&name))
                    .await
                    .map_err(trouble)?;
            }
            if self.store.delete(&meta.location).await.is_ok() {
                removed += 1;
            }
        }
        Ok(removed)
    }
}

/// The sweeper's waiting room, under the prefix (no blob's two-letter folder is this long).
const TRASH: &str = "trash";

/// A missing object is `NotFound`; anything else the store said is trouble with the store
/// (answered 503 with Retry-After, like a failing disk).
fn trouble(e: object_store::Error) -> StorageError {
    match e {
        object_store::Error::NotFound { .. } => StorageError::NotFound,
        other => StorageError::Objects(other.to_string()),
    }
}
