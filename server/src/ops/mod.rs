//! What the people who run Dossier need: metrics (`/metrics`), health and readiness, one log line
//! per request with its id, the connection guard against slow clients, and online backups with
//! restore and verify. Load shedding is the database's write gate (`storage::Db`), set from
//! `LimitSettings`.
pub mod background;
pub mod backup;
pub mod connections;
pub mod copy;
pub mod metrics;
pub mod requests;
pub mod traffic;

pub use connections::{ConnectionSettings, GuardedAcceptor};
pub use metrics::Metrics;
pub use requests::Observe;
pub use traffic::{StepAside, UploadTraffic};

/// `[limits]`: how many writes may wait for the database's one writer, and how long; how large
/// request bodies may be; how many photos are prepared at once; the disk reserve of readiness.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct LimitSettings {
    /// Write transactions waiting or running at once; reads are never limited, so the
    /// candidate's page stays fast during a rush.
    pub max_waiting_writes: usize,
    /// How long a write may wait for a place before it is refused with 503.
    pub write_wait_ms: u64,
    /// The Retry-After of that refusal (the phone's queue waits that long).
    pub retry_after_secs: u64,
    /// Any request body that is not an image (JSON): every field has a documented length, so
    /// a few KB is plenty; a longer body is refused with 413 before it is read.
    pub json_body_bytes: usize,
    /// Image bodies, before each operation's own tighter limit (uploads 200 KB, examples 1 MB,
    /// prepare 32 MB).
    pub image_body_bytes: usize,
    /// Photos being prepared at once (each holds its body, up to 32 MB, and its decode); more
    /// wait up to `write_wait_ms`, then are refused with 503 and Retry-After.
    pub max_prepares: usize,
    /// `/readyz` answers 503 unless the blob store's disk has room for this many more uploads.
    pub ready_reserve_uploads: u64,
}

impl Default for LimitSettings {
    fn default() -> Self {
        LimitSettings {
            max_waiting_writes: 256,
            write_wait_ms: 2000,
            retry_after_secs: 2,
            json_body_bytes: 64 << 10,
            image_body_bytes: crate::http::candidate::PREPARE_LIMIT_BYTES,
            max_prepares: 8,
            ready_reserve_uploads: 64,
        }
    }
}
