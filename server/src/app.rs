//! The application: storage opened, routes assembled, listener bound. `Application::build` then
//! `port()` and `run_until_stopped()`, so tests bind 127.0.0.1:0 and drive the real server.
use std::time::Duration;

use poem::http::StatusCode;
use poem::listener::{Acceptor, Listener, TcpAcceptor, TcpListener};
use poem::middleware::{CatchPanic, CookieJarManager, SetHeader};
use poem::web::Data;
use poem::{EndpointExt, IntoResponse, Response, Route, get, handler};

use crate::analysis::Analyser;
use crate::dossier::Dossiers;
use crate::edge::{Contract, Edge};
use crate::http::openapi_service;
use crate::notify::Dispatcher;
use crate::ops::{GuardedAcceptor, LimitSettings, Observe};
use crate::settings::Settings;
use crate::state::AppState;

/// Liveness: the process answers.
#[handler]
fn healthz() -> &'static str {
    "ok"
}

/// Readiness: the database answers and the blob store takes a write with room for the reserve of
/// uploads; otherwise 503, so a load balancer sends candidates to another instance (or shows its
/// own page) instead of failing their uploads.
#[handler]
async fn readyz(state: Data<&AppState>) -> Response {
    let db = state.db.read(crate::storage::ops::ping).await;
    let reserve = state.ready_reserve_bytes;
    let blobs = match state.blobs.probe().await {
        Ok(()) => match state.blobs.free_bytes().await {
            Ok(Some(free)) if free < reserve => Err(format!(
                "{free} bytes free, fewer than the reserve of {reserve} (limits.ready_reserve_uploads)"
            )),
            Ok(_) => Ok(()),
            Err(e) => Err(e.to_string()),
        },
        Err(e) => Err(e.to_string()),
    };
    match (db, blobs) {
        (Ok(()), Ok(())) => "ready".into_response(),
        (db, blobs) => {
            let why = [
                db.err().map(|e| format!("database: {e}")),
                blobs.err().map(|e| format!("blobs: {e}")),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join("; ");
            tracing::warn!(reason = %why, "not ready");
            (StatusCode::SERVICE_UNAVAILABLE, why).into_response()
        }
    }
}

#[handler]
async fn prometheus_metrics(state: Data<&AppState>) -> Response {
    match state.metrics.render(&state.db).await {
        Ok(text) => Response::builder()
            .content_type("text/plain; version=0.0.4; charset=utf-8")
            .body(text),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response(),
    }
}

pub fn routes(state: AppState, limits: LimitSettings) -> impl poem::Endpoint {
    let observe = Observe::new(state.metrics.clone());
    let service = openapi_service();
    let contract = Contract::from_spec(&service.spec());
    let spec = service.spec_endpoint();
    let docs = service.swagger_ui();
    Route::new()
        // The operations keep their full paths (`/api/v1/...`), as the spec lists them.
        .nest_no_strip("/api/v1", service)
        .nest("/", crate::web::routes())
        .at("/api/openapi.json", spec)
        .nest("/api/docs", docs)
        .at("/healthz", get(healthz))
        .at("/readyz", get(readyz))
        .at("/metrics", get(prometheus_metrics))
        .data(state)
        .with(CookieJarManager::new())
        // A panic in any handler or extractor answers 500 instead of dropping the connection.
        .with(CatchPanic::new())
        // Bodies bounded by type before they are read; every refusal as the JSON `ErrorBody`.
        .with(Edge::new(limits, contract))
        .with(
            SetHeader::new()
                .overriding("X-Content-Type-Options", "nosniff")
                .overriding("Referrer-Policy", "no-referrer")
                .overriding("X-Frame-Options", "DENY"),
        )
        .with(observe)
}

pub struct Application {
    acceptor: TcpAcceptor,
    port: u16,
    state: AppState,
    settings: Settings,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        let state = AppState::open(&settings)?;
        let acceptor = TcpListener::bind(settings.listen.clone())
            .into_acceptor()
            .await?;
        let port = acceptor
            .local_addr()
            .first()
            .and_then(|a| a.as_socket_addr().map(|s| s.port()))
            .ok_or_else(|| anyhow::anyhow!("listener has no address"))?;
        Ok(Application {
            acceptor,
            port,
            state,
            settings,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serve until `shutdown` resolves: then stop accepting, give in-flight requests up to
    /// `shutdown_grace_secs` to finish, stop the background tasks and checkpoint the database.
    pub async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let sweeper = spawn_sweeper(self.state.dossiers.clone(), &self.settings);
        let dispatcher = Dispatcher::new(self.state.db.clone(), self.settings.notify.clone())
            .map_err(std::io::Error::other)?
            .spawn();
        let analyser = self.state.advice.on.then(|| {
            Analyser::new(
                self.state.db.clone(),
                self.state.blobs.clone(),
                self.settings.analysis.clone(),
                self.state.advice.clone(),
                self.state.metrics.clone(),
                self.state.uploads.clone(),
            )
            .spawn()
        });
        let acceptor = GuardedAcceptor::new(
            self.acceptor,
            self.settings.connections.clone(),
            self.state.metrics.clone(),
        );
        let db = self.state.db.clone();
        let grace = Duration::from_secs(self.settings.shutdown_grace_secs);
        let endpoint = routes(self.state, self.settings.limits.clone());
        let result = poem::Server::new_with_acceptor(acceptor)
            .run_with_graceful_shutdown(endpoint, shutdown, Some(grace))
            .await;
        sweeper.abort();
        // A row being sent stays leased and is sent again (same idempotency key) at the next start.
        dispatcher.abort();
        // A reading cut short keeps its lease and is taken again when the lease runs out.
        if let Some(analyser) = analyser {
            analyser.abort();
        }
        if let Err(e) = db.checkpoint().await {
            tracing::warn!(error = %e, "checkpoint at shutdown failed");
        }
        tracing::info!("stopped");
        result
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.run_until(std::future::pending()).await
    }
}

/// Sweep unreferenced blobs at start and then periodically.
fn spawn_sweeper(dossiers: Dossiers, settings: &Settings) -> tokio::task::JoinHandle<()> {
    let interval = Duration::from_secs(settings.sweep_interval_secs.max(1));
    let grace = Duration::from_secs(settings.sweep_grace_secs);
    tokio::spawn(async move {
        loop {
            match dossiers.sweep_blobs(grace).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(removed = n, "swept unreferenced blobs"),
                Err(e) => tracing::warn!(error = %e, "blob sweep failed"),
            }
            tokio::time::sleep(interval).await;
        }
    })
}
