//! Fake notification providers on loopback, speaking the real protocols and checking their
//! credentials the way the real services do, written from the providers' specifications rather
//! than from the server's code:
//!
//! - APNs (`POST /3/device/<token>`): HTTP/2 only; an ES256 provider token whose signature
//!   verifies with the public half of the key the test made, `kid` and `iss` right; the topic;
//!   a UUID `apns-id`. A token starting `gone` answers 410 Unregistered.
//! - FCM: `POST /token` takes an RS256 assertion (RFC 7523) checked against the service
//!   account's public key, audience and scope, and issues an access token;
//!   `POST /v1/projects/<project>/messages:send` takes only issued tokens.
//! - Alibaba Cloud SMS (`POST /?...`): the ACS3-HMAC-SHA256 signature recomputed from the
//!   request as received; action, version and the body hash checked.
//! - The signed webhook (`POST /push`) and SMS gateway (`POST /sms`): HMAC-SHA256 of
//!   `timestamp.body`, timestamp fresh.
//!
//! A request whose credentials fail is answered 401/403 and counted in `bad_signatures`. On
//! demand, a share of requests fails with 503 (`set_fail_rate`) and answers are delayed
//! (`set_delay`). Every accepted request is recorded, with the idempotency key it carried.
use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use poem::http::{StatusCode, Version};
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::web::Data;
use poem::{Body, EndpointExt, Request, Response, Route, handler, post};
use sha2::{Digest, Sha256};

pub const TEAM_ID: &str = "TEAM123456";
pub const KEY_ID: &str = "KEY7890ABC";
pub const TOPIC: &str = "cn.example.dossier";
pub const FCM_PROJECT: &str = "dossier-test";
pub const FCM_ACCOUNT: &str = "push@dossier-test.iam.gserviceaccount.com";
pub const ALIYUN_KEY_ID: &str = "LTAI-test-key";
pub const ALIYUN_TEMPLATE: &str = "SMS_000000001";

/// What a provider accepted.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// apns, fcm, webhook, aliyun, sms
    pub provider: &'static str,
    /// The idempotency key: apns-id, the webhook's header, FCM's notification_id, OutId.
    pub key: String,
    /// The message, for pushes (collapse id / message_id).
    pub message: Option<String>,
    /// The push token or the phone number.
    pub to: String,
    /// Title for pushes; the whole SMS text, or the sign name for Alibaba Cloud.
    pub text: String,
    pub at: Instant,
}

struct State {
    apns_key: DecodingKey,
    fcm_key: DecodingKey,
    token_uri: String,
    aliyun_secret: String,
    hook_secret: String,
    issued: Mutex<HashSet<String>>,
    deliveries: Mutex<Vec<Delivery>>,
    /// Every request, accepted or failed on demand, by idempotency key, with its time.
    attempts: Mutex<Vec<(String, Instant)>>,
    bad_signatures: AtomicUsize,
    failed_on_demand: AtomicUsize,
    in_flight: AtomicUsize,
    fail_rate: Mutex<f64>,
    delay: Mutex<Duration>,
}

pub struct FakeProviders {
    pub base: String,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
    apns_pem: String,
    fcm_pem: String,
    pub aliyun_secret: String,
    pub hook_secret: String,
}

impl Drop for FakeProviders {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn random_secret() -> String {
    use rand::Rng;
    let bytes: [u8; 24] = rand::rng().random();
    hex::encode(bytes)
}

impl FakeProviders {
    /// Make the keys (an APNs P-256 key, an FCM service account's RSA key) and listen on a free
    /// port.
    pub async fn start() -> FakeProviders {
        use p256::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
        let ec = p256::SecretKey::random(&mut rand_core_06::OsRng);
        let apns_pem = ec.to_pkcs8_pem(LineEnding::LF).unwrap().to_string();
        let apns_public = ec.public_key().to_public_key_pem(LineEnding::LF).unwrap();
        let rsa_key = rsa::RsaPrivateKey::new(&mut rand_core_06::OsRng, 2048).unwrap();
        let fcm_pem = rsa_key.to_pkcs8_pem(LineEnding::LF).unwrap().to_string();
        let fcm_public = rsa::RsaPublicKey::from(&rsa_key)
            .to_public_key_pem(LineEnding::LF)
            .unwrap();

        let acceptor = TcpListener::bind("127.0.0.1:0")
            .into_acceptor()
            .await
            .expect("fake providers listen");
        let port = acceptor.local_addr()[0]
            .as_socket_addr()
            .expect("a socket")
            .port();
        let base = format!("http://127.0.0.1:{port}");
        let (aliyun_secret, hook_secret) = (random_secret(), random_secret());
        let state = Arc::new(State {
            apns_key: DecodingKey::from_ec_pem(apns_public.as_bytes()).unwrap(),
            fcm_key: DecodingKey::from_rsa_pem(fcm_public.as_bytes()).unwrap(),
            token_uri: format!("{base}/token"),
            aliyun_secret: aliyun_secret.clone(),
            hook_secret: hook_secret.clone(),
            issued: Mutex::default(),
            deliveries: Mutex::default(),
            attempts: Mutex::default(),
            bad_signatures: AtomicUsize::new(0),
            failed_on_demand: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
            fail_rate: Mutex::new(0.0),
            delay: Mutex::new(Duration::ZERO),
        });
        let routes = Route::new()
            .at("/3/device/:token", post(apns))
            .at("/token", post(oauth_token))
            .at("/v1/projects/:project/:action", post(fcm_send))
            .at("/", post(aliyun))
            .at("/push", post(webhook))
            .at("/sms", post(sms_gateway))
            .data(state.clone());
        let task = tokio::spawn(async move {
            let _ = poem::Server::new_with_acceptor(acceptor).run(routes).await;
        });
        FakeProviders {
            base,
            state,
            task,
            apns_pem,
            fcm_pem,
            aliyun_secret,
            hook_secret,
        }
    }

    /// Write the APNs key and the FCM service account into `dir`; returns the server's
    /// settings for them as environment variables (`DOSSIER_NOTIFY__...`).
    pub fn env(&self, dir: &Path, sms: SmsVia) -> Vec<(String, String)> {
        let key_file = dir.join("AuthKey_test.p8");
        std::fs::write(&key_file, &self.apns_pem).unwrap();
        let account_file = dir.join("service-account.json");
        std::fs::write(
            &account_file,
            serde_json::json!({
                "type": "service_account",
                "project_id": FCM_PROJECT,
                "private_key": self.fcm_pem,
                "client_email": FCM_ACCOUNT,
                "token_uri": self.state.token_uri,
            })
            .to_string(),
        )
        .unwrap();
        let b = &self.base;
        let mut env: Vec<(String, String)> = [
            ("PUSH__APNS__TEAM_ID", TEAM_ID.to_string()),
            ("PUSH__APNS__KEY_ID", KEY_ID.into()),
            ("PUSH__APNS__KEY_FILE", key_file.display().to_string()),
            ("PUSH__APNS__TOPIC", TOPIC.into()),
            ("PUSH__APNS__ENDPOINT", b.clone()),
            (
                "PUSH__FCM__SERVICE_ACCOUNT_FILE",
                account_file.display().to_string(),
            ),
            ("PUSH__FCM__ENDPOINT", b.clone()),
            ("PUSH__WEBHOOK__URL", format!("{b}/push")),
            ("PUSH__WEBHOOK__SECRET", self.hook_secret.clone()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        match sms {
            SmsVia::Aliyun => env.extend([
                ("SMS__ALIYUN__ACCESS_KEY_ID".into(), ALIYUN_KEY_ID.into()),
                (
                    "SMS__ALIYUN__ACCESS_KEY_SECRET".into(),
                    self.aliyun_secret.clone(),
                ),
                ("SMS__ALIYUN__TEMPLATE_CODE".into(), ALIYUN_TEMPLATE.into()),
                ("SMS__ALIYUN__ENDPOINT".into(), b.clone()),
            ]),
            SmsVia::Gateway => env.extend([
                ("SMS__HTTP__URL".into(), format!("{b}/sms")),
                ("SMS__HTTP__SECRET".into(), self.hook_secret.clone()),
            ]),
        }
        env.into_iter()
            .map(|(k, v)| (format!("DOSSIER_NOTIFY__{k}"), v))
            .collect()
    }

    pub fn deliveries(&self) -> Vec<Delivery> {
        self.state.deliveries.lock().unwrap().clone()
    }

    /// Every request that reached a provider with valid credentials, by key, in order.
    pub fn attempts(&self) -> Vec<(String, Instant)> {
        self.state.attempts.lock().unwrap().clone()
    }

    pub fn bad_signatures(&self) -> usize {
        self.state.bad_signatures.load(Ordering::SeqCst)
    }

    pub fn failed_on_demand(&self) -> usize {
        self.state.failed_on_demand.load(Ordering::SeqCst)
    }

    /// Requests taken and not yet answered.
    pub fn in_flight(&self) -> usize {
        self.state.in_flight.load(Ordering::SeqCst)
    }

    /// Fail this share of requests (0.0-1.0) with 503 after checking them.
    pub fn set_fail_rate(&self, rate: f64) {
        *self.state.fail_rate.lock().unwrap() = rate;
    }

    /// Hold each answer this long (after the request is recorded).
    pub fn set_delay(&self, delay: Duration) {
        *self.state.delay.lock().unwrap() = delay;
    }
}

/// Which SMS provider the server is pointed at.
#[derive(Clone, Copy)]
pub enum SmsVia {
    Aliyun,
    Gateway,
}

fn answer(status: StatusCode, body: serde_json::Value) -> Response {
    Response::builder()
        .status(status)
        .content_type("application/json")
        .body(body.to_string())
}

fn header<'a>(req: &'a Request, name: &str) -> &'a str {
    req.header(name).unwrap_or_default()
}

/// The credentials of `Authorization: Bearer <token>` (the scheme is case-insensitive).
fn bearer(req: &Request) -> &str {
    let value = header(req, "authorization");
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token,
        _ => "",
    }
}

impl State {
    fn refuse(&self, status: StatusCode, why: &str) -> Response {
        self.bad_signatures.fetch_add(1, Ordering::SeqCst);
        answer(status, serde_json::json!({ "reason": why, "Code": why }))
    }

    /// Record the attempt; then fail it on demand, or accept and record the delivery.
    async fn accept(&self, delivery: Delivery, ok: serde_json::Value) -> Response {
        self.attempts
            .lock()
            .unwrap()
            .push((delivery.key.clone(), Instant::now()));
        let fail = {
            use rand::Rng;
            rand::rng().random_bool(*self.fail_rate.lock().unwrap())
        };
        let delay = *self.delay.lock().unwrap();
        if fail {
            self.failed_on_demand.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(delay).await;
            return answer(
                StatusCode::SERVICE_UNAVAILABLE,
                serde_json::json!({ "reason": "ServiceUnavailable", "Code": "ServiceUnavailable" }),
            );
        }
        self.deliveries.lock().unwrap().push(delivery);
        // Counted down on drop too: the connection may die with the server mid-answer.
        struct InFlight<'a>(&'a AtomicUsize);
        impl Drop for InFlight<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::SeqCst);
            }
        }
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        let _held = InFlight(&self.in_flight);
        tokio::time::sleep(delay).await;
        answer(StatusCode::OK, ok)
    }
}

#[derive(serde::Deserialize)]
struct ApnsClaims {
    iss: String,
    iat: i64,
}

#[handler]
async fn apns(req: &Request, body: Body, state: Data<&Arc<State>>) -> Response {
    if req.version() != Version::HTTP_2 {
        return state.refuse(StatusCode::BAD_REQUEST, "HTTP/2 required");
    }
    let bearer = bearer(req);
    let mut validation = Validation::new(Algorithm::ES256);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    let good = jsonwebtoken::decode_header(bearer).is_ok_and(|h| h.kid.as_deref() == Some(KEY_ID))
        && jsonwebtoken::decode::<ApnsClaims>(bearer, &state.apns_key, &validation).is_ok_and(
            |t| {
                t.claims.iss == TEAM_ID
                    && (time::OffsetDateTime::now_utc().unix_timestamp() - t.claims.iat).abs()
                        < 3600
            },
        );
    if !good {
        return state.refuse(StatusCode::FORBIDDEN, "InvalidProviderToken");
    }
    if header(req, "apns-topic") != TOPIC || header(req, "apns-push-type") != "alert" {
        return state.refuse(StatusCode::BAD_REQUEST, "BadTopic");
    }
    let key = header(req, "apns-id").to_string();
    if uuid::Uuid::parse_str(&key).is_err() {
        return state.refuse(StatusCode::BAD_REQUEST, "BadMessageId");
    }
    let token = req.path_params::<String>().unwrap_or_default();
    if token.starts_with("gone") {
        return answer(
            StatusCode::GONE,
            serde_json::json!({ "reason": "Unregistered" }),
        );
    }
    let payload: serde_json::Value =
        serde_json::from_slice(&body.into_vec().await.unwrap_or_default()).unwrap_or_default();
    let delivery = Delivery {
        provider: "apns",
        key,
        message: Some(header(req, "apns-collapse-id").to_string()),
        to: token,
        text: payload["aps"]["alert"]["title"]
            .as_str()
            .unwrap_or_default()
            .into(),
        at: Instant::now(),
    };
    state.accept(delivery, serde_json::json!({})).await
}

#[derive(serde::Deserialize)]
struct Assertion {
    iss: String,
    scope: String,
}

#[handler]
async fn oauth_token(body: Body, state: Data<&Arc<State>>) -> Response {
    let form = body.into_string().await.unwrap_or_default();
    let fields: BTreeMap<String, String> = form
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| {
            (
                k.to_string(),
                percent_encoding::percent_decode_str(v)
                    .decode_utf8_lossy()
                    .into_owned(),
            )
        })
        .collect();
    if fields.get("grant_type").map(String::as_str)
        != Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
    {
        return state.refuse(StatusCode::BAD_REQUEST, "unsupported_grant_type");
    }
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[&state.token_uri]);
    let assertion = fields.get("assertion").cloned().unwrap_or_default();
    let good = jsonwebtoken::decode::<Assertion>(&assertion, &state.fcm_key, &validation)
        .is_ok_and(|t| {
            t.claims.iss == FCM_ACCOUNT
                && t.claims.scope == "https://www.googleapis.com/auth/firebase.messaging"
        });
    if !good {
        return state.refuse(StatusCode::BAD_REQUEST, "invalid_grant");
    }
    let token = format!("ya29.{}", random_secret());
    state.issued.lock().unwrap().insert(token.clone());
    answer(
        StatusCode::OK,
        serde_json::json!({ "access_token": token, "expires_in": 3599, "token_type": "Bearer" }),
    )
}

#[handler]
async fn fcm_send(req: &Request, body: Body, state: Data<&Arc<State>>) -> Response {
    let (project, action) = req.path_params::<(String, String)>().unwrap_or_default();
    if project != FCM_PROJECT || action != "messages:send" {
        return answer(StatusCode::NOT_FOUND, serde_json::json!({}));
    }
    let bearer = bearer(req);
    if !state.issued.lock().unwrap().contains(bearer) {
        return state.refuse(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED");
    }
    let msg: serde_json::Value =
        serde_json::from_slice(&body.into_vec().await.unwrap_or_default()).unwrap_or_default();
    let m = &msg["message"];
    let token = m["token"].as_str().unwrap_or_default().to_string();
    if token.starts_with("gone") {
        return answer(
            StatusCode::NOT_FOUND,
            serde_json::json!({"error": {"code": 404, "status": "NOT_FOUND",
                "details": [{"errorCode": "UNREGISTERED"}]}}),
        );
    }
    let delivery = Delivery {
        provider: "fcm",
        key: m["data"]["notification_id"]
            .as_str()
            .unwrap_or_default()
            .into(),
        message: m["android"]["collapse_key"].as_str().map(String::from),
        to: token,
        text: m["notification"]["title"]
            .as_str()
            .unwrap_or_default()
            .into(),
        at: Instant::now(),
    };
    state
        .accept(
            delivery,
            serde_json::json!({"name": format!("projects/{FCM_PROJECT}/messages/1")}),
        )
        .await
}

/// RFC 3986 encoding, as Alibaba Cloud's V3 signature specifies it.
fn acs_encode(s: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(s, SET).to_string()
}

#[handler]
async fn aliyun(req: &Request, body: Body, state: Data<&Arc<State>>) -> Response {
    let body = body.into_vec().await.unwrap_or_default();
    let query: BTreeMap<String, String> = req
        .uri()
        .query()
        .unwrap_or_default()
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| {
            let d = |s: &str| {
                percent_encoding::percent_decode_str(s)
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (d(k), d(v))
        })
        .collect();
    // Authorization: ACS3-HMAC-SHA256 Credential=..,SignedHeaders=..,Signature=..
    let auth = header(req, "authorization");
    let Some(fields) = auth.strip_prefix("ACS3-HMAC-SHA256 ") else {
        return state.refuse(StatusCode::BAD_REQUEST, "IncompleteSignature");
    };
    let fields: BTreeMap<&str, &str> = fields
        .split(',')
        .filter_map(|f| f.trim().split_once('='))
        .collect();
    let signed: Vec<&str> = fields
        .get("SignedHeaders")
        .unwrap_or(&"")
        .split(';')
        .collect();
    let must_sign = [
        "host",
        "x-acs-action",
        "x-acs-content-sha256",
        "x-acs-date",
        "x-acs-signature-nonce",
        "x-acs-version",
    ];
    if fields.get("Credential") != Some(&ALIYUN_KEY_ID)
        || must_sign.iter().any(|h| !signed.contains(h))
    {
        return state.refuse(StatusCode::BAD_REQUEST, "IncompleteSignature");
    }
    let canonical_headers: String = signed
        .iter()
        .map(|h| format!("{h}:{}\n", header(req, h).trim()))
        .collect();
    let canonical_query = query
        .iter()
        .map(|(k, v)| format!("{}={}", acs_encode(k), acs_encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let body_hash = hex::encode(Sha256::digest(&body));
    let canonical = format!(
        "POST\n/\n{canonical_query}\n{canonical_headers}\n{}\n{body_hash}",
        signed.join(";")
    );
    let to_sign = format!(
        "ACS3-HMAC-SHA256\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(state.aliyun_secret.as_bytes()).unwrap();
    mac.update(to_sign.as_bytes());
    let expected = hex::encode(mac.finalize().into_bytes());
    let fresh = time::OffsetDateTime::parse(
        header(req, "x-acs-date"),
        &time::format_description::well_known::Rfc3339,
    )
    .is_ok_and(|t| (time::OffsetDateTime::now_utc() - t).whole_minutes().abs() < 15);
    if fields.get("Signature") != Some(&expected.as_str())
        || header(req, "x-acs-content-sha256") != body_hash
        || !fresh
    {
        return state.refuse(StatusCode::FORBIDDEN, "SignatureDoesNotMatch");
    }
    if header(req, "x-acs-action") != "SendSms" || header(req, "x-acs-version") != "2017-05-25" {
        return state.refuse(StatusCode::BAD_REQUEST, "InvalidAction");
    }
    if query.get("TemplateCode").map(String::as_str) != Some(ALIYUN_TEMPLATE) {
        return answer(
            StatusCode::OK,
            serde_json::json!({"Code": "isv.SMS_TEMPLATE_ILLEGAL"}),
        );
    }
    let get = |k: &str| query.get(k).cloned().unwrap_or_default();
    let delivery = Delivery {
        provider: "aliyun",
        key: get("OutId"),
        message: None,
        to: get("PhoneNumbers"),
        text: get("SignName"),
        at: Instant::now(),
    };
    state
        .accept(
            delivery,
            serde_json::json!({"Code": "OK", "Message": "OK", "BizId": "1", "RequestId": "r"}),
        )
        .await
}

/// The webhook protocol's signature check; the JSON body when it holds.
async fn signed_body(
    req: &Request,
    body: Body,
    state: &State,
) -> Result<serde_json::Value, Response> {
    let body = body.into_vec().await.unwrap_or_default();
    let timestamp = header(req, "x-dossier-timestamp");
    let mut mac = Hmac::<Sha256>::new_from_slice(state.hook_secret.as_bytes()).unwrap();
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(&body);
    let expected = format!("v1={}", hex::encode(mac.finalize().into_bytes()));
    let fresh = timestamp
        .parse::<i64>()
        .is_ok_and(|t| (time::OffsetDateTime::now_utc().unix_timestamp() - t).abs() < 300);
    if header(req, "x-dossier-signature") != expected || !fresh {
        return Err(state.refuse(StatusCode::UNAUTHORIZED, "bad signature"));
    }
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    if json["id"].as_str() != Some(header(req, "idempotency-key")) {
        return Err(state.refuse(StatusCode::BAD_REQUEST, "idempotency key"));
    }
    Ok(json)
}

#[handler]
async fn webhook(req: &Request, body: Body, state: Data<&Arc<State>>) -> Response {
    let json = match signed_body(req, body, &state).await {
        Ok(j) => j,
        Err(r) => return r,
    };
    let token = json["token"].as_str().unwrap_or_default().to_string();
    if token.starts_with("gone") {
        return answer(StatusCode::GONE, serde_json::json!({}));
    }
    let delivery = Delivery {
        provider: "webhook",
        key: json["id"].as_str().unwrap_or_default().into(),
        message: json["message_id"].as_str().map(String::from),
        to: token,
        text: json["title"].as_str().unwrap_or_default().into(),
        at: Instant::now(),
    };
    state.accept(delivery, serde_json::json!({})).await
}

#[handler]
async fn sms_gateway(req: &Request, body: Body, state: Data<&Arc<State>>) -> Response {
    let json = match signed_body(req, body, &state).await {
        Ok(j) => j,
        Err(r) => return r,
    };
    let delivery = Delivery {
        provider: "sms",
        key: json["id"].as_str().unwrap_or_default().into(),
        message: None,
        to: json["to"].as_str().unwrap_or_default().into(),
        text: json["text"].as_str().unwrap_or_default().into(),
        at: Instant::now(),
    };
    state.accept(delivery, serde_json::json!({})).await
}
