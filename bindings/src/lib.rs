//! UniFFI bindings of dossier-core for the Android and iOS shells. Thin: every object wraps a core
//! type and decides nothing; the records are the screens' views of core's types, converted in one
//! place; errors are one public enum with the cases an app acts on.
//!
//! - `prepare_photo(path, document)`: the photo pipeline, from a path the app gives (a 50 MB photo
//!   never crosses the boundary; the ≤200 KB result does).
//! - `DossierApp`: the signed-in client and the persistent upload queue (enqueue, run, cancel,
//!   items, subscribe), the materials page, messages, submit, sign-in and activation.
//! - Foreign traits the app implements: `TokenStorage` (Keystore / Keychain) and `QueueEvents`.
//!   `subscribe` returns a `Subscription` that unsubscribes when the app drops it.
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use dossier_core::api::{
    ActivationRequest, DocumentKind, DossierState, ErrorCode, MaterialState, MessageKind,
    SessionGrant, Subject, WindowState,
};
use dossier_core::client::{Action, Client, ClientError, Entry, TokenStore, Tokens};
use dossier_core::photo::{self, PhotoError, PhotoSource, PrepareOptions};
use dossier_core::queue::{
    self, CachedDossier, DrainOutcome, DrainPolicy, ItemState, Network, Queue, QueueError,
    QueueItem, QueueListener,
};
use uuid::Uuid;

uniffi::setup_scaffolding!();

// ---------------------------------------------------------------------------------------------
// Errors

/// What went wrong, by what the app does about it.
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum DossierError {
    /// No connection, or the server busy: the queue retries by itself; a screen may offer "retry".
    #[error("network: {reason}")]
    Network {
        reason: String,
        retry_after_secs: Option<u64>,
    },
    /// The session ended: show the sign-in screen.
    #[error("sign in again: {reason}")]
    SignedOut { reason: String },
    /// The material or the dossier cannot change now (locked, submitted, outside the upload
    /// window): show the message; it changes when a reviewer returns it or the window opens.
    #[error("locked: {reason}")]
    Locked { code: String, reason: String },
    /// The server refused for a reason the candidate fixes (missing required materials, count
    /// reached, wrong password...): show the message. `code` is the server's machine code.
    #[error("{reason}")]
    Refused { code: String, reason: String },
    /// The photo cannot be used (not an image, HEIC, damaged, too large): `code` as the server's.
    #[error("{reason}")]
    InvalidPhoto { code: String, reason: String },
    /// The phone's own storage failed.
    #[error("storage: {reason}")]
    Storage { reason: String },
    /// A request the app should never have made: report it.
    #[error("bug: {reason}")]
    Bug { reason: String },
}

fn code_text(code: ErrorCode) -> String {
    code.name()
}

impl From<ClientError> for DossierError {
    fn from(e: ClientError) -> Self {
        let reason = e.to_string();
        match (e.action(), e.code()) {
            (Action::RetryLater, _) => DossierError::Network {
                retry_after_secs: e.retry_after().map(|d| d.as_secs()),
                reason,
            },
            (Action::SignIn, _) => DossierError::SignedOut { reason },
            (
                Action::UserAction,
                Some(
                    code @ (ErrorCode::Locked | ErrorCode::WindowClosed | ErrorCode::WindowNotOpen),
                ),
            ) => DossierError::Locked {
                code: code_text(code),
                reason,
            },
            (Action::UserAction, Some(code @ ErrorCode::InvalidPhoto)) => {
                DossierError::InvalidPhoto {
                    code: code_text(code),
                    reason,
                }
            }
            (Action::UserAction, code) => DossierError::Refused {
                code: code.map(code_text).unwrap_or_default(),
                reason,
            },
            (Action::Bug, _) => DossierError::Bug { reason },
        }
    }
}

impl From<QueueError> for DossierError {
    fn from(e: QueueError) -> Self {
        match e {
            QueueError::Client(e) => e.into(),
            QueueError::NotFound(id) => DossierError::Bug {
                reason: format!("no queued item {id}"),
            },
            QueueError::Storage(e) => DossierError::Storage {
                reason: e.to_string(),
            },
        }
    }
}

impl From<PhotoError> for DossierError {
    fn from(e: PhotoError) -> Self {
        DossierError::InvalidPhoto {
            code: e.code().into(),
            reason: e.to_string(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The photo pipeline

/// What the photo shows, for the legibility check's resolution threshold.
#[derive(Debug, Clone, Copy, uniffi::Enum)]
pub enum Document {
    IdCard,
    A4,
}

/// A point of the photo as shown upright (EXIF applied), in fractions 0..1 of its width and
/// height.
#[derive(Debug, Clone, Copy, PartialEq, uniffi::Record)]
pub struct Corner {
    pub x: f32,
    pub y: f32,
}

/// How to frame the photo.
#[derive(Debug, Clone, PartialEq, uniffi::Enum)]
pub enum Framing {
    /// Find the document's page and flatten it when its outline is clear (the default).
    FindPage,
    /// Keep the whole photo (the candidate's choice).
    WholeFrame,
    /// A photo of a person (本人手持身份证): the whole photo, turned by EXIF only.
    Person,
    /// Flatten inside these corners (moved by the candidate): top-left, top-right,
    /// bottom-right, bottom-left.
    Corners { corners: Vec<Corner> },
}

/// An upload-ready photo: upright, metadata-free, within the district's 200 KB.
#[derive(Debug, Clone, uniffi::Record)]
pub struct PreparedPhoto {
    pub jpeg: Vec<u8>,
    pub width: u32,
    pub height: u32,
    pub quality: u8,
    /// The EXIF orientation (1-8) that was applied.
    pub source_orientation: u16,
    pub source_bytes: u64,
    /// Warn before upload: `blurry`, `too_dark`, `washed_out`, `too_small`.
    pub warnings: Vec<String>,
    /// The page's corners (top-left, top-right, bottom-right, bottom-left) found or given, to
    /// draw on the photo; also an unsure outline with `none` and `whole_frame`, so the candidate
    /// can take it up. Empty when no outline was seen. Corners given come back renamed from the
    /// top-left of the photo as shown.
    pub page_corners: Vec<Corner>,
    /// `found`, `given`, `none` (no clear outline: the whole photo kept) or `whole_frame`.
    pub page: String,
    /// How clearly the outline showed, 0..1.
    pub page_confidence: f32,
    /// Degrees (0, 90, 180, 270) the result was turned clockwise because its text showed it
    /// sideways or upside down.
    pub turned_degrees: u16,
    /// Size of the upright source photo in pixels, for drawing the corners over it.
    pub frame_width: u32,
    pub frame_height: u32,
}

/// Prepare the photo at `path` (JPEG or PNG from the camera or the gallery).
#[uniffi::export]
pub fn prepare_photo(
    path: String,
    document: Document,
    framing: Framing,
) -> Result<PreparedPhoto, DossierError> {
    let framing = match framing {
        Framing::FindPage => photo::Framing::FindPage,
        Framing::WholeFrame => photo::Framing::WholeFrame,
        Framing::Person => photo::Framing::Person,
        Framing::Corners { corners } => {
            let quad: [Corner; 4] = corners
                .try_into()
                .map_err(|_| DossierError::from(PhotoError::InvalidCorners))?;
            photo::Framing::Corners(photo::Quad(quad.map(|c| photo::Point { x: c.x, y: c.y })))
        }
    };
    let options = PrepareOptions {
        document: match document {
            Document::IdCard => DocumentKind::IdCard,
            Document::A4 => DocumentKind::A4,
        },
        framing,
        ..PrepareOptions::default()
    };
    let p = photo::prepare(PhotoSource::Path(Path::new(&path)), &options)?;
    let page = &p.page;
    Ok(PreparedPhoto {
        width: p.width,
        height: p.height,
        quality: p.quality,
        source_orientation: p.source.orientation,
        source_bytes: p.source.bytes,
        warnings: p.checks.warnings.iter().map(|w| w.code().into()).collect(),
        page_corners: page.corners.map_or_else(Vec::new, |q| {
            q.0.iter().map(|c| Corner { x: c.x, y: c.y }).collect()
        }),
        page: page.framing.code().into(),
        page_confidence: page.confidence,
        turned_degrees: page.turned,
        frame_width: page.frame_width,
        frame_height: page.frame_height,
        jpeg: p.jpeg,
    })
}

// ---------------------------------------------------------------------------------------------
// Foreign traits

/// The session's tokens as the app keeps them (Android Keystore, iOS Keychain).
#[derive(Debug, Clone, uniffi::Record)]
pub struct StoredTokens {
    pub access_token: String,
    pub access_expires_at: SystemTime,
    pub refresh_token: String,
}

/// Where the app keeps the session between runs.
#[uniffi::export(with_foreign)]
pub trait TokenStorage: Send + Sync {
    fn load(&self) -> Option<StoredTokens>;
    fn save(&self, tokens: StoredTokens);
    fn clear(&self);
}

struct ForeignTokens(Arc<dyn TokenStorage>);

impl TokenStore for ForeignTokens {
    fn load(&self) -> Option<Tokens> {
        self.0.load().map(|t| Tokens {
            access_token: t.access_token,
            access_expires_at: t.access_expires_at.into(),
            refresh_token: t.refresh_token,
        })
    }
    fn save(&self, tokens: &Tokens) {
        self.0.save(StoredTokens {
            access_token: tokens.access_token.clone(),
            access_expires_at: tokens.access_expires_at.into(),
            refresh_token: tokens.refresh_token.clone(),
        })
    }
    fn clear(&self) {
        self.0.clear()
    }
}

/// A queued photo as the app lists it.
#[derive(Debug, Clone, uniffi::Record)]
pub struct QueuedPhoto {
    pub id: i64,
    pub category: String,
    pub slot: Option<u32>,
    pub bytes: u64,
    pub state: QueuedState,
    pub attempts: u32,
}

#[derive(Debug, Clone, uniffi::Enum)]
pub enum QueuedState {
    Waiting,
    Uploading,
    Uploaded {
        image_id: String,
    },
    /// Kept, not retried, until the material opens again (returned, window opened).
    Held {
        code: String,
        message: String,
    },
    /// Refused for good: the candidate must act (count reached, not a valid photo).
    NeedsAttention {
        code: Option<String>,
        message: String,
    },
    Cancelled,
}

fn queued(item: &QueueItem) -> QueuedPhoto {
    QueuedPhoto {
        id: item.id,
        category: item.category.clone(),
        slot: item.slot,
        bytes: item.bytes,
        attempts: item.attempts,
        state: match &item.state {
            ItemState::Waiting => QueuedState::Waiting,
            ItemState::Uploading => QueuedState::Uploading,
            ItemState::Uploaded { image } => QueuedState::Uploaded {
                image_id: image.to_string(),
            },
            ItemState::Held { code, message } => QueuedState::Held {
                code: code_text(*code),
                message: message.clone(),
            },
            ItemState::NeedsAttention { code, message } => QueuedState::NeedsAttention {
                code: code.map(code_text),
                message: message.clone(),
            },
            ItemState::Cancelled => QueuedState::Cancelled,
        },
    }
}

/// Told of every change of the queue; called on the thread that made it (post to the UI thread).
#[uniffi::export(with_foreign)]
pub trait QueueEvents: Send + Sync {
    fn photo_changed(&self, photo: QueuedPhoto);
    fn upload_progress(&self, id: i64, sent: u64, total: u64);
    /// A refresh brought a new materials page and messages.
    fn dossier_changed(&self, page: DossierPage);
}

struct ForeignEvents {
    events: Arc<dyn QueueEvents>,
    /// To make the example images' paths into URLs.
    base_url: String,
}

impl QueueListener for ForeignEvents {
    fn item_changed(&self, item: &QueueItem) {
        self.events.photo_changed(queued(item))
    }
    fn upload_progress(&self, id: i64, sent: u64, total: u64) {
        self.events.upload_progress(id, sent, total)
    }
    fn dossier_changed(&self, cached: &CachedDossier) {
        self.events.dossier_changed(page(cached, &self.base_url))
    }
}

/// Keeps a `QueueEvents` subscribed; `close()` (Kotlin's `AutoCloseable`, or the object's
/// release in Swift) unsubscribes.
#[derive(uniffi::Object)]
pub struct Subscription(#[allow(dead_code)] queue::Subscription);

// ---------------------------------------------------------------------------------------------
// The materials page

#[derive(Debug, Clone, Copy, uniffi::Enum)]
pub enum DossierStatus {
    Draft,
    Submitted,
    Returned,
}

#[derive(Debug, Clone, Copy, uniffi::Enum)]
pub enum MaterialStatus {
    Open,
    Submitted,
    Returned,
    Approved,
}

#[derive(Debug, Clone, Copy, uniffi::Enum)]
pub enum WindowStatus {
    NotYetOpen,
    Open,
    Closed,
}

/// One material category with its images, as the materials list shows it.
#[derive(Debug, Clone, uniffi::Record)]
pub struct MaterialCard {
    pub category: String,
    pub name: String,
    pub description: String,
    pub status: MaterialStatus,
    pub locked: bool,
    pub required: bool,
    pub can_upload: bool,
    /// Who must upload it, when that depends on the candidate ("必传：临床类别考生").
    pub condition: Option<String>,
    pub min_images: u32,
    pub max_images: u32,
    /// The slots' names when they differ (ID card: front, back).
    pub slot_labels: Vec<String>,
    /// The example image (示例), a full URL on the district's server.
    pub example_url: Option<String>,
    pub images: Vec<SlotImage>,
    /// The reviewer's message when returned.
    pub note: Option<String>,
    /// The document photographed, for `prepare_photo`.
    pub document: Document,
    /// A photo of the candidate (本人手持身份证): prepare with `Framing::Person`, never cropped.
    pub whole_frame: bool,
}

/// An uploaded image in its slot; `image(id)` fetches its bytes for the thumbnail.
#[derive(Debug, Clone, uniffi::Record)]
pub struct SlotImage {
    pub id: String,
    /// 0-based slot within the category.
    pub slot: u32,
    pub locked: bool,
    pub bytes: u64,
}

/// The materials page (报名材料上传), as last fetched.
#[derive(Debug, Clone, uniffi::Record)]
pub struct DossierPage {
    pub district_name: String,
    pub status: DossierStatus,
    pub window: WindowStatus,
    pub upload_closes_at: SystemTime,
    pub can_submit: bool,
    /// Required categories still short of images.
    pub missing: Vec<String>,
    pub materials: Vec<MaterialCard>,
    pub unread_messages: u32,
    /// When the server sent it (shown offline as its age).
    pub fetched_at: SystemTime,
}

fn page(cached: &CachedDossier, base_url: &str) -> DossierPage {
    let d = &cached.dossier;
    DossierPage {
        district_name: d.district_name.clone(),
        status: match d.state {
            DossierState::Draft => DossierStatus::Draft,
            DossierState::Submitted => DossierStatus::Submitted,
            DossierState::Returned => DossierStatus::Returned,
        },
        window: match d.window.state {
            WindowState::NotYetOpen => WindowStatus::NotYetOpen,
            WindowState::Open => WindowStatus::Open,
            WindowState::Closed => WindowStatus::Closed,
        },
        upload_closes_at: d.window.closes_at.into(),
        can_submit: d.can_submit,
        missing: d.missing.clone(),
        unread_messages: d.unread_messages,
        fetched_at: cached.fetched_at.into(),
        materials: d
            .materials
            .iter()
            .map(|m| MaterialCard {
                category: m.category.code.clone(),
                name: m.category.name.clone(),
                description: m.category.description.clone(),
                status: match m.state {
                    MaterialState::Open => MaterialStatus::Open,
                    MaterialState::Submitted => MaterialStatus::Submitted,
                    MaterialState::Returned => MaterialStatus::Returned,
                    MaterialState::Approved => MaterialStatus::Approved,
                },
                locked: m.locked,
                required: m.required,
                can_upload: m.can_upload,
                condition: m.category.condition_text.clone(),
                min_images: m.category.min_images,
                max_images: m.category.max_images,
                slot_labels: m.category.slot_labels.clone(),
                document: match m.category.document {
                    DocumentKind::IdCard => Document::IdCard,
                    DocumentKind::A4 => Document::A4,
                },
                whole_frame: m.category.subject == Subject::Person,
                example_url: m
                    .category
                    .example_url
                    .as_ref()
                    .map(|path| format!("{base_url}{path}")),
                images: m
                    .images
                    .iter()
                    .map(|i| SlotImage {
                        id: i.id.to_string(),
                        slot: i.slot,
                        locked: i.locked,
                        bytes: i.bytes,
                    })
                    .collect(),
                note: m.note.as_ref().map(|n| n.message.clone()),
            })
            .collect(),
    }
}

#[derive(Debug, Clone, Copy, uniffi::Enum)]
pub enum MessageType {
    Returned,
    Pending,
    Result,
    Notice,
}

#[derive(Debug, Clone, uniffi::Record)]
pub struct Message {
    pub id: String,
    pub kind: MessageType,
    pub title: String,
    pub body: String,
    pub categories: Vec<String>,
    pub created_at: SystemTime,
    pub read: bool,
}

// ---------------------------------------------------------------------------------------------
// The app's session and queue

/// What the phone knows of its connection, from the platform's connectivity callbacks.
#[derive(Debug, Clone, Copy, uniffi::Enum)]
pub enum Connection {
    Offline,
    Metered,
    Unmetered,
}

/// How a run of the queue ended.
#[derive(Debug, Clone, uniffi::Enum)]
pub enum RunOutcome {
    /// Nothing waits any more.
    Done,
    /// Items wait for a later try; schedule the next run then.
    RetryAt {
        at: SystemTime,
    },
    SignInNeeded,
    WaitingForNetwork,
    WaitingForWifi,
    /// `stop_queue` ended it: the upload under way waits again; run again when there is time.
    Stopped,
}

/// The first entry from the registration site's link needs activation; later ones sign in.
#[derive(Debug, Clone, uniffi::Enum)]
pub enum EntryResult {
    ActivationNeeded {
        activation_token: String,
        name: String,
    },
    SignedIn {
        username: String,
    },
}

/// Activation (账号激活): the password twice, a security question and both pledges.
#[derive(Debug, Clone, uniffi::Record)]
pub struct Activation {
    pub activation_token: String,
    pub password: String,
    pub password_again: String,
    pub security_question: String,
    pub security_answer: String,
    pub pledge_truthfulness: bool,
    pub pledge_discipline: bool,
}

/// The signed-in app: the client and the queue in the app's data directory.
#[derive(uniffi::Object)]
pub struct DossierApp {
    client: Client,
    queue: Queue,
}

#[uniffi::export(async_runtime = "tokio")]
impl DossierApp {
    /// `base_url` of the district's server; the queue's database goes in `data_dir`.
    #[uniffi::constructor]
    pub fn new(
        base_url: String,
        data_dir: String,
        tokens: Arc<dyn TokenStorage>,
    ) -> Result<Arc<Self>, DossierError> {
        let client = Client::new(&base_url, Arc::new(ForeignTokens(tokens)))?;
        let queue = Queue::open(&Path::new(&data_dir).join("queue.sqlite3"))?;
        Ok(Arc::new(DossierApp { client, queue }))
    }

    pub fn is_signed_in(&self) -> bool {
        self.client.is_signed_in()
    }

    pub async fn sign_in(&self, username: String, password: String) -> Result<(), DossierError> {
        let grant: SessionGrant = self.client.login(&username, &password).await?;
        Ok(self.queue.signed_in(&grant.username)?)
    }

    /// The account whose session and queue these are; `None` when signed out. Ask before an
    /// entry link replaces it: entering as another account signs this one out.
    pub fn account(&self) -> Result<Option<String>, DossierError> {
        Ok(self.queue.account()?)
    }

    /// Enter with the ticket of the registration site's link.
    pub async fn enter(&self, ticket: String) -> Result<EntryResult, DossierError> {
        Ok(match self.client.enter_with_ticket(&ticket).await? {
            Entry::Activate(needed) => EntryResult::ActivationNeeded {
                activation_token: needed.activation_token,
                name: needed.name,
            },
            Entry::SignedIn(grant) => {
                self.queue.signed_in(&grant.username)?;
                EntryResult::SignedIn {
                    username: grant.username,
                }
            }
        })
    }

    pub async fn activate(&self, activation: Activation) -> Result<(), DossierError> {
        let grant = self
            .client
            .activate(ActivationRequest {
                activation_token: activation.activation_token,
                password: activation.password,
                password_confirm: activation.password_again,
                security_question: activation.security_question,
                security_answer: activation.security_answer,
                pledge_truthfulness: activation.pledge_truthfulness,
                pledge_discipline: activation.pledge_discipline,
                mode: None,
            })
            .await?;
        Ok(self.queue.signed_in(&grant.username)?)
    }

    /// Sign out here and at the server. The cached page goes; the photos still waiting go too,
    /// unless `keep_queue`: then they wait for this account's next sign-in (never another's).
    /// Signed out here even when the server cannot be told (the error is returned after).
    pub async fn sign_out(&self, keep_queue: bool) -> Result<(), DossierError> {
        let told = self.client.logout().await;
        self.queue.signed_out(keep_queue)?;
        Ok(told?)
    }

    /// The materials page from the server (cached for offline use).
    pub async fn refresh(&self) -> Result<DossierPage, DossierError> {
        Ok(page(
            &self.queue.refresh(&self.client).await?,
            self.client.base_url(),
        ))
    }

    /// The materials page as last fetched, if ever.
    pub fn cached_page(&self) -> Result<Option<DossierPage>, DossierError> {
        Ok(self
            .queue
            .cached()?
            .as_ref()
            .map(|c| page(c, self.client.base_url())))
    }

    /// Queue a prepared photo for `category` (optionally a slot, or replacing an image); it is
    /// stored on the phone before this returns and uploaded exactly once.
    pub fn enqueue(
        &self,
        category: String,
        jpeg: Vec<u8>,
        slot: Option<u32>,
        replaces: Option<String>,
    ) -> Result<QueuedPhoto, DossierError> {
        let replaces = replaces.as_deref().map(id_of).transpose()?;
        Ok(queued(
            &self.queue.enqueue(&category, &jpeg, slot, replaces)?,
        ))
    }

    pub fn photos(&self) -> Result<Vec<QueuedPhoto>, DossierError> {
        Ok(self.queue.items()?.iter().map(queued).collect())
    }

    pub fn cancel(&self, id: i64) -> Result<(), DossierError> {
        Ok(self.queue.cancel(id)?)
    }

    /// Upload what is due. Safe to call from the background worker and the screen at once, and
    /// to cancel: an interrupted upload is sent again under its key and stored once.
    pub async fn run_queue(
        &self,
        connection: Connection,
        wifi_only: bool,
    ) -> Result<RunOutcome, DossierError> {
        let deadline = self.queue.cached()?.map(|c| c.dossier.window.closes_at);
        let policy = DrainPolicy {
            network: match connection {
                Connection::Offline => Network::Offline,
                Connection::Metered => Network::Metered,
                Connection::Unmetered => Network::Unmetered,
            },
            wifi_only,
            deadline,
            ..DrainPolicy::default()
        };
        Ok(match self.queue.drain(&self.client, &policy).await? {
            DrainOutcome::Done => RunOutcome::Done,
            DrainOutcome::RetryAt(at) => RunOutcome::RetryAt { at: at.into() },
            DrainOutcome::SignInNeeded => RunOutcome::SignInNeeded,
            DrainOutcome::WaitingForNetwork => RunOutcome::WaitingForNetwork,
            DrainOutcome::WaitingForWifi => RunOutcome::WaitingForWifi,
            DrainOutcome::Stopped => RunOutcome::Stopped,
        })
    }

    /// End every `run_queue` in progress now: the upload under way is cut off and waits again
    /// (sent under its key by a later run, stored once), and the runs return `Stopped`. Call it
    /// when the platform's time is up (iOS background expiry, a cancelled coroutine or worker):
    /// cancelling the caller's task alone does not stop the Rust future (uniffi-rs #2771).
    pub fn stop_queue(&self) {
        self.queue.stop();
    }

    /// The network came back: items waiting out a backoff are due now.
    pub fn retry_now(&self) -> Result<u32, DossierError> {
        Ok(self.queue.retry_now()? as u32)
    }

    pub fn subscribe(&self, events: Arc<dyn QueueEvents>) -> Arc<Subscription> {
        Arc::new(Subscription(self.queue.subscribe(Arc::new(
            ForeignEvents {
                events,
                base_url: self.client.base_url().to_string(),
            },
        ))))
    }

    /// An uploaded image's bytes (the ≤200 KB JPEG), for a slot's thumbnail.
    pub async fn image(&self, image_id: String) -> Result<Vec<u8>, DossierError> {
        Ok(self.client.image_bytes(id_of(&image_id)?).await?)
    }

    /// Remove an uploaded image (refused with `Locked` once the material is submitted).
    pub async fn delete_image(&self, image_id: String) -> Result<(), DossierError> {
        Ok(self.client.delete_image(id_of(&image_id)?).await?)
    }

    /// Submit for review (上报): everything locks.
    pub async fn submit(&self) -> Result<String, DossierError> {
        Ok(self.client.submit().await?.message)
    }

    pub async fn messages(&self) -> Result<Vec<Message>, DossierError> {
        Ok(self
            .client
            .messages()
            .await?
            .messages
            .into_iter()
            .map(|m| Message {
                id: m.id.to_string(),
                kind: match m.kind {
                    MessageKind::Returned => MessageType::Returned,
                    MessageKind::Pending => MessageType::Pending,
                    MessageKind::Result => MessageType::Result,
                    MessageKind::Notice => MessageType::Notice,
                },
                title: m.title,
                body: m.body,
                categories: m.categories,
                created_at: m.created_at.into(),
                read: m.read,
            })
            .collect())
    }

    pub async fn mark_read(&self, message_id: String) -> Result<(), DossierError> {
        Ok(self.client.mark_read(id_of(&message_id)?).await?)
    }

    /// Register this phone for push (`platform`: apns, fcm, huawei, xiaomi, oppo, vivo, honor).
    pub async fn register_push(&self, platform: String, token: String) -> Result<(), DossierError> {
        let platform = serde_platform(&platform).ok_or_else(|| DossierError::Bug {
            reason: format!("unknown push platform {platform}"),
        })?;
        Ok(self
            .client
            .register_push_token(&dossier_core::api::PushTokenRegistration { platform, token })
            .await?)
    }
}

/// An image or message id the app got from us; anything else is the app's bug.
fn id_of(text: &str) -> Result<Uuid, DossierError> {
    Uuid::parse_str(text).map_err(|e| DossierError::Bug {
        reason: format!("not an id of ours: {text}: {e}"),
    })
}

fn serde_platform(name: &str) -> Option<dossier_core::api::PushPlatform> {
    use dossier_core::api::PushPlatform::*;
    Some(match name {
        "apns" => Apns,
        "fcm" => Fcm,
        "huawei" => Huawei,
        "xiaomi" => Xiaomi,
        "oppo" => Oppo,
        "vivo" => Vivo,
        "honor" => Honor,
        "webhook" => Webhook,
        _ => return None,
    })
}
