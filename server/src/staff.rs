//! Staff identity: sign-in with a second factor, sessions, the authenticator (TOTP), and the
//! district's accounts. Every review and administration operation takes a `VerifiedStaff`, which
//! only `VerifiedStaff::check` makes: the session was valid and, where the account must have
//! one, the second factor is set up. So that rule, roles and scope are checked in one place.

use dossier_core::api::review::{
    NewStaff, StaffCreated, StaffList, StaffLoginRequest, StaffRole, StaffSession, StaffUpdate,
    StaffView, TotpEnrollment,
};
use dossier_core::api::{ErrorBody, ErrorCode, STAFF_COOKIE, SessionMode};
use dossier_core::domain;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::auth::{Auth, SignInAttempt, hash_secret_blocking, random_token, token_hash};
use crate::error::{ApiError, ApiResult};
use crate::storage::review::{self as store, AuditEntry, Scope, Staff};
use crate::storage::{self, Db, Found, StorageError};

/// How long a staff session lasts (a working day).
pub const STAFF_SESSION: Duration = Duration::hours(12);

/// The staff side's sign-in and accounts.
#[derive(Clone)]
pub struct StaffAccounts {
    db: Db,
    auth: Auth,
}

/// A signed-in staff member who has passed the second-factor rule; what every review and
/// administration operation takes. Reads as the `Staff` it holds.
#[derive(Clone, Debug)]
pub struct VerifiedStaff(Staff);

impl VerifiedStaff {
    /// Refuse everything but the second-factor set-up to an account that must have one and
    /// does not yet.
    pub fn check(staff: Staff) -> ApiResult<VerifiedStaff> {
        if staff.totp_required && !staff.totp_enabled {
            return Err(ApiError::detailed(
                ErrorCode::TotpRequired,
                "setup_required",
                "set up your authenticator app first",
            ));
        }
        Ok(VerifiedStaff(staff))
    }

    /// Refused (`forbidden`) unless the staff member has one of `roles`.
    pub fn require(&self, roles: &[StaffRole]) -> ApiResult<()> {
        if roles.contains(&self.0.role) {
            Ok(())
        } else {
            Err(forbidden())
        }
    }

    /// What the staff member may see: their district, and a site reviewer only their site.
    pub fn scope(&self) -> Scope {
        Scope {
            district: self.0.district.clone(),
            exam_site: match self.0.role {
                StaffRole::SiteReviewer => self.0.exam_site.clone(),
                _ => None,
            },
        }
    }

    /// Whether a dossier of `district` at `exam_site` is within the scope.
    pub fn sees(&self, district: &str, exam_site: &str) -> bool {
        let scope = self.scope();
        scope.district == district && scope.exam_site.as_deref().is_none_or(|s| s == exam_site)
    }
}

impl std::ops::Deref for VerifiedStaff {
    type Target = Staff;
    fn deref(&self) -> &Staff {
        &self.0
    }
}

/// A field that failed its newtype's rule: `invalid_field`, naming the field.
fn field<T>(name: &str, parsed: Result<T, &'static str>) -> ApiResult<T> {
    parsed.map_err(|why| ApiError::invalid_field(name, format!("{name}: {why}")))
}

pub(crate) fn forbidden() -> ApiError {
    ApiError::new(ErrorCode::Forbidden, "your role cannot do this")
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

impl StaffAccounts {
    pub fn new(db: Db, auth: Auth) -> StaffAccounts {
        StaffAccounts { db, auth }
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
            .found()?
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
                        AuditEntry::new(now, &username, "login_failed")
                            .detail(why)
                            .ip(ip.as_deref())
                            .append(tx)
                    })
                    .await;
            }
        };
        let Some(staff) = staff.filter(|_| password_ok) else {
            failure("wrong username or password").await;
            self.auth.record_failure(&attempt, now).await?;
            return Err(ApiError::detailed(
                ErrorCode::Unauthorized,
                "wrong_password",
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
                Ok(AuditEntry::new(now, &username, "login")
                    .detail(detail)
                    .ip(from.as_deref())
                    .append(tx)?)
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

    /// The staff member behind a bearer token: the session only (an account that must have a
    /// second factor and has none may still set it up; `VerifiedStaff::check` refuses the rest).
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
                AuditEntry::new(now, &username, "totp_enabled")
                    .ip(ip.as_deref())
                    .append(tx)
            })
            .await
            .map_err(ApiError::from)
    }

    /// Create a reviewer or administrator account in `district` (an administrator's, or the
    /// CLI's when `by` is None); returns the first password.
    pub async fn create_staff(
        &self,
        by: Option<&VerifiedStaff>,
        district: &str,
        new: NewStaff,
        ip: Option<String>,
        now: OffsetDateTime,
    ) -> ApiResult<StaffCreated> {
        if let Some(admin) = by {
            admin.require(&[StaffRole::DistrictAdmin])?;
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
                if store::staff_by_username(tx, &row.username)
                    .found()?
                    .is_some()
                {
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
                AuditEntry::new(now, &actor, "staff_created")
                    .detail(detail)
                    .ip(ip.as_deref())
                    .append(tx)?;
                Ok(())
            })
            .await?;
        Ok(StaffCreated {
            staff: staff_view(&staff),
            password,
        })
    }

    /// The accounts of the administrator's district.
    pub async fn list_staff(&self, admin: &VerifiedStaff) -> ApiResult<StaffList> {
        admin.require(&[StaffRole::DistrictAdmin])?;
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
        admin: &VerifiedStaff,
        username: &str,
        update: StaffUpdate,
        ip: Option<String>,
        now: OffsetDateTime,
    ) -> ApiResult<StaffView> {
        admin.require(&[StaffRole::DistrictAdmin])?;
        let name = username.to_string();
        let before = self
            .db
            .read(move |c| store::staff_by_username(c, &name))
            .await
            .found()?
            .filter(|s| s.district == admin.district)
            .ok_or_else(ApiError::not_found)?;
        if before.id == admin.id {
            return Err(ApiError::detailed(
                ErrorCode::Forbidden,
                "own_account",
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
                AuditEntry::new(now, &actor, "staff_changed")
                    .detail(detail)
                    .ip(ip.as_deref())
                    .append(tx)
            })
            .await?;
        Ok(staff_view(&after))
    }
}
