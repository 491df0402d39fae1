//! One definition of every wire type of the candidate API (`/api/v1`), used by the server (which
//! derives its OpenAPI schema from them with the `openapi` feature) and by the client. Field names
//! are snake_case and enum values snake_case on the wire, in both serde and poem-openapi.
use time::OffsetDateTime;
use uuid::Uuid;

/// Derives shared by every wire struct.
macro_rules! wire_object {
    ($(#[$meta:meta])* pub struct $name:ident { $($body:tt)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
        #[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
        pub struct $name { $($body)* }
    };
}

/// Derives shared by every wire enum.
macro_rules! wire_enum {
    ($(#[$meta:meta])* pub enum $name:ident { $($body:tt)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        #[cfg_attr(feature = "openapi", derive(poem_openapi::Enum))]
        #[cfg_attr(feature = "openapi", oai(rename_all = "snake_case"))]
        pub enum $name { $($body)* }
    };
}

/// The text candidates see after submitting (上报完成，内容已锁定: "submitted, content locked").
pub const SUBMITTED_TEXT: &str = "上报完成，内容已锁定";

/// The header that carries the phone's idempotency key on uploads.
pub const IDEMPOTENCY_KEY_HEADER: &str = "Idempotency-Key";
/// The header that carries the CSRF token on state changes made with the web page's cookie.
pub const CSRF_HEADER: &str = "X-CSRF-Token";
/// The web page's session cookie.
pub const SESSION_COOKIE: &str = "dossier_session";
/// The reviewers' console's session cookie (HttpOnly, SameSite=Strict).
pub const STAFF_COOKIE: &str = "dossier_staff";

// ---------------------------------------------------------------------------------------------
// Errors

wire_enum! {
    /// What went wrong, for a program to act on. `message` says it for people.
    pub enum ErrorCode {
        BadRequest,
        /// A well-formed field that a rule refuses (characters a name may not hold, an exam site
        /// missing, windows out of order...): `detail` names the field.
        InvalidField,
        /// No session, or an unknown or revoked token: sign in.
        Unauthorized,
        /// The session's time is up: refresh (apps) or sign in again (the page).
        SessionExpired,
        Forbidden,
        NotFound,
        /// The method is not one the path takes; the `Allow` header lists those it does.
        MethodNotAllowed,
        /// The request body's type is not one the operation takes.
        UnsupportedMediaType,
        /// The request body arrived too slowly or stopped before its end: nothing was stored;
        /// send it again (`detail`: `too_slow` or `cut_short`).
        BodyIncomplete,
        /// Too many failed sign-ins: wait `retry_after_secs`.
        Throttled,
        WindowNotOpen,
        WindowClosed,
        /// The material is submitted and not returned, or approved.
        Locked,
        /// The category holds its maximum number of images.
        CountReached,
        /// The requested slot of the category holds an image already.
        SlotTaken,
        /// Submit refused: `missing` names the categories.
        MissingRequired,
        /// Nothing is unlocked: the dossier is submitted already.
        NothingToSubmit,
        /// The file is not an accepted photo: `detail` is the photo pipeline's code.
        InvalidPhoto,
        PayloadTooLarge,
        LengthRequired,
        IdempotencyKeyRequired,
        /// The idempotency key was used before with other bytes.
        IdempotencyConflict,
        TicketInvalid,
        TicketExpired,
        TicketUsed,
        AlreadyActivated,
        /// An account with this username exists already.
        AlreadyExists,
        /// Password does not follow the rules, or the two entries differ.
        PasswordRules,
        PledgesRequired,
        InvalidProfile,
        UnknownCategory,
        /// Staff sign-in needs the authenticator code (`totp_code`), or one was wrong.
        TotpRequired,
        /// Another reviewer holds the claim on this dossier.
        ClaimedByOther,
        /// Decide only on a dossier you have claimed.
        ClaimRequired,
        /// The candidate resubmitted since the reviewer opened the dossier: reload.
        StaleVersion,
        /// The dossier is not waiting for this stage's decision.
        NotReviewable,
        /// The decision does not follow the rules (e.g. pass with a returned material).
        DecisionRules,
        Internal,
        Unavailable,
    }
}

impl ErrorCode {
    /// The wire name (`locked`, `window_closed`, ...), as apps and logs show it.
    pub fn name(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default()
    }
}

wire_object! {
    /// The body of every refusal.
    pub struct ErrorBody {
        pub code: ErrorCode,
        pub message: String,
        /// A finer code: the photo pipeline's for `invalid_photo` (e.g. `unsupported_format`,
        /// `over_budget`), the field for `invalid_field`, `too_slow` or `cut_short` for
        /// `body_incomplete`, `wrong_code` or `code_used` for `totp_required`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
        pub detail: Option<String>,
        /// Categories still missing, for `missing_required`.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_empty, default))]
        pub missing: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
        pub retry_after_secs: Option<u64>,
    }
}

impl ErrorBody {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ErrorBody {
            code,
            message: message.into(),
            detail: None,
            missing: Vec::new(),
            retry_after_secs: None,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Entry, activation, sign-in

wire_enum! {
    /// App sessions get bearer tokens; the web page gets an HttpOnly cookie and a CSRF token.
    pub enum SessionMode {
        App,
        Web,
    }
}

wire_object! {
    /// The signed, short-lived, single-use ticket the registration system links with.
    pub struct TicketRequest {
        #[cfg_attr(feature = "openapi", oai(validator(max_length = 512)))]
        pub ticket: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
        pub mode: Option<SessionMode>,
    }
}

wire_object! {
    /// Either the candidate must activate first (first entry), or they are signed in.
    pub struct EntryResponse {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
        pub activation: Option<ActivationNeeded>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
        pub session: Option<SessionGrant>,
    }
}

wire_object! {
    pub struct ActivationNeeded {
        /// Presented to `activate`; valid for 30 minutes.
        pub activation_token: String,
        /// The registration account, which becomes the username.
        pub username: String,
        pub name: String,
    }
}

wire_object! {
    /// Activation (激活): password typed twice, a recovery question, and both pledges (本人承诺).
    pub struct ActivationRequest {
        #[cfg_attr(feature = "openapi", oai(validator(max_length = 64)))]
        pub activation_token: String,
        #[cfg_attr(feature = "openapi", oai(validator(max_length = 128)))]
        pub password: String,
        #[cfg_attr(feature = "openapi", oai(validator(max_length = 128)))]
        pub password_confirm: String,
        #[cfg_attr(feature = "openapi", oai(validator(max_length = 100)))]
        pub security_question: String,
        #[cfg_attr(feature = "openapi", oai(validator(max_length = 100)))]
        pub security_answer: String,
        /// 本人对所填信息及上传附件材料的真实性、准确性、完整性作出郑重承诺
        pub pledge_truthfulness: bool,
        /// 本人了解并遵守《医师资格考试违纪违规处理规定》
        pub pledge_discipline: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
        pub mode: Option<SessionMode>,
    }
}

wire_object! {
    pub struct LoginRequest {
        #[cfg_attr(feature = "openapi", oai(validator(max_length = 64)))]
        pub username: String,
        #[cfg_attr(feature = "openapi", oai(validator(max_length = 128)))]
        pub password: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
        pub mode: Option<SessionMode>,
    }
}

wire_object! {
    pub struct RefreshRequest {
        #[cfg_attr(feature = "openapi", oai(validator(max_length = 64)))]
        pub refresh_token: String,
    }
}

wire_object! {
    /// A signed-in session. App mode: the two tokens. Web mode: the cookie was set, and
    /// `csrf_token` must accompany every state change in the `X-CSRF-Token` header.
    pub struct SessionGrant {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
        pub access_token: Option<String>,
        #[serde(with = "time::serde::rfc3339")]
        pub access_expires_at: OffsetDateTime,
        /// Rotates on every use; presenting a used one revokes the whole session.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
        pub refresh_token: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none", with = "time::serde::rfc3339::option")]
        #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
        pub refresh_expires_at: Option<OffsetDateTime>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
        pub csrf_token: Option<String>,
        pub username: String,
        /// Mobile number or e-mail missing: show "complete personal information" (完善个人信息).
        pub profile_incomplete: bool,
    }
}

wire_object! {
    pub struct RecoveryQuestionRequest {
        #[cfg_attr(feature = "openapi", oai(validator(max_length = 64)))]
        pub username: String,
    }
}

wire_object! {
    pub struct RecoveryQuestion {
        pub security_question: String,
    }
}

wire_object! {
    /// Password recovery (找回密码) by the security question.
    pub struct RecoveryRequest {
        #[cfg_attr(feature = "openapi", oai(validator(max_length = 64)))]
        pub username: String,
        #[cfg_attr(feature = "openapi", oai(validator(max_length = 100)))]
        pub security_answer: String,
        #[cfg_attr(feature = "openapi", oai(validator(max_length = 128)))]
        pub new_password: String,
        #[cfg_attr(feature = "openapi", oai(validator(max_length = 128)))]
        pub new_password_confirm: String,
    }
}

// ---------------------------------------------------------------------------------------------
// Profile

wire_object! {
    /// Personal information (个人信息) the candidate keeps up to date; the rest comes from the roster.
    pub struct Profile {
        /// The registration account (报名账号).
        pub username: String,
        pub name: String,
        /// Masked: first 3 and last 4 characters.
        pub id_number_masked: String,
        pub exam_category: String,
        pub exam_site: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
        pub mobile: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
        pub email: Option<String>,
        pub complete: bool,
    }
}

wire_object! {
    /// Fields left out stay as they are.
    pub struct ProfileUpdate {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
        #[cfg_attr(feature = "openapi", oai(validator(max_length = 32)))]
        pub mobile: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
        #[cfg_attr(feature = "openapi", oai(validator(max_length = 254)))]
        pub email: Option<String>,
    }
}

wire_enum! {
    pub enum PushPlatform {
        Apns,
        Fcm,
        Huawei,
        Xiaomi,
        Oppo,
        Vivo,
        Honor,
        Webhook,
    }
}

wire_object! {
    pub struct PushTokenRegistration {
        pub platform: PushPlatform,
        #[cfg_attr(feature = "openapi", oai(validator(max_length = 4096)))]
        pub token: String,
    }
}

// ---------------------------------------------------------------------------------------------
// The dossier

wire_enum! {
    /// 上传时间: changes are possible only while open, by the server's clock.
    pub enum WindowState {
        NotYetOpen,
        Open,
        Closed,
    }
}

wire_enum! {
    pub enum DossierState {
        /// Never submitted: everything unlocked.
        Draft,
        /// Submitted (上报完成): everything locked, waiting for review.
        Submitted,
        /// Reviewers returned materials: those are unlocked until the candidate submits again.
        Returned,
    }
}

wire_enum! {
    pub enum MaterialState {
        /// Not submitted yet: may be changed (未锁定).
        Open,
        /// Submitted and not returned: locked (已锁定).
        Submitted,
        /// Returned by a reviewer with a note: unlocked until submitted again.
        Returned,
        /// Approved by a reviewer: locked for good.
        Approved,
    }
}

wire_enum! {
    /// Required for everyone (*), required for some candidates (必传: see `condition`), or optional.
    pub enum Requirement {
        Required,
        Conditional,
        Optional,
    }
}

wire_enum! {
    /// The physical document, for the photo's effective-resolution check.
    pub enum DocumentKind {
        IdCard,
        A4,
    }
}

wire_enum! {
    /// What a category's photos show: a document, whose page the pipeline finds, flattens and
    /// turns upright by its text; or a person (本人手持身份证, holding the ID card), kept whole as
    /// taken, turned by EXIF only.
    #[derive(Default)]
    pub enum Subject {
        #[default]
        Document,
        Person,
    }
}

wire_object! {
    pub struct UploadWindow {
        #[serde(with = "time::serde::rfc3339")]
        pub opens_at: OffsetDateTime,
        #[serde(with = "time::serde::rfc3339")]
        pub closes_at: OffsetDateTime,
        pub state: WindowState,
    }
}

wire_object! {
    /// A category of the district's catalogue.
    pub struct Category {
        /// Stable code, e.g. `id_card`.
        pub code: String,
        pub name: String,
        pub description: String,
        /// Path of the example image (示例), served by us.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
        pub example_url: Option<String>,
        pub requirement: Requirement,
        /// For `conditional`: who must upload it, in words (e.g. "必传：临床类别考生").
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
        pub condition_text: Option<String>,
        pub min_images: u32,
        pub max_images: u32,
        /// Names of the slots, when they differ (ID: front, back).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_empty, default))]
        pub slot_labels: Vec<String>,
        pub document: DocumentKind,
        /// Document (find the page) or a photo of a person (keep the whole frame).
        #[serde(default)]
        #[cfg_attr(feature = "openapi", oai(default))]
        pub subject: Subject,
    }
}

wire_object! {
    pub struct ImageView {
        pub id: Uuid,
        /// 0-based slot within the category.
        pub slot: u32,
        /// Where to fetch the bytes (owner and reviewers in scope only).
        pub url: String,
        /// A small JPEG of it for lists (at most 320 px on the long side), same access as `url`.
        #[serde(default)]
        #[cfg_attr(feature = "openapi", oai(default))]
        pub thumbnail_url: String,
        pub content_type: String,
        pub bytes: u64,
        pub width: u32,
        pub height: u32,
        /// SHA-256 of the stored bytes, hex.
        pub sha256: String,
        #[serde(with = "time::serde::rfc3339")]
        pub uploaded_at: OffsetDateTime,
        pub locked: bool,
        /// The Idempotency-Key it was uploaded with, so the phone's queue recognises an upload
        /// whose answer it never heard.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
        pub upload_key: Option<Uuid>,
        /// What the server read off the image, as advice (never a decision): ID-card images
        /// only, once analysed. Reviewers see the number read masked as the roster's is for
        /// their role.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
        pub findings: Option<ImageFindings>,
    }
}

impl ImageFindings {
    /// Nothing found yet, in `state`.
    pub fn of(state: AnalysisState) -> ImageFindings {
        ImageFindings {
            state,
            side: None,
            wrong_slot: false,
            roster_match: None,
            mismatched: Vec::new(),
            unread_reason: None,
            number_read: None,
            check_digit_ok: None,
            name_read: None,
            authority: None,
            valid_until: None,
            expired: false,
            reused_in: Vec::new(),
        }
    }

    /// Whether a reviewer should look twice: something differs from the roster, the side is in
    /// the wrong slot, the number fails its check character, the card has expired, or the
    /// same document is in another dossier.
    pub fn is_finding(&self) -> bool {
        self.roster_match == Some(RosterMatch::Mismatch)
            || self.wrong_slot
            || self.expired
            || self.check_digit_ok == Some(false)
            || !self.reused_in.is_empty()
    }
}

wire_enum! {
    /// Where the server's reading of an image stands.
    pub enum AnalysisState {
        /// Waiting for, or in, the analysis queue.
        Pending,
        Done,
        /// Tried and given up (the reviewer reads it as before).
        Failed,
    }
}

wire_enum! {
    /// Which side of the resident ID card (居民身份证) an image shows.
    pub enum CardSide {
        /// 人像面: name, number, photo.
        Front,
        /// 国徽面: issuing authority, validity.
        Back,
        /// Neither could be read.
        Unknown,
    }
}

wire_enum! {
    /// The card read against the candidate's registration (the roster).
    pub enum RosterMatch {
        /// Number and name read equal the roster's.
        Match,
        /// What was read differs: `mismatched` names the fields.
        Mismatch,
        /// Nothing usable was read: `unread_reason` says why.
        Unread,
    }
}

wire_enum! {
    /// Why an ID card's number and name were not read.
    pub enum UnreadReason {
        /// Text was seen but not the card's fields (blurry, glare, too small).
        Illegible,
        /// No ID-card text at all: another document, or not a card.
        NotIdCard,
        /// The back of the card carries no number: compared on the front.
        BackSide,
    }
}

wire_object! {
    /// Another dossier holding the same document (a reused diploma, someone else's ID card):
    /// only dossiers the viewer may open are listed.
    pub struct ReusedIn {
        pub candidate_id: Uuid,
        pub name: String,
        pub exam_site: String,
        /// The category the other copy was uploaded to (the same district's catalogue).
        pub category: String,
        pub image_id: Uuid,
    }
}

wire_object! {
    /// What the server read off a document image: for an ID card, its fields and how they
    /// compare with the roster; for any document, other dossiers holding the same one. Advice
    /// beside the image: it never refuses or approves anything.
    pub struct ImageFindings {
        pub state: AnalysisState,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
        pub side: Option<CardSide>,
        /// The image shows the other side from the one its slot is for (the first slot, 正面, is
        /// for the front; the second, 反面, for the back).
        #[serde(default)]
        #[cfg_attr(feature = "openapi", oai(default))]
        pub wrong_slot: bool,
        /// Front only.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
        pub roster_match: Option<RosterMatch>,
        /// With `mismatch`: `number`, `name`.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_empty, default))]
        pub mismatched: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
        pub unread_reason: Option<UnreadReason>,
        /// The 18-character citizen number read (masked like the roster's for the role).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
        pub number_read: Option<String>,
        /// Whether the number read passes GB 11643's check character; false is a finding.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
        pub check_digit_ok: Option<bool>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
        pub name_read: Option<String>,
        /// Back: 签发机关.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
        pub authority: Option<String>,
        /// Back: the end of 有效期限, `YYYY-MM-DD`, or `长期` (no end).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
        pub valid_until: Option<String>,
        /// Back: the card's validity ends before the exam (the district's `exam_date`, else
        /// today).
        #[serde(default)]
        #[cfg_attr(feature = "openapi", oai(default))]
        pub expired: bool,
        /// Reviewers only: other dossiers (within the reviewer's scope) holding the same
        /// document, found by its fingerprint (the page's look and the long numbers printed on
        /// it). Never shown to candidates.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_empty, default))]
        pub reused_in: Vec<ReusedIn>,
    }
}

wire_object! {
    /// A reviewer's note on a returned material.
    pub struct ReviewNote {
        pub reason: String,
        pub message: String,
        #[serde(with = "time::serde::rfc3339")]
        pub at: OffsetDateTime,
    }
}

wire_object! {
    /// One category of this candidate's dossier, with its images and state.
    pub struct MaterialView {
        pub category: Category,
        pub state: MaterialState,
        pub locked: bool,
        /// Evaluated for this candidate: must it hold `min_images` before submitting?
        pub required: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
        pub note: Option<ReviewNote>,
        pub images: Vec<ImageView>,
        /// Unlocked, window open and a slot free.
        pub can_upload: bool,
    }
}

wire_object! {
    /// The materials page (报名材料上传) in one answer.
    pub struct DossierView {
        pub profile: Profile,
        pub district_name: String,
        pub window: UploadWindow,
        pub state: DossierState,
        #[serde(default, skip_serializing_if = "Option::is_none", with = "time::serde::rfc3339::option")]
        #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
        pub submitted_at: Option<OffsetDateTime>,
        /// Required categories still short of images.
        pub missing: Vec<String>,
        pub can_submit: bool,
        pub materials: Vec<MaterialView>,
        pub unread_messages: u32,
        /// The final result, once the district has published it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
        pub result: Option<FinalResult>,
        /// The server's clock, so the app can show the deadline relative to it.
        #[serde(with = "time::serde::rfc3339")]
        pub server_time: OffsetDateTime,
    }
}

wire_enum! {
    pub enum ResultOutcome {
        /// 审核通过
        Approved,
        /// 不符合
        NotEligible,
    }
}

wire_object! {
    /// The district's final result, as published.
    pub struct FinalResult {
        pub outcome: ResultOutcome,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
        pub reason: Option<String>,
        #[serde(with = "time::serde::rfc3339")]
        pub published_at: OffsetDateTime,
    }
}

wire_object! {
    /// The answer to "submit for review" (提交审核).
    pub struct SubmitReceipt {
        pub state: DossierState,
        #[serde(with = "time::serde::rfc3339")]
        pub submitted_at: OffsetDateTime,
        /// 上报完成，内容已锁定
        pub message: String,
    }
}

// ---------------------------------------------------------------------------------------------
// Messages

wire_enum! {
    pub enum MessageKind {
        /// Materials returned with feedback.
        Returned,
        /// 审核待定: pending, with a reason.
        Pending,
        /// The final result (审核通过 / 不符合).
        Result,
        /// Anything else from the exam site or district.
        Notice,
    }
}

wire_object! {
    /// A message from reviewers (反馈意见), shown at the top of the materials page.
    pub struct MessageView {
        pub id: Uuid,
        pub kind: MessageKind,
        pub title: String,
        pub body: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_empty, default))]
        pub categories: Vec<String>,
        #[serde(with = "time::serde::rfc3339")]
        pub created_at: OffsetDateTime,
        pub read: bool,
    }
}

wire_object! {
    /// Newest first.
    pub struct MessageList {
        pub messages: Vec<MessageView>,
        pub unread: u32,
    }
}

pub mod review;
