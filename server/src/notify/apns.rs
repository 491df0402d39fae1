//! Apple Push Notification service: HTTP/2, token-based authentication. Each request carries a
//! JWT signed ES256 with the team's `.p8` key (`kid` the key id, `iss` the team id, `iat`),
//! reused for 50 minutes (Apple refuses tokens older than an hour and ones renewed more often
//! than every 20 minutes).
//!
//! `POST /3/device/<token>` with `apns-topic` (the app's bundle id), `apns-push-type: alert`,
//! `apns-id` (the notification's idempotency key), `apns-collapse-id` (the message, so the phone
//! shows one) and `apns-expiration` (a day: the candidate has 24 hours). 200: delivered;
//! 400 BadDeviceToken / DeviceTokenNotForTopic and 410 Unregistered: the token is gone;
//! 403 ExpiredProviderToken / InvalidProviderToken: a new JWT and another try; 429 and 5xx:
//! later.
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use time::OffsetDateTime;

use super::{
    Answer, ProviderError, PushNote, PushService, SendError, Sending, http_client, transport_error,
};

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ApnsSettings {
    pub team_id: String,
    pub key_id: String,
    /// The `.p8` signing key (PKCS#8 PEM) from the Apple developer account.
    pub key_file: PathBuf,
    /// The app's bundle id.
    pub topic: String,
    /// `https://api.push.apple.com`, or `https://api.sandbox.push.apple.com` for development
    /// builds.
    #[serde(default = "default_endpoint")]
    pub endpoint: String,
}

fn default_endpoint() -> String {
    "https://api.push.apple.com".into()
}

/// A provider token is reused this long.
const TOKEN_LIFETIME: Duration = Duration::from_secs(50 * 60);

pub struct Apns {
    http: reqwest::Client,
    settings: ApnsSettings,
    key: EncodingKey,
    token: Mutex<Option<(String, Instant)>>,
}

#[derive(serde::Serialize)]
struct Claims<'a> {
    iss: &'a str,
    iat: i64,
}

impl Apns {
    pub fn new(settings: ApnsSettings, timeout: Duration) -> Result<Apns, ProviderError> {
        let pem = std::fs::read(&settings.key_file).map_err(|e| ProviderError {
            provider: "apns",
            why: format!("reading {}: {e}", settings.key_file.display()),
        })?;
        let key = EncodingKey::from_ec_pem(&pem).map_err(|e| ProviderError {
            provider: "apns",
            why: format!("the key is not an EC P-256 PKCS#8 PEM: {e}"),
        })?;
        Ok(Apns {
            // APNs speaks HTTP/2 only.
            http: http_client(timeout, true),
            settings,
            key,
            token: Mutex::new(None),
        })
    }

    fn provider_token(&self) -> Result<String, SendError> {
        let mut cached = self.token.lock().expect("not poisoned");
        if let Some((token, made)) = cached.as_ref()
            && made.elapsed() < TOKEN_LIFETIME
        {
            return Ok(token.clone());
        }
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.settings.key_id.clone());
        header.typ = None;
        let claims = Claims {
            iss: &self.settings.team_id,
            iat: OffsetDateTime::now_utc().unix_timestamp(),
        };
        let token = jsonwebtoken::encode(&header, &claims, &self.key)
            .map_err(|e| SendError::retry(format!("signing the provider token: {e}")))?;
        *cached = Some((token.clone(), Instant::now()));
        Ok(token)
    }

    fn forget_provider_token(&self) {
        *self.token.lock().expect("not poisoned") = None;
    }

    async fn post(&self, note: &PushNote) -> Result<(), SendError> {
        let payload = serde_json::json!({
            "aps": {
                "alert": { "title": note.title, "body": note.body },
                "sound": "default",
            },
            "message_id": note.message,
        });
        let expiration = OffsetDateTime::now_utc().unix_timestamp() + 24 * 3600;
        let url = format!(
            "{}/3/device/{}",
            self.settings.endpoint.trim_end_matches('/'),
            percent_encoding::utf8_percent_encode(&note.token, percent_encoding::NON_ALPHANUMERIC)
        );
        let response = self
            .http
            .post(url)
            .bearer_auth(self.provider_token()?)
            .header("apns-topic", &self.settings.topic)
            .header("apns-push-type", "alert")
            .header("apns-priority", "10")
            .header("apns-id", note.key.to_string())
            .header("apns-collapse-id", note.message.to_string())
            .header("apns-expiration", expiration.to_string())
            .json(&payload)
            .send()
            .await
            .map_err(transport_error)?;
        let answer = Answer::read(response).await;
        if answer.ok() {
            return Ok(());
        }
        let reason = serde_json::from_str::<serde_json::Value>(&answer.body)
            .ok()
            .and_then(|v| v["reason"].as_str().map(String::from))
            .unwrap_or_default();
        Err(match (answer.status, reason.as_str()) {
            (410, _) | (400, "BadDeviceToken" | "DeviceTokenNotForTopic") => {
                SendError::Gone(reason)
            }
            (403, "ExpiredProviderToken" | "InvalidProviderToken") => {
                self.forget_provider_token();
                SendError::retry(reason)
            }
            _ => answer.error(),
        })
    }
}

impl PushService for Apns {
    fn send<'a>(&'a self, note: &'a PushNote) -> Sending<'a> {
        Box::pin(self.post(note))
    }
}
