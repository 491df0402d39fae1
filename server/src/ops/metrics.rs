//! `/metrics` in the Prometheus text format: requests by route and status with latency
//! histograms, writes refused at capacity, uploads by outcome, connections, and, read from
//! the database at scrape time, the review queues' depths per stage, the outbox's backlog and
//! failures and the analysis queue; analysis times and findings.
use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::storage::{Db, StorageError, analysis, ops};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: String,
    /// The route's pattern (`/api/v1/images/:id`), never the path itself.
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub method: String,
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SignInLabels {
    pub audience: String,
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StageLabels {
    pub stage: String,
    pub state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutboxLabels {
    pub channel: String,
    pub state: String,
}

pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub latency: Family<RouteLabels, Histogram>,
    /// Writes refused because too many waited for the writer (503 with Retry-After).
    pub writes_refused: Counter,
    pub in_flight: Gauge,
    pub connections: Gauge,
    /// Connections closed for sending too slowly, or refused over the limit.
    pub connections_dropped: Family<OutcomeLabels, Counter>,
    /// Uploads by outcome: stored, replayed (same idempotency key), refused, failed.
    pub uploads: Family<OutcomeLabels, Counter>,
    pub upload_bytes: Counter,
    /// Sign-ins refused, by audience (candidate, staff) and reason (failed, throttled): a rise
    /// of staff failures is an attack on the console (alert on it).
    sign_in_refusals: Family<SignInLabels, Counter>,
    review_queue: Family<StageLabels, Gauge>,
    outbox: Family<OutboxLabels, Gauge>,
    /// ID-card analyses waiting or running (read at scrape time).
    analysis_queue: Gauge,
    /// Seconds per analysis (OCR included), by outcome (done, retry, failed).
    pub analysis_seconds: Family<OutcomeLabels, Histogram>,
    /// What analyses found: side read (front, back, unknown), number read, check character
    /// failed, name read.
    pub analysis_findings: Family<OutcomeLabels, Counter>,
}

impl Metrics {
    pub fn new() -> Arc<Metrics> {
        let mut registry = Registry::with_prefix("dossier");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by route and status",
            requests.clone(),
        );
        // 1 ms to ~16 s.
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.001, 2.0, 15))
        });
        registry.register(
            "http_request_duration_seconds",
            "Time to answer, by route",
            latency.clone(),
        );
        let writes_refused = Counter::default();
        registry.register(
            "writes_refused",
            "Writes refused at capacity (503 with Retry-After)",
            writes_refused.clone(),
        );
        let in_flight = Gauge::default();
        registry.register(
            "http_in_flight",
            "Requests being answered",
            in_flight.clone(),
        );
        let connections = Gauge::default();
        registry.register(
            "connections",
            "Open client connections",
            connections.clone(),
        );
        let connections_dropped = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "connections_dropped",
            "Connections closed for being too slow or refused over the limit",
            connections_dropped.clone(),
        );
        let uploads = Family::<OutcomeLabels, Counter>::default();
        registry.register("uploads", "Uploads by outcome", uploads.clone());
        let upload_bytes = Counter::default();
        registry.register(
            "upload_stored_bytes",
            "Bytes of images stored",
            upload_bytes.clone(),
        );
        let sign_in_refusals = Family::<SignInLabels, Counter>::default();
        registry.register(
            "sign_in_refusals",
            "Sign-ins refused, by audience (candidate, staff) and reason (failed, throttled)",
            sign_in_refusals.clone(),
        );
        let review_queue = Family::<StageLabels, Gauge>::default();
        registry.register(
            "review_dossiers",
            "Dossiers in review by stage and state",
            review_queue.clone(),
        );
        let outbox = Family::<OutboxLabels, Gauge>::default();
        registry.register(
            "outbox_notifications",
            "Notifications waiting (pending, sending) or given up (failed), by channel",
            outbox.clone(),
        );
        let analysis_queue = Gauge::default();
        registry.register(
            "analysis_queue",
            "ID-card analyses waiting or running",
            analysis_queue.clone(),
        );
        // 50 ms to ~100 s.
        let analysis_seconds = Family::<OutcomeLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.05, 2.0, 12))
        });
        registry.register(
            "analysis_duration_seconds",
            "Time to analyse an image, by outcome (done, retry, failed)",
            analysis_seconds.clone(),
        );
        let analysis_findings = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "analysis_findings",
            "What analyses read: side_front, side_back, side_unknown, number, bad_check_character, name",
            analysis_findings.clone(),
        );
        Arc::new(Metrics {
            registry,
            requests,
            latency,
            writes_refused,
            in_flight,
            connections,
            connections_dropped,
            uploads,
            upload_bytes,
            sign_in_refusals,
            review_queue,
            outbox,
            analysis_queue,
            analysis_seconds,
            analysis_findings,
        })
    }

    pub fn connection_dropped(&self, reason: &str) {
        self.connections_dropped
            .get_or_create(&OutcomeLabels {
                outcome: reason.into(),
            })
            .inc();
    }

    pub fn sign_in_refused(&self, audience: &str, reason: &str) {
        self.sign_in_refusals
            .get_or_create(&SignInLabels {
                audience: audience.into(),
                reason: reason.into(),
            })
            .inc();
    }

    pub fn upload(&self, outcome: &str) {
        self.uploads
            .get_or_create(&OutcomeLabels {
                outcome: outcome.into(),
            })
            .inc();
    }

    /// The text exposition, with the database's gauges read now.
    pub async fn render(&self, db: &Db) -> Result<String, StorageError> {
        let (depths, backlog, analyses) = db
            .read(|conn| {
                Ok::<_, StorageError>((
                    ops::review_depths(conn)?,
                    ops::outbox_backlog(conn)?,
                    analysis::depth(conn)?,
                ))
            })
            .await?;
        self.analysis_queue.set(analyses as i64);
        // A stage or channel that emptied drops out instead of keeping its last value; the
        // outbox's channels always show, at 0 when nothing waits.
        self.review_queue.clear();
        for (stage, state, n) in depths {
            self.review_queue
                .get_or_create(&StageLabels { stage, state })
                .set(n);
        }
        self.outbox.clear();
        for channel in ["push", "sms"] {
            for state in ["pending", "sending", "failed"] {
                let labels = OutboxLabels {
                    channel: channel.into(),
                    state: state.into(),
                };
                self.outbox.get_or_create(&labels).set(0);
            }
        }
        for (channel, state, n) in backlog {
            self.outbox
                .get_or_create(&OutboxLabels { channel, state })
                .set(n);
        }
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .map_err(|e| StorageError::Malformed(e.to_string()))?;
        Ok(text)
    }
}
