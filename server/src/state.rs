//! The application's state: storage opened and the use cases built on it, reached by every
//! handler through `Data<&AppState>`.
use std::sync::Arc;
use std::time::Duration;

use crate::admin::Administration;
use crate::analysis::Advice;
use crate::auth::Auth;
use crate::dossier::Dossiers;
use crate::ops::{Metrics, UploadTraffic};
use crate::review::Review;
use crate::settings::Settings;
use crate::staff::StaffAccounts;
use crate::storage::{BlobStore, Db, StorageError};

/// What every handler reaches through `Data<&AppState>`.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub auth: Auth,
    pub dossiers: Dossiers,
    pub staff: StaffAccounts,
    pub review: Review,
    pub admin: Administration,
    pub metrics: Arc<Metrics>,
    pub(crate) blobs: BlobStore,
    /// Whether ID-card analysis runs (see `analysis`).
    pub advice: Advice,
    /// Uploads in flight, which the analysis steps aside for (`ops::traffic`).
    pub uploads: Arc<UploadTraffic>,
    /// `/readyz` needs this much free room for blobs (`limits.ready_reserve_uploads` photos).
    pub(crate) ready_reserve_bytes: u64,
}

impl AppState {
    pub fn open(settings: &Settings) -> Result<AppState, StorageError> {
        std::fs::create_dir_all(&settings.data_dir)?;
        let metrics = Metrics::new();
        let limits = &settings.limits;
        let db = Db::connect(&settings.database_url())?.with_write_limit(
            limits.max_waiting_writes,
            Duration::from_millis(limits.write_wait_ms),
            limits.retry_after_secs,
            metrics.writes_refused.clone(),
        );
        let blobs = BlobStore::open(&settings.blobs_url())?;
        let auth = Auth::new(db.clone(), settings.auth.clone(), metrics.clone());
        let advice = Advice::new(&settings.analysis, settings.analysis.active());
        Ok(AppState {
            staff: StaffAccounts::new(db.clone(), auth.clone()),
            review: Review::new(db.clone(), blobs.clone(), settings.notify.clone())
                .with_advice(advice.clone()),
            admin: Administration::new(db.clone(), settings.notify.clone()),
            auth,
            dossiers: Dossiers::new(db.clone(), blobs.clone(), limits).with_advice(advice.clone()),
            advice,
            uploads: UploadTraffic::new(),
            db,
            metrics,
            blobs,
            ready_reserve_bytes: limits.ready_reserve_uploads
                * dossier_core::photo::UPLOAD_BUDGET_BYTES as u64,
        })
    }
}
