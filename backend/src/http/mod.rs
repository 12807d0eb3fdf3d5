//! The web service: the JSON API, the live WebSocket and the built frontend.
//!
//! `app(state)` builds the whole router so tests can drive it without a socket. Starting a trace resolves the
//! target once, stores the trace, and hands it to the runner; a task per trace publishes its events to the hub
//! and stores the result when it ends. Only this module speaks HTTP.

mod error;
pub mod hub;
mod ws;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::Router;
use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rand::Rng;
use tokio::sync::mpsc;
use tower_http::services::{ServeDir, ServeFile};
use tracemap_shared::{TraceCreated, TraceReport, TraceRequest};

pub use error::AppError;
use hub::Hub;

use crate::enrich::Enricher;
use crate::probe::ProbeConfig;
use crate::runner::{self, TraceJob};
use crate::store::Store;

/// Request bodies are tiny JSON documents; anything larger is refused before it is read.
const MAX_BODY_BYTES: usize = 16 * 1024;

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct AppState {
    /// Durable traces.
    pub store: Store,
    /// Running traces and their viewers.
    pub hub: Arc<Hub>,
    /// GeoIP and friends.
    pub enricher: Arc<Enricher>,
    /// Folder holding the built frontend (`index.html` and its assets).
    pub web_dir: PathBuf,
    /// Probe parameters used for every trace the API starts.
    pub probe_defaults: ProbeConfig,
}

impl AppState {
    /// State with default probe parameters.
    pub fn new(store: Store, enricher: Arc<Enricher>, web_dir: PathBuf) -> Self {
        AppState { store, hub: Arc::new(Hub::default()), enricher, web_dir, probe_defaults: ProbeConfig::default() }
    }
}

/// The whole service.
pub fn app(state: AppState) -> Router {
    let index = ServeFile::new(state.web_dir.join("index.html"));
    let api = Router::new()
        .route("/traces", post(create_trace))
        .route("/traces/{id}", get(get_trace))
        .route("/traces/{id}/live", get(ws::live))
        .fallback(api_not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES));
    Router::new()
        .nest("/api", api)
        .route_service("/", index.clone())
        .route_service("/t/{id}", index)
        .fallback_service(ServeDir::new(&state.web_dir))
        .with_state(state)
}

async fn api_not_found() -> AppError {
    AppError::new(StatusCode::NOT_FOUND, "not_found", "no such API endpoint")
}

/// 15 random bytes (120 bits) in lower-case base32: 24 characters that are safe in a URL and cannot be guessed.
pub fn new_trace_id() -> String {
    const ALPHABET: &[u8; 32] = b"abcdefghijkmnpqrstuvwxyz23456789";
    let bytes: [u8; 15] = rand::rng().random();
    let mut bits: u64 = 0;
    let mut nbits = 0;
    let mut out = String::with_capacity(24);
    for byte in bytes {
        bits = (bits << 8) | u64::from(byte);
        nbits += 8;
        while nbits >= 5 {
            nbits -= 5;
            out.push(char::from(ALPHABET[((bits >> nbits) & 31) as usize]));
        }
    }
    out
}

fn unix_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

async fn create_trace(
    State(state): State<AppState>,
    body: Result<Json<TraceRequest>, JsonRejection>,
) -> Result<Response, AppError> {
    let Json(request) = body?;
    let target = request.target.trim().to_owned();
    let destination = runner::resolve(&target).await?;

    let id = new_trace_id();
    let probe = ProbeConfig { destination, protocol: request.protocol, ..state.probe_defaults.clone() };
    let mut report = TraceReport::new(target.clone(), request.protocol);
    report.id = Some(id.clone());
    report.address = Some(destination.to_string());
    state.store.insert(&id, unix_ms(), &report).await?;
    let live = state.hub.insert(&id, report);

    let (tx, mut rx) = mpsc::unbounded_channel();
    tokio::spawn(runner::run(TraceJob { target, probe, geo: true, dns: true }, Arc::clone(&state.enricher), tx));
    let trace_id = id.clone();
    tokio::spawn(async move {
        while let Some(event) = rx.recv().await {
            live.publish(event);
        }
        let (report, events) = live.snapshot();
        if let Err(err) = state.store.finish(&trace_id, &report, &events).await {
            tracing::error!(id = %trace_id, error = %err, "could not store a finished trace");
        }
        state.hub.remove(&trace_id);
        tracing::info!(id = %trace_id, status = ?report.status, hops = report.hops.len(), "trace ended");
    });

    tracing::info!(%id, %destination, protocol = %request.protocol, "trace started");
    Ok((StatusCode::CREATED, Json(TraceCreated { id })).into_response())
}

async fn get_trace(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<TraceReport>, AppError> {
    if let Some(live) = state.hub.get(&id) {
        return Ok(Json(live.report()));
    }
    match state.store.get(&id).await? {
        Some(stored) => Ok(Json(stored.report)),
        None => Err(AppError::trace_not_found()),
    }
}

/// How long the server waits for running traces to end on shutdown before it lets them be marked interrupted.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
