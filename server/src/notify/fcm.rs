//! Firebase Cloud Messaging, HTTP v1 API. The service account's key signs an RS256 assertion
//! (`iss` the account, `scope` firebase.messaging, `aud` the token URI, an hour's `exp`) that is
//! exchanged at the token URI for an OAuth 2.0 access token (RFC 7523), kept until a minute
//! before it expires.
//!
//! `POST /v1/projects/<project>/messages:send` with the message's token, notification, and
//! `android.collapse_key` (the message). 200: delivered; 404 or `UNREGISTERED`: the token is
//! gone; 401: a new access token and another try; 429 and 5xx: later. FCM cannot be reached from
//! mainland China: phones there use their maker's service, through the webhook.
use std::path::PathBuf;
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use time::OffsetDateTime;

use super::{
    Answer, ProviderError, PushNote, PushService, SendError, Sending, http_client, transport_error,
};

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct FcmSettings {
    /// The service account's JSON key file from the Firebase console.
    pub service_account_file: PathBuf,
    #[serde(default = "default_endpoint")]
    pub endpoint: String,
}

fn default_endpoint() -> String {
    "https://fcm.googleapis.com".into()
}

pub const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

#[derive(Debug, Clone, serde::Deserialize)]
struct ServiceAccount {
    project_id: String,
    private_key: String,
    client_email: String,
    token_uri: String,
}

#[derive(serde::Serialize)]
struct Assertion<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
}

#[derive(serde::Deserialize)]
struct AccessToken {
    access_token: String,
    expires_in: u64,
}

pub struct Fcm {
    http: reqwest::Client,
    endpoint: String,
    account: ServiceAccount,
    key: EncodingKey,
    token: tokio::sync::Mutex<Option<(String, Instant)>>,
}

impl Fcm {
    pub fn new(settings: FcmSettings, timeout: Duration) -> Result<Fcm, ProviderError> {
        let fail = |why: String| ProviderError {
            provider: "fcm",
            why,
        };
        let text = std::fs::read_to_string(&settings.service_account_file).map_err(|e| {
            fail(format!(
                "reading {}: {e}",
                settings.service_account_file.display()
            ))
        })?;
        let account: ServiceAccount = serde_json::from_str(&text)
            .map_err(|e| fail(format!("the service account file: {e}")))?;
        let key = EncodingKey::from_rsa_pem(account.private_key.as_bytes())
            .map_err(|e| fail(format!("the service account's private key: {e}")))?;
        Ok(Fcm {
            http: http_client(timeout, false),
            endpoint: settings.endpoint.trim_end_matches('/').into(),
            account,
            key,
            token: tokio::sync::Mutex::new(None),
        })
    }

    /// The cached access token, or a new one; concurrent sends wait for one exchange.
    async fn access_token(&self) -> Result<String, SendError> {
        let mut cached = self.token.lock().await;
        if let Some((token, until)) = cached.as_ref()
            && Instant::now() < *until
        {
            return Ok(token.clone());
        }
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let assertion = jsonwebtoken::encode(
            &Header::new(Algorithm::RS256),
            &Assertion {
                iss: &self.account.client_email,
                scope: SCOPE,
                aud: &self.account.token_uri,
                iat: now,
                exp: now + 3600,
            },
            &self.key,
        )
        .map_err(|e| SendError::retry(format!("signing the assertion: {e}")))?;
        let form = format!(
            "grant_type={}&assertion={}",
            percent_encoding::utf8_percent_encode(GRANT_TYPE, percent_encoding::NON_ALPHANUMERIC),
            assertion
        );
        let response = self
            .http
            .post(&self.account.token_uri)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(form)
            .send()
            .await
            .map_err(transport_error)?;
        let answer = Answer::read(response).await;
        if !answer.ok() {
            // A refused assertion is a configuration fault the operator fixes: keep the row.
            return Err(SendError::Retry {
                reason: format!("access token: {}", answer.body),
                after: answer.retry_after,
            });
        }
        let token: AccessToken = serde_json::from_str(&answer.body)
            .map_err(|e| SendError::retry(format!("access token answer: {e}")))?;
        let until = Instant::now() + Duration::from_secs(token.expires_in.saturating_sub(60));
        *cached = Some((token.access_token.clone(), until));
        Ok(token.access_token)
    }

    async fn post(&self, note: &PushNote) -> Result<(), SendError> {
        let access = self.access_token().await?;
        let body = serde_json::json!({
            "message": {
                "token": note.token,
                "notification": { "title": note.title, "body": note.body },
                "data": { "message_id": note.message.to_string(), "notification_id": note.key.to_string() },
                "android": {
                    "collapse_key": note.message.to_string(),
                    "priority": "HIGH",
                    "ttl": "86400s",
                },
            }
        });
        let response = self
            .http
            .post(format!(
                "{}/v1/projects/{}/messages:send",
                self.endpoint, self.account.project_id
            ))
            .bearer_auth(access)
            .json(&body)
            .send()
            .await
            .map_err(transport_error)?;
        let answer = Answer::read(response).await;
        if answer.ok() {
            return Ok(());
        }
        let unregistered = answer.body.contains("UNREGISTERED");
        Err(match answer.status {
            404 => SendError::Gone(answer.body),
            _ if unregistered => SendError::Gone(answer.body),
            401 => {
                *self.token.lock().await = None;
                SendError::retry(answer.body)
            }
            _ => answer.error(),
        })
    }
}

impl PushService for Fcm {
    fn send<'a>(&'a self, note: &'a PushNote) -> Sending<'a> {
        Box::pin(self.post(note))
    }
}
