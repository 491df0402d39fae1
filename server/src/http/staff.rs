//! The staff API: sign-in (`/api/v1/staff`), review (`/api/v1/review`) and the district's
//! administration (`/api/v1/admin`). Handlers authenticate and hand over to `StaffAccounts`,
//! `Review` or `Administration`.
use dossier_core::api::STAFF_COOKIE;
use dossier_core::api::review::{
    CatalogueView, CategoryUpdate, ClaimView, DecisionReceipt, DecisionRequest, DistrictWindows,
    ExamSites, NewStaff, PublishReceipt, QueuePage, ReviewDossier, ReviewStage, ReviewState,
    StaffCreated, StaffList, StaffLoginRequest, StaffSession, StaffUpdate, StaffView, TotpCode,
    TotpEnrollment,
};
use poem::Request;
use poem::web::Data;
use poem_openapi::auth::{ApiKey, Bearer};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::{Binary, Json};
use poem_openapi::{ApiResponse, OpenApi, SecurityScheme, Tags};
use uuid::Uuid;

use super::{
    ImageBytes, NoContent, PhotoBody, csrf_of, now, one_kind_of_credentials, refuse_credentials,
    remote_ip, state as state_of,
};
use crate::error::ApiResult;
use crate::state::AppState;
use crate::storage::review::{QueueFilter, Staff};

use crate::staff::{VerifiedStaff, staff_view};

#[derive(Tags)]
enum StaffTags {
    /// Reviewers' and administrators' sign-in and second factor
    Staff,
    /// Queues, dossiers, claims and decisions
    Review,
    /// The district's accounts, windows, results and exports
    Admin,
}

/// A signed-in staff member and the token they came with.
pub struct SignedIn {
    pub staff: Staff,
    token: String,
}

async fn check_staff(req: &Request, bearer: Bearer) -> poem::Result<SignedIn> {
    one_kind_of_credentials(req, STAFF_COOKIE)?;
    let state = state_of(req)?;
    let staff = state
        .staff
        .authenticate(&bearer.token, now())
        .await
        .map_err(|e| refuse_credentials(req, e))?;
    Ok(SignedIn {
        staff,
        token: bearer.token,
    })
}

async fn check_staff_cookie(req: &Request, key: ApiKey) -> poem::Result<SignedIn> {
    one_kind_of_credentials(req, STAFF_COOKIE)?;
    let (csrf, state_change) = csrf_of(req);
    let state = state_of(req)?;
    let staff = state
        .staff
        .authenticate_cookie(&key.key, csrf, state_change, now())
        .await
        .map_err(|e| refuse_credentials(req, e))?;
    Ok(SignedIn {
        staff,
        token: key.key,
    })
}

/// A reviewer's or administrator's access token.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", checker = "check_staff")]
pub struct StaffToken(SignedIn);

/// The web console's session cookie; state changes also need the `X-CSRF-Token` header.
#[derive(SecurityScheme)]
#[oai(
    ty = "api_key",
    key_name = "dossier_staff",
    key_in = "cookie",
    checker = "check_staff_cookie"
)]
pub struct StaffCookie(SignedIn);

/// Either way a staff member signs in; the refusal answered is that of the one shown (see
/// `edge::CredentialRefusal`).
#[derive(SecurityScheme)]
pub enum StaffAuth {
    StaffCookie(StaffCookie),
    StaffToken(StaffToken),
}

impl StaffAuth {
    fn signed_in(&self) -> &SignedIn {
        match self {
            StaffAuth::StaffToken(t) => &t.0,
            StaffAuth::StaffCookie(c) => &c.0,
        }
    }

    fn staff(&self) -> &Staff {
        &self.signed_in().staff
    }

    /// The staff member, once past the second-factor rule: what review and administration take.
    fn verified(&self) -> ApiResult<VerifiedStaff> {
        VerifiedStaff::check(self.staff().clone())
    }
}

#[derive(ApiResponse)]
enum CsvFile {
    /// UTF-8 CSV (with a byte-order mark, so Excel reads the Chinese).
    #[oai(status = 200, content_type = "text/csv; charset=utf-8")]
    Ok(
        Binary<Vec<u8>>,
        #[oai(header = "Content-Disposition")] String,
        #[oai(header = "Cache-Control")] String,
    ),
}

#[derive(ApiResponse)]
enum StaffSignedIn {
    /// Signed in. In web mode the cookie is set and the answer carries the CSRF token.
    #[oai(status = 200)]
    Ok(
        Json<StaffSession>,
        #[oai(header = "Set-Cookie")] Option<String>,
    ),
}

#[derive(ApiResponse)]
enum SignedOut {
    /// The session has ended; the console's cookie is cleared.
    #[oai(status = 204)]
    Done(#[oai(header = "Set-Cookie")] Option<String>),
}

pub struct StaffApi;

#[OpenApi(prefix_path = "/api/v1/staff", tag = "StaffTags::Staff")]
impl StaffApi {
    /// Sign in with password and, once set up, the authenticator code (TOTP, RFC 6238).
    #[oai(path = "/login", method = "post")]
    async fn login(
        &self,
        req: &Request,
        state: Data<&AppState>,
        body: Json<StaffLoginRequest>,
    ) -> ApiResult<StaffSignedIn> {
        let (session, cookie) = state.staff.login(body.0, remote_ip(req), now()).await?;
        Ok(StaffSignedIn::Ok(Json(session), cookie))
    }

    /// Sign out: the session ends (and the console's cookie is cleared).
    #[oai(path = "/logout", method = "post")]
    async fn logout(&self, state: Data<&AppState>, auth: StaffAuth) -> ApiResult<SignedOut> {
        state.staff.logout(&auth.signed_in().token, now()).await?;
        let clear = matches!(auth, StaffAuth::StaffCookie(_))
            .then(|| state.auth.cookie(STAFF_COOKIE, "", "Strict", 0));
        Ok(SignedOut::Done(clear))
    }

    /// Who is signed in.
    #[oai(path = "/me", method = "get")]
    async fn me(&self, auth: StaffAuth) -> ApiResult<Json<StaffView>> {
        Ok(Json(staff_view(auth.staff())))
    }

    /// Start setting up the authenticator app: a new secret and its otpauth URL (for a QR code).
    #[oai(path = "/totp/enroll", method = "post")]
    async fn totp_enroll(
        &self,
        state: Data<&AppState>,
        auth: StaffAuth,
    ) -> ApiResult<Json<TotpEnrollment>> {
        Ok(Json(state.staff.totp_enroll(auth.staff()).await?))
    }

    /// Finish the set-up with a code from the app; from then on sign-in needs a code.
    #[oai(path = "/totp/confirm", method = "post")]
    async fn totp_confirm(
        &self,
        req: &Request,
        state: Data<&AppState>,
        auth: StaffAuth,
        body: Json<TotpCode>,
    ) -> ApiResult<NoContent> {
        state
            .staff
            .totp_confirm(auth.staff(), &body.0.code, remote_ip(req), now())
            .await?;
        Ok(NoContent::Done)
    }
}

pub struct ReviewApi;

#[OpenApi(prefix_path = "/api/v1/review", tag = "StaffTags::Review")]
impl ReviewApi {
    /// A page of a stage's queue within your scope, waiting longest first, with the counts for
    /// the filter tabs.
    #[oai(path = "/queue", method = "get")]
    #[allow(clippy::too_many_arguments)]
    async fn queue(
        &self,
        state: Data<&AppState>,
        auth: StaffAuth,
        stage: Query<ReviewStage>,
        #[oai(name = "state")] review_state: Query<Option<ReviewState>>,
        #[oai(validator(max_length = 64))] exam_site: Query<Option<String>>,
        resubmitted: Query<Option<bool>>,
        /// Only dossiers with an ID-card finding: a number or name that differs from the
        /// registration, a side in the wrong slot, a failed check character, an expired card.
        findings: Query<Option<bool>>,
        /// Search: a username's start, part of a name, an ID number or its last digits.
        #[oai(validator(max_length = 64))]
        q: Query<Option<String>>,
        #[oai(validator(minimum(value = "0"), maximum(value = "4294967295")))] page: Query<
            Option<u32>,
        >,
        #[oai(validator(minimum(value = "0"), maximum(value = "4294967295")))] per_page: Query<
            Option<u32>,
        >,
    ) -> ApiResult<Json<QueuePage>> {
        let per_page = per_page.0.unwrap_or(50).clamp(1, 200);
        let filter = QueueFilter {
            stage: stage.0,
            state: review_state.0,
            exam_site: exam_site.0,
            resubmitted_only: resubmitted.0.unwrap_or(false),
            with_findings: findings.0.unwrap_or(false),
            search: q.0,
            whole_id_numbers: false, // decided by the caller's role in `Review::queue`
            offset: page.0.unwrap_or(0).saturating_mul(per_page),
            limit: per_page,
        };
        Ok(Json(
            state.review.queue(&auth.verified()?, filter, now()).await?,
        ))
    }

    /// The exam sites you may filter the queue by (a site reviewer: their own).
    #[oai(path = "/exam-sites", method = "get")]
    async fn exam_sites(
        &self,
        state: Data<&AppState>,
        auth: StaffAuth,
    ) -> ApiResult<Json<ExamSites>> {
        Ok(Json(state.review.exam_sites(&auth.verified()?).await?))
    }

    /// Open a dossier: the candidate, every material with its images and their old versions,
    /// the decisions so far and the audit trail.
    #[oai(path = "/dossiers/:id", method = "get")]
    async fn dossier(
        &self,
        state: Data<&AppState>,
        auth: StaffAuth,
        id: Path<Uuid>,
    ) -> ApiResult<Json<ReviewDossier>> {
        Ok(Json(
            state.review.open(&auth.verified()?, id.0, now()).await?,
        ))
    }

    /// Claim the dossier for 30 minutes (renewable), so no one else works on it.
    #[oai(path = "/dossiers/:id/claim", method = "post")]
    async fn claim(
        &self,
        req: &Request,
        state: Data<&AppState>,
        auth: StaffAuth,
        id: Path<Uuid>,
    ) -> ApiResult<Json<ClaimView>> {
        Ok(Json(
            state
                .review
                .claim(&auth.verified()?, id.0, remote_ip(req), now())
                .await?,
        ))
    }

    /// Let go of your claim.
    #[oai(path = "/dossiers/:id/claim", method = "delete")]
    async fn release(
        &self,
        req: &Request,
        state: Data<&AppState>,
        auth: StaffAuth,
        id: Path<Uuid>,
    ) -> ApiResult<NoContent> {
        state
            .review
            .release(&auth.verified()?, id.0, remote_ip(req), now())
            .await?;
        Ok(NoContent::Done)
    }

    /// Decide a dossier you have claimed: approve or return each material, and the outcome.
    #[oai(path = "/dossiers/:id/decision", method = "post")]
    async fn decide(
        &self,
        req: &Request,
        state: Data<&AppState>,
        auth: StaffAuth,
        id: Path<Uuid>,
        body: Json<DecisionRequest>,
    ) -> ApiResult<Json<DecisionReceipt>> {
        Ok(Json(
            state
                .review
                .decide(&auth.verified()?, id.0, body.0, remote_ip(req), now())
                .await?,
        ))
    }

    /// An image of a dossier in your scope (old versions too).
    #[oai(path = "/images/:id", method = "get")]
    async fn image(
        &self,
        state: Data<&AppState>,
        auth: StaffAuth,
        id: Path<Uuid>,
    ) -> ApiResult<ImageBytes> {
        let (bytes, content_type) = state.review.image(&auth.verified()?, id.0).await?;
        Ok(ImageBytes::new(bytes, &content_type, "no-store, private"))
    }

    /// A small JPEG of an image of a dossier in your scope (at most 320 px on the long side).
    #[oai(path = "/images/:id/thumbnail", method = "get")]
    async fn thumbnail(
        &self,
        state: Data<&AppState>,
        auth: StaffAuth,
        id: Path<Uuid>,
    ) -> ApiResult<ImageBytes> {
        let (stored, _) = state.review.image(&auth.verified()?, id.0).await?;
        let jpeg = state.dossiers.thumbnail(stored).await?;
        Ok(ImageBytes::new(jpeg, "image/jpeg", "no-store, private"))
    }
}

pub struct AdminApi;

#[OpenApi(prefix_path = "/api/v1/admin", tag = "StaffTags::Admin")]
impl AdminApi {
    /// Create a reviewer or administrator account in your district; the first password is
    /// shown once.
    #[oai(path = "/staff", method = "post")]
    async fn create_staff(
        &self,
        req: &Request,
        state: Data<&AppState>,
        auth: StaffAuth,
        body: Json<NewStaff>,
    ) -> ApiResult<Json<StaffCreated>> {
        let admin = auth.verified()?;
        let district = admin.district.clone();
        Ok(Json(
            state
                .staff
                .create_staff(Some(&admin), &district, body.0, remote_ip(req), now())
                .await?,
        ))
    }

    /// The district's reviewer and administrator accounts.
    #[oai(path = "/staff", method = "get")]
    async fn list_staff(
        &self,
        state: Data<&AppState>,
        auth: StaffAuth,
    ) -> ApiResult<Json<StaffList>> {
        Ok(Json(state.staff.list_staff(&auth.verified()?).await?))
    }

    /// Change an account of your district: role, exam site, whether a second factor is required,
    /// disabled. Takes effect on the account's next request; audited.
    #[oai(path = "/staff/:username", method = "patch")]
    async fn update_staff(
        &self,
        req: &Request,
        state: Data<&AppState>,
        auth: StaffAuth,
        username: Path<String>,
        body: Json<StaffUpdate>,
    ) -> ApiResult<Json<StaffView>> {
        Ok(Json(
            state
                .staff
                .update_staff(
                    &auth.verified()?,
                    &username.0,
                    body.0,
                    remote_ip(req),
                    now(),
                )
                .await?,
        ))
    }

    /// The district's upload and review windows. Every staff member of the district may read
    /// them (a reviewer's console shows when their stage closes); only administrators change
    /// them.
    #[oai(path = "/windows", method = "get")]
    async fn windows(
        &self,
        state: Data<&AppState>,
        auth: StaffAuth,
    ) -> ApiResult<Json<DistrictWindows>> {
        Ok(Json(state.admin.windows(&auth.verified()?).await?))
    }

    /// Set the upload and review windows of the district.
    #[oai(path = "/windows", method = "put")]
    async fn set_windows(
        &self,
        req: &Request,
        state: Data<&AppState>,
        auth: StaffAuth,
        body: Json<DistrictWindows>,
    ) -> ApiResult<NoContent> {
        state
            .admin
            .set_windows(&auth.verified()?, body.0, remote_ip(req), now())
            .await?;
        Ok(NoContent::Done)
    }

    /// The district's catalogue: every category as candidates see it.
    #[oai(path = "/catalogue", method = "get")]
    async fn catalogue(
        &self,
        state: Data<&AppState>,
        auth: StaffAuth,
    ) -> ApiResult<Json<CatalogueView>> {
        Ok(Json(state.admin.catalogue(&auth.verified()?).await?))
    }

    /// Change a category's name, description, requirement and image counts; audited.
    #[oai(path = "/catalogue/:code", method = "put")]
    async fn update_category(
        &self,
        req: &Request,
        state: Data<&AppState>,
        auth: StaffAuth,
        code: Path<String>,
        body: Json<CategoryUpdate>,
    ) -> ApiResult<NoContent> {
        state
            .admin
            .update_category(&auth.verified()?, code.0, body.0, remote_ip(req), now())
            .await?;
        Ok(NoContent::Done)
    }

    /// Replace a category's example image (示例): the body is a JPEG or PNG of at most 1 MB.
    #[oai(path = "/catalogue/:code/example", method = "put")]
    async fn set_example(
        &self,
        req: &Request,
        state: Data<&AppState>,
        auth: StaffAuth,
        code: Path<String>,
        body: PhotoBody,
    ) -> ApiResult<NoContent> {
        let bytes = crate::edge::read_body(body.into_body(), 1 << 20).await?;
        state
            .admin
            .set_example(
                &auth.verified()?,
                code.0,
                bytes.to_vec(),
                remote_ip(req),
                now(),
            )
            .await?;
        Ok(NoContent::Done)
    }

    /// Publish the final results (after the district review window has closed).
    #[oai(path = "/publish", method = "post")]
    async fn publish(
        &self,
        req: &Request,
        state: Data<&AppState>,
        auth: StaffAuth,
    ) -> ApiResult<Json<PublishReceipt>> {
        Ok(Json(
            state
                .admin
                .publish(&auth.verified()?, remote_ip(req), now())
                .await?,
        ))
    }

    /// The review results as CSV, for the district or one exam site.
    #[oai(path = "/results.csv", method = "get")]
    async fn results_csv(
        &self,
        state: Data<&AppState>,
        auth: StaffAuth,
        #[oai(validator(max_length = 64))] exam_site: Query<Option<String>>,
    ) -> ApiResult<CsvFile> {
        let bytes = state
            .admin
            .export_csv(&auth.verified()?, exam_site.0)
            .await?;
        Ok(CsvFile::Ok(
            Binary(bytes),
            "attachment; filename=\"results.csv\"".into(),
            "no-store, private".into(),
        ))
    }
}
