//! The candidate API under `/api/v1`: one `#[OpenApi]` struct per resource. Handlers parse and
//! authenticate, then call `auth` or `dossier`.
use dossier_core::api::{
    ActivationRequest, DocumentKind, DossierView, EntryResponse, ErrorCode, IDEMPOTENCY_KEY_HEADER,
    ImageView, LoginRequest, MessageList, Profile, ProfileUpdate, PushTokenRegistration,
    RecoveryQuestion, RecoveryQuestionRequest, RecoveryRequest, RefreshRequest, SessionGrant,
    SessionMode, Subject, SubmitReceipt, TicketRequest,
};
use dossier_core::photo::{Framing, PrepareOptions, Quad, UPLOAD_BUDGET_BYTES};
use poem::Request;
use poem::http::header;
use poem::web::Data;
use poem_openapi::auth::{ApiKey, Bearer};
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::{Binary, Json};
use poem_openapi::{ApiResponse, OpenApi, SecurityScheme, Tags};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{
    ImageBytes, NoContent, PhotoBody, csrf_of, now, one_kind_of_credentials, refuse_credentials,
    remote_ip, state,
};
use crate::auth::{Grant, Principal};
use crate::dossier::{Checked, Upload};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

#[derive(Tags)]
enum ApiTags {
    /// Entry, activation, sign-in, recovery
    Auth,
    /// The materials page: catalogue, images, submit
    Dossier,
    /// Messages from reviewers
    Messages,
    /// Personal information and push tokens
    Profile,
}

async fn check_bearer(req: &Request, bearer: Bearer) -> poem::Result<Principal> {
    one_kind_of_credentials(req, dossier_core::api::SESSION_COOKIE)?;
    state(req)?
        .auth
        .authenticate_bearer(&bearer.token, now())
        .await
        .map_err(|e| refuse_credentials(req, e))
}

async fn check_cookie(req: &Request, key: ApiKey) -> poem::Result<Principal> {
    one_kind_of_credentials(req, dossier_core::api::SESSION_COOKIE)?;
    let (csrf, state_change) = csrf_of(req);
    state(req)?
        .auth
        .authenticate_cookie(&key.key, csrf, state_change, now())
        .await
        .map_err(|e| refuse_credentials(req, e))
}

/// The app's access token.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", checker = "check_bearer")]
pub struct AccessToken(Principal);

/// The web page's session cookie; state changes also need the `X-CSRF-Token` header.
#[derive(SecurityScheme)]
#[oai(
    ty = "api_key",
    key_name = "dossier_session",
    key_in = "cookie",
    checker = "check_cookie"
)]
pub struct SessionCookie(Principal);

/// The app's token or the page's cookie; the refusal answered is that of the one shown (see
/// `edge::CredentialRefusal`).
#[derive(SecurityScheme)]
pub enum CandidateAuth {
    SessionCookie(SessionCookie),
    AccessToken(AccessToken),
}

impl CandidateAuth {
    fn principal(&self) -> Principal {
        match self {
            CandidateAuth::AccessToken(t) => t.0,
            CandidateAuth::SessionCookie(c) => c.0,
        }
    }

    fn candidate(&self) -> Uuid {
        self.principal().candidate_id
    }
}

#[derive(ApiResponse)]
enum SessionResponse {
    /// Signed in. In web mode the cookie is set.
    #[oai(status = 200)]
    Ok(
        Json<SessionGrant>,
        #[oai(header = "Set-Cookie")] Option<String>,
    ),
}

impl From<Grant> for SessionResponse {
    fn from(g: Grant) -> Self {
        SessionResponse::Ok(Json(g.body), g.set_cookie)
    }
}

#[derive(ApiResponse)]
enum EntryAnswer {
    /// Activation needed (first entry), or signed in.
    #[oai(status = 200)]
    Ok(
        Json<EntryResponse>,
        #[oai(header = "Set-Cookie")] Option<String>,
    ),
}

pub struct AuthApi;

#[OpenApi(prefix_path = "/api/v1/auth", tag = "ApiTags::Auth")]
impl AuthApi {
    /// Enter with the registration system's ticket. First entry: activate with the returned
    /// token. Later entries: signed in.
    #[oai(path = "/ticket", method = "post")]
    async fn ticket(
        &self,
        state: Data<&AppState>,
        body: Json<TicketRequest>,
    ) -> ApiResult<EntryAnswer> {
        let mode = body.0.mode.unwrap_or(SessionMode::App);
        let (activation, grant) = state
            .auth
            .enter_with_ticket(&body.0.ticket, mode, now())
            .await?;
        let (session, cookie) = grant
            .map(|g| (Some(g.body), g.set_cookie))
            .unwrap_or((None, None));
        Ok(EntryAnswer::Ok(
            Json(EntryResponse {
                activation,
                session,
            }),
            cookie,
        ))
    }

    /// Activate the account (激活): password twice, security question, both pledges.
    #[oai(path = "/activate", method = "post")]
    async fn activate(
        &self,
        state: Data<&AppState>,
        body: Json<ActivationRequest>,
    ) -> ApiResult<SessionResponse> {
        Ok(state.auth.activate(body.0, now()).await?.into())
    }

    /// Sign in with username (the registration account) and password. Repeated failures are
    /// answered with 429 and a growing delay.
    #[oai(path = "/login", method = "post")]
    async fn login(
        &self,
        state: Data<&AppState>,
        req: &Request,
        body: Json<LoginRequest>,
    ) -> ApiResult<SessionResponse> {
        let mode = body.0.mode.unwrap_or(SessionMode::App);
        Ok(state
            .auth
            .login(
                &body.0.username,
                &body.0.password,
                mode,
                remote_ip(req),
                now(),
            )
            .await?
            .into())
    }

    /// Exchange the refresh token for a new pair; the old one is spent.
    #[oai(path = "/refresh", method = "post")]
    async fn refresh(
        &self,
        state: Data<&AppState>,
        body: Json<RefreshRequest>,
    ) -> ApiResult<SessionResponse> {
        Ok(state
            .auth
            .refresh(&body.0.refresh_token, now())
            .await?
            .into())
    }

    /// Sign out: every token of this session ends.
    #[oai(path = "/logout", method = "post")]
    async fn logout(&self, state: Data<&AppState>, auth: CandidateAuth) -> ApiResult<NoContent> {
        state.auth.logout(auth.principal(), now()).await?;
        Ok(NoContent::Done)
    }

    /// The security question of an account, for password recovery.
    #[oai(path = "/recovery/question", method = "post")]
    async fn recovery_question(
        &self,
        state: Data<&AppState>,
        body: Json<RecoveryQuestionRequest>,
    ) -> ApiResult<Json<RecoveryQuestion>> {
        let security_question = state.auth.recovery_question(&body.0.username).await?;
        Ok(Json(RecoveryQuestion { security_question }))
    }

    /// Set a new password with the answer to the security question; signs out every session.
    #[oai(path = "/recovery", method = "post")]
    async fn recover(
        &self,
        state: Data<&AppState>,
        req: &Request,
        body: Json<RecoveryRequest>,
    ) -> ApiResult<NoContent> {
        let r = body.0;
        state
            .auth
            .recover(
                &r.username,
                &r.security_answer,
                &r.new_password,
                &r.new_password_confirm,
                remote_ip(req).as_deref(),
                now(),
            )
            .await?;
        Ok(NoContent::Done)
    }
}

#[derive(ApiResponse)]
enum UploadAnswer {
    /// Stored durably. A replay with the same key and bytes answers the same again.
    #[oai(status = 201)]
    Created(Json<ImageView>),
}

/// The largest photo the prepare endpoint reads: a 50 MP phone photo is about 20 MB.
pub(crate) const PREPARE_LIMIT_BYTES: usize = 32 << 20;

#[derive(ApiResponse)]
enum PreparedAnswer {
    /// The prepared JPEG.
    #[oai(status = 200, content_type = "image/jpeg")]
    Ok(
        Binary<Vec<u8>>,
        #[oai(header = "X-Photo-Warnings")] String,
        #[oai(header = "X-Photo-Width")] u32,
        #[oai(header = "X-Photo-Height")] u32,
        /// The EXIF orientation that was applied (1: none).
        #[oai(header = "X-Source-Orientation")]
        u16,
        /// What became of the page: `found` (its outline was clear: flattened), `given` (flattened
        /// inside the corners passed), `none` (no clear outline: the whole photo kept) or
        /// `whole_frame` (asked for, or a photo of a person).
        #[oai(header = "X-Photo-Page")]
        String,
        /// The page's corners in the photo as shown upright (EXIF applied), in fractions of its
        /// width and height, clockwise from the top-left: `x1,y1,x2,y2,x3,y3,x4,y4`. Also with
        /// `none` and `whole_frame` when an outline was seen, so the page can offer it; absent
        /// when none was.
        #[oai(header = "X-Photo-Corners")]
        Option<String>,
        /// How clearly the outline showed, 0.00-1.00.
        #[oai(header = "X-Photo-Page-Confidence")]
        String,
        /// Degrees (0, 90, 180, 270) the result was turned clockwise because its text showed it
        /// sideways or upside down.
        #[oai(header = "X-Photo-Turned")]
        u16,
        #[oai(header = "Cache-Control")] String,
    ),
}

/// An upload that was not stored, counted as refused (the request's fault) or failed (ours).
fn counted(state: &AppState, e: ApiError) -> ApiError {
    let failed = crate::error::status_of(e.body().code).is_server_error();
    state
        .metrics
        .upload(if failed { "failed" } else { "refused" });
    e
}

pub struct DossierApi;

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Dossier")]
impl DossierApi {
    /// The materials page: the window, the state, every category with its images, and what is
    /// missing before submitting.
    #[oai(path = "/dossier", method = "get")]
    async fn dossier(
        &self,
        state: Data<&AppState>,
        auth: CandidateAuth,
    ) -> ApiResult<Json<DossierView>> {
        Ok(Json(state.dossiers.view(auth.candidate(), now()).await?))
    }

    /// Upload one image into a category. The body is the image (at most 200 KB, JPEG or PNG by
    /// content) with `Content-Length`; `Idempotency-Key` (a UUID made when the photo was queued)
    /// makes retries safe. `slot` picks a slot (default: the first free one); `replaces` swaps an
    /// unlocked image for this one in its slot.
    #[oai(path = "/dossier/materials/:category/images", method = "post")]
    #[allow(clippy::too_many_arguments)]
    async fn upload(
        &self,
        state: Data<&AppState>,
        auth: CandidateAuth,
        req: &Request,
        category: Path<String>,
        #[oai(validator(minimum(value = "0"), maximum(value = "4294967295")))] slot: Query<
            Option<u32>,
        >,
        replaces: Query<Option<Uuid>>,
        /// A UUID made when the photo was queued; the same key with the same bytes answers the
        /// first upload's answer again. Exactly one.
        #[oai(name = "Idempotency-Key")]
        key: Header<Uuid>,
        body: PhotoBody,
    ) -> ApiResult<UploadAnswer> {
        if req.headers().get_all(IDEMPOTENCY_KEY_HEADER).iter().count() != 1 {
            return Err(ApiError::new(
                ErrorCode::IdempotencyKeyRequired,
                format!("exactly one {IDEMPOTENCY_KEY_HEADER} header, a UUID, is required"),
            ));
        }
        let key = key.0;
        // Refuse by the declared length before reading a byte of the body.
        let length = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .ok_or_else(|| {
                ApiError::new(ErrorCode::LengthRequired, "Content-Length is required")
            })?;
        if length > UPLOAD_BUDGET_BYTES as u64 {
            return Err(too_large(length));
        }
        // Too slow or cut short is `body_incomplete` (the queue sends it again), never 413.
        let bytes = crate::edge::read_body(body.into_body(), UPLOAD_BUDGET_BYTES)
            .await
            .map_err(|e| match e.body().code {
                ErrorCode::PayloadTooLarge => too_large(length),
                _ => e,
            })?;
        let request_sha256 = hex::encode(Sha256::digest(&bytes));
        let upload = Upload {
            candidate: auth.candidate(),
            category: category.0,
            slot: slot.0,
            replaces: replaces.0,
            key,
            request_sha256,
        };
        // The analysis waits while many are here at once (`ops::traffic`).
        let _uploading = state.uploads.begin();
        let photo = match state.dossiers.check_upload(&upload, bytes).await {
            Ok(Checked::Fresh(photo)) => photo,
            Ok(Checked::Replayed(first)) => {
                state.metrics.upload("replayed");
                return Ok(UploadAnswer::Created(Json(*first)));
            }
            Err(e) => return Err(counted(&state, e)),
        };
        match state.dossiers.upload(upload, photo, now()).await {
            Ok(image) => {
                state.metrics.upload("stored");
                state.metrics.upload_bytes.inc_by(image.bytes);
                Ok(UploadAnswer::Created(Json(image)))
            }
            Err(e) => Err(counted(&state, e)),
        }
    }

    /// One of your images (owner only).
    #[oai(path = "/images/:id", method = "get")]
    async fn image(
        &self,
        state: Data<&AppState>,
        auth: CandidateAuth,
        id: Path<Uuid>,
    ) -> ApiResult<ImageBytes> {
        let (bytes, content_type) = state.dossiers.image_bytes(auth.candidate(), id.0).await?;
        Ok(ImageBytes::new(bytes, &content_type, "no-store, private"))
    }

    /// A small JPEG of one of your images (at most 320 px on the long side), for lists.
    #[oai(path = "/images/:id/thumbnail", method = "get")]
    async fn thumbnail(
        &self,
        state: Data<&AppState>,
        auth: CandidateAuth,
        id: Path<Uuid>,
    ) -> ApiResult<ImageBytes> {
        let (stored, _) = state.dossiers.image_bytes(auth.candidate(), id.0).await?;
        let jpeg = state.dossiers.thumbnail(stored).await?;
        Ok(ImageBytes::new(jpeg, "image/jpeg", "no-store, private"))
    }

    /// Delete an unlocked image (the minus button).
    #[oai(path = "/images/:id", method = "delete")]
    async fn delete_image(
        &self,
        state: Data<&AppState>,
        auth: CandidateAuth,
        id: Path<Uuid>,
    ) -> ApiResult<NoContent> {
        state
            .dossiers
            .delete_image(auth.candidate(), id.0, now())
            .await?;
        Ok(NoContent::Done)
    }

    /// Submit for review (提交审核): refused while a required category is short (the answer names
    /// them); afterwards everything is locked.
    #[oai(path = "/dossier/submit", method = "post")]
    async fn submit(
        &self,
        state: Data<&AppState>,
        auth: CandidateAuth,
    ) -> ApiResult<Json<SubmitReceipt>> {
        Ok(Json(state.dossiers.submit(auth.candidate(), now()).await?))
    }

    /// Prepare a photo straight from a phone or camera (JPEG or PNG, several MB, perhaps
    /// sideways) as the app does on the phone: the document's page found and flattened when its
    /// outline is clear, turned upright by EXIF and by its text, metadata-free, within 200 KB. The
    /// legibility warnings are in `X-Photo-Warnings` (comma-separated: `blurry`, `too_dark`,
    /// `washed_out`, `too_small`), the page's corners and what was done in `X-Photo-Page`,
    /// `X-Photo-Corners`, `X-Photo-Page-Confidence` and `X-Photo-Turned`. Nothing is stored: the
    /// page shows it and uploads it when the candidate confirms. Corners that outline no page
    /// are refused with `invalid_photo` / `invalid_corners`.
    #[oai(path = "/photos/prepare", method = "post")]
    #[allow(clippy::too_many_arguments)] // one per query parameter the page may send
    async fn prepare(
        &self,
        state: Data<&AppState>,
        _auth: CandidateAuth,
        /// The document the photo shows, for the resolution check (`id_card` or `a4`).
        document: Query<Option<DocumentKind>>,
        /// `person` for a photo of the candidate (holding the ID card): kept whole, turned by
        /// EXIF only.
        subject: Query<Option<Subject>>,
        /// Keep the whole photo rather than the page found in it.
        whole_frame: Query<Option<bool>>,
        /// Flatten the page inside these corners (moved by the candidate): `x1,y1,...,y4`,
        /// fractions of the upright photo, clockwise from the top-left.
        #[oai(validator(max_length = 200))]
        corners: Query<Option<String>>,
        body: PhotoBody,
    ) -> ApiResult<PreparedAnswer> {
        let framing = match (subject.0, &corners.0, whole_frame.0.unwrap_or(false)) {
            (Some(Subject::Person), _, _) => Framing::Person,
            (_, _, true) => Framing::WholeFrame,
            (_, Some(text), false) => Framing::Corners(text.parse::<Quad>()?),
            (_, None, false) => Framing::FindPage,
        };
        // A place among the photos being prepared before the body is read: each holds up to
        // 32 MB of body and its decode, so their number bounds the memory they take.
        let _place = state.dossiers.prepare_place().await?;
        let bytes = crate::edge::read_body(body.into_body(), PREPARE_LIMIT_BYTES).await?;
        let prepared = state
            .dossiers
            .prepare_photo(
                bytes,
                PrepareOptions {
                    document: document.0.unwrap_or(DocumentKind::A4),
                    framing,
                    ..PrepareOptions::default()
                },
            )
            .await?;
        let page = &prepared.page;
        let corners = page.corners.map(|q| q.to_string());
        let warnings = prepared
            .checks
            .warnings
            .iter()
            .map(|w| w.code())
            .collect::<Vec<_>>()
            .join(",");
        Ok(PreparedAnswer::Ok(
            Binary(prepared.jpeg),
            warnings,
            prepared.width,
            prepared.height,
            prepared.source.orientation,
            page.framing.code().into(),
            corners,
            format!("{:.2}", page.confidence),
            page.turned,
            "no-store".into(),
        ))
    }

    /// The example image (示例) of a category. Public.
    #[oai(path = "/catalogue/:district/:category/example", method = "get")]
    async fn example(
        &self,
        state: Data<&AppState>,
        district: Path<String>,
        category: Path<String>,
    ) -> ApiResult<ImageBytes> {
        let (bytes, content_type) = state.dossiers.example(district.0, category.0).await?;
        Ok(ImageBytes::new(
            bytes,
            &content_type,
            "public, max-age=3600",
        ))
    }
}

fn too_large(length: u64) -> ApiError {
    ApiError::new(
        ErrorCode::PayloadTooLarge,
        format!(
            "the file is {length} bytes; at most {UPLOAD_BUDGET_BYTES} bytes (200 KB) are accepted"
        ),
    )
}

pub struct MessagesApi;

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Messages")]
impl MessagesApi {
    /// Messages from reviewers (反馈意见), newest first.
    #[oai(path = "/messages", method = "get")]
    async fn messages(
        &self,
        state: Data<&AppState>,
        auth: CandidateAuth,
    ) -> ApiResult<Json<MessageList>> {
        Ok(Json(state.dossiers.messages(auth.candidate()).await?))
    }

    /// Mark a message read.
    #[oai(path = "/messages/:id/read", method = "post")]
    async fn mark_read(
        &self,
        state: Data<&AppState>,
        auth: CandidateAuth,
        id: Path<Uuid>,
    ) -> ApiResult<NoContent> {
        state
            .dossiers
            .mark_read(auth.candidate(), id.0, now())
            .await?;
        Ok(NoContent::Done)
    }
}

pub struct ProfileApi;

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Profile")]
impl ProfileApi {
    /// Personal information.
    #[oai(path = "/profile", method = "get")]
    async fn profile(
        &self,
        state: Data<&AppState>,
        auth: CandidateAuth,
    ) -> ApiResult<Json<Profile>> {
        Ok(Json(state.dossiers.profile(auth.candidate()).await?))
    }

    /// Complete or change the mobile number (for SMS notices) and e-mail; possible at any time.
    #[oai(path = "/profile", method = "put")]
    async fn update_profile(
        &self,
        state: Data<&AppState>,
        auth: CandidateAuth,
        body: Json<ProfileUpdate>,
    ) -> ApiResult<Json<Profile>> {
        Ok(Json(
            state
                .dossiers
                .update_profile(auth.candidate(), body.0)
                .await?,
        ))
    }

    /// Register this phone's push token.
    #[oai(path = "/push-tokens", method = "post")]
    async fn push_token(
        &self,
        state: Data<&AppState>,
        auth: CandidateAuth,
        body: Json<PushTokenRegistration>,
    ) -> ApiResult<NoContent> {
        state
            .dossiers
            .register_push_token(auth.candidate(), body.0, now())
            .await?;
        Ok(NoContent::Done)
    }
}
