//! The candidate's dossier: what the materials page shows, and the changes a candidate makes
//! (upload, replace, delete, submit), each checked against `dossier_core::domain` inside the same
//! write transaction that applies it, by the server's clock.
use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::Semaphore;

use crate::storage::review as review_storage;
use crate::storage::sql::Conn;
use dossier_core::api::Subject;
use dossier_core::api::review::{ReviewStage, ReviewState};
use dossier_core::api::{
    Category, DossierState, DossierView, ErrorCode, FinalResult, ImageView, MaterialState,
    MaterialView, MessageList, MessageView, Profile, ProfileUpdate, PushTokenRegistration,
    ResultOutcome, ReviewNote, SUBMITTED_TEXT, SubmitReceipt, UploadWindow,
};
use dossier_core::domain::{self, MaterialSummary};
use dossier_core::photo::DocumentKind;
use dossier_core::photo::{self, PhotoSource, PrepareOptions, PreparedPhoto, ValidatedPhoto};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::analysis::{Advice, Roster};
use crate::error::{ApiError, ApiResult};
use crate::storage::{
    self, BlobStore, Candidate, CategoryRow, Db, District, ImageRow, StorageError,
};

#[derive(Clone)]
pub struct Dossiers {
    db: Db,
    blobs: BlobStore,
    advice: Advice,
    /// Checking an upload decodes it (most of an upload's CPU): as many at a time as there are
    /// cores, so a rush of uploads queues here instead of crowding out the candidates' reads.
    checking: Arc<Semaphore>,
    /// Making a photo durable (write, fsync, rename, directory fsync): two per core at a time.
    /// Sixty-four at once gained no throughput in the deadline-rush benchmark and crowded the
    /// file system's journal, so the database's own commits (submit, the page's sessions)
    /// waited behind them: submit's p99 fell from ~400 ms to ~30 ms with the bound.
    storing: Arc<Semaphore>,
    /// Photos being prepared for the web page: each holds up to 32 MB of body while it waits
    /// for a checking turn, so their number bounds that memory. A request waits `wait` for a
    /// place, then is refused with 503 and `retry_after_secs`.
    preparing: Arc<Semaphore>,
    prepare_wait: std::time::Duration,
    retry_after_secs: u64,
}

pub fn image_url(id: Uuid) -> String {
    format!("/api/v1/images/{id}")
}

pub fn example_url(district: &str, category: &str) -> String {
    format!("/api/v1/catalogue/{district}/{category}/example")
}

fn window_of(d: &District, now: OffsetDateTime) -> UploadWindow {
    UploadWindow {
        opens_at: d.upload_opens_at,
        closes_at: d.upload_closes_at,
        state: domain::window_state(d.upload_opens_at, d.upload_closes_at, now),
    }
}

pub(crate) fn category_view(district: &str, c: &CategoryRow) -> Category {
    Category {
        code: c.code.clone(),
        name: c.name.clone(),
        description: c.description.clone(),
        example_url: c.has_example.then(|| example_url(district, &c.code)),
        requirement: c.requirement,
        condition_text: c.condition_text.clone(),
        min_images: c.min_images,
        max_images: c.max_images,
        slot_labels: c.slot_labels.clone(),
        document: c.document,
        subject: c.subject,
    }
}

pub(crate) fn image_view(i: &ImageRow, locked: bool) -> ImageView {
    ImageView {
        id: i.id,
        slot: i.slot,
        url: image_url(i.id),
        thumbnail_url: format!("{}/thumbnail", image_url(i.id)),
        content_type: i.content_type.clone(),
        bytes: i.bytes,
        width: i.width,
        height: i.height,
        sha256: i.sha256.clone(),
        uploaded_at: i.uploaded_at,
        locked,
        upload_key: i.upload_key,
        findings: None,
    }
}

/// The reviewer's note on a returned material, if it has one.
pub(crate) fn note_of(m: &storage::MaterialRow) -> Option<ReviewNote> {
    match (&m.note_reason, &m.note_message, m.note_at) {
        (Some(reason), Some(message), Some(at)) => Some(ReviewNote {
            reason: reason.clone(),
            message: message.clone(),
            at,
        }),
        _ => None,
    }
}

pub fn profile_of(c: &Candidate) -> Profile {
    Profile {
        username: c.username.clone(),
        name: c.name.clone(),
        id_number_masked: domain::mask_id_number(&c.id_number),
        exam_category: c.exam_category.clone(),
        exam_site: c.exam_site.clone(),
        mobile: c.mobile.clone(),
        email: c.email.clone(),
        complete: c.mobile.is_some() && c.email.is_some(),
    }
}

/// The materials as the domain's submit rule sees them.
fn summaries(materials: &[MaterialView]) -> Vec<MaterialSummary<'_>> {
    materials
        .iter()
        .map(|m| MaterialSummary {
            category: &m.category.code,
            required: m.required,
            images: m.images.len() as u32,
            min_images: m.category.min_images,
        })
        .collect()
}

/// Everything the materials page shows, read in one go; with `advice`, the ID cards' findings.
pub fn compose_view(
    conn: &Conn,
    candidate: Uuid,
    now: OffsetDateTime,
    advice: Option<&Advice>,
) -> Result<DossierView, StorageError> {
    let c = storage::candidate_by_id(conn, candidate)?;

    let d = storage::district(conn, &c.district)?;
    let window = window_of(&d, now);
    let attributes = c.rule_attributes();
    let states: HashMap<String, storage::MaterialRow> = storage::materials(conn, candidate)?
        .into_iter()
        .map(|m| (m.category.clone(), m))
        .collect();
    let mut images: HashMap<String, Vec<ImageRow>> = HashMap::new();
    for i in storage::live_images(conn, candidate)? {
        images.entry(i.category.clone()).or_default().push(i);
    }
    let mut materials = Vec::new();
    for cat in storage::categories(conn, &c.district)? {
        let row = states.get(&cat.code);
        let state = row.map_or(MaterialState::Open, |m| m.state);
        let locked = domain::is_locked(state);
        let held = images.remove(&cat.code).unwrap_or_default();
        let note = row.and_then(note_of);
        let mut views: Vec<ImageView> = held.iter().map(|i| image_view(i, locked)).collect();
        // What was read off an ID card (none for submitting, which only checks the counts).
        if let Some(advice) = advice.filter(|_| cat.document == DocumentKind::IdCard) {
            let roster = Roster {
                name: &c.name,
                id_number: &c.id_number,
                whole_numbers: false,
                exam_day: advice.exam_day(),
            };
            advice.annotate(conn, &mut views, cat.document, &roster, None)?;
        }
        materials.push(MaterialView {
            required: domain::required_for(cat.requirement, cat.condition.as_ref(), &attributes),
            can_upload: domain::check_upload(
                window.state,
                state,
                held.len() as u32,
                cat.max_images,
            )
            .is_ok(),
            images: views,
            category: category_view(&c.district, &cat),
            state,
            locked,
            note,
        });
    }
    let summaries = summaries(&materials);
    let missing = domain::missing_required(&summaries);
    let can_submit = domain::check_submit(window.state, c.dossier_state, &summaries).is_ok();
    Ok(DossierView {
        profile: profile_of(&c),
        district_name: d.name,
        window,
        state: c.dossier_state,
        submitted_at: c.submitted_at,
        missing,
        can_submit,
        materials,
        unread_messages: storage::unread_messages(conn, candidate)?,
        result: final_result(conn, candidate, &c.district)?,
        server_time: now,
    })
}

/// The final result, once published.
fn final_result(
    conn: &Conn,
    candidate: Uuid,
    district: &str,
) -> Result<Option<FinalResult>, StorageError> {
    let Some(published_at) = review_storage::results_published_at(conn, district)? else {
        return Ok(None);
    };
    let Some(review) = review_storage::review(conn, candidate)? else {
        return Ok(None);
    };
    let outcome = match (review.stage, review.state) {
        (ReviewStage::Done, ReviewState::Approved) => ResultOutcome::Approved,
        (ReviewStage::Done, ReviewState::NotEligible) => ResultOutcome::NotEligible,
        _ => return Ok(None),
    };
    Ok(Some(FinalResult {
        outcome,
        reason: review.result_reason,
        published_at,
    }))
}

/// An upload as the handler hands it over: validated, with its idempotency key.
pub struct Upload {
    pub candidate: Uuid,
    pub category: String,
    pub slot: Option<u32>,
    pub replaces: Option<Uuid>,
    pub key: Uuid,
    /// SHA-256 of the request body as received: what "same key, same bytes" compares.
    pub request_sha256: String,
}

/// What an upload's check found (`Dossiers::check_upload`).
pub enum Checked {
    /// The key was used before with the same bytes: the first answer, nothing to store.
    Replayed(Box<ImageView>),
    /// A new upload: the photo, validated, to store.
    Fresh(ValidatedPhoto),
}

/// What a stored idempotency key says about a new request with it.
/// The first answer again when the key comes back with the same bytes into the same category;
/// a conflict when the key was used for other bytes or another category (never the first image
/// presented as if stored where it was not).
fn replay(
    stored: Option<storage::IdempotentUpload>,
    request_sha256: &str,
    category: &str,
) -> ApiResult<Option<ImageView>> {
    match stored {
        None => Ok(None),
        Some(s) if s.request_sha256 == request_sha256 && s.category == category => {
            serde_json::from_str(&s.response_json)
                .map(Some)
                .map_err(|e| ApiError::from(StorageError::Malformed(e.to_string())))
        }
        Some(s) if s.request_sha256 == request_sha256 => Err(ApiError::new(
            ErrorCode::IdempotencyConflict,
            format!(
                "this idempotency key was used for a photo in {}",
                s.category
            ),
        )),
        Some(_) => Err(ApiError::new(
            ErrorCode::IdempotencyConflict,
            "this idempotency key was used for a different photo",
        )),
    }
}

impl Dossiers {
    pub fn new(db: Db, blobs: BlobStore, limits: &crate::ops::LimitSettings) -> Dossiers {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Dossiers {
            db,
            blobs,
            checking: Arc::new(Semaphore::new(cores)),
            storing: Arc::new(Semaphore::new(2 * cores)),
            preparing: Arc::new(Semaphore::new(limits.max_prepares.max(1))),
            prepare_wait: std::time::Duration::from_millis(limits.write_wait_ms),
            retry_after_secs: limits.retry_after_secs,
            advice: Advice::default(),
        }
    }

    /// Show the ID-card findings in the candidate's view (see `analysis`).
    pub fn with_advice(mut self, advice: Advice) -> Dossiers {
        self.advice = advice;
        self
    }

    /// A place among the photos being prepared (see `preparing`), held until dropped.
    pub async fn prepare_place(&self) -> ApiResult<tokio::sync::OwnedSemaphorePermit> {
        match tokio::time::timeout(self.prepare_wait, self.preparing.clone().acquire_owned()).await
        {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(ApiError::from(StorageError::Busy {
                retry_after_secs: self.retry_after_secs,
            })),
        }
    }

    /// Check an upload on one checking turn (see `checking`): a key used before answers its
    /// first answer (or a conflict) without decoding anything; otherwise the photo is validated.
    /// One hand-off to the blocking pool for both: the key's lookup was a hand-off of its own
    /// (about 1% of the server's CPU in the deadline rush by the profile; within the runs' spread).
    pub async fn check_upload(&self, upload: &Upload, bytes: Bytes) -> ApiResult<Checked> {
        let db = self.db.clone();
        let (candidate, key) = (upload.candidate, upload.key.to_string());
        let (request_sha256, category) = (upload.request_sha256.clone(), upload.category.clone());
        self.on_checking_turn(move || -> ApiResult<Checked> {
            let stored =
                db.read_on_blocking_pool(move |c| storage::idempotent_upload(c, candidate, &key))?;
            if let Some(first) = replay(stored, &request_sha256, &category)? {
                return Ok(Checked::Replayed(Box::new(first)));
            }
            Ok(Checked::Fresh(photo::validate_owned(bytes)?))
        })
        .await
    }

    /// Run the phone's photo pipeline for the web page: upright, metadata-free, within the
    /// budget, with the legibility warnings. Shares the check's turns (it is heavier still).
    pub async fn prepare_photo(
        &self,
        bytes: impl AsRef<[u8]> + Send + 'static,
        options: PrepareOptions,
    ) -> ApiResult<PreparedPhoto> {
        self.on_checking_turn(move || photo::prepare(PhotoSource::Bytes(bytes.as_ref()), &options))
            .await
    }

    /// A small JPEG of a stored image for lists (`photo::thumbnail`), on the checking turns like
    /// any decode, so requests for thumbnails cannot pile up decodes in memory.
    pub async fn thumbnail(&self, stored: Vec<u8>) -> ApiResult<Vec<u8>> {
        self.on_checking_turn(move || photo::thumbnail(&stored))
            .await
    }

    /// Photo work off the async threads, at most one per core at a time (see `checking`).
    async fn on_checking_turn<T: Send + 'static, E: Into<ApiError> + Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, E> + Send + 'static,
    ) -> ApiResult<T> {
        let _turn = self.checking.acquire().await.expect("never closed");
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?
            .map_err(Into::into)
    }

    pub async fn view(&self, candidate: Uuid, now: OffsetDateTime) -> ApiResult<DossierView> {
        self.db
            .read({
                let advice = self.advice.clone();
                move |c| compose_view(c, candidate, now, Some(&advice))
            })
            .await
            .map_err(ApiError::from)
    }

    /// Store a validated photo: the blob durably first, then the row, in one transaction with the
    /// checks; only then is the upload acknowledged. The same key with the same bytes answers the
    /// first response again and stores nothing twice; with other bytes, 422. (Callers check
    /// with `check_upload` first to skip validating a replay; the transaction checks again for
    /// races.)
    pub async fn upload(
        &self,
        upload: Upload,
        photo: ValidatedPhoto,
        now: OffsetDateTime,
    ) -> ApiResult<ImageView> {
        let blobs = self.blobs.clone();
        let bytes = photo.bytes;
        let (size, content_type, width, height) = (
            bytes.len() as u64,
            photo.format.mime().to_string(),
            photo.width,
            photo.height,
        );
        // A photo from the phone's pipeline is stored as it came: its hash is the request's.
        let known = (!photo.metadata_removed).then(|| upload.request_sha256.clone());
        let _turn = self.storing.acquire().await.expect("never closed");
        let sha256 = blobs.put(bytes, known).await.map_err(ApiError::from)?;
        self.db
            .write(move |tx| {
                let key = upload.key.to_string();
                if let Some(first) = replay(
                    storage::idempotent_upload(tx, upload.candidate, &key)?,
                    &upload.request_sha256,
                    &upload.category,
                )? {
                    return Ok(first);
                }
                let c = storage::candidate_by_id(tx, upload.candidate)?;
                let d = storage::district(tx, &c.district)?;
                let window = domain::window_state(d.upload_opens_at, d.upload_closes_at, now);
                let category =
                    storage::category(tx, &c.district, &upload.category)?.ok_or_else(|| {
                        ApiError::new(
                            ErrorCode::UnknownCategory,
                            format!("no category {:?} in this district", upload.category),
                        )
                    })?;
                let state = storage::material_state(tx, c.id, &category.code)?;
                let mut live: Vec<ImageRow> = storage::live_images(tx, c.id)?
                    .into_iter()
                    .filter(|i| i.category == category.code)
                    .collect();
                let mut slot = upload.slot;
                if let Some(old) = upload.replaces {
                    let position = live
                        .iter()
                        .position(|i| i.id == old)
                        .ok_or_else(ApiError::not_found)?;
                    domain::check_delete(window, state)?;
                    let old = live.remove(position);
                    storage::mark_image_deleted(tx, old.id, now)?;
                    slot = Some(old.slot);
                }
                domain::check_upload(window, state, live.len() as u32, category.max_images)?;
                let taken = |s: u32| live.iter().any(|i| i.slot == s);
                let slot = match slot {
                    Some(s) if s >= category.max_images => {
                        return Err(ApiError::invalid_field(
                            "slot",
                            format!("slot {s} does not exist in this category"),
                        ));
                    }
                    Some(s) if taken(s) => {
                        return Err(ApiError::new(
                            ErrorCode::SlotTaken,
                            format!("slot {s} holds an image; delete or replace it"),
                        ));
                    }
                    Some(s) => s,
                    None => (0..category.max_images)
                        .find(|s| !taken(*s))
                        .expect("a free slot, as the count is below max"),
                };
                let row = ImageRow {
                    id: Uuid::new_v4(),
                    candidate_id: c.id,
                    category: category.code.clone(),
                    slot,
                    sha256,
                    bytes: size,
                    width,
                    height,
                    content_type,
                    uploaded_at: now,
                    deleted_at: None,
                    upload_key: Some(upload.key),
                    submitted_at: None,
                };
                storage::insert_image(tx, &row)?;
                // Read in the background, off the upload's path (see `analysis`): an ID card's
                // fields, and every document's fingerprint.
                if category.subject == Subject::Document {
                    storage::analysis::enqueue(tx, row.id, now)?;
                }
                let view = image_view(&row, false);
                let response = serde_json::to_string(&view).expect("serialisable");
                storage::record_idempotent_upload(
                    tx,
                    c.id,
                    &key,
                    &upload.request_sha256,
                    row.id,
                    &response,
                    now,
                )?;
                Ok(view)
            })
            .await
    }

    /// The minus button: remove an unlocked image (kept for the reviewers' history).
    pub async fn delete_image(
        &self,
        candidate: Uuid,
        image: Uuid,
        now: OffsetDateTime,
    ) -> ApiResult<()> {
        self.db
            .write(move |tx| {
                let i = storage::image(tx, image)?;
                if i.candidate_id != candidate || i.deleted_at.is_some() {
                    return Err(ApiError::not_found());
                }
                let c = storage::candidate_by_id(tx, candidate)?;
                let d = storage::district(tx, &c.district)?;
                let window = domain::window_state(d.upload_opens_at, d.upload_closes_at, now);
                domain::check_delete(window, storage::material_state(tx, candidate, &i.category)?)?;
                storage::mark_image_deleted(tx, image, now)?;
                Ok(())
            })
            .await
    }

    /// The bytes of one of the candidate's own live images.
    pub async fn image_bytes(&self, candidate: Uuid, image: Uuid) -> ApiResult<(Vec<u8>, String)> {
        let row = self
            .db
            .read(move |c| storage::image(c, image))
            .await
            .map_err(ApiError::from)?;
        if row.candidate_id != candidate || row.deleted_at.is_some() {
            return Err(ApiError::not_found());
        }
        let bytes = self.blobs.read(&row.sha256).await?;
        Ok((bytes, row.content_type))
    }

    /// Submit for review (提交审核): every unlocked material locks.
    pub async fn submit(&self, candidate: Uuid, now: OffsetDateTime) -> ApiResult<SubmitReceipt> {
        self.db
            .write(move |tx| {
                let view = compose_view(tx, candidate, now, None)?;
                domain::check_submit(view.window.state, view.state, &summaries(&view.materials))?;
                for m in &view.materials {
                    if matches!(m.state, MaterialState::Open | MaterialState::Returned) {
                        storage::set_material_state(
                            tx,
                            candidate,
                            &m.category.code,
                            MaterialState::Submitted,
                        )?;
                    }
                }
                storage::set_dossier_state(tx, candidate, DossierState::Submitted, Some(now))?;
                storage::mark_images_submitted(tx, candidate, now)?;
                let c = storage::candidate_by_id(tx, candidate)?;
                review_storage::enter_review(tx, candidate, &c.district, &c.exam_site, now)?;
                Ok(SubmitReceipt {
                    state: DossierState::Submitted,
                    submitted_at: now,
                    message: SUBMITTED_TEXT.to_string(),
                })
            })
            .await
    }

    pub async fn messages(&self, candidate: Uuid) -> ApiResult<MessageList> {
        self.db
            .read(move |c| {
                let messages: Vec<MessageView> = storage::messages(c, candidate)?
                    .into_iter()
                    .map(|m| MessageView {
                        id: m.id,
                        kind: m.kind,
                        title: m.title,
                        body: m.body,
                        categories: m.categories,
                        created_at: m.created_at,
                        read: m.read_at.is_some(),
                    })
                    .collect();
                let unread = messages.iter().filter(|m| !m.read).count() as u32;
                Ok::<_, StorageError>(MessageList { messages, unread })
            })
            .await
            .map_err(ApiError::from)
    }

    pub async fn mark_read(
        &self,
        candidate: Uuid,
        message: Uuid,
        now: OffsetDateTime,
    ) -> ApiResult<()> {
        self.db
            .write(move |tx| storage::mark_message_read(tx, candidate, message, now))
            .await
            .map_err(ApiError::from)
    }

    pub async fn profile(&self, candidate: Uuid) -> ApiResult<Profile> {
        self.db
            .read(move |c| storage::candidate_by_id(c, candidate).map(|c| profile_of(&c)))
            .await
            .map_err(ApiError::from)
    }

    /// Personal information (完善个人信息), editable at any time, even after the window.
    pub async fn update_profile(
        &self,
        candidate: Uuid,
        update: ProfileUpdate,
    ) -> ApiResult<Profile> {
        let invalid = |msg| ApiError::new(ErrorCode::InvalidProfile, msg);
        let mobile = update
            .mobile
            .as_deref()
            .map(domain::Mobile::parse)
            .transpose()
            .map_err(invalid)?;
        let email = update
            .email
            .as_deref()
            .map(domain::Email::parse)
            .transpose()
            .map_err(invalid)?;
        self.db
            .write(move |tx| {
                storage::update_profile(
                    tx,
                    candidate,
                    mobile.as_ref().map(domain::Mobile::as_str),
                    email.as_ref().map(domain::Email::as_str),
                )?;
                storage::candidate_by_id(tx, candidate).map(|c| profile_of(&c))
            })
            .await
            .map_err(ApiError::from)
    }

    pub async fn register_push_token(
        &self,
        candidate: Uuid,
        reg: PushTokenRegistration,
        now: OffsetDateTime,
    ) -> ApiResult<()> {
        let token = reg.token.trim().to_string();
        if token.is_empty() || token.len() > 4096 {
            return Err(ApiError::invalid_field(
                "token",
                "the push token is empty or too long",
            ));
        }
        let platform = storage::enum_text(reg.platform);
        self.db
            .write(move |tx| storage::upsert_push_token(tx, candidate, &platform, &token, now))
            .await
            .map_err(ApiError::from)
    }

    pub async fn example(
        &self,
        district: String,
        category: String,
    ) -> ApiResult<(Vec<u8>, String)> {
        self.db
            .read(move |c| storage::category_example(c, &district, &category))
            .await
            .map_err(ApiError::from)
    }

    /// Remove blobs no row refers to (uploads refused after their blob was written, crashes
    /// between blob and row) and stale temp files.
    pub async fn sweep_blobs(&self, grace: std::time::Duration) -> Result<usize, StorageError> {
        let (db, blobs) = (self.db.clone(), self.blobs.clone());
        let referenced: std::collections::HashSet<String> = db
            .read(storage::all_image_hashes)
            .await?
            .into_iter()
            .collect();
        blobs
            .sweep(grace, move |sha| referenced.contains(sha))
            .await
    }
}
