//! Signed HTTP: the generic push webhook and the generic SMS gateway. One protocol for both:
//!
//! ```text
//! POST <url>
//! Content-Type: application/json
//! Idempotency-Key: <notification id, the same on every attempt>
//! X-Dossier-Timestamp: <unix seconds>
//! X-Dossier-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>
//! ```
//!
//! The receiver checks the signature and the timestamp's age, and treats a repeated
//! `Idempotency-Key` as the notification it already has. 2xx: done; 410: the recipient is gone;
//! 408, 429, 5xx: try again (`Retry-After` honoured); another 4xx: refused.
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{
    Answer, PushNote, PushService, SendError, Sending, Sms, SmsService, http_client,
    transport_error,
};

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SignedHttpSettings {
    pub url: String,
    /// Shared with the receiver; set it through the environment, e.g.
    /// `DOSSIER_NOTIFY__SMS__HTTP__SECRET`.
    pub secret: String,
}

pub const SIGNATURE_HEADER: &str = "X-Dossier-Signature";
pub const TIMESTAMP_HEADER: &str = "X-Dossier-Timestamp";
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";

/// `v1=<hex>` of `"<timestamp>.<body>"`.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

struct SignedHttp {
    http: reqwest::Client,
    settings: SignedHttpSettings,
}

impl SignedHttp {
    fn new(settings: SignedHttpSettings, timeout: Duration) -> SignedHttp {
        SignedHttp {
            http: http_client(timeout, false),
            settings,
        }
    }

    async fn post(&self, key: Uuid, body: serde_json::Value) -> Result<(), SendError> {
        let body = serde_json::to_vec(&body).expect("serialisable");
        let timestamp = OffsetDateTime::now_utc().unix_timestamp();
        let response = self
            .http
            .post(&self.settings.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(IDEMPOTENCY_HEADER, key.to_string())
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(
                SIGNATURE_HEADER,
                signature(&self.settings.secret, timestamp, &body),
            )
            .body(body)
            .send()
            .await
            .map_err(transport_error)?;
        let answer = Answer::read(response).await;
        if answer.ok() {
            Ok(())
        } else {
            Err(answer.error())
        }
    }
}

/// Push through the district's relay: the phone makers' services, an aggregator, or anything
/// that speaks the protocol above.
pub struct Webhook(SignedHttp);

impl Webhook {
    pub fn new(settings: SignedHttpSettings, timeout: Duration) -> Webhook {
        Webhook(SignedHttp::new(settings, timeout))
    }
}

impl PushService for Webhook {
    fn send<'a>(&'a self, note: &'a PushNote) -> Sending<'a> {
        Box::pin(self.0.post(
            note.key,
            serde_json::json!({
                "id": note.key,
                "message_id": note.message,
                "platform": note.platform,
                "token": note.token,
                "title": note.title,
                "body": note.body,
            }),
        ))
    }
}

/// An SMS gateway that takes the whole text.
pub struct SmsGateway(SignedHttp);

impl SmsGateway {
    pub fn new(settings: SignedHttpSettings, timeout: Duration) -> SmsGateway {
        SmsGateway(SignedHttp::new(settings, timeout))
    }
}

impl SmsService for SmsGateway {
    fn send<'a>(&'a self, sms: &'a Sms) -> Sending<'a> {
        Box::pin(self.0.post(
            sms.key,
            serde_json::json!({ "id": sms.key, "to": sms.to, "text": sms.full_text() }),
        ))
    }
}
