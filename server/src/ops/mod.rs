//! What the people who run Dossier need: metrics (`/metrics`), health and readiness, one log line
//! per request with its id, the connection guard against slow clients, and online backups with
//! restore and verify. Load shedding is the database's write gate (`storage::Db`), set from
//! `LimitSettings`.
pub mod backup;
pub mod connections;
pub mod metrics;
pub mod requests;

pub use connections::{ConnectionSettings, GuardedAcceptor};
pub use metrics::Metrics;
pub use requests::Observe;

/// `[limits]`: how many writes may wait for the database's one writer, and how long.
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
}

impl Default for LimitSettings {
    fn default() -> Self {
        LimitSettings {
            max_waiting_writes: 256,
            write_wait_ms: 2000,
            retry_after_secs: 2,
        }
    }
}
