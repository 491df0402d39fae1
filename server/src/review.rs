//! The review workflow: staff sign-in with a second factor, role and scope checks, the queues,
//! claims, two-stage decisions, windows, publishing, the export, and the audit trail of it all.
//!
//! Deny by default: every call takes the signed-in `Staff` and checks role and scope here; a
//! dossier outside the caller's scope answers 404, as if it did not exist. The rules of a decision
//! live in `dossier_core::domain::review`; this module applies them in one transaction with the
//! messages, notifications and audit entries they cause.
pub mod api;

use std::collections::HashMap;

use dossier_core::api::review::{
    AuditView, CandidateInfo, CatalogueView, CategoryUpdate, ClaimView, DecisionReceipt,
    DecisionRequest, DecisionView, DistrictWindows, DossierOutcome, MaterialVerdict, NewStaff,
    PublishReceipt, QueueCounts, QueueEntry, QueuePage, ReviewDossier, ReviewMaterial, ReviewStage,
    ReviewState, StaffCreated, StaffList, StaffLoginRequest, StaffRole, StaffSession, StaffUpdate,
    StaffView, TotpEnrollment,
};
use dossier_core::api::{
    DossierState, ErrorBody, ErrorCode, MaterialState, MessageKind, Requirement, STAFF_COOKIE,
    SessionMode, WindowState,
};
use dossier_core::domain::{self, review as rules};
use rusqlite::Connection;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::auth::{Auth, SignInAttempt, hash_secret_blocking, random_token, token_hash};
use crate::dossier::{category_view, image_view, note_of};
use crate::error::{ApiError, ApiResult};
use crate::notify::NotifySettings;
use crate::storage::outbox::{self, Channel};
use crate::storage::review::{self as store, AuditEntry, QueueFilter, Scope, Staff};
use crate::storage::{self, BlobStore, Db, MessageRow, StorageError};

/// How long a claim holds a dossier for one reviewer.
pub const CLAIM: Duration = Duration::minutes(30);
/// How long a staff session lasts (a working day).
pub const STAFF_SESSION: Duration = Duration::hours(12);

#[derive(Clone)]
pub struct Review {
    db: Db,
    auth: Auth,
    blobs: BlobStore,
    notify: NotifySettings,
}

/// A field that failed its newtype's rule: `invalid_field`, naming the field.
fn field<T>(name: &str, parsed: Result<T, &'static str>) -> ApiResult<T> {
    parsed.map_err(|why| ApiError::invalid_field(name, format!("{name}: {why}")))
}

/// The caller holds a live claim on the dossier: `claimed_by_other` when someone else does,
/// `claim_required` (with `unclaimed`, what to do) when nobody does.
fn holds_claim(
    review: &store::ReviewRow,
    staff: &Staff,
    now: OffsetDateTime,
    unclaimed: &str,
) -> ApiResult<()> {
    match review.live_claim(now) {
        Some((by, _)) if by == staff.id => Ok(()),
        Some(_) => Err(ApiError::new(
            ErrorCode::ClaimedByOther,
            "another reviewer holds this dossier",
        )),
        None => Err(ApiError::new(ErrorCode::ClaimRequired, unclaimed)),
    }
}

fn forbidden() -> ApiError {
    ApiError::new(ErrorCode::Forbidden, "your role cannot do this")
}

fn require(staff: &Staff, roles: &[StaffRole]) -> ApiResult<()> {
    if roles.contains(&staff.role) {
        Ok(())
    } else {
        Err(forbidden())
    }
}

pub fn scope_of(staff: &Staff) -> Scope {
    Scope {
        district: staff.district.clone(),
        exam_site: match staff.role {
            StaffRole::SiteReviewer => staff.exam_site.clone(),
            _ => None,
        },
    }
}

fn in_scope(staff: &Staff, district: &str, exam_site: &str) -> bool {
    let scope = scope_of(staff);
    scope.district == district && scope.exam_site.as_deref().is_none_or(|s| s == exam_site)
}

pub fn staff_view(s: &Staff) -> StaffView {
    StaffView {
        id: s.id,
        username: s.username.clone(),
        name: s.name.clone(),
        role: s.role,
        district: s.district.clone(),
        exam_site: s.exam_site.clone(),
        totp_enabled: s.totp_enabled,
        totp_required: s.totp_required,
        disabled: s.disabled,
    }
}

fn totp(secret: &[u8], username: &str) -> ApiResult<totp_rs::TOTP> {
    totp_rs::TOTP::new(
        totp_rs::Algorithm::SHA1,
        6,
        1,
        30,
        secret.to_vec(),
        Some("Dossier".into()),
        username.into(),
    )
    .map_err(|e| ApiError::new(ErrorCode::Internal, format!("totp: {e}")))
}

/// The time step (30 s) whose code `code` is, within one step either side for clock drift.
fn totp_step_of(secret: &[u8], username: &str, code: &str, now: OffsetDateTime) -> Option<u64> {
    let t = totp(secret, username).ok()?;
    let code = code.trim();
    let step = now.unix_timestamp().max(0) as u64 / t.step;
    [step.saturating_sub(1), step, step + 1]
        .into_iter()
        .find(|s| {
            let expected = t.generate(s * t.step);
            bool::from(subtle::ConstantTimeEq::ct_eq(
                expected.as_bytes(),
                code.as_bytes(),
            ))
        })
}

/// The current code of a TOTP secret (for the CLI and tests, as an authenticator app would).
pub fn totp_code(secret: &[u8], username: &str, now: OffsetDateTime) -> String {
    totp(secret, username)
        .map(|t| t.generate(now.unix_timestamp() as u64))
        .unwrap_or_default()
}

// Positional for now: the scale-out issue's layout step turns the audit entry into one builder.
#[allow(clippy::too_many_arguments)]
fn audit(
    tx: &Connection,
    at: OffsetDateTime,
    actor: &str,
    action: &str,
    candidate: Option<Uuid>,
    category: Option<&str>,
    detail: impl Into<String>,
    ip: Option<&str>,
) -> Result<(), StorageError> {
    store::append_audit(
        tx,
        &AuditEntry {
            at,
            actor: actor.into(),
            action: action.into(),
            candidate,
            category: category.map(String::from),
            detail: detail.into(),
            ip: ip.map(String::from),
        },
    )
}

/// The window of a review stage, as open/closed/not yet.
fn stage_window(w: &DistrictWindows, stage: ReviewStage, now: OffsetDateTime) -> WindowState {
    let (opens, closes) = match stage {
        ReviewStage::Site => (w.site_review_opens_at, w.site_review_closes_at),
        _ => (w.district_review_opens_at, w.district_review_closes_at),
    };
    domain::window_state(opens, closes, now)
}

fn window_refusal(state: WindowState, what: &str) -> ApiResult<()> {
    match state {
        WindowState::Open => Ok(()),
        WindowState::NotYetOpen => Err(ApiError::new(
            ErrorCode::WindowNotOpen,
            format!("the {what} window has not opened"),
        )),
        WindowState::Closed => Err(ApiError::new(
            ErrorCode::WindowClosed,
            format!("the {what} window has closed"),
        )),
    }
}

/// A message to the candidate with its push now and its SMS fallback later.
#[allow(clippy::too_many_arguments)]
fn tell_candidate(
    tx: &Connection,
    candidate: Uuid,
    kind: MessageKind,
    title: &str,
    body: String,
    categories: Vec<String>,
    notify: &NotifySettings,
    now: OffsetDateTime,
) -> Result<(), StorageError> {
    let message = MessageRow {
        id: Uuid::new_v4(),
        kind,
        title: title.into(),
        body,
        categories,
        created_at: now,
        read_at: None,
    };
    storage::insert_message(tx, candidate, &message)?;
    outbox::enqueue(tx, candidate, message.id, Channel::Push, now)?;
    outbox::enqueue(
        tx,
        candidate,
        message.id,
        Channel::Sms,
        now + Duration::seconds(notify.sms_after_secs),
    )
}

impl Review {
    pub fn new(db: Db, auth: Auth, blobs: BlobStore, notify: NotifySettings) -> Review {
        Review {
            db,
            auth,
            blobs,
            notify,
        }
    }

    // -----------------------------------------------------------------------------------------
    // Accounts and sign-in

    /// Sign in with password and, when the account has one, the authenticator code. Failures are
    /// throttled per username like candidates' and audited with the address they came from. In
    /// web mode the session also carries a CSRF token, and the `Set-Cookie` value comes with it.
    pub async fn login(
        &self,
        req: StaffLoginRequest,
        ip: Option<String>,
        now: OffsetDateTime,
    ) -> ApiResult<(StaffSession, Option<String>)> {
        let attempt = SignInAttempt::staff(&req.username, ip.as_deref());
        self.auth.check_throttle(&attempt, now).await?;
        let name = req.username.clone();
        let staff = self
            .db
            .read(move |c| store::staff_by_username(c, &name))
            .await
            .ok()
            .filter(|s| !s.disabled);
        let password_ok = self
            .auth
            .verify_secret(
                staff.as_ref().map(|s| s.password_hash.clone()),
                req.password,
            )
            .await;
        let failure = |why: &'static str| {
            let (db, username, ip) = (self.db.clone(), req.username.clone(), ip.clone());
            async move {
                let _ = db
                    .write(move |tx| {
                        audit(
                            tx,
                            now,
                            &username,
                            "login_failed",
                            None,
                            None,
                            why,
                            ip.as_deref(),
                        )
                    })
                    .await;
            }
        };
        let Some(staff) = staff.filter(|_| password_ok) else {
            failure("wrong username or password").await;
            self.auth.record_failure(&attempt, now).await?;
            return Err(ApiError::new(
                ErrorCode::Unauthorized,
                "wrong username or password",
            ));
        };
        // The time step of the code given, if it is right; spent below, so it works once.
        let mut totp_step = None;
        if staff.totp_enabled {
            let secret = staff.totp_secret.clone().unwrap_or_default();
            totp_step = req
                .totp_code
                .as_deref()
                .and_then(|code| totp_step_of(&secret, &staff.username, code, now));
            if totp_step.is_none() {
                failure("second factor missing or wrong").await;
                if req.totp_code.is_some() {
                    self.auth.record_failure(&attempt, now).await?;
                }
                let mut refusal = ApiError::new(
                    ErrorCode::TotpRequired,
                    "enter the 6-digit code of your authenticator app",
                );
                if req.totp_code.is_some() {
                    refusal = ApiError::from_body(ErrorBody {
                        detail: Some("wrong_code".into()),
                        ..refusal.body().clone()
                    });
                }
                return Err(refusal);
            }
        }
        let token = random_token();
        let hash = token_hash(&token);
        let web = req.mode == Some(SessionMode::Web);
        let csrf = web.then(random_token);
        let csrf_hash = csrf.as_deref().map(token_hash);
        let expires = now + STAFF_SESSION;
        let (id, username) = (staff.id, staff.username.clone());
        let detail = if staff.totp_enabled {
            "password and authenticator code"
        } else {
            "password"
        };
        let [pair, _] = attempt.keys();
        let from = ip.clone();
        let session = self
            .db
            .write(move |tx| {
                // RFC 6238 §5.2: a code is accepted once. Spending its step here, in the same
                // transaction as the session, makes a second sign-in with it fail even if both
                // arrived together.
                if let Some(step) = totp_step
                    && !store::spend_totp_step(tx, id, step)?
                {
                    return Err(ApiError::from_body(ErrorBody {
                        detail: Some("code_used".into()),
                        ..ErrorBody::new(
                            ErrorCode::TotpRequired,
                            "this code was used already; wait for the next one",
                        )
                    }));
                }
                storage::clear_throttle(tx, &pair)?;
                store::insert_staff_session(tx, &hash, csrf_hash.as_deref(), id, now, expires)?;
                Ok(audit(
                    tx,
                    now,
                    &username,
                    "login",
                    None,
                    None,
                    detail,
                    from.as_deref(),
                )?)
            })
            .await;
        if let Err(refusal) = session {
            if refusal.body().code == ErrorCode::TotpRequired {
                failure("authenticator code used again").await;
                self.auth.record_failure(&attempt, now).await?;
            }
            return Err(refusal);
        }
        // Strict: the console is never entered by a link from another site.
        let cookie = web.then(|| {
            self.auth.cookie(
                STAFF_COOKIE,
                &token,
                "Strict",
                STAFF_SESSION.whole_seconds(),
            )
        });
        Ok((
            StaffSession {
                access_token: (!web).then_some(token),
                csrf_token: csrf,
                expires_at: expires,
                staff: staff_view(&staff),
            },
            cookie,
        ))
    }

    /// The staff member behind a bearer token. An account that must have a second factor but has
    /// none yet may only set one up (`totp_only`).
    pub async fn authenticate(&self, token: &str, now: OffsetDateTime) -> ApiResult<Staff> {
        self.session(token, now).await.map(|(staff, _)| staff)
    }

    /// The staff member behind the console's cookie; state changes must show the CSRF token.
    pub async fn authenticate_cookie(
        &self,
        token: &str,
        csrf: Option<&str>,
        state_change: bool,
        now: OffsetDateTime,
    ) -> ApiResult<Staff> {
        let (staff, csrf_hash) = self.session(token, now).await?;
        // A bearer session's token presented as a cookie has no CSRF hash: no change passes.
        crate::auth::check_csrf(csrf, csrf_hash.as_deref(), state_change)?;
        Ok(staff)
    }

    async fn session(
        &self,
        token: &str,
        now: OffsetDateTime,
    ) -> ApiResult<(Staff, Option<Vec<u8>>)> {
        let hash = token_hash(token);
        let (staff, csrf_hash, expires_at) = self
            .db
            .read(move |c| store::staff_of_session(c, &hash))
            .await
            .map_err(crate::auth::session_refusal)?;
        if expires_at <= now {
            return Err(crate::auth::session_expired());
        }
        Ok((staff, csrf_hash))
    }

    pub async fn logout(&self, token: &str, now: OffsetDateTime) -> ApiResult<()> {
        let hash = token_hash(token);
        self.db
            .write(move |tx| store::revoke_staff_session(tx, &hash, now))
            .await
            .map_err(ApiError::from)
    }

    /// A new secret for the authenticator app; it takes effect once a code is confirmed.
    pub async fn totp_enroll(&self, staff: &Staff) -> ApiResult<TotpEnrollment> {
        let mut secret = vec![0u8; 20];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut secret);
        let t = totp(&secret, &staff.username)?;
        let id = staff.id;
        self.db
            .write(move |tx| store::set_totp_secret(tx, id, &secret))
            .await
            .map_err(ApiError::from)?;
        Ok(TotpEnrollment {
            secret_base32: t.get_secret_base32(),
            otpauth_url: t.get_url(),
        })
    }

    pub async fn totp_confirm(
        &self,
        staff: &Staff,
        code: &str,
        ip: Option<String>,
        now: OffsetDateTime,
    ) -> ApiResult<()> {
        let id = staff.id;
        let fresh = self
            .db
            .read(move |c| store::staff_by_id(c, id))
            .await
            .map_err(ApiError::from)?;
        let secret = fresh.totp_secret.ok_or_else(|| {
            ApiError::invalid_field("code", "start the authenticator set-up first")
        })?;
        let Some(step) = totp_step_of(&secret, &staff.username, code, now) else {
            return Err(ApiError::from_body(ErrorBody {
                detail: Some("wrong_code".into()),
                ..ErrorBody::new(ErrorCode::TotpRequired, "that code is not right")
            }));
        };
        let username = staff.username.clone();
        self.db
            .write(move |tx| {
                // The confirming code is spent too: it cannot sign in a second time.
                store::spend_totp_step(tx, id, step)?;
                store::enable_totp(tx, id, now)?;
                audit(
                    tx,
                    now,
                    &username,
                    "totp_enabled",
                    None,
                    None,
                    "",
                    ip.as_deref(),
                )
            })
            .await
            .map_err(ApiError::from)
    }

    /// Create a reviewer or administrator account in `district` (an administrator's, or the
    /// CLI's when `by` is None); returns the first password.
    pub async fn create_staff(
        &self,
        by: Option<&Staff>,
        district: &str,
        new: NewStaff,
        ip: Option<String>,
        now: OffsetDateTime,
    ) -> ApiResult<StaffCreated> {
        if let Some(admin) = by {
            require(admin, &[StaffRole::DistrictAdmin])?;
            if admin.district != district {
                return Err(forbidden());
            }
        }
        let site = match (new.role, new.exam_site.as_deref().map(str::trim)) {
            (StaffRole::SiteReviewer, Some(site)) if !site.is_empty() => Some(
                field("exam_site", domain::DisplayName::parse(site))?
                    .as_str()
                    .to_string(),
            ),
            (StaffRole::SiteReviewer, _) => {
                return Err(ApiError::invalid_field(
                    "exam_site",
                    "a site reviewer needs an exam site",
                ));
            }
            _ => None,
        };
        let username = field("username", domain::StaffUsername::parse(&new.username))?;
        let name = field("name", domain::DisplayName::parse(&new.name))?;
        let password = crate::demo::random_password();
        let hash = {
            let p = password.clone();
            tokio::task::spawn_blocking(move || hash_secret_blocking(&p))
                .await
                .map_err(|e| ApiError::from(StorageError::Task(e.to_string())))?
        };
        let staff = Staff {
            id: Uuid::new_v4(),
            username: username.as_str().into(),
            name: name.as_str().into(),
            role: new.role,
            district: district.into(),
            exam_site: site,
            password_hash: hash,
            totp_secret: None,
            totp_enabled: false,
            totp_required: new.totp_required,
            disabled: false,
        };
        let actor = by.map_or("cli".to_string(), |s| s.username.clone());
        let row = staff.clone();
        self.db
            .write(move |tx| {
                if store::staff_by_username(tx, &row.username).is_ok() {
                    return Err(ApiError::new(
                        ErrorCode::AlreadyExists,
                        "that username is taken",
                    ));
                }
                storage::district(tx, &row.district)?;
                store::insert_staff(tx, &row, now)?;
                let detail = format!(
                    "{} {:?} site={:?} totp_required={}",
                    row.username, row.role, row.exam_site, row.totp_required
                );
                audit(
                    tx,
                    now,
                    &actor,
                    "staff_created",
                    None,
                    None,
                    detail,
                    ip.as_deref(),
                )?;
                Ok(())
            })
            .await?;
        Ok(StaffCreated {
            staff: staff_view(&staff),
            password,
        })
    }

    /// The accounts of the administrator's district.
    pub async fn list_staff(&self, admin: &Staff) -> ApiResult<StaffList> {
        require(admin, &[StaffRole::DistrictAdmin])?;
        let district = admin.district.clone();
        let staff = self
            .db
            .read(move |c| store::staff_of_district(c, &district))
            .await?;
        Ok(StaffList {
            staff: staff.iter().map(staff_view).collect(),
        })
    }

    /// Change an account's role, site, second-factor rule or disable it. An administrator
    /// cannot change their own account, so a district always keeps the one who acts.
    pub async fn update_staff(
        &self,
        admin: &Staff,
        username: &str,
        update: StaffUpdate,
        ip: Option<String>,
        now: OffsetDateTime,
    ) -> ApiResult<StaffView> {
        require(admin, &[StaffRole::DistrictAdmin])?;
        let name = username.to_string();
        let before = self
            .db
            .read(move |c| store::staff_by_username(c, &name))
            .await
            .ok()
            .filter(|s| s.district == admin.district)
            .ok_or_else(ApiError::not_found)?;
        if before.id == admin.id {
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                "ask another administrator to change your own account",
            ));
        }
        let mut after = before.clone();
        if let Some(role) = update.role {
            after.role = role;
        }
        if let Some(site) = update.exam_site {
            after.exam_site = match site.trim() {
                "" => None,
                site => Some(
                    field("exam_site", domain::DisplayName::parse(site))?
                        .as_str()
                        .to_string(),
                ),
            };
        }
        if after.role != StaffRole::SiteReviewer {
            after.exam_site = None;
        } else if after.exam_site.is_none() {
            return Err(ApiError::invalid_field(
                "exam_site",
                "a site reviewer needs an exam site",
            ));
        }
        if let Some(required) = update.totp_required {
            after.totp_required = required;
        }
        if let Some(disabled) = update.disabled {
            after.disabled = disabled;
        }
        let detail = format!(
            "{}: role {:?} -> {:?}, site {:?} -> {:?}, totp_required {} -> {}, disabled {} -> {}",
            after.username,
            before.role,
            after.role,
            before.exam_site,
            after.exam_site,
            before.totp_required,
            after.totp_required,
            before.disabled,
            after.disabled
        );
        let (row, actor) = (after.clone(), admin.username.clone());
        self.db
            .write(move |tx| {
                store::update_staff(tx, &row, now)?;
                audit(
                    tx,
                    now,
                    &actor,
                    "staff_changed",
                    None,
                    None,
                    detail,
                    ip.as_deref(),
                )
            })
            .await?;
        Ok(staff_view(&after))
    }

    /// Refuse everything but the second-factor set-up to an account that must have one and
    /// does not yet.
    pub fn check_second_factor(staff: &Staff) -> ApiResult<()> {
        if staff.totp_required && !staff.totp_enabled {
            return Err(ApiError::new(
                ErrorCode::TotpRequired,
                "set up your authenticator app first",
            ));
        }
        Ok(())
    }

    // -----------------------------------------------------------------------------------------
    // Queues and dossiers

    pub async fn queue(
        &self,
        staff: &Staff,
        filter: QueueFilter,
        now: OffsetDateTime,
    ) -> ApiResult<QueuePage> {
        Self::check_second_factor(staff)?;
        let scope = scope_of(staff);
        // A site reviewer asking for another site's queue sees nothing, not their own site's.
        if let (Some(mine), Some(asked)) = (scope.exam_site.as_deref(), filter.exam_site.as_deref())
            && mine != asked
        {
            return Ok(QueuePage {
                total: 0,
                counts: QueueCounts {
                    waiting: 0,
                    returned: 0,
                    pending: 0,
                    resubmitted: 0,
                },
                entries: Vec::new(),
            });
        }
        self.db
            .read(move |c| {
                let (total, rows) = store::queue_page(c, &scope, &filter, now)?;
                let (waiting, returned, pending, resubmitted) =
                    store::queue_counts(c, &scope, filter.stage, filter.exam_site.as_deref())?;
                Ok::<_, StorageError>(QueuePage {
                    total,
                    counts: QueueCounts {
                        waiting,
                        returned,
                        pending,
                        resubmitted,
                    },
                    entries: rows
                        .into_iter()
                        .map(|r| QueueEntry {
                            candidate_id: r.review.candidate_id,
                            username: r.username,
                            name: r.name,
                            id_number_masked: domain::mask_id_number(&r.id_number),
                            exam_site: r.review.exam_site,
                            stage: r.review.stage,
                            state: r.review.state,
                            resubmitted: r.review.resubmitted,
                            waiting_since: r.review.entered_at,
                            claimed_by: r.claimed_by_username,
                        })
                        .collect(),
                })
            })
            .await
            .map_err(ApiError::from)
    }

    /// The review row of a dossier the caller may see; 404 otherwise.
    fn visible(
        c: &Connection,
        staff: &Staff,
        candidate: Uuid,
    ) -> ApiResult<(store::ReviewRow, storage::Candidate)> {
        let review = store::review(c, candidate)?.ok_or_else(ApiError::not_found)?;
        if !in_scope(staff, &review.district, &review.exam_site) {
            return Err(ApiError::not_found());
        }
        let cand = storage::candidate_by_id(c, candidate)?;
        Ok((review, cand))
    }

    pub async fn open(
        &self,
        staff: &Staff,
        candidate: Uuid,
        now: OffsetDateTime,
    ) -> ApiResult<ReviewDossier> {
        Self::check_second_factor(staff)?;
        let staff = staff.clone();
        self.db
            .read(move |c| Self::compose(c, &staff, candidate, now))
            .await
    }

    fn compose(
        c: &Connection,
        staff: &Staff,
        candidate: Uuid,
        now: OffsetDateTime,
    ) -> ApiResult<ReviewDossier> {
        let (review, cand) = Self::visible(c, staff, candidate)?;
        let materials: HashMap<String, storage::MaterialRow> = storage::materials(c, candidate)?
            .into_iter()
            .map(|m| (m.category.clone(), m))
            .collect();
        let mut images: HashMap<String, Vec<storage::ImageRow>> = HashMap::new();
        for i in storage::images_of(c, candidate)? {
            images.entry(i.category.clone()).or_default().push(i);
        }
        let attributes = cand.rule_attributes();
        let reviewer_view = |i: &storage::ImageRow, locked: bool| {
            let mut v = image_view(i, locked);
            v.url = format!("/api/v1/review/images/{}", i.id);
            v.upload_key = None;
            v
        };
        let mut out = Vec::new();
        for cat in storage::categories(c, &cand.district)? {
            let row = materials.get(&cat.code);
            let state = row.map_or(MaterialState::Open, |m| m.state);
            let locked = domain::is_locked(state);
            let all = images.remove(&cat.code).unwrap_or_default();
            let (live, gone): (Vec<_>, Vec<_>) = all.iter().partition(|i| i.deleted_at.is_none());
            let mut live: Vec<_> = live.into_iter().map(|i| reviewer_view(i, locked)).collect();
            live.sort_by_key(|i| i.slot);
            out.push(ReviewMaterial {
                required: domain::required_for(
                    cat.requirement,
                    cat.condition.as_ref(),
                    &attributes,
                ),
                images: live,
                previous: gone.into_iter().map(|i| reviewer_view(i, true)).collect(),
                note: row.and_then(note_of),
                category: category_view(&cand.district, &cat),
                state,
            });
        }
        let claim = match review.live_claim(now) {
            Some((by, until)) => Some(ClaimView {
                by: store::staff_by_id(c, by)?.username,
                until,
            }),
            None => None,
        };
        Ok(ReviewDossier {
            candidate: CandidateInfo {
                id: cand.id,
                username: cand.username.clone(),
                name: cand.name.clone(),
                id_number: if staff.role == StaffRole::DistrictAdmin {
                    cand.id_number.clone()
                } else {
                    domain::mask_id_number(&cand.id_number)
                },
                exam_category: cand.exam_category.clone(),
                exam_site: cand.exam_site.clone(),
                mobile_masked: cand.mobile.as_deref().map(domain::mask_mobile),
            },
            version: store::candidate_version(c, candidate)?,
            stage: review.stage,
            state: review.state,
            claim,
            materials: out,
            decisions: store::decisions(c, candidate)?
                .into_iter()
                .map(|d| DecisionView {
                    stage: d.stage,
                    version: d.version,
                    by: d.staff_username,
                    category: d.category,
                    decision: d.decision,
                    reason: d.reason,
                    message: d.message,
                    at: d.at,
                })
                .collect(),
            audit: store::audit_of(c, candidate)?
                .into_iter()
                .map(|(seq, e)| AuditView {
                    seq,
                    at: e.at,
                    actor: e.actor,
                    action: e.action,
                    category: e.category,
                    detail: e.detail,
                })
                .collect(),
        })
    }

    /// The bytes of an image of a dossier in scope (old versions too).
    pub async fn image(&self, staff: &Staff, image: Uuid) -> ApiResult<(Vec<u8>, String)> {
        Self::check_second_factor(staff)?;
        let staff = staff.clone();
        let row = self
            .db
            .read(move |c| {
                let row = storage::image(c, image)?;
                Self::visible(c, &staff, row.candidate_id)?;
                Ok::<_, ApiError>(row)
            })
            .await?;
        let bytes = self.blobs.read(&row.sha256).await?;
        Ok((bytes, row.content_type))
    }

    /// Claim a dossier for `CLAIM`, so no other reviewer works on it; renewing your own claim
    /// extends it. Only reviewers of the dossier's current stage may claim.
    pub async fn claim(
        &self,
        staff: &Staff,
        candidate: Uuid,
        ip: Option<String>,
        now: OffsetDateTime,
    ) -> ApiResult<ClaimView> {
        Self::check_second_factor(staff)?;
        let stage = rules::stage_of(staff.role).ok_or_else(forbidden)?;
        let staff = staff.clone();
        self.db
            .write(move |tx| {
                let (review, _) = Self::visible(tx, &staff, candidate)?;
                if review.stage != stage
                    || !matches!(review.state, ReviewState::Waiting | ReviewState::Pending)
                {
                    return Err(ApiError::new(
                        ErrorCode::NotReviewable,
                        "this dossier is not waiting for your stage",
                    ));
                }
                if let Some((by, _)) = review.live_claim(now)
                    && by != staff.id
                {
                    let holder = store::staff_by_id(tx, by)?.username;
                    return Err(ApiError::new(
                        ErrorCode::ClaimedByOther,
                        format!("{holder} is reviewing this dossier"),
                    ));
                }
                let until = now + CLAIM;
                store::set_claim(tx, candidate, Some((staff.id, until)))?;
                audit(
                    tx,
                    now,
                    &staff.username,
                    "claim",
                    Some(candidate),
                    None,
                    "",
                    ip.as_deref(),
                )?;
                Ok(ClaimView {
                    by: staff.username.clone(),
                    until,
                })
            })
            .await
    }

    pub async fn release(
        &self,
        staff: &Staff,
        candidate: Uuid,
        ip: Option<String>,
        now: OffsetDateTime,
    ) -> ApiResult<()> {
        Self::check_second_factor(staff)?;
        let staff = staff.clone();
        self.db
            .write(move |tx| {
                let (review, _) = Self::visible(tx, &staff, candidate)?;
                holds_claim(&review, &staff, now, "you do not hold this dossier")?;
                store::set_claim(tx, candidate, None)?;
                Ok(audit(
                    tx,
                    now,
                    &staff.username,
                    "release",
                    Some(candidate),
                    None,
                    "",
                    ip.as_deref(),
                )?)
            })
            .await
    }

    /// Decide a claimed dossier: every material approved or returned, and the dossier's outcome.
    pub async fn decide(
        &self,
        staff: &Staff,
        candidate: Uuid,
        req: DecisionRequest,
        ip: Option<String>,
        now: OffsetDateTime,
    ) -> ApiResult<DecisionReceipt> {
        Self::check_second_factor(staff)?;
        let stage = rules::stage_of(staff.role).ok_or_else(forbidden)?;
        // What the candidate will read (and the SMS carries): plain text, line breaks allowed.
        let texts = req.materials.iter().filter_map(|m| m.message.as_deref());
        for text in texts.chain(req.reason.as_deref()) {
            if !domain::plain_text_lines(text, true) {
                return Err(ApiError::invalid_field(
                    "message",
                    "the message may not contain control characters, invisible characters or markup",
                ));
            }
        }
        let staff = staff.clone();
        let notify = self.notify.clone();
        self.db
            .write(move |tx| {
                let (review, cand) = Self::visible(tx, &staff, candidate)?;
                if review.stage != stage {
                    return Err(ApiError::new(
                        ErrorCode::NotReviewable,
                        "this dossier is not at your stage",
                    ));
                }
                window_refusal(
                    stage_window(&store::windows(tx, &cand.district)?, stage, now),
                    "review",
                )?;
                holds_claim(&review, &staff, now, "claim the dossier before deciding")?;
                let version = store::candidate_version(tx, candidate)?;
                if req.version != version {
                    return Err(ApiError::new(
                        ErrorCode::StaleVersion,
                        "the candidate has resubmitted since you opened this dossier; reload it",
                    ));
                }
                let mut with_images: Vec<String> = storage::live_images(tx, candidate)?
                    .into_iter()
                    .map(|i| i.category)
                    .collect();
                with_images.dedup();
                if let Some(unknown) = req
                    .materials
                    .iter()
                    .find(|m| !with_images.contains(&m.category))
                {
                    return Err(ApiError::invalid_field(
                        "materials",
                        format!("{} holds no images to decide on", unknown.category),
                    ));
                }
                let verdicts: Vec<rules::Verdict<'_>> = req
                    .materials
                    .iter()
                    .map(|m| rules::Verdict {
                        category: &m.category,
                        verdict: m.verdict,
                        has_reason_and_message: m.reason.is_some()
                            && m.message.as_deref().is_some_and(|t| !t.trim().is_empty()),
                    })
                    .collect();
                let categories: Vec<&str> = with_images.iter().map(String::as_str).collect();
                let reason = req
                    .reason
                    .as_deref()
                    .map(str::trim)
                    .filter(|r| !r.is_empty());
                let (next_stage, next_state) = rules::decide(
                    review.stage,
                    review.state,
                    &categories,
                    &verdicts,
                    req.outcome,
                    reason.is_some(),
                )
                .map_err(|e| match e {
                    rules::DecisionRefusal::NotReviewable(_) => {
                        ApiError::new(ErrorCode::NotReviewable, e.to_string())
                    }
                    _ => ApiError::new(ErrorCode::DecisionRules, e.to_string()),
                })?;
                let who = staff.username.as_str();
                let mut returned = Vec::new();
                for m in &req.materials {
                    let (decision, state) = match m.verdict {
                        MaterialVerdict::Approve => ("approve", MaterialState::Approved),
                        MaterialVerdict::Return => ("return", MaterialState::Returned),
                    };
                    let reason_text = m.reason.map(|r| r.label().to_string());
                    store::insert_decision(
                        tx,
                        candidate,
                        stage,
                        version,
                        staff.id,
                        Some(&m.category),
                        decision,
                        reason_text.as_deref(),
                        m.message.as_deref(),
                        now,
                    )?;
                    if state == MaterialState::Returned {
                        let message = m.message.clone().unwrap_or_default();
                        storage::return_material(
                            tx,
                            candidate,
                            &m.category,
                            reason_text.as_deref().unwrap_or_default(),
                            &message,
                            now,
                        )?;
                        audit(
                            tx,
                            now,
                            who,
                            "unlock",
                            Some(candidate),
                            Some(&m.category),
                            format!("{}: {message}", reason_text.unwrap_or_default()),
                            ip.as_deref(),
                        )?;
                        returned.push(m);
                    } else {
                        storage::set_material_state(tx, candidate, &m.category, state)?;
                    }
                    audit(
                        tx,
                        now,
                        who,
                        decision,
                        Some(candidate),
                        Some(&m.category),
                        format!("version {version}"),
                        ip.as_deref(),
                    )?;
                }
                let outcome = storage::enum_text(req.outcome);
                store::insert_decision(
                    tx, candidate, stage, version, staff.id, None, &outcome, reason, None, now,
                )?;
                store::set_review_state(tx, candidate, next_stage, next_state, reason, now)?;
                audit(
                    tx,
                    now,
                    who,
                    &format!("dossier_{outcome}"),
                    Some(candidate),
                    None,
                    reason.unwrap_or_default(),
                    ip.as_deref(),
                )?;
                match req.outcome {
                    DossierOutcome::Return => {
                        storage::set_dossier_state(tx, candidate, DossierState::Returned, None)?;
                        let names: HashMap<String, String> =
                            storage::categories(tx, &cand.district)?
                                .into_iter()
                                .map(|c| (c.code, c.name))
                                .collect();
                        let body = returned
                            .iter()
                            .map(|m| {
                                format!(
                                    "{}（{}）：{}",
                                    names.get(&m.category).unwrap_or(&m.category),
                                    m.reason.map(|r| r.label()).unwrap_or_default(),
                                    m.message.as_deref().unwrap_or_default()
                                )
                            })
                            .collect::<Vec<_>>()
                            .join("\n");
                        tell_candidate(
                            tx,
                            candidate,
                            MessageKind::Returned,
                            "报名材料被退回，请按要求重新上传后再次提交审核",
                            body,
                            returned.iter().map(|m| m.category.clone()).collect(),
                            &notify,
                            now,
                        )?;
                    }
                    DossierOutcome::Pending => tell_candidate(
                        tx,
                        candidate,
                        MessageKind::Pending,
                        "审核待定",
                        reason.unwrap_or_default().to_string(),
                        Vec::new(),
                        &notify,
                        now,
                    )?,
                    _ => {}
                }
                Ok(DecisionReceipt {
                    stage: next_stage,
                    state: next_state,
                })
            })
            .await
    }

    // -----------------------------------------------------------------------------------------
    // The district's administration

    pub async fn windows(&self, staff: &Staff) -> ApiResult<DistrictWindows> {
        Self::check_second_factor(staff)?;
        let district = staff.district.clone();
        self.db
            .read(move |c| store::windows(c, &district))
            .await
            .map_err(ApiError::from)
    }

    pub async fn set_windows(
        &self,
        staff: &Staff,
        w: DistrictWindows,
        ip: Option<String>,
        now: OffsetDateTime,
    ) -> ApiResult<()> {
        Self::check_second_factor(staff)?;
        require(staff, &[StaffRole::DistrictAdmin])?;
        let ordered = w.upload_opens_at < w.upload_closes_at
            && w.site_review_opens_at < w.site_review_closes_at
            && w.district_review_opens_at < w.district_review_closes_at;
        if !ordered {
            return Err(ApiError::invalid_field(
                "windows",
                "every window must open before it closes",
            ));
        }
        let staff = staff.clone();
        self.db
            .write(move |tx| {
                store::set_windows(tx, &staff.district, &w)?;
                let detail = serde_json::to_string(&w).unwrap_or_default();
                audit(
                    tx,
                    now,
                    &staff.username,
                    "windows_changed",
                    None,
                    None,
                    detail,
                    ip.as_deref(),
                )
            })
            .await
            .map_err(ApiError::from)
    }

    /// The district's catalogue (administrators).
    pub async fn catalogue(&self, staff: &Staff) -> ApiResult<CatalogueView> {
        Self::check_second_factor(staff)?;
        require(staff, &[StaffRole::DistrictAdmin])?;
        let district = staff.district.clone();
        let rows = self
            .db
            .read({
                let district = district.clone();
                move |c| storage::categories(c, &district)
            })
            .await
            .map_err(ApiError::from)?;
        Ok(CatalogueView {
            categories: rows.iter().map(|r| category_view(&district, r)).collect(),
        })
    }

    /// Change a category's words, requirement and counts; audited. A conditional category needs
    /// its roster rule, which only the district file sets.
    pub async fn update_category(
        &self,
        staff: &Staff,
        code: String,
        u: CategoryUpdate,
        ip: Option<String>,
        now: OffsetDateTime,
    ) -> ApiResult<()> {
        Self::check_second_factor(staff)?;
        require(staff, &[StaffRole::DistrictAdmin])?;
        let bad = |m: &str| Err(ApiError::invalid_field("category", m));
        if u.name.trim().is_empty() || u.name.chars().count() > 100 {
            return bad("the name must be 1 to 100 characters");
        }
        if u.description.chars().count() > 2000 {
            return bad("the description is longer than 2000 characters");
        }
        if u.max_images == 0 || u.max_images > 20 || u.min_images > u.max_images {
            return bad("needs 1 <= max_images <= 20 and min_images <= max_images");
        }
        let staff = staff.clone();
        self.db
            .write(move |tx| {
                let mut row = storage::categories(tx, &staff.district)?
                    .into_iter()
                    .find(|c| c.code == code)
                    .ok_or_else(ApiError::not_found)?;
                if u.requirement == Requirement::Conditional && row.condition.is_none() {
                    return bad(
                        "a conditional category needs its roster rule (required_when) in the \
                         district file",
                    );
                }
                if !row.slot_labels.is_empty() && row.slot_labels.len() != u.max_images as usize {
                    return Err(ApiError::invalid_field(
                        "max_images",
                        format!(
                            "this category's slots are named ({}); keep max_images at {}",
                            row.slot_labels.join(", "),
                            row.slot_labels.len()
                        ),
                    ));
                }
                row.name = u.name.trim().to_string();
                row.description = u.description.trim().to_string();
                row.requirement = u.requirement;
                row.condition_text = u.condition_text.filter(|t| !t.trim().is_empty());
                row.min_images = u.min_images;
                row.max_images = u.max_images;
                storage::update_category(tx, &staff.district, &row)?;
                let detail = format!(
                    "{}: {:?}, {}..{} images",
                    row.name, row.requirement, row.min_images, row.max_images
                );
                audit(
                    tx,
                    now,
                    &staff.username,
                    "category_changed",
                    None,
                    Some(&row.code),
                    detail,
                    ip.as_deref(),
                )?;
                Ok(())
            })
            .await
    }

    /// Replace a category's example image (示例): JPEG or PNG by content, at most 1 MB.
    pub async fn set_example(
        &self,
        staff: &Staff,
        code: String,
        image: Vec<u8>,
        ip: Option<String>,
        now: OffsetDateTime,
    ) -> ApiResult<()> {
        Self::check_second_factor(staff)?;
        require(staff, &[StaffRole::DistrictAdmin])?;
        // Served to anyone: checked as an upload is (decodes, upright, no metadata, nothing
        // after the image's end), within 1 MB.
        let checked = tokio::task::spawn_blocking(move || {
            dossier_core::photo::validate_with_budget(&image, 1 << 20)
        })
        .await
        .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))??;
        let (image, format) = (checked.bytes, checked.format);
        let staff = staff.clone();
        self.db
            .write(move |tx| {
                storage::set_category_example(tx, &staff.district, &code, &image, format.mime())?;
                let detail = format!("example image, {} bytes", image.len());
                audit(
                    tx,
                    now,
                    &staff.username,
                    "category_changed",
                    None,
                    Some(&code),
                    detail,
                    ip.as_deref(),
                )
            })
            .await
            .map_err(ApiError::from)
    }

    /// Publish the final results once the district's review window has closed: every candidate
    /// with a result gets it as a message and a notification.
    pub async fn publish(
        &self,
        staff: &Staff,
        ip: Option<String>,
        now: OffsetDateTime,
    ) -> ApiResult<PublishReceipt> {
        Self::check_second_factor(staff)?;
        require(staff, &[StaffRole::DistrictAdmin])?;
        let staff = staff.clone();
        let notify = self.notify.clone();
        self.db
            .write(move |tx| {
                let w = store::windows(tx, &staff.district)?;
                if now < w.district_review_closes_at {
                    return Err(ApiError::new(
                        ErrorCode::WindowNotOpen,
                        "results are published when the district review window has closed",
                    ));
                }
                if let Some(at) = store::results_published_at(tx, &staff.district)? {
                    return Err(ApiError::new(
                        ErrorCode::Locked,
                        format!("the results were published at {at}"),
                    ));
                }
                let (mut approved, mut not_eligible, mut undecided) = (0, 0, 0);
                for (review, ..) in store::results(tx, &staff.district, None)? {
                    let (title, body) = match review.state {
                        ReviewState::Approved if review.stage == ReviewStage::Done => {
                            approved += 1;
                            ("审核通过", "您的报名材料审核通过。".to_string())
                        }
                        ReviewState::NotEligible => {
                            not_eligible += 1;
                            (
                                "审核结果：不符合",
                                format!(
                                    "您的报名资格审核结果为不符合。原因：{}",
                                    review.result_reason.clone().unwrap_or_default()
                                ),
                            )
                        }
                        _ => {
                            undecided += 1;
                            continue;
                        }
                    };
                    tell_candidate(
                        tx,
                        review.candidate_id,
                        MessageKind::Result,
                        title,
                        body,
                        Vec::new(),
                        &notify,
                        now,
                    )?;
                }
                store::publish_results(tx, &staff.district, now)?;
                audit(
                    tx,
                    now,
                    &staff.username,
                    "results_published",
                    None,
                    None,
                    format!(
                        "approved {approved}, not eligible {not_eligible}, undecided {undecided}"
                    ),
                    ip.as_deref(),
                )?;
                Ok(PublishReceipt {
                    published_at: now,
                    approved,
                    not_eligible,
                    undecided,
                })
            })
            .await
    }

    /// The results of the district, or of one exam site, as CSV (UTF-8 with BOM, so Excel in
    /// China opens it in the right encoding).
    pub async fn export_csv(&self, staff: &Staff, exam_site: Option<String>) -> ApiResult<Vec<u8>> {
        Self::check_second_factor(staff)?;
        require(staff, &[StaffRole::DistrictAdmin])?;
        let district = staff.district.clone();
        let rows = self
            .db
            .read(move |c| store::results(c, &district, exam_site.as_deref()))
            .await
            .map_err(ApiError::from)?;
        let mut out = csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
        let write = |out: &mut csv::Writer<Vec<u8>>, record: &[&str]| {
            out.write_record(record)
                .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))
        };
        write(
            &mut out,
            &[
                "考点",
                "用户名",
                "姓名",
                "身份证号",
                "报考类别",
                "审核阶段",
                "审核状态",
                "原因",
            ],
        )?;
        for (review, username, name, id_number, exam_category) in rows {
            let stage = storage::enum_text(review.stage);
            let state = storage::enum_text(review.state);
            write(
                &mut out,
                &[
                    &review.exam_site,
                    &username,
                    &name,
                    &id_number,
                    &exam_category,
                    &stage,
                    &state,
                    review.result_reason.as_deref().unwrap_or(""),
                ],
            )?;
        }
        out.into_inner()
            .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))
    }

    /// Walk the audit chain (the `audit verify` command).
    pub async fn verify_audit(&self) -> Result<Result<i64, store::AuditBreak>, StorageError> {
        self.db.read(store::verify_audit).await
    }
}
