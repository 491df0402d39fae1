//! Every request passes here: it gets a request id (the client's `X-Request-Id` if sane, else a
//! new one, echoed in the answer) and a span, and it ends in one log line and the metrics. The
//! log line has the route's pattern, never the path or the query (which may hold a ticket), nor
//! any header or body. (Capacity is bounded where it is scarce, at the database's one writer:
//! `storage::Db::with_write_limit`.)
use std::sync::Arc;
use std::time::Instant;

use poem::PathPattern;
use poem::http::HeaderValue;
use poem::{Endpoint, IntoResponse, Middleware, Request, Response};
use tracing::Instrument;

use super::metrics::{Metrics, RequestLabels, RouteLabels};

pub const REQUEST_ID_HEADER: &str = "X-Request-Id";

pub struct Observe {
    metrics: Arc<Metrics>,
}

impl Observe {
    pub fn new(metrics: Arc<Metrics>) -> Observe {
        Observe { metrics }
    }
}

impl<E: Endpoint> Middleware<E> for Observe {
    type Output = ObserveEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        ObserveEndpoint {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

pub struct ObserveEndpoint<E> {
    inner: E,
    metrics: Arc<Metrics>,
}

impl<E: Endpoint> Endpoint for ObserveEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        let started = Instant::now();
        let id = request_id(&req);
        let method = req.method().clone();
        let span = tracing::info_span!("request", id = %id);
        let mut response = async {
            self.metrics.in_flight.inc();
            let response = match self.inner.call(req).await {
                Ok(r) => r.into_response(),
                Err(e) => e.into_response(),
            };
            self.metrics.in_flight.dec();
            response
        }
        .instrument(span.clone())
        .await;

        let route = response
            .data::<PathPattern>()
            .map(|p| p.0.to_string())
            .unwrap_or_else(|| "unmatched".into());
        let status = response.status();
        let elapsed = started.elapsed();
        self.metrics
            .requests
            .get_or_create(&RequestLabels {
                method: method.to_string(),
                route: route.clone(),
                status: status.as_u16(),
            })
            .inc();
        self.metrics
            .latency
            .get_or_create(&RouteLabels {
                method: method.to_string(),
                route: route.clone(),
            })
            .observe(elapsed.as_secs_f64());
        span.in_scope(|| {
            tracing::info!(
                target: "dossier::request",
                method = %method,
                route = %route,
                status = status.as_u16(),
                ms = %format_args!("{:.1}", elapsed.as_secs_f64() * 1000.0),
            )
        });
        if let Ok(value) = HeaderValue::from_str(&id) {
            response.headers_mut().insert(REQUEST_ID_HEADER, value);
        }
        Ok(response)
    }
}

/// The client's request id when it is a short token, else a new one.
fn request_id(req: &Request) -> String {
    req.headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string())
}
