//! Telling candidates. A decision writes the candidate's message and two outbox rows in its own
//! transaction: a push due now and an SMS due later (`sms_after_secs`). The dispatcher takes due
//! rows under a lease, sends them through the configured providers and records how each ended:
//!
//! - a push goes to every phone the candidate registered (APNs, FCM, or the webhook that relays
//!   to the phone makers' services); a phone whose token is gone is forgotten; with no phone left,
//!   the SMS is due at once;
//! - the SMS goes only if the message is still unread when it is due, and at most one an hour
//!   per candidate (a later one waits for the hour to pass, then checks again);
//! - a failed send is retried with exponential backoff and jitter (honouring `Retry-After`) until
//!   `max_attempts`, then marked failed and logged as an error;
//! - every attempt of a row carries the row's id as its idempotency key (APNs `apns-id`, the
//!   collapse id, the webhook's `Idempotency-Key`, Alibaba Cloud's `OutId`), so a row re-sent after
//!   a crash between the provider's answer and our commit is recognised as the same
//!   notification. A row is never sent again once its success is committed.
//!
//! With no provider configured a channel writes to the log (development).
pub mod aliyun;
pub mod apns;
pub mod fcm;
pub mod signed;

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use time::OffsetDateTime;
use tokio::task::JoinSet;
use uuid::Uuid;

use crate::storage::sql::Conn;
use dossier_core::api::MessageKind;

use crate::storage::outbox::{self, Channel, Delivery, OutboxItem, OutboxState};
use crate::storage::{self, Db, MessageRow, StorageError};

/// What a candidate is told (a return, a pending decision, the result): the message on their
/// page, with its push now and its SMS fallback `sms_after_secs` later.
pub struct Notice {
    pub candidate: Uuid,
    pub kind: MessageKind,
    pub title: &'static str,
    pub body: String,
    /// The materials it is about (a return's), for the page to link.
    pub categories: Vec<String>,
}

impl Notice {
    /// Write the message and its two outbox rows inside the caller's transaction, so the
    /// candidate is told exactly when what caused it commits.
    pub fn send(
        self,
        tx: &Conn,
        settings: &NotifySettings,
        now: OffsetDateTime,
    ) -> Result<(), StorageError> {
        let message = MessageRow {
            id: Uuid::new_v4(),
            kind: self.kind,
            title: self.title.into(),
            body: self.body,
            categories: self.categories,
            created_at: now,
            read_at: None,
        };
        storage::insert_message(tx, self.candidate, &message)?;
        outbox::enqueue(tx, self.candidate, message.id, Channel::Push, now)?;
        outbox::enqueue(
            tx,
            self.candidate,
            message.id,
            Channel::Sms,
            now + time::Duration::seconds(settings.sms_after_secs),
        )
    }
}

/// Settings of the notifications: when the SMS follows, how the dispatcher paces itself, and the
/// providers. Secrets (webhook secrets, Alibaba Cloud's key secret) come from the environment,
/// keys from files.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct NotifySettings {
    /// An SMS follows a push that is still unread after this long.
    pub sms_after_secs: i64,
    /// At most one SMS per candidate in this long.
    pub sms_min_interval_secs: i64,
    /// The SMS text after the district's 【sign】 (the approved template's text).
    pub sms_text: String,
    /// How often the dispatcher looks for due rows when it found none.
    pub poll_interval_ms: u64,
    /// Rows taken at once; candidates sent to in parallel.
    pub batch: usize,
    pub concurrency: usize,
    /// A row being sent is taken again after this long (its sender died).
    pub lease_secs: i64,
    /// Backoff after a failed attempt: base * 2^(attempt-1), at most `retry_max_secs`, jittered.
    pub retry_base_ms: u64,
    pub retry_max_secs: u64,
    pub max_attempts: u32,
    /// Per request to a provider.
    pub request_timeout_secs: u64,
    pub push: PushSettings,
    pub sms: SmsSettings,
}

impl Default for NotifySettings {
    fn default() -> Self {
        NotifySettings {
            sms_after_secs: 2 * 3600,
            sms_min_interval_secs: 3600,
            sms_text: SMS_TEXT.into(),
            poll_interval_ms: 1000,
            batch: 64,
            concurrency: 8,
            lease_secs: 120,
            retry_base_ms: 1000,
            retry_max_secs: 3600,
            // about a day at the one-hour cap
            max_attempts: 36,
            request_timeout_secs: 20,
            push: PushSettings::default(),
            sms: SmsSettings::default(),
        }
    }
}

/// The district's SMS text after its sign (医师资格考试 operating guide).
pub const SMS_TEXT: &str = "您的医师资格考试报名材料照片，有新的审核通知，请在 24 小时之内登陆报名网站，访问报名材料上传页面，查看消息并按要求处理。";

/// Push providers; a platform whose provider is not configured goes to the log.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct PushSettings {
    pub apns: Option<apns::ApnsSettings>,
    pub fcm: Option<fcm::FcmSettings>,
    /// Tokens of the phone makers' services (Huawei, Xiaomi, OPPO, vivo, Honor) and of the
    /// `webhook` platform: a relay the district runs, or a push aggregator.
    pub webhook: Option<signed::SignedHttpSettings>,
}

/// The SMS provider: Alibaba Cloud, a generic HTTP gateway, or (neither) the log.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct SmsSettings {
    pub aliyun: Option<aliyun::AliyunSettings>,
    pub http: Option<signed::SignedHttpSettings>,
}

// ---------------------------------------------------------------------------------------------
// The provider interfaces

/// Why a send did not succeed, as the dispatcher acts on it.
#[derive(Debug, Clone, PartialEq)]
pub enum SendError {
    /// Try again later (network, 5xx, throttled, expired credentials), no sooner than `after`.
    Retry {
        reason: String,
        after: Option<Duration>,
    },
    /// This push token or number no longer reaches anyone.
    Gone(String),
    /// Refused for good (malformed request); retrying would not help.
    Rejected(String),
}

impl SendError {
    pub fn retry(reason: impl Into<String>) -> SendError {
        SendError::Retry {
            reason: reason.into(),
            after: None,
        }
    }
}

pub type Sending<'a> = Pin<Box<dyn Future<Output = Result<(), SendError>> + Send + 'a>>;

/// One push to one phone.
#[derive(Debug, Clone)]
pub struct PushNote {
    /// The outbox row: the idempotency key, the same on every attempt.
    pub key: Uuid,
    /// The candidate's message: the collapse id, so a phone shows one notification per message.
    pub message: Uuid,
    pub platform: String,
    pub token: String,
    pub title: String,
    pub body: String,
}

/// One SMS.
#[derive(Debug, Clone)]
pub struct Sms {
    pub key: Uuid,
    pub to: String,
    /// The district's sign, without the brackets.
    pub sign: String,
    pub text: String,
}

impl Sms {
    /// The text as the phone shows it.
    pub fn full_text(&self) -> String {
        format!("【{}】{}", self.sign, self.text)
    }
}

/// A push service: APNs, FCM, the webhook; a phone maker's own API would be one more.
pub trait PushService: Send + Sync {
    fn send<'a>(&'a self, note: &'a PushNote) -> Sending<'a>;
}

/// An SMS service.
pub trait SmsService: Send + Sync {
    fn send<'a>(&'a self, sms: &'a Sms) -> Sending<'a>;
}

/// Development: notifications go to the log (the number masked) and count as sent.
pub struct LogChannel;

impl PushService for LogChannel {
    fn send<'a>(&'a self, note: &'a PushNote) -> Sending<'a> {
        tracing::info!(target: "dossier::notify", key = %note.key, platform = %note.platform,
            title = %note.title, "push (log channel)");
        Box::pin(async { Ok(()) })
    }
}

impl SmsService for LogChannel {
    fn send<'a>(&'a self, sms: &'a Sms) -> Sending<'a> {
        tracing::info!(target: "dossier::notify", key = %sms.key, to = %mask(&sms.to),
            text = %sms.full_text(), "SMS (log channel)");
        Box::pin(async { Ok(()) })
    }
}

/// 13812345678 -> 138****5678: logs never carry a whole number.
pub fn mask(number: &str) -> String {
    let chars: Vec<char> = number.chars().collect();
    if chars.len() < 7 {
        return "*".repeat(chars.len());
    }
    let (head, tail) = (&chars[..3], &chars[chars.len() - 4..]);
    format!(
        "{}{}{}",
        head.iter().collect::<String>(),
        "*".repeat(chars.len() - 7),
        tail.iter().collect::<String>()
    )
}

/// The HTTP client of the providers: rustls, HTTP/2 where the provider speaks it.
pub fn http_client(timeout: Duration, http2_only: bool) -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let builder = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(timeout)
        .pool_idle_timeout(Duration::from_secs(60));
    let builder = if http2_only {
        builder.http2_prior_knowledge()
    } else {
        builder
    };
    builder.build().expect("the HTTP client builds")
}

/// A provider's answer, read whole: status, `Retry-After` (seconds) and body.
pub struct Answer {
    pub status: u16,
    pub retry_after: Option<Duration>,
    pub body: String,
}

impl Answer {
    pub async fn read(response: reqwest::Response) -> Answer {
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = response.text().await.unwrap_or_default();
        Answer {
            status,
            retry_after,
            body,
        }
    }

    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// What the status means: 408, 429 and 5xx are temporary, 410 gone, another 4xx refused.
    pub fn error(&self) -> SendError {
        let reason = format!(
            "{}: {}",
            self.status,
            self.body.chars().take(300).collect::<String>()
        );
        match self.status {
            408 | 429 | 500.. => SendError::Retry {
                reason,
                after: self.retry_after,
            },
            410 => SendError::Gone(reason),
            _ => SendError::Rejected(reason),
        }
    }
}

/// A transport failure (connect, reset, timeout) is always worth another try.
pub fn transport_error(e: reqwest::Error) -> SendError {
    SendError::retry(format!("transport: {e}"))
}

// ---------------------------------------------------------------------------------------------
// The dispatcher

/// Sends what the outbox holds. One per database (`serve` runs it).
#[derive(Clone)]
pub struct Dispatcher {
    db: Db,
    settings: Arc<NotifySettings>,
    /// By platform wire name; `None` key: the log channel.
    push: Arc<BTreeMap<String, Arc<dyn PushService>>>,
    push_default: Arc<dyn PushService>,
    sms: Arc<dyn SmsService>,
}

/// A configuration the dispatcher cannot start with.
#[derive(Debug, thiserror::Error)]
#[error("notification provider {provider}: {why}")]
pub struct ProviderError {
    pub provider: &'static str,
    pub why: String,
}

const VENDOR_PLATFORMS: [&str; 6] = ["huawei", "xiaomi", "oppo", "vivo", "honor", "webhook"];

/// How one row ended.
enum Outcome {
    Done(OutboxState, Option<String>),
    /// The push reached no phone: the SMS is due now.
    Unreachable(OutboxState, String),
    Retry(String, Option<Duration>),
    /// Not sent yet and not failed (the SMS hourly limit).
    Defer(OffsetDateTime),
}

impl Dispatcher {
    pub fn new(db: Db, settings: NotifySettings) -> Result<Dispatcher, ProviderError> {
        let timeout = Duration::from_secs(settings.request_timeout_secs.max(1));
        let mut push: BTreeMap<String, Arc<dyn PushService>> = BTreeMap::new();
        if let Some(s) = &settings.push.apns {
            push.insert(
                "apns".into(),
                Arc::new(apns::Apns::new(s.clone(), timeout)?),
            );
        }
        if let Some(s) = &settings.push.fcm {
            push.insert("fcm".into(), Arc::new(fcm::Fcm::new(s.clone(), timeout)?));
        }
        if let Some(s) = &settings.push.webhook {
            let hook: Arc<dyn PushService> = Arc::new(signed::Webhook::new(s.clone(), timeout));
            for platform in VENDOR_PLATFORMS {
                push.insert(platform.into(), hook.clone());
            }
        }
        let sms: Arc<dyn SmsService> = match (&settings.sms.aliyun, &settings.sms.http) {
            (Some(_), Some(_)) => {
                return Err(ProviderError {
                    provider: "sms",
                    why: "configure one SMS provider, not both aliyun and http".into(),
                });
            }
            (Some(s), None) => Arc::new(aliyun::Aliyun::new(s.clone(), timeout)),
            (None, Some(s)) => Arc::new(signed::SmsGateway::new(s.clone(), timeout)),
            (None, None) => Arc::new(LogChannel),
        };
        Ok(Dispatcher {
            db,
            settings: Arc::new(settings),
            push: Arc::new(push),
            push_default: Arc::new(LogChannel),
            sms,
        })
    }

    /// Run until the task is dropped: on SQLite (one dispatcher), rows left `sending` by an
    /// earlier process are taken up again first; on PostgreSQL another instance may be sending
    /// them, so they wait for their lease to run out.
    pub fn spawn(self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let release = async {
                match self.db.is_postgres() {
                    true => Ok(0),
                    false => self.db.write(outbox::release_leases).await,
                }
            };
            match release.await {
                Ok(0) => {}
                Ok(n) => tracing::warn!(
                    rows = n,
                    "notifications left in flight by the last run are due again"
                ),
                Err(e) => tracing::error!(error = %e, "could not release the outbox's leases"),
            }
            let idle = Duration::from_millis(self.settings.poll_interval_ms.max(10));
            crate::ops::background::poll_forever(idle, "notification dispatch", || self.tick())
                .await
        })
    }

    /// Take the due rows and send them: candidates in parallel, each candidate's rows in order
    /// (so the hourly SMS limit sees the previous SMS). Returns how many rows were taken.
    pub async fn tick(&self) -> Result<usize, StorageError> {
        let now = OffsetDateTime::now_utc();
        let lease = now + time::Duration::seconds(self.settings.lease_secs.max(1));
        let limit = self.settings.batch.max(1);
        let items = self
            .db
            .write(move |tx| outbox::claim_due(tx, now, lease, limit))
            .await?;
        let taken = items.len();
        let mut by_candidate: BTreeMap<Uuid, Vec<OutboxItem>> = BTreeMap::new();
        for item in items {
            by_candidate.entry(item.candidate).or_default().push(item);
        }
        let permits = Arc::new(tokio::sync::Semaphore::new(
            self.settings.concurrency.max(1),
        ));
        let mut tasks = JoinSet::new();
        for (_, items) in by_candidate {
            let (me, permits) = (self.clone(), permits.clone());
            tasks.spawn(async move {
                let _permit = permits.acquire_owned().await;
                for item in items {
                    me.deliver(item).await?;
                }
                Ok::<_, StorageError>(())
            });
        }
        crate::ops::background::join_all(tasks)
            .await
            .map(|()| taken)
    }

    async fn deliver(&self, item: OutboxItem) -> Result<(), StorageError> {
        let it = item.clone();
        let delivery = self.db.read(move |c| outbox::delivery(c, &it)).await?;
        let outcome = if delivery.read {
            Outcome::Done(OutboxState::Skipped, Some("read before it was due".into()))
        } else {
            match item.channel {
                Channel::Push => self.push(&item, &delivery).await?,
                Channel::Sms => self.sms(&item, &delivery).await?,
            }
        };
        self.record(&item, outcome).await
    }

    async fn push(&self, item: &OutboxItem, d: &Delivery) -> Result<Outcome, StorageError> {
        if d.tokens.is_empty() {
            return Ok(Outcome::Unreachable(
                OutboxState::NoRecipient,
                "no phone registered for push".into(),
            ));
        }
        let (mut sent, mut retry, mut refused) = (false, None, Vec::new());
        for (platform, token) in &d.tokens {
            let note = PushNote {
                key: item.id,
                message: item.message,
                platform: platform.clone(),
                token: token.clone(),
                title: d.title.clone(),
                body: d.body.clone(),
            };
            let service = self.push.get(platform).unwrap_or(&self.push_default);
            match service.send(&note).await {
                Ok(()) => sent = true,
                Err(SendError::Gone(why)) => {
                    tracing::info!(platform = %platform, why = %why, "push token gone; forgotten");
                    let (p, t) = (platform.clone(), token.clone());
                    self.db
                        .write(move |tx| outbox::forget_push_token(tx, &p, &t))
                        .await?;
                    refused.push(why);
                }
                Err(SendError::Retry { reason, after }) => retry = Some((reason, after)),
                Err(SendError::Rejected(why)) => refused.push(why),
            }
        }
        Ok(if sent {
            // A phone got it; a retry for another would send it twice to this one.
            Outcome::Done(OutboxState::Sent, None)
        } else if let Some((reason, after)) = retry {
            Outcome::Retry(reason, after)
        } else {
            Outcome::Unreachable(OutboxState::NoRecipient, refused.join("; "))
        })
    }

    async fn sms(&self, item: &OutboxItem, d: &Delivery) -> Result<Outcome, StorageError> {
        let Some(to) = d.mobile.clone().filter(|m| !m.trim().is_empty()) else {
            return Ok(Outcome::Done(
                OutboxState::NoRecipient,
                Some("no mobile number".into()),
            ));
        };
        let candidate = item.candidate;
        let last = self
            .db
            .read(move |c| outbox::last_sms_at(c, candidate))
            .await?;
        let interval = time::Duration::seconds(self.settings.sms_min_interval_secs);
        if let Some(last) = last
            && last + interval > OffsetDateTime::now_utc()
        {
            return Ok(Outcome::Defer(last + interval));
        }
        let sms = Sms {
            key: item.id,
            to,
            sign: d.sms_sign.clone(),
            text: self.settings.sms_text.clone(),
        };
        Ok(match self.sms.send(&sms).await {
            Ok(()) => Outcome::Done(OutboxState::Sent, None),
            Err(SendError::Retry { reason, after }) => Outcome::Retry(reason, after),
            Err(SendError::Gone(why)) => Outcome::Done(OutboxState::NoRecipient, Some(why)),
            Err(SendError::Rejected(why)) => Outcome::Done(OutboxState::Failed, Some(why)),
        })
    }

    async fn record(&self, item: &OutboxItem, outcome: Outcome) -> Result<(), StorageError> {
        let now = OffsetDateTime::now_utc();
        let (id, message) = (item.id, item.message);
        match outcome {
            Outcome::Done(state, error) => {
                if state == OutboxState::Failed {
                    tracing::error!(key = %id, channel = ?item.channel, error = ?error, "notification refused");
                }
                self.db
                    .write(move |tx| outbox::finish(tx, id, state, error.as_deref(), now))
                    .await
            }
            Outcome::Unreachable(state, error) => {
                self.db
                    .write(move |tx| {
                        outbox::finish(tx, id, state, Some(&error), now)?;
                        outbox::sms_now(tx, message, now)
                    })
                    .await
            }
            Outcome::Defer(until) => {
                self.db
                    .write(move |tx| outbox::retry_at(tx, id, until, None, false))
                    .await
            }
            Outcome::Retry(reason, _) if item.attempts >= self.settings.max_attempts => {
                tracing::error!(key = %id, channel = ?item.channel, attempts = item.attempts,
                    error = %reason, "notification still failing after the last attempt");
                let error = format!("gave up after {} attempts: {reason}", item.attempts);
                let was_push = item.channel == Channel::Push;
                self.db
                    .write(move |tx| {
                        outbox::finish(tx, id, OutboxState::Failed, Some(&error), now)?;
                        if was_push {
                            outbox::sms_now(tx, message, now)?;
                        }
                        Ok(())
                    })
                    .await
            }
            Outcome::Retry(reason, after) => {
                let wait = backoff(
                    item.attempts,
                    self.settings.retry_base_ms,
                    self.settings.retry_max_secs,
                )
                .max(after.unwrap_or_default());
                tracing::debug!(key = %id, attempt = item.attempts, wait_ms = wait.as_millis() as u64,
                    error = %reason, "notification will be retried");
                let due = now + wait;
                self.db
                    .write(move |tx| outbox::retry_at(tx, id, due, Some(&reason), true))
                    .await
            }
        }
    }
}

/// base * 2^(attempt-1), capped, then a random point in its upper half so a provider coming
/// back is not hit by every row at once.
pub fn backoff(attempt: u32, base_ms: u64, max_secs: u64) -> Duration {
    let exp = attempt.saturating_sub(1).min(30);
    let full = base_ms
        .saturating_mul(1u64 << exp)
        .min(max_secs.saturating_mul(1000))
        .max(1);
    let low = full / 2;
    Duration::from_millis(low + rand::rng().random_range(0..=full - low))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_with_jitter_in_the_upper_half() {
        for attempt in 1..12 {
            let full = (1000u64 << (attempt - 1)).min(60_000);
            for _ in 0..50 {
                let d = backoff(attempt, 1000, 60).as_millis() as u64;
                assert!(
                    d >= full / 2 && d <= full,
                    "attempt {attempt}: {d} of {full}"
                );
            }
        }
    }

    #[test]
    fn numbers_are_masked_in_logs() {
        assert_eq!(mask("13812345678"), "138****5678");
        assert_eq!(mask("123"), "***");
    }

    #[test]
    fn sms_text_carries_the_district_sign() {
        let sms = Sms {
            key: Uuid::nil(),
            to: "13800000000".into(),
            sign: "演示考区".into(),
            text: SMS_TEXT.into(),
        };
        assert!(
            sms.full_text()
                .starts_with("【演示考区】您的医师资格考试报名材料照片，有新的审核通知")
        );
    }
}
