//! The candidate API client the phone apps embed (and the end-to-end tests drive): reqwest over
//! rustls (no OpenSSL: it is cross-compiled for phones), the wire types of `crate::api`, tokens in
//! a store the app supplies, refresh on expiry, and errors that say what the app should do.
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::api::{
    ActivationNeeded, ActivationRequest, DossierView, EntryResponse, ErrorBody, ErrorCode,
    IDEMPOTENCY_KEY_HEADER, ImageView, LoginRequest, MessageList, Profile, ProfileUpdate,
    PushTokenRegistration, RecoveryQuestion, RecoveryQuestionRequest, RecoveryRequest,
    RefreshRequest, SessionGrant, SessionMode, SubmitReceipt, TicketRequest,
};

/// The tokens of a signed-in app session.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Tokens {
    pub access_token: String,
    #[serde(with = "time::serde::rfc3339")]
    pub access_expires_at: OffsetDateTime,
    pub refresh_token: String,
}

/// Where tokens live between runs: Android Keystore / iOS Keychain in the shells, a file in tests.
pub trait TokenStore: Send + Sync {
    fn load(&self) -> Option<Tokens>;
    fn save(&self, tokens: &Tokens);
    fn clear(&self);
}

/// Tokens in memory only (a session that ends with the process).
#[derive(Default)]
pub struct MemoryTokenStore(Mutex<Option<Tokens>>);

impl TokenStore for MemoryTokenStore {
    fn load(&self) -> Option<Tokens> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
    fn save(&self, tokens: &Tokens) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(tokens.clone());
    }
    fn clear(&self) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

/// Tokens in a JSON file (tests, desktop tools). Written by rename, so never half a file.
pub struct FileTokenStore(pub std::path::PathBuf);

impl TokenStore for FileTokenStore {
    fn load(&self) -> Option<Tokens> {
        serde_json::from_slice(&std::fs::read(&self.0).ok()?).ok()
    }
    fn save(&self, tokens: &Tokens) {
        let tmp = self.0.with_extension("tmp");
        if std::fs::write(&tmp, serde_json::to_vec(tokens).expect("serialisable")).is_ok() {
            let _ = std::fs::rename(tmp, &self.0);
        }
    }
    fn clear(&self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// What the app should do about a failed call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Network trouble or the server busy: try again later (the queue does).
    RetryLater,
    /// The session is gone: show the sign-in screen.
    SignIn,
    /// The server refused for a reason the user must act on (locked, window closed, count
    /// reached, invalid photo...): show the server's message.
    UserAction,
    /// A request we should never have sent: report it.
    Bug,
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("network: {detail}")]
    Network { detail: String },
    #[error("the server is busy (HTTP {status}); retry after {retry_after:?}")]
    Busy {
        status: u16,
        retry_after: Option<Duration>,
    },
    #[error("signed out: {message}")]
    SignedOut { message: String },
    /// A refusal with the server's error body.
    #[error("{}", .body.message)]
    Refused { status: u16, body: ErrorBody },
    #[error("unexpected answer (HTTP {status}): {detail}")]
    Unexpected { status: u16, detail: String },
}

impl ClientError {
    pub fn action(&self) -> Action {
        match self {
            ClientError::Network { .. } | ClientError::Busy { .. } => Action::RetryLater,
            ClientError::SignedOut { .. } => Action::SignIn,
            ClientError::Refused { body, .. } => match body.code {
                // The server's own trouble (a failing disk, a bug it recovers from): try again.
                ErrorCode::Throttled
                | ErrorCode::Internal
                | ErrorCode::Unavailable
                | ErrorCode::BodyIncomplete => Action::RetryLater,
                ErrorCode::Unauthorized | ErrorCode::SessionExpired => Action::SignIn,
                ErrorCode::BadRequest
                | ErrorCode::InvalidField
                | ErrorCode::MethodNotAllowed
                | ErrorCode::UnsupportedMediaType
                | ErrorCode::IdempotencyKeyRequired
                | ErrorCode::LengthRequired
                | ErrorCode::NotFound => Action::Bug,
                _ => Action::UserAction,
            },
            ClientError::Unexpected { .. } => Action::Bug,
        }
    }

    /// The server's error code, if it sent one.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ClientError::Refused { body, .. } => Some(body.code),
            _ => None,
        }
    }

    /// How long the server asked us to wait, if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ClientError::Busy { retry_after, .. } => *retry_after,
            ClientError::Refused { body, .. } => body.retry_after_secs.map(Duration::from_secs),
            _ => None,
        }
    }
}

impl From<reqwest::Error> for ClientError {
    fn from(e: reqwest::Error) -> Self {
        ClientError::Network {
            detail: e.to_string(),
        }
    }
}

/// The first entry needs activation; later entries sign in.
#[derive(Debug, Clone)]
pub enum Entry {
    Activate(ActivationNeeded),
    SignedIn(SessionGrant),
}

/// One photo to upload.
#[derive(Debug, Clone)]
pub struct UploadRequest<'a> {
    pub category: &'a str,
    pub jpeg: Vec<u8>,
    pub idempotency_key: Uuid,
    pub slot: Option<u32>,
    pub replaces: Option<Uuid>,
}

#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    tokens: Arc<dyn TokenStore>,
    /// One refresh at a time: a second concurrent refresh would spend the same token twice and
    /// the server would revoke the session.
    refreshing: Arc<tokio::sync::Mutex<()>>,
}

/// The roots TLS trusts: the platform's verifier by default; with `bundled-roots`, only Mozilla's
/// roots compiled in (see the feature in Cargo.toml).
#[cfg(not(feature = "bundled-roots"))]
fn with_roots(builder: reqwest::ClientBuilder) -> reqwest::ClientBuilder {
    builder
}

#[cfg(feature = "bundled-roots")]
fn with_roots(builder: reqwest::ClientBuilder) -> reqwest::ClientBuilder {
    let roots = webpki_root_certs::TLS_SERVER_ROOT_CERTS
        .iter()
        .filter_map(|der| reqwest::Certificate::from_der(der.as_ref()).ok());
    builder.tls_certs_only(roots)
}

impl Client {
    /// `base` is the server's root, e.g. `https://dossier.example.cn`.
    pub fn new(base: &str, tokens: Arc<dyn TokenStore>) -> Result<Client, ClientError> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = with_roots(reqwest::Client::builder())
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .pool_idle_timeout(Duration::from_secs(30))
            .user_agent(concat!("dossier-core/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ClientError::Network {
                detail: e.to_string(),
            })?;
        Ok(Client {
            http,
            base: base.trim_end_matches('/').to_string(),
            tokens,
            refreshing: Arc::new(tokio::sync::Mutex::new(())),
        })
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    pub fn is_signed_in(&self) -> bool {
        self.tokens.load().is_some()
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.base)
    }

    fn keep(&self, grant: &SessionGrant) {
        if let (Some(access), Some(refresh)) = (&grant.access_token, &grant.refresh_token) {
            self.tokens.save(&Tokens {
                access_token: access.clone(),
                access_expires_at: grant.access_expires_at,
                refresh_token: refresh.clone(),
            });
        }
    }

    async fn decode<T: DeserializeOwned>(response: reqwest::Response) -> Result<T, ClientError> {
        let status = response.status();
        if status.is_success() {
            let bytes = response.bytes().await?;
            return serde_json::from_slice(&bytes).map_err(|e| ClientError::Unexpected {
                status: status.as_u16(),
                detail: e.to_string(),
            });
        }
        Err(Self::error_of(response).await)
    }

    async fn error_of(response: reqwest::Response) -> ClientError {
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let bytes = match response.bytes().await {
            Ok(b) => b,
            Err(e) => return e.into(),
        };
        match serde_json::from_slice::<ErrorBody>(&bytes) {
            Ok(body)
                if status == StatusCode::UNAUTHORIZED
                    && matches!(
                        body.code,
                        ErrorCode::Unauthorized | ErrorCode::SessionExpired
                    ) =>
            {
                ClientError::SignedOut {
                    message: body.message,
                }
            }
            Ok(_) if status == StatusCode::SERVICE_UNAVAILABLE => ClientError::Busy {
                status: status.as_u16(),
                retry_after,
            },
            Ok(body) => ClientError::Refused {
                status: status.as_u16(),
                body,
            },
            Err(_) if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS => {
                ClientError::Busy {
                    status: status.as_u16(),
                    retry_after,
                }
            }
            Err(_) => ClientError::Unexpected {
                status: status.as_u16(),
                detail: String::from_utf8_lossy(&bytes).into_owned(),
            },
        }
    }

    async fn post_json<B: serde::Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        Self::decode(self.http.post(self.url(path)).json(body).send().await?).await
    }

    /// Send an authenticated request; on 401 refresh once and send it again.
    async fn authed(
        &self,
        build: impl Fn(&reqwest::Client, &str) -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, ClientError> {
        let tokens = self.tokens.load().ok_or(ClientError::SignedOut {
            message: "not signed in".into(),
        })?;
        let response = build(&self.http, &tokens.access_token).send().await?;
        if response.status() != StatusCode::UNAUTHORIZED {
            return Ok(response);
        }
        let fresh = self.refresh_after(&tokens).await?;
        Ok(build(&self.http, &fresh.access_token).send().await?)
    }

    /// Refresh unless another task already did since `stale` was read.
    async fn refresh_after(&self, stale: &Tokens) -> Result<Tokens, ClientError> {
        let _one_at_a_time = self.refreshing.lock().await;
        if let Some(current) = self.tokens.load()
            && current.access_token != stale.access_token
        {
            return Ok(current);
        }
        let response = self
            .http
            .post(self.url("/auth/refresh"))
            .json(&RefreshRequest {
                refresh_token: stale.refresh_token.clone(),
            })
            .send()
            .await?;
        match Self::decode::<SessionGrant>(response).await {
            Ok(grant) => {
                self.keep(&grant);
                self.tokens.load().ok_or(ClientError::SignedOut {
                    message: "no tokens after refresh".into(),
                })
            }
            Err(e @ (ClientError::Network { .. } | ClientError::Busy { .. })) => Err(e),
            Err(_) => {
                self.tokens.clear();
                Err(ClientError::SignedOut {
                    message: "the session ended; sign in again".into(),
                })
            }
        }
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let url = self.url(path);
        Self::decode(
            self.authed(|http, token| http.get(&url).bearer_auth(token))
                .await?,
        )
        .await
    }

    async fn send_no_content(
        &self,
        method: Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<(), ClientError> {
        let url = self.url(path);
        let response = self
            .authed(|http, token| {
                let r = http.request(method.clone(), &url).bearer_auth(token);
                match &body {
                    Some(b) => r.json(b),
                    None => r,
                }
            })
            .await?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(Self::error_of(response).await)
        }
    }

    // -----------------------------------------------------------------------------------------
    // Entry and sign-in

    pub async fn enter_with_ticket(&self, ticket: &str) -> Result<Entry, ClientError> {
        let answer: EntryResponse = self
            .post_json(
                "/auth/ticket",
                &TicketRequest {
                    ticket: ticket.into(),
                    mode: Some(SessionMode::App),
                },
            )
            .await?;
        match (answer.activation, answer.session) {
            (Some(a), _) => Ok(Entry::Activate(a)),
            (None, Some(grant)) => {
                self.keep(&grant);
                Ok(Entry::SignedIn(grant))
            }
            (None, None) => Err(ClientError::Unexpected {
                status: 200,
                detail: "empty entry answer".into(),
            }),
        }
    }

    pub async fn activate(&self, request: ActivationRequest) -> Result<SessionGrant, ClientError> {
        let request = ActivationRequest {
            mode: Some(SessionMode::App),
            ..request
        };
        let grant: SessionGrant = self.post_json("/auth/activate", &request).await?;
        self.keep(&grant);
        Ok(grant)
    }

    pub async fn login(&self, username: &str, password: &str) -> Result<SessionGrant, ClientError> {
        let request = LoginRequest {
            username: username.into(),
            password: password.into(),
            mode: Some(SessionMode::App),
        };
        let grant: SessionGrant = self.post_json("/auth/login", &request).await?;
        self.keep(&grant);
        Ok(grant)
    }

    /// Rotate the tokens now (they also rotate by themselves when the access token expires).
    pub async fn refresh(&self) -> Result<(), ClientError> {
        let tokens = self.tokens.load().ok_or(ClientError::SignedOut {
            message: "not signed in".into(),
        })?;
        self.refresh_after(&tokens).await.map(|_| ())
    }

    pub async fn logout(&self) -> Result<(), ClientError> {
        let result = self
            .send_no_content(Method::POST, "/auth/logout", None)
            .await;
        self.tokens.clear();
        result
    }

    pub async fn recovery_question(&self, username: &str) -> Result<String, ClientError> {
        let q: RecoveryQuestion = self
            .post_json(
                "/auth/recovery/question",
                &RecoveryQuestionRequest {
                    username: username.into(),
                },
            )
            .await?;
        Ok(q.security_question)
    }

    pub async fn recover(&self, request: &RecoveryRequest) -> Result<(), ClientError> {
        let response = self
            .http
            .post(self.url("/auth/recovery"))
            .json(request)
            .send()
            .await?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(Self::error_of(response).await)
        }
    }

    // -----------------------------------------------------------------------------------------
    // The dossier

    pub async fn dossier(&self) -> Result<DossierView, ClientError> {
        self.get("/dossier").await
    }

    /// Upload one prepared photo. Safe to repeat with the same key: the server stores it once.
    pub async fn upload(&self, request: &UploadRequest<'_>) -> Result<ImageView, ClientError> {
        self.upload_with_progress(request, Arc::new(|_, _| {}))
            .await
    }

    /// Upload, calling `progress(sent, total)` as the body's bytes are handed to the connection.
    /// The length is declared up front (the server refuses a body without one).
    pub async fn upload_with_progress(
        &self,
        request: &UploadRequest<'_>,
        progress: Arc<dyn Fn(u64, u64) + Send + Sync>,
    ) -> Result<ImageView, ClientError> {
        let mut url = reqwest::Url::parse(
            &self.url(&format!("/dossier/materials/{}/images", request.category)),
        )
        .map_err(|e| ClientError::Unexpected {
            status: 0,
            detail: e.to_string(),
        })?;
        {
            let mut query = url.query_pairs_mut();
            if let Some(slot) = request.slot {
                query.append_pair("slot", &slot.to_string());
            }
            if let Some(old) = request.replaces {
                query.append_pair("replaces", &old.to_string());
            }
        }
        let url = url.to_string().trim_end_matches('?').to_string();
        let key = request.idempotency_key.to_string();
        let jpeg = bytes::Bytes::from(request.jpeg.clone());
        let response = self
            .authed(|http, token| {
                http.post(&url)
                    .bearer_auth(token)
                    .header(IDEMPOTENCY_KEY_HEADER, &key)
                    .header(reqwest::header::CONTENT_TYPE, "image/jpeg")
                    .header(reqwest::header::CONTENT_LENGTH, jpeg.len())
                    .body(counted_body(jpeg.clone(), progress.clone()))
            })
            .await?;
        Self::decode(response).await
    }

    pub async fn delete_image(&self, image: Uuid) -> Result<(), ClientError> {
        self.send_no_content(Method::DELETE, &format!("/images/{image}"), None)
            .await
    }

    /// The stored bytes of one of our images.
    pub async fn image_bytes(&self, image: Uuid) -> Result<Vec<u8>, ClientError> {
        let url = self.url(&format!("/images/{image}"));
        let response = self
            .authed(|http, token| http.get(&url).bearer_auth(token))
            .await?;
        if !response.status().is_success() {
            return Err(Self::error_of(response).await);
        }
        Ok(response.bytes().await?.to_vec())
    }

    pub async fn submit(&self) -> Result<SubmitReceipt, ClientError> {
        let url = self.url("/dossier/submit");
        Self::decode(
            self.authed(|http, token| http.post(&url).bearer_auth(token))
                .await?,
        )
        .await
    }

    pub async fn messages(&self) -> Result<MessageList, ClientError> {
        self.get("/messages").await
    }

    pub async fn mark_read(&self, message: Uuid) -> Result<(), ClientError> {
        self.send_no_content(Method::POST, &format!("/messages/{message}/read"), None)
            .await
    }

    pub async fn profile(&self) -> Result<Profile, ClientError> {
        self.get("/profile").await
    }

    pub async fn update_profile(&self, update: &ProfileUpdate) -> Result<Profile, ClientError> {
        let url = self.url("/profile");
        Self::decode(
            self.authed(|http, token| http.put(&url).bearer_auth(token).json(update))
                .await?,
        )
        .await
    }

    pub async fn register_push_token(
        &self,
        registration: &PushTokenRegistration,
    ) -> Result<(), ClientError> {
        let body = serde_json::to_value(registration).expect("serialisable");
        self.send_no_content(Method::POST, "/push-tokens", Some(body))
            .await
    }
}

/// A body that reports how much of it the connection has taken, in 16 KiB steps.
fn counted_body(
    jpeg: bytes::Bytes,
    progress: Arc<dyn Fn(u64, u64) + Send + Sync>,
) -> reqwest::Body {
    const STEP: usize = 16 * 1024;
    let total = jpeg.len() as u64;
    let chunks = (0..jpeg.len())
        .step_by(STEP)
        .map(move |at| jpeg.slice(at..(at + STEP).min(jpeg.len())));
    let mut sent = 0u64;
    reqwest::Body::wrap_stream(futures_util::stream::iter(chunks.map(move |chunk| {
        sent += chunk.len() as u64;
        progress(sent, total);
        Ok::<_, std::io::Error>(chunk)
    })))
}
