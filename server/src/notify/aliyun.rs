//! Alibaba Cloud SMS (Dysmsapi 2017-05-25, `SendSms`), signed with Alibaba Cloud's V3 request
//! signature (ACS3-HMAC-SHA256; V2's HMAC-SHA1 is discontinued):
//!
//! ```text
//! CanonicalRequest = METHOD \n "/" \n CanonicalQueryString \n CanonicalHeaders \n SignedHeaders \n hex(SHA256(body))
//! StringToSign     = "ACS3-HMAC-SHA256" \n hex(SHA256(CanonicalRequest))
//! Authorization    = ACS3-HMAC-SHA256 Credential=<AccessKeyId>,SignedHeaders=<...>,Signature=hex(HMAC-SHA256(secret, StringToSign))
//! ```
//!
//! The query string is sorted by name and RFC 3986-encoded; the signed headers are `host` and
//! every `x-acs-*`, lower-case and sorted. The SMS's `SignName` is the district's sign, the
//! template (approved with the district's text) is `template_code`, and `OutId` is the
//! notification's id. `Code: OK` is delivered; `isv.MOBILE_NUMBER_ILLEGAL` means no such number;
//! the per-number frequency limits (`isv.BUSINESS_LIMIT_CONTROL`) wait an hour; other codes are
//! retried with backoff (most are configuration an operator fixes).
use std::collections::BTreeMap;
use std::time::Duration;

use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use super::{Answer, SendError, Sending, Sms, SmsService, http_client, transport_error};

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct AliyunSettings {
    pub access_key_id: String,
    /// Set through the environment: `DOSSIER_NOTIFY__SMS__ALIYUN__ACCESS_KEY_SECRET`.
    pub access_key_secret: String,
    /// The approved template of the district's text, e.g. `SMS_123456789`.
    pub template_code: String,
    #[serde(default = "default_endpoint")]
    pub endpoint: String,
}

fn default_endpoint() -> String {
    "https://dysmsapi.aliyuncs.com".into()
}

pub const ACTION: &str = "SendSms";
pub const VERSION: &str = "2017-05-25";
pub const ALGORITHM: &str = "ACS3-HMAC-SHA256";

/// RFC 3986: everything but `A-Z a-z 0-9 - _ . ~` is percent-encoded (space as %20).
const RFC3986: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

pub fn encode(s: &str) -> String {
    utf8_percent_encode(s, RFC3986).to_string()
}

/// `a=1&b=2`, sorted by name, names and values encoded.
pub fn canonical_query(params: &BTreeMap<String, String>) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The V3 signature of a request: (signed header names, hex signature). `headers` are the ones
/// to sign, lower-case names.
pub fn sign(
    secret: &str,
    method: &str,
    query: &BTreeMap<String, String>,
    headers: &BTreeMap<String, String>,
    body: &[u8],
) -> (String, String) {
    let canonical_headers: String = headers
        .iter()
        .map(|(k, v)| format!("{k}:{}\n", v.trim()))
        .collect();
    let signed_headers = headers.keys().cloned().collect::<Vec<_>>().join(";");
    let canonical_request = format!(
        "{method}\n/\n{}\n{canonical_headers}\n{signed_headers}\n{}",
        canonical_query(query),
        hex::encode(Sha256::digest(body))
    );
    let string_to_sign = format!(
        "{ALGORITHM}\n{}",
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(string_to_sign.as_bytes());
    (signed_headers, hex::encode(mac.finalize().into_bytes()))
}

pub struct Aliyun {
    http: reqwest::Client,
    settings: AliyunSettings,
}

impl Aliyun {
    pub fn new(settings: AliyunSettings, timeout: Duration) -> Aliyun {
        Aliyun {
            http: http_client(timeout, false),
            settings,
        }
    }

    async fn post(&self, sms: &Sms) -> Result<(), SendError> {
        let endpoint = self.settings.endpoint.trim_end_matches('/');
        let host = reqwest::Url::parse(endpoint)
            .ok()
            .and_then(|u| {
                u.host_str()
                    .map(|h| u.port().map_or(h.to_string(), |p| format!("{h}:{p}")))
            })
            .ok_or_else(|| SendError::retry(format!("the endpoint {endpoint} has no host")))?;
        let query: BTreeMap<String, String> = [
            ("PhoneNumbers", sms.to.as_str()),
            ("SignName", sms.sign.as_str()),
            ("TemplateCode", self.settings.template_code.as_str()),
            ("OutId", &sms.key.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let body: &[u8] = b"";
        let date = OffsetDateTime::now_utc()
            .replace_nanosecond(0)
            .expect("0 is valid")
            .format(&Rfc3339)
            .expect("formats");
        let headers: BTreeMap<String, String> = [
            ("host", host),
            ("x-acs-action", ACTION.into()),
            ("x-acs-version", VERSION.into()),
            ("x-acs-date", date),
            ("x-acs-signature-nonce", Uuid::new_v4().simple().to_string()),
            ("x-acs-content-sha256", hex::encode(Sha256::digest(body))),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let (signed_headers, signature) = sign(
            &self.settings.access_key_secret,
            "POST",
            &query,
            &headers,
            body,
        );
        let mut request = self
            .http
            .post(format!("{endpoint}/?{}", canonical_query(&query)))
            .header(
                reqwest::header::AUTHORIZATION,
                format!(
                    "{ALGORITHM} Credential={},SignedHeaders={signed_headers},Signature={signature}",
                    self.settings.access_key_id
                ),
            );
        for (name, value) in headers.iter().filter(|(k, _)| *k != "host") {
            request = request.header(name, value);
        }
        let answer = Answer::read(request.send().await.map_err(transport_error)?).await;
        let code = serde_json::from_str::<serde_json::Value>(&answer.body)
            .ok()
            .and_then(|v| v["Code"].as_str().map(String::from))
            .unwrap_or_default();
        match code.as_str() {
            "OK" if answer.ok() => Ok(()),
            "isv.MOBILE_NUMBER_ILLEGAL" => Err(SendError::Gone(answer.body)),
            "isv.BUSINESS_LIMIT_CONTROL" => Err(SendError::Retry {
                reason: answer.body,
                after: Some(Duration::from_secs(3600)),
            }),
            _ => Err(SendError::Retry {
                reason: format!("{}: {}", answer.status, answer.body),
                after: answer.retry_after,
            }),
        }
    }
}

impl SmsService for Aliyun {
    fn send<'a>(&'a self, sms: &'a Sms) -> Sending<'a> {
        Box::pin(self.post(sms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_is_rfc3986() {
        assert_eq!(encode("a b*c~d-e_f.g"), "a%20b%2Ac~d-e_f.g");
        assert_eq!(encode("演示"), "%E6%BC%94%E7%A4%BA");
    }

    #[test]
    fn the_signature_covers_query_headers_and_body() {
        let query: BTreeMap<String, String> = [
            ("B".to_string(), "2".to_string()),
            ("A".into(), "1 1".into()),
        ]
        .into();
        let headers: BTreeMap<String, String> = [
            ("host".to_string(), "example.com".to_string()),
            ("x-acs-action".into(), "SendSms".into()),
        ]
        .into();
        let (signed, sig) = sign("secret", "POST", &query, &headers, b"");
        assert_eq!(signed, "host;x-acs-action");
        assert_eq!(canonical_query(&query), "A=1%201&B=2");
        let mut other = query.clone();
        other.insert("B".into(), "3".into());
        assert_ne!(sign("secret", "POST", &other, &headers, b"").1, sig);
        assert_ne!(sign("secret", "POST", &query, &headers, b"x").1, sig);
        assert_ne!(sign("other", "POST", &query, &headers, b"").1, sig);
        assert_eq!(sig.len(), 64);
    }
}
