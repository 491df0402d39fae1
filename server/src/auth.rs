//! Accounts and sessions: entry by the registration system's ticket, activation, sign-in by
//! password, refresh-token rotation, password recovery, sign-in throttling, and resolving a
//! request's bearer token or cookie to the candidate it belongs to.
//!
//! Tokens are 128 random bits, handed out once and stored only as SHA-256. Passwords and recovery
//! answers are Argon2id (m=19456 KiB, t=2, p=1, OWASP's minimum), hashed on the blocking pool with
//! at most `hash_parallelism` at a time so a burst of sign-ins cannot starve uploads.
use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use dossier_core::api::{
    ActivationNeeded, ActivationRequest, ErrorCode, SessionGrant, SessionMode,
};
use dossier_core::domain;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::{Duration, OffsetDateTime};
use tokio::sync::Semaphore;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::ops::Metrics;
use crate::storage::review::AuditEntry;
use crate::storage::{self, Activation, Candidate, Db, Found, NewToken, StorageError, TokenKind};

/// Lifetimes and cookie policy.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct AuthSettings {
    pub access_ttl_secs: i64,
    pub refresh_ttl_secs: i64,
    pub web_ttl_secs: i64,
    pub activation_ttl_secs: i64,
    /// Tickets valid for longer than this are refused even if signed.
    pub ticket_max_lifetime_secs: i64,
    /// Mark cookies `Secure` (set when the server is reached over TLS).
    pub secure_cookies: bool,
    pub hash_parallelism: usize,
    /// Failed attempts on one account from one address before delays start; each further one
    /// doubles the delay. Failures from other addresses never delay the account's owner.
    pub free_failures: u32,
    /// Failed attempts from one address (on any accounts) before that address is delayed.
    pub free_failures_per_address: u32,
    /// The longest delay either can reach.
    pub max_delay_secs: i64,
    /// A throttle quiet this long starts again from nothing (and its row is deleted).
    pub forget_after_secs: i64,
    /// Behind a reverse proxy: the header that carries the client's address (`X-Forwarded-For`,
    /// whose last entry the proxy appended, or `X-Real-IP`). Unset: the connection's address.
    /// Set it only when every request comes through that proxy, or clients can pick their own.
    pub client_ip_header: Option<String>,
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            access_ttl_secs: 3600,
            refresh_ttl_secs: 30 * 24 * 3600,
            web_ttl_secs: 8 * 3600,
            activation_ttl_secs: 30 * 60,
            ticket_max_lifetime_secs: 15 * 60,
            secure_cookies: false,
            hash_parallelism: std::thread::available_parallelism().map_or(2, |n| n.get()),
            free_failures: 3,
            // Mobile carriers put many candidates behind one address (CGNAT): generous, so a
            // busy address is slowed only by what looks like guessing across accounts.
            free_failures_per_address: 100,
            max_delay_secs: 15 * 60,
            forget_after_secs: 3600,
            client_ip_header: None,
        }
    }
}

/// Who a request is from.
#[derive(Debug, Clone, Copy)]
pub struct Principal {
    pub candidate_id: Uuid,
    pub family: Uuid,
}

/// A granted session, and the cookie to set in web mode.
pub struct Grant {
    pub body: SessionGrant,
    pub set_cookie: Option<String>,
}

#[derive(Clone)]
pub struct Auth {
    db: Db,
    settings: AuthSettings,
    hashing: Arc<Semaphore>,
    /// Verified against for unknown usernames, so they cost the same time as wrong passwords.
    dummy_hash: Arc<String>,
    metrics: Arc<Metrics>,
}

/// Who is signing in, for the throttle: the account (a candidate's or a staff member's) and the
/// address the attempt came from.
pub struct SignInAttempt<'a> {
    pub audience: &'static str,
    pub username: &'a str,
    pub ip: Option<&'a str>,
}

impl<'a> SignInAttempt<'a> {
    pub fn candidate(username: &'a str, ip: Option<&'a str>) -> Self {
        SignInAttempt {
            audience: "candidate",
            username,
            ip,
        }
    }

    pub fn staff(username: &'a str, ip: Option<&'a str>) -> Self {
        SignInAttempt {
            audience: "staff",
            username,
            ip,
        }
    }

    /// The throttle rows: this account from this address, and this address. Usernames are at
    /// most 64 characters (the API refuses longer ones before anything is stored).
    pub fn keys(&self) -> [String; 2] {
        let ip = self.ip.unwrap_or("unknown");
        [
            format!("{}:{}@{ip}", self.audience, self.username),
            format!("address:{ip}"),
        ]
    }
}

fn argon2() -> Argon2<'static> {
    Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(19_456, 2, 1, None).expect("valid params"),
    )
}

/// Argon2id hash of a password or recovery answer, with a fresh salt (blocking: ~20-50 ms).
pub fn hash_secret_blocking(secret: &str) -> String {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).expect("16 bytes");
    argon2()
        .hash_password(secret.as_bytes(), &salt)
        .expect("argon2 with valid params")
        .to_string()
}

pub fn random_token() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Cookie sessions must show their CSRF token on every state change: a cross-site form can make
/// the browser send the cookie, but cannot read the token. Compared in constant time.
pub fn check_csrf(
    given: Option<&str>,
    expected: Option<&[u8]>,
    state_change: bool,
) -> ApiResult<()> {
    if !state_change {
        return Ok(());
    }
    let ok = match (given, expected) {
        (Some(given), Some(expected)) => bool::from(token_hash(given).ct_eq(expected)),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(refused(ErrorCode::Forbidden, "missing or wrong CSRF token"))
    }
}

/// Recovery answers compare without case and surrounding space: people retype them from memory.
pub fn normalise_answer(answer: &str) -> String {
    answer.trim().to_lowercase()
}

fn refused(code: ErrorCode, message: &str) -> ApiError {
    ApiError::new(code, message)
}

/// An unknown token is "sign in"; a database that cannot answer is 503, never a sign-out.
pub fn session_refusal(e: StorageError) -> ApiError {
    match e {
        StorageError::NotFound => ApiError::unauthorized(),
        other => ApiError::from(other),
    }
}

/// A session whose time is up: the app refreshes, the page signs in again.
pub fn session_expired() -> ApiError {
    refused(
        ErrorCode::SessionExpired,
        "the session has expired; sign in again",
    )
}

impl Auth {
    pub fn new(db: Db, settings: AuthSettings, metrics: Arc<Metrics>) -> Auth {
        let salt = SaltString::encode_b64(b"dossier-dummy-salt").expect("valid salt");
        let dummy = argon2()
            .hash_password(b"not a password of anyone", &salt)
            .expect("hashes")
            .to_string();
        Auth {
            db,
            hashing: Arc::new(Semaphore::new(settings.hash_parallelism.max(1))),
            settings,
            dummy_hash: Arc::new(dummy),
            metrics,
        }
    }

    /// A session cookie: HttpOnly (no script reads it), `Secure` when served over TLS.
    pub fn cookie(&self, name: &str, value: &str, same_site: &str, max_age_secs: i64) -> String {
        let secure = if self.settings.secure_cookies {
            "; Secure"
        } else {
            ""
        };
        format!(
            "{name}={value}; Path=/; HttpOnly; SameSite={same_site}; Max-Age={max_age_secs}{secure}"
        )
    }

    pub fn settings(&self) -> &AuthSettings {
        &self.settings
    }

    async fn hash_secret(&self, secret: String) -> ApiResult<String> {
        let _permit = self.hashing.acquire().await.expect("never closed");
        tokio::task::spawn_blocking(move || hash_secret_blocking(&secret))
            .await
            .map_err(|e| ApiError::from(StorageError::Task(e.to_string())))
    }

    pub(crate) async fn verify_secret(&self, hash: Option<String>, secret: String) -> bool {
        let _permit = self.hashing.acquire().await.expect("never closed");
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| self.dummy_hash.to_string());
        tokio::task::spawn_blocking(move || {
            let Ok(parsed) = PasswordHash::new(&hash) else {
                return false;
            };
            argon2().verify_password(secret.as_bytes(), &parsed).is_ok() && known
        })
        .await
        .unwrap_or(false)
    }

    // -----------------------------------------------------------------------------------------
    // Tickets

    /// What the registration system does: a ticket for `username`, valid for `lifetime`.
    pub fn issue_ticket(
        username: &str,
        secret: &[u8],
        now: OffsetDateTime,
        lifetime: Duration,
    ) -> String {
        let expires = (now + lifetime).unix_timestamp();
        let mut nonce = [0u8; 8];
        rand::rng().fill_bytes(&mut nonce);
        let payload = format!(
            "v1.{}.{expires}.{}",
            URL_SAFE_NO_PAD.encode(username),
            hex::encode(nonce)
        );
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("any key length");
        mac.update(payload.as_bytes());
        format!(
            "{payload}.{}",
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        )
    }

    /// Verify a ticket and consume it; returns the candidate it names.
    async fn consume_ticket(&self, ticket: &str, now: OffsetDateTime) -> ApiResult<Candidate> {
        let invalid = || {
            refused(
                ErrorCode::TicketInvalid,
                "this link is not valid; open it again from the registration system",
            )
        };
        let parts: Vec<&str> = ticket.split('.').collect();
        let [version, user, expires, nonce, mac] = parts[..] else {
            return Err(invalid());
        };
        if version != "v1" || nonce.len() != 16 {
            return Err(invalid());
        }
        let username = URL_SAFE_NO_PAD
            .decode(user)
            .ok()
            .and_then(|u| String::from_utf8(u).ok())
            .ok_or_else(invalid)?;
        let expires: i64 = expires.parse().map_err(|_| invalid())?;
        let mac = URL_SAFE_NO_PAD.decode(mac).map_err(|_| invalid())?;
        let payload_len = ticket.len() - parts[4].len() - 1;
        let payload = ticket[..payload_len].to_string();
        let now_unix = now.unix_timestamp();
        let max_lifetime = self.settings.ticket_max_lifetime_secs;
        self.db
            .write(move |tx| {
                let candidate =
                    storage::candidate_by_username(tx, &username).map_err(|_| invalid())?;
                let district = storage::district(tx, &candidate.district)?;
                let mut check = Hmac::<Sha256>::new_from_slice(&district.ticket_secret)
                    .expect("any key length");
                check.update(payload.as_bytes());
                check.verify_slice(&mac).map_err(|_| invalid())?;
                if expires <= now_unix {
                    return Err(refused(
                        ErrorCode::TicketExpired,
                        "this link has expired; open it again from the registration system",
                    ));
                }
                if expires - now_unix > max_lifetime {
                    return Err(invalid());
                }
                if !storage::use_ticket(tx, &mac, storage::from_unix(expires))? {
                    return Err(refused(
                        ErrorCode::TicketUsed,
                        "this link was used already; open it again from the registration system",
                    ));
                }
                Ok(candidate)
            })
            .await
    }

    /// Entry from the registration system: activation on the first entry, a session afterwards.
    pub async fn enter_with_ticket(
        &self,
        ticket: &str,
        mode: SessionMode,
        now: OffsetDateTime,
    ) -> ApiResult<(Option<ActivationNeeded>, Option<Grant>)> {
        let candidate = self.consume_ticket(ticket, now).await?;
        if candidate.activated_at.is_some() {
            return Ok((None, Some(self.grant(&candidate, mode, now).await?)));
        }
        let token = random_token();
        let hash = token_hash(&token);
        let id = candidate.id;
        let expires = now + Duration::seconds(self.settings.activation_ttl_secs);
        self.db
            .write(move |tx| {
                storage::insert_token(
                    tx,
                    &NewToken {
                        token_hash: &hash,
                        kind: TokenKind::Activation,
                        candidate: id,
                        family: Uuid::new_v4(),
                        csrf_hash: None,
                        created_at: now,
                        expires_at: expires,
                    },
                )
            })
            .await
            .map_err(ApiError::from)?;
        Ok((
            Some(ActivationNeeded {
                activation_token: token,
                username: candidate.username,
                name: candidate.name,
            }),
            None,
        ))
    }

    /// Activation (激活): password rules, the recovery question, both pledges.
    pub async fn activate(&self, req: ActivationRequest, now: OffsetDateTime) -> ApiResult<Grant> {
        let hash = token_hash(&req.activation_token);
        let session = self
            .db
            .read(move |c| storage::token(c, &hash, TokenKind::Activation))
            .await
            .map_err(session_refusal)?;
        if session.expires_at <= now || session.used_at.is_some() {
            return Err(ApiError::unauthorized());
        }
        let password = domain::Password::parse(&req.password)
            .map_err(|m| refused(ErrorCode::PasswordRules, m))?;
        if password.as_str() != req.password_confirm {
            return Err(refused(
                ErrorCode::PasswordRules,
                "the two passwords differ",
            ));
        }
        if req.security_question.trim().is_empty() || req.security_answer.trim().is_empty() {
            return Err(ApiError::invalid_field(
                "security_question",
                "a security question and its answer are required for password recovery",
            ));
        }
        if !(req.pledge_truthfulness && req.pledge_discipline) {
            return Err(refused(
                ErrorCode::PledgesRequired,
                "both pledges must be accepted to activate the account",
            ));
        }
        let password_hash = self.hash_secret(password.as_str().to_string()).await?;
        let answer_hash = self
            .hash_secret(normalise_answer(&req.security_answer))
            .await?;
        let token = token_hash(&req.activation_token);
        let question = req.security_question.trim().to_string();
        let candidate = self
            .db
            .write(move |tx| {
                let session = storage::token(tx, &token, TokenKind::Activation)?;
                let candidate = storage::candidate_by_id(tx, session.candidate_id)?;
                if candidate.activated_at.is_some() {
                    return Err(refused(
                        ErrorCode::AlreadyActivated,
                        "this account is activated already; sign in",
                    ));
                }
                storage::activate(
                    tx,
                    candidate.id,
                    &Activation {
                        password_hash: &password_hash,
                        security_question: &question,
                        security_answer_hash: &answer_hash,
                        at: now,
                    },
                )?;
                storage::mark_token_used(tx, &token, now)?;
                storage::candidate_by_id(tx, candidate.id).map_err(ApiError::from)
            })
            .await?;
        self.grant(&candidate, req.mode.unwrap_or(SessionMode::App), now)
            .await
    }

    // -----------------------------------------------------------------------------------------
    // Passwords, throttled

    /// Refuse while this account from this address, or this address at all, is in a delay
    /// after failures. Failures from other addresses never delay the account's owner.
    pub(crate) async fn check_throttle(
        &self,
        who: &SignInAttempt<'_>,
        now: OffsetDateTime,
    ) -> ApiResult<()> {
        let keys = who.keys();
        let locked_until = self
            .db
            .read(move |c| {
                let mut until = OffsetDateTime::UNIX_EPOCH;
                for key in &keys {
                    until = until.max(storage::throttle(c, key)?.1);
                }
                Ok::<_, StorageError>(until)
            })
            .await
            .map_err(ApiError::from)?;
        if locked_until > now {
            self.metrics.sign_in_refused(who.audience, "throttled");
            let wait = (locked_until - now).whole_seconds().max(1) as u64;
            return Err(ApiError::throttled(wait));
        }
        Ok(())
    }

    /// Record a failure on the account-and-address and on the address: past each one's free
    /// failures every further failure doubles its delay, up to `max_delay_secs`. A row quiet for
    /// longer than `forget_after_secs` starts again from nothing, and such rows are deleted, so
    /// the table holds only recent trouble.
    pub(crate) async fn record_failure(
        &self,
        who: &SignInAttempt<'_>,
        now: OffsetDateTime,
    ) -> ApiResult<()> {
        self.metrics.sign_in_refused(who.audience, "failed");
        let [pair, address] = who.keys();
        let s = &self.settings;
        let (cap, forget) = (s.max_delay_secs, Duration::seconds(s.forget_after_secs));
        let rules = [
            (pair, s.free_failures),
            (address, s.free_failures_per_address),
        ];
        // The delay runs from when the refusal is written, not from when the request arrived: a
        // slow password check must not eat the delay it earns.
        let now = now.max(OffsetDateTime::now_utc());
        self.db
            .write(move |tx| {
                storage::forget_throttles(tx, now - forget)?;
                for (key, free) in &rules {
                    let (failures, until) = storage::throttle(tx, key)?;
                    let failures = if until < now - forget {
                        1
                    } else {
                        failures + 1
                    };
                    let delay = if failures > *free {
                        (1i64 << (failures - free - 1).min(20)).min(cap)
                    } else {
                        0
                    };
                    storage::set_throttle(tx, key, failures, now + Duration::seconds(delay))?;
                }
                Ok::<_, StorageError>(())
            })
            .await
            .map_err(ApiError::from)
    }

    async fn verify_password(
        &self,
        who: &SignInAttempt<'_>,
        password: &str,
        now: OffsetDateTime,
    ) -> ApiResult<Candidate> {
        let username = who.username;
        self.check_throttle(who, now).await?;
        let name = username.to_string();
        let candidate = self
            .db
            .read(move |c| storage::candidate_by_username(c, &name))
            .await
            .found()?;
        let hash = candidate.as_ref().and_then(|c| c.password_hash.clone());
        if self.verify_secret(hash, password.to_string()).await
            && let Some(candidate) = candidate
        {
            let [pair, _] = who.keys();
            self.db
                .write(move |tx| storage::clear_throttle(tx, &pair))
                .await
                .map_err(ApiError::from)?;
            return Ok(candidate);
        }
        self.record_failure(who, now).await?;
        // The same answer for an unknown username and a wrong password.
        Err(ApiError::detailed(
            ErrorCode::Unauthorized,
            "wrong_password",
            "wrong username or password",
        ))
    }

    /// Every attempt, refused or not, is written to the audit log with where it came from.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        mode: SessionMode,
        ip: Option<String>,
        now: OffsetDateTime,
    ) -> ApiResult<Grant> {
        let who = SignInAttempt::candidate(username, ip.as_deref());
        let verified = match self.verify_password(&who, password, now).await {
            // The server's own trouble is not a sign-in attempt that failed: answered as it is.
            Err(e) if matches!(e.body().code, ErrorCode::Internal | ErrorCode::Unavailable) => {
                return Err(e);
            }
            verified => verified,
        };
        let action = if verified.is_ok() {
            "login"
        } else {
            "login_failed"
        };
        let detail = match &verified {
            Ok(_) => format!("{mode:?}"),
            Err(e) => e.body().message.clone(),
        };
        let mut entry = AuditEntry::new(now, &format!("candidate:{username}"), action)
            .detail(detail)
            .ip(ip.as_deref());
        if let Ok(c) = &verified {
            entry = entry.candidate(c.id);
        }
        self.db
            .write(move |tx| entry.append(tx))
            .await
            .map_err(ApiError::from)?;
        self.grant(&verified?, mode, now).await
    }

    pub async fn recovery_question(&self, username: &str) -> ApiResult<String> {
        let name = username.to_string();
        let candidate = self
            .db
            .read(move |c| storage::candidate_by_username(c, &name))
            .await
            .found()?;
        candidate.and_then(|c| c.security_question).ok_or_else(|| {
            refused(
                ErrorCode::NotFound,
                "no activated account has this username",
            )
        })
    }

    /// Password recovery (找回密码): the answer to the security question sets a new password and
    /// signs out every session.
    pub async fn recover(
        &self,
        username: &str,
        answer: &str,
        new_password: &str,
        confirm: &str,
        ip: Option<&str>,
        now: OffsetDateTime,
    ) -> ApiResult<()> {
        let who = SignInAttempt::candidate(username, ip);
        self.check_throttle(&who, now).await?;
        let new_password = domain::Password::parse(new_password)
            .map_err(|m| refused(ErrorCode::PasswordRules, m))?;
        if new_password.as_str() != confirm {
            return Err(refused(
                ErrorCode::PasswordRules,
                "the two passwords differ",
            ));
        }
        let name = username.to_string();
        let candidate = self
            .db
            .read(move |c| storage::candidate_by_username(c, &name))
            .await
            .found()?;
        let hash = candidate
            .as_ref()
            .and_then(|c| c.security_answer_hash.clone());
        let Some(candidate) = candidate.filter(|_| hash.is_some()) else {
            self.verify_secret(None, String::new()).await;
            self.record_failure(&who, now).await?;
            return Err(ApiError::detailed(
                ErrorCode::Unauthorized,
                "wrong_answer",
                "the answer is not right",
            ));
        };
        if !self.verify_secret(hash, normalise_answer(answer)).await {
            self.record_failure(&who, now).await?;
            return Err(ApiError::detailed(
                ErrorCode::Unauthorized,
                "wrong_answer",
                "the answer is not right",
            ));
        }
        let password_hash = self.hash_secret(new_password.as_str().to_string()).await?;
        let [pair, _] = who.keys();
        self.db
            .write(move |tx| {
                storage::set_password(tx, candidate.id, &password_hash)?;
                storage::clear_throttle(tx, &pair)?;
                storage::revoke_candidate_sessions(tx, candidate.id, now)?;
                Ok::<_, StorageError>(())
            })
            .await
            .map_err(ApiError::from)
    }

    // -----------------------------------------------------------------------------------------
    // Sessions

    /// A new session family for `candidate`.
    async fn grant(
        &self,
        candidate: &Candidate,
        mode: SessionMode,
        now: OffsetDateTime,
    ) -> ApiResult<Grant> {
        self.grant_in_family(candidate, mode, Uuid::new_v4(), now)
            .await
    }

    async fn grant_in_family(
        &self,
        candidate: &Candidate,
        mode: SessionMode,
        family: Uuid,
        now: OffsetDateTime,
    ) -> ApiResult<Grant> {
        let id = candidate.id;
        let profile_incomplete = candidate.mobile.is_none() || candidate.email.is_none();
        let username = candidate.username.clone();
        match mode {
            SessionMode::App => {
                let (access, refresh) = (random_token(), random_token());
                let access_expires = now + Duration::seconds(self.settings.access_ttl_secs);
                let refresh_expires = now + Duration::seconds(self.settings.refresh_ttl_secs);
                let (ah, rh) = (token_hash(&access), token_hash(&refresh));
                self.db
                    .write(move |tx| {
                        storage::insert_token(
                            tx,
                            &NewToken {
                                token_hash: &ah,
                                kind: TokenKind::Access,
                                candidate: id,
                                family,
                                csrf_hash: None,
                                created_at: now,
                                expires_at: access_expires,
                            },
                        )?;
                        storage::insert_token(
                            tx,
                            &NewToken {
                                token_hash: &rh,
                                kind: TokenKind::Refresh,
                                candidate: id,
                                family,
                                csrf_hash: None,
                                created_at: now,
                                expires_at: refresh_expires,
                            },
                        )
                    })
                    .await
                    .map_err(ApiError::from)?;
                Ok(Grant {
                    body: SessionGrant {
                        access_token: Some(access),
                        access_expires_at: access_expires,
                        refresh_token: Some(refresh),
                        refresh_expires_at: Some(refresh_expires),
                        csrf_token: None,
                        username,
                        profile_incomplete,
                    },
                    set_cookie: None,
                })
            }
            SessionMode::Web => {
                let (cookie, csrf) = (random_token(), random_token());
                let expires = now + Duration::seconds(self.settings.web_ttl_secs);
                let (ch, xh) = (token_hash(&cookie), token_hash(&csrf));
                self.db
                    .write(move |tx| {
                        storage::insert_token(
                            tx,
                            &NewToken {
                                token_hash: &ch,
                                kind: TokenKind::Web,
                                candidate: id,
                                family,
                                csrf_hash: Some(&xh),
                                created_at: now,
                                expires_at: expires,
                            },
                        )
                    })
                    .await
                    .map_err(ApiError::from)?;
                // Lax, not Strict: the registration system's link (a top-level navigation from
                // another site) must arrive signed in on a later entry.
                let set_cookie = self.cookie(
                    dossier_core::api::SESSION_COOKIE,
                    &cookie,
                    "Lax",
                    self.settings.web_ttl_secs,
                );
                Ok(Grant {
                    body: SessionGrant {
                        access_token: None,
                        access_expires_at: expires,
                        refresh_token: None,
                        refresh_expires_at: None,
                        csrf_token: Some(csrf),
                        username,
                        profile_incomplete,
                    },
                    set_cookie: Some(set_cookie),
                })
            }
        }
    }

    /// Rotate: the refresh token is spent and a new pair issued in the same family. A spent token
    /// presented again means it was stolen (or the app raced itself): the whole family is revoked.
    pub async fn refresh(&self, refresh_token: &str, now: OffsetDateTime) -> ApiResult<Grant> {
        let hash = token_hash(refresh_token);
        let outcome = self
            .db
            .write(move |tx| {
                let session = match storage::token(tx, &hash, TokenKind::Refresh) {
                    Ok(s) => s,
                    Err(StorageError::NotFound) => return Ok(None),
                    Err(e) => return Err(e),
                };
                if session.revoked_at.is_some() || session.expires_at <= now {
                    return Ok(None);
                }
                if session.used_at.is_some() {
                    storage::revoke_family(tx, session.family, now)?;
                    return Ok(None);
                }
                storage::mark_token_used(tx, &hash, now)?;
                // The old access token of this family ends with the rotation too.
                storage::revoke_family_tokens(tx, session.family, TokenKind::Access, now)?;
                Ok(Some((
                    storage::candidate_by_id(tx, session.candidate_id)?,
                    session.family,
                )))
            })
            .await
            .map_err(ApiError::from)?;
        let Some((candidate, family)) = outcome else {
            return Err(ApiError::unauthorized());
        };
        self.grant_in_family(&candidate, SessionMode::App, family, now)
            .await
    }

    pub async fn logout(&self, principal: Principal, now: OffsetDateTime) -> ApiResult<()> {
        self.db
            .write(move |tx| storage::revoke_family(tx, principal.family, now))
            .await
            .map_err(ApiError::from)
    }

    async fn resolve(
        &self,
        token: &str,
        kind: TokenKind,
        now: OffsetDateTime,
    ) -> ApiResult<storage::SessionRow> {
        let hash = token_hash(token);
        let session = self
            .db
            .read(move |c| storage::token(c, &hash, kind))
            .await
            .map_err(session_refusal)?;
        if session.revoked_at.is_some() {
            return Err(ApiError::unauthorized());
        }
        if session.expires_at <= now {
            return Err(session_expired());
        }
        Ok(session)
    }

    pub async fn authenticate_bearer(
        &self,
        token: &str,
        now: OffsetDateTime,
    ) -> ApiResult<Principal> {
        let s = self.resolve(token, TokenKind::Access, now).await?;
        Ok(Principal {
            candidate_id: s.candidate_id,
            family: s.family,
        })
    }

    /// Cookie sessions must also show the CSRF token on every state change: a cross-site form can
    /// make the browser send the cookie, but cannot read the token.
    pub async fn authenticate_cookie(
        &self,
        token: &str,
        csrf: Option<&str>,
        state_change: bool,
        now: OffsetDateTime,
    ) -> ApiResult<Principal> {
        let s = self.resolve(token, TokenKind::Web, now).await?;
        check_csrf(csrf, s.csrf_hash.as_deref(), state_change)?;
        Ok(Principal {
            candidate_id: s.candidate_id,
            family: s.family,
        })
    }
}
