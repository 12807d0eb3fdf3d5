//! The web service: the JSON API, the live WebSocket and the built frontend.
//!
//! `app(state)` builds the whole router so tests can drive it without a socket. Starting a trace resolves the
//! target once, stores the trace, and hands it to the runner; a task per trace publishes its events to the hub
//! and stores the result when it ends. Only this module speaks HTTP.

pub mod agents;
pub mod assets;
pub mod class;
pub mod client;
mod error;
pub mod export;
pub mod hub;
pub mod limits;
pub mod offline;
pub mod policy;
pub mod preview;
pub mod request;
pub mod server;
pub mod share;
pub mod tokens;
mod ws;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Extension, Json, Router};
use rand::Rng;
use serde::Deserialize;
use tokio::sync::{Semaphore, mpsc};
use tower_http::compression::CompressionLayer;
use tower_http::request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use tracemap_shared::{Geo, ServerInfo, TileLayer, TraceCreated, TraceList, TraceReport, TraceRequest, TraceStatus};

use assets::Page;
use client::Client;
pub use error::AppError;
use export::Format;
use hub::Hub;
use limits::{ClientKey, RateLimiter};
use policy::TargetPolicy;
use share::{Joined, ShareKey, Shares};

use crate::addr::Prefix;
use crate::enrich::Enricher;
use crate::probe::ProbeConfig;
use crate::runner::{self, TraceJob};
use crate::store::{Deletable, Store};

/// Request bodies are tiny JSON documents; anything larger is refused before it is read.
const MAX_BODY_BYTES: usize = 16 * 1024;

/// The service's limits and rules, from the command line.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// Probe parameters for options a request leaves out.
    pub probe_defaults: ProbeConfig,
    /// Which targets remote clients may trace.
    pub policy: TargetPolicy,
    /// Reverse proxies whose forwarding headers name the client (`--trusted-proxy`).
    pub trusted_proxies: Vec<Prefix>,
    /// The operator's secret for the server-wide trace list and deleting any trace (`--admin-token`).
    pub admin_token: Option<String>,
    /// Origins besides the server's own allowed to open the live WebSocket (e.g. `https://maps.example.org`).
    pub allowed_origins: Vec<String>,
    /// Trace starts a client may make at once.
    pub rate_burst: u32,
    /// Trace starts a client may make per minute on average.
    pub rate_per_minute: u32,
    /// Traces running at once, server-wide.
    pub max_concurrent: usize,
    /// Where the prober stands, shown as the start of every route.
    pub location: Option<Geo>,
    /// A tile layer for the page instead of the offline basemap.
    pub tiles: Option<TileLayer>,
    /// Whether traces may look up hop names; off, a request asking for names gets none.
    pub reverse_dns: bool,
    /// The data sets read at start, with versions and ages (`/api/config`'s `data`).
    pub data: Vec<tracemap_shared::DataSource>,
    /// How long after an identical request's probe run has ended a request still joins it (`--share-window`);
    /// zero shares nothing (`http::share`).
    pub share_window: Duration,
    /// The most rounds and seconds one watch runs (`--max-rounds`, `--max-watch-seconds`).
    pub watch: request::WatchLimits,
    /// How long a watch goes on with no viewer before it stops (a reload comes back within it).
    pub watch_grace: Duration,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        ServiceConfig {
            probe_defaults: ProbeConfig::default(),
            policy: TargetPolicy::default(),
            trusted_proxies: Vec::new(),
            admin_token: None,
            allowed_origins: Vec::new(),
            rate_burst: 5,
            rate_per_minute: 20,
            max_concurrent: 32,
            location: None,
            tiles: None,
            reverse_dns: true,
            data: Vec::new(),
            share_window: DEFAULT_SHARE_WINDOW,
            watch: request::WatchLimits::default(),
            watch_grace: WATCH_GRACE,
        }
    }
}

/// How long a watch with no viewer left goes on: long enough for a page to reload and come back.
pub const WATCH_GRACE: Duration = Duration::from_secs(10);

/// A watch's rounds per token of its client's rate limit: a minute of rounds at the default interval counts as
/// one trace start (a trace probes each hop three times, a round once; a watch is paced far below a trace's burst).
pub const ROUNDS_PER_TOKEN: u32 = 60;

/// What a request costs its client's rate limit: one trace start, or one per [`ROUNDS_PER_TOKEN`] rounds of a
/// watch (the limiter never asks for more than its burst).
fn cost(watch: Option<crate::probe::Watch>) -> u32 {
    watch.map_or(1, |watch| watch.rounds.div_ceil(ROUNDS_PER_TOKEN).max(1))
}

/// `--share-window`'s default.
pub const DEFAULT_SHARE_WINDOW: Duration = Duration::from_secs(10);

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct AppState {
    /// Durable traces.
    pub store: Store,
    /// Running traces and their viewers.
    pub hub: Arc<Hub>,
    /// GeoIP and friends.
    pub enricher: Arc<Enricher>,
    /// The built frontend.
    pub page: Arc<Page>,
    /// Limits and rules.
    pub config: Arc<ServiceConfig>,
    /// The vantage points on NATS (`serve --nats`), when there are any.
    pub agents: Option<Arc<crate::agent::registry::Agents>>,
    limiter: Arc<RateLimiter>,
    slots: Arc<Semaphore>,
    shares: Arc<Shares>,
    drawing: Arc<preview::Drawing>,
    classes: Arc<class::Classes>,
}

impl AppState {
    /// State with the default limits.
    pub fn new(store: Store, enricher: Arc<Enricher>, page: Page) -> Self {
        Self::with_config(store, enricher, page, ServiceConfig::default())
    }

    /// State with explicit limits and rules.
    pub fn with_config(store: Store, enricher: Arc<Enricher>, page: Page, config: ServiceConfig) -> Self {
        AppState {
            store,
            hub: Arc::new(Hub::default()),
            enricher,
            page: Arc::new(page),
            limiter: Arc::new(RateLimiter::new(config.rate_burst, config.rate_per_minute)),
            slots: Arc::new(Semaphore::new(config.max_concurrent)),
            shares: Arc::new(Shares::new(config.share_window)),
            drawing: Arc::new(preview::Drawing::default()),
            classes: Arc::new(class::Classes::new(class::Limits::default())),
            config: Arc::new(config),
            agents: None,
        }
    }
}

/// The whole service.
pub fn app(state: AppState) -> Router {
    let api = Router::new()
        .route("/traces", post(create_trace).get(list_traces))
        .route("/traces/{id}", get(get_trace).delete(delete_trace))
        .route("/traces/{id}/live", get(ws::live))
        .route("/traces/{id}/run", delete(stop_trace))
        .route("/classes", post(class::open))
        .route("/classes/{code}", get(class::status).delete(class::end))
        .route("/classes/{code}/live", get(class::live))
        .route("/classes/{code}/qr.svg", get(class::qr))
        .route("/config", get(server_info))
        .route("/agents", get(agents::list))
        .fallback(api_not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES));
    let router = Router::new().nest("/api", api).route("/healthz", get(healthz));
    router
        .route("/", get(page_index))
        .route("/t/{id}", get(preview::permalink))
        .route("/compare/{a}/{b}", get(page_index))
        .route("/c/{code}", get(page_index))
        .fallback(page_file)
        .layer(middleware::from_fn_with_state(state.clone(), identify_client))
        .with_state(state)
        .layer(CompressionLayer::new())
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
            let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
            tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), id = %id)
        }))
        .layer(SetRequestIdLayer::x_request_id(RequestIds::default()))
}

/// Request ids: a per-process random prefix and a counter, unique without a UUID dependency.
#[derive(Debug, Clone)]
struct RequestIds {
    prefix: u32,
    next: Arc<AtomicU64>,
}

impl Default for RequestIds {
    fn default() -> Self {
        RequestIds { prefix: rand::rng().random(), next: Arc::new(AtomicU64::new(1)) }
    }
}

impl MakeRequestId for RequestIds {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        HeaderValue::from_str(&format!("{:08x}-{n}", self.prefix)).ok().map(RequestId::new)
    }
}

/// Decides once who sent the request ([`Client`]) and hands that to every handler as an extension.
async fn identify_client(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(addr)| addr.ip());
    let client = Client::identify(peer, request.headers(), &state.config.trusted_proxies);
    request.extensions_mut().insert(client);
    next.run(request).await
}

/// The trace `id` as it stands: live from the hub, else from the store.
async fn current_report(state: &AppState, id: &str) -> Result<Option<TraceReport>, AppError> {
    Ok(match state.hub.get_named(id) {
        Some((live, joined_after_ms)) => {
            // A joined trace is another name of its run's log: it answers with its own id.
            let mut report = live.report();
            report.id = Some(id.to_owned());
            report.joined_after_ms = joined_after_ms;
            Some(report)
        }
        None => state.store.get(id).await?.map(|stored| stored.report),
    })
}

async fn page_index(State(state): State<AppState>, headers: HeaderMap) -> Response {
    state.page.serve("index.html", &headers)
}

async fn page_file(State(state): State<AppState>, uri: axum::http::Uri, headers: HeaderMap) -> Response {
    state.page.serve(uri.path().trim_start_matches('/'), &headers)
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

pub(crate) fn unix_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

async fn create_trace(
    State(state): State<AppState>,
    Extension(client): Extension<Client>,
    body: Result<Json<TraceRequest>, JsonRejection>,
) -> Result<Response, AppError> {
    let Json(request) = body?;
    request::check_options(&request)?;
    let watch = request::check_watch(&request, state.config.watch)?;
    // A client over its limit may still join a probe run (a join sends no probe: a class behind one address);
    // anything else it asks for, refused or not, is refused for the limit, as before sharing existed.
    let limited = state.limiter.check_cost(ClientKey::of(client.ip), Instant::now(), cost(watch)).err();
    if let Some(wait) = limited
        && !state.shares.enabled()
    {
        return Err(AppError::rate_limited(wait));
    }
    if !request.from.is_empty() {
        if watch.is_some() {
            return Err(AppError::new(
                StatusCode::BAD_REQUEST,
                "invalid_field",
                "rounds: a watch runs on this server only, not from an agent",
            ));
        }
        // A trace from an agent never joins a local probe run: over the limit is over the limit.
        if let Some(wait) = limited {
            return Err(AppError::rate_limited(wait));
        }
        return agents::create_remote(state, client, request).await;
    }
    let or_limited = |err: AppError| limited.map_or(err, AppError::rate_limited);
    let target = request.target.trim().to_owned();
    if let Ok(Some(literal)) = runner::parse_target(&target) {
        request::check_family(&request, literal).map_err(or_limited)?;
    }
    let destination =
        runner::resolve_family(&target, request::wanted_family(&request)).await.map_err(|e| or_limited(e.into()))?;
    request::check_family(&request, destination).map_err(or_limited)?;
    if let Err(kind) = state.config.policy.check(destination, !client.local) {
        return Err(or_limited(AppError::new(
            StatusCode::FORBIDDEN,
            "forbidden_target",
            request::forbidden_target(&target, destination, &kind, "this server"),
        )));
    }
    let probe = request::probe_config(&request, destination, &state.config.probe_defaults, watch);
    let dns = state.config.reverse_dns && request.dns.unwrap_or(true);
    let geo = request.geo.unwrap_or(true);
    let key = ShareKey::new(&request, &probe, dns, geo);
    let id = new_trace_id();
    let delete_token = tokens::new_token();
    // A join takes no running slot either.
    if let Some(joined) = state.shares.join(&key, Instant::now()) {
        return join_run(state, id, delete_token, joined).await;
    }
    if let Some(wait) = limited {
        return Err(AppError::rate_limited(wait));
    }
    let Ok(slot) = Arc::clone(&state.slots).try_acquire_owned() else {
        return Err(AppError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            format!("{} traces are already running; try again in a few seconds", state.config.max_concurrent),
        ));
    };

    let mut report = TraceReport::new(target.clone(), request.protocol);
    report.id = Some(id.clone());
    report.address = Some(destination.to_string());
    report.max_hops = probe.max_hops;
    report.tries = probe.tries;
    state.store.insert(&id, unix_ms(), &report, Some(tokens::hash(&delete_token))).await?;
    let live = state.hub.insert(&id, report);
    state.shares.offer(key, &id, &live, Instant::now());

    let (tx, rx) = mpsc::unbounded_channel();
    let job = TraceJob { target, probe, geo, dns, location: state.config.location.clone() };
    let run = tokio::spawn(runner::run(job, Arc::clone(&state.enricher), tx));
    let trace_id = id.clone();
    tokio::spawn(async move {
        // Dropping the runner drops its prober and name lookups: nothing more is sent.
        let abort = || {
            run.abort();
            std::future::ready(())
        };
        let report = match watch {
            Some(_) => {
                let limit = Duration::from_secs(u64::from(state.config.watch.max_seconds));
                follow_watch(&state, &trace_id, &live, rx, abort, limit).await
            }
            None => follow_run(&state, &trace_id, &live, rx, abort).await,
        };
        state.shares.ended(&trace_id, Instant::now());
        drop(slot);
        tracing::info!(id = %trace_id, status = ?report.status, hops = report.hops.len(), "trace ended");
    });

    tracing::info!(%id, %destination, protocol = %request.protocol, rounds = watch.map(|w| w.rounds), "trace started");
    let created = TraceCreated { id, delete_token: Some(delete_token), ..Default::default() };
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

/// Publishes a run's events to its live log until the run ends, or until a stop is asked for (then `stop` ends the
/// run); then stores what the log holds, marked `stopped` when it was stopped while running, and takes the log out
/// of the hub. The local runner and an agent's remote run both end this way.
pub(crate) async fn follow_run<F: Future<Output = ()>>(
    state: &AppState,
    id: &str,
    live: &hub::LiveTrace,
    mut rx: mpsc::UnboundedReceiver<tracemap_shared::TraceEvent>,
    stop: impl FnOnce() -> F,
) -> TraceReport {
    let began = Instant::now();
    loop {
        tokio::select! {
            event = rx.recv() => match event {
                Some(event) => live.publish(event),
                None => break,
            },
            () = live.stop_requested() => {
                stop().await;
                break;
            }
        }
    }
    let (mut report, events) = live.snapshot();
    if live.is_stopped() && report.status == TraceStatus::Running {
        report.status = TraceStatus::Stopped;
        report.duration_ms = Some(u64::try_from(began.elapsed().as_millis()).unwrap_or(u64::MAX));
    }
    if let Err(err) = state.store.finish(id, &report, &events).await {
        tracing::error!(%id, error = %err, "could not store a finished trace");
    }
    state.hub.remove(id);
    report
}

/// [`follow_run`] for a watch, which also ends when nobody has watched it for the grace period (stored as
/// `stopped`, like a stop), and when it has run for `limit` (`--max-watch-seconds`: rounds are paced to the routers'
/// limits, so they can take longer than their interval says; it then ends `finished`, with the rounds so far).
async fn follow_watch<F: Future<Output = ()>>(
    state: &AppState,
    id: &str,
    live: &Arc<hub::LiveTrace>,
    rx: mpsc::UnboundedReceiver<tracemap_shared::TraceEvent>,
    stop: impl FnOnce() -> F,
    limit: Duration,
) -> TraceReport {
    let began = Instant::now();
    let out_of_time = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let guard = {
        let (live, grace, out_of_time) = (Arc::clone(live), state.config.watch_grace, Arc::clone(&out_of_time));
        tokio::spawn(async move {
            tokio::select! {
                () = live.abandoned(grace) => tracing::info!("watch stopped: no viewer left"),
                () = tokio::time::sleep(limit) => {
                    out_of_time.store(true, Ordering::SeqCst);
                    tracing::info!(seconds = limit.as_secs(), "watch ended at --max-watch-seconds");
                }
            }
            live.stop();
        })
    };
    let ended_in_time = || {
        if out_of_time.load(Ordering::SeqCst) {
            // Ended by the server's cap, not by anyone: a finished watch, with the rounds it ran.
            let reached = live.report().destination_reached;
            let duration_ms = u64::try_from(began.elapsed().as_millis()).unwrap_or(u64::MAX);
            live.publish(tracemap_shared::TraceEvent::Finished { destination_reached: reached, duration_ms });
        }
        std::future::ready(())
    };
    let report = follow_run(state, id, live, rx, || async {
        stop().await;
        ended_in_time().await;
    })
    .await;
    guard.abort();
    report
}

/// A request identical to a probe run under way or just finished becomes trace `id` showing that run: its own row
/// and delete token, another name of the run's log while it goes on, and a copy of the run once it has ended.
async fn join_run(state: AppState, id: String, delete_token: String, joined: Joined) -> Result<Response, AppError> {
    let after_ms = u64::try_from(joined.after.as_millis()).unwrap_or(u64::MAX);
    let own = move |mut report: TraceReport, id: &str| {
        report.id = Some(id.to_owned());
        report.joined_after_ms = Some(after_ms);
        report
    };
    let live = joined.live;
    state.hub.link(&id, Arc::clone(&live), after_ms);
    if let Err(err) =
        state.store.insert(&id, unix_ms(), &own(live.report(), &id), Some(tokens::hash(&delete_token))).await
    {
        state.hub.unlink(&id);
        return Err(err.into());
    }
    let trace_id = id.clone();
    tokio::spawn(async move {
        live.closed().await;
        let (report, events) = live.snapshot();
        if let Err(err) = state.store.finish(&trace_id, &own(report, &trace_id), &events).await {
            tracing::error!(id = %trace_id, error = %err, "could not store a joined trace");
        }
        state.hub.unlink(&trace_id);
    });
    tracing::info!(%id, after_ms, "trace joined an identical probe run");
    let created =
        TraceCreated { id, delete_token: Some(delete_token), joined_after_ms: Some(after_ms), ..Default::default() };
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

/// Longest `DELETE /api/traces/{id}/run` waits for the stopped trace to be stored, so the next `GET` reads it.
const STOP_WAIT: Duration = Duration::from_secs(5);

/// `DELETE /api/traces/{id}/run` with `Authorization: Bearer TOKEN` (the trace's delete token, or `--admin-token`):
/// stops a running trace; the hops probed so far are stored and it reads `stopped`. A permalink is shared while the
/// trace runs, so knowing the id is not enough: only who started it (or the admin) may stop it.
async fn stop_trace(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    authorize(&state, &id, &headers, "stop").await?;
    let Some(live) = state.hub.get(&id) else {
        return Err(AppError::new(StatusCode::CONFLICT, "not_running", "this trace has already ended"));
    };
    let joiners = state.shares.joiners(&live);
    if joiners > 0 {
        return Err(AppError::new(
            StatusCode::CONFLICT,
            "shared_run",
            format!("{} traces share this probe run; it ends by itself", joiners + 1),
        ));
    }
    live.stop();
    drop(live);
    let deadline = Instant::now() + STOP_WAIT;
    while state.hub.get(&id).is_some() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tracing::info!(%id, "trace stopped on request");
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /api/traces/{id}`, and its exports `{id}.json`, `{id}.csv`, `{id}.geojson` and the offline copy `{id}.html`.
async fn get_trace(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Extension(client): Extension<Client>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    if let Some(id) = id.strip_suffix(".html") {
        return offline::download(&state, id, &headers, &client).await;
    }
    let (id, format) = Format::split(&id);
    let report = current_report(&state, id).await?.ok_or_else(AppError::trace_not_found)?;
    let Some(format) = format else { return Ok(Json(report).into_response()) };
    let disposition = format!("attachment; filename=\"tracemap-{id}.{}\"", format.extension());
    let mut response = format.render(&report).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(format.content_type()));
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// Query of `GET /api/traces`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    limit: Option<usize>,
}

/// Most traces one listing returns.
const MAX_LIST: usize = 200;

/// `DELETE /api/traces/{id}` with `Authorization: Bearer TOKEN` (the trace's delete token, or `--admin-token`):
/// removes the trace, its report and its events, for good. A running trace is refused (409): it is deleted once
/// it has ended, so nothing is left half-stored.
async fn delete_trace(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, AppError> {
    let (trace, by) = authorize(&state, &id, &headers, "delete").await?;
    if trace.running || state.hub.get(&id).is_some() {
        return Err(AppError::new(
            StatusCode::CONFLICT,
            "trace_running",
            "this trace is still running; delete it once it has ended",
        ));
    }
    state.store.delete(&id).await?;
    tracing::info!(%id, by, "trace deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// Checks that the request may `verb` (stop, delete) trace `id`: its `Authorization: Bearer` token is the trace's
/// delete token or the server's `--admin-token`. The trace as stored, and which token it was.
async fn authorize(
    state: &AppState,
    id: &str,
    headers: &HeaderMap,
    verb: &str,
) -> Result<(Deletable, &'static str), AppError> {
    let Some(token) = tokens::bearer(headers) else {
        return Err(AppError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            format!("to {verb} a trace, send its delete token: Authorization: Bearer TOKEN"),
        ));
    };
    let trace = state.store.deletable(id).await?.ok_or_else(AppError::trace_not_found)?;
    if trace.delete_hash.as_deref().is_some_and(|hash| tokens::matches_hash(token, hash)) {
        return Ok((trace, "delete token"));
    }
    if tokens::matches_secret(token, state.config.admin_token.as_deref()) {
        return Ok((trace, "admin token"));
    }
    Err(AppError::new(StatusCode::FORBIDDEN, "forbidden", format!("this token does not {verb} this trace")))
}

/// `GET /api/traces`: every trace on the server, for the operator only (a local client, or `--admin-token`).
/// Ids are the only secret a shared link has, so listing them to strangers would undo it; a page keeps its own
/// list of the traces it started.
async fn list_traces(
    State(state): State<AppState>,
    Extension(client): Extension<Client>,
    headers: HeaderMap,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<TraceList>, AppError> {
    let admin =
        tokens::bearer(&headers).is_some_and(|t| tokens::matches_secret(t, state.config.admin_token.as_deref()));
    if !client.local && !admin {
        return Err(AppError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "the list of every trace is for this server's operator (its own machine, or --admin-token); your page keeps the traces you started",
        ));
    }
    let Query(query) = query.map_err(|r| AppError::new(StatusCode::BAD_REQUEST, "invalid_field", r.body_text()))?;
    let limit = query.limit.unwrap_or(20);
    if !(1..=MAX_LIST).contains(&limit) {
        return Err(AppError::new(
            StatusCode::BAD_REQUEST,
            "invalid_field",
            format!("limit: must be between 1 and {MAX_LIST}"),
        ));
    }
    Ok(Json(TraceList { traces: state.store.list(limit).await? }))
}

async fn server_info(State(state): State<AppState>) -> Json<ServerInfo> {
    Json(ServerInfo {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        location: state.config.location.clone(),
        tiles: state.config.tiles.clone(),
        geoip: state.enricher.geoip_labels().into_iter().map(str::to_owned).collect(),
        asn: state.enricher.asn_labels().into_iter().map(str::to_owned).collect(),
        reverse_dns: state.config.reverse_dns,
        data: state.config.data.clone(),
        max_rounds: Some(state.config.watch.max_rounds),
        max_watch_seconds: Some(state.config.watch.max_seconds),
    })
}

async fn healthz(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "running_traces": state.hub.len(),
        "geoip": state.enricher.geoip_labels(),
        "nats": state.agents.as_ref().map(|agents| agents.health()),
    }))
}

/// Deletes the traces created more than `keep` ago, at once and then every `every`, for as long as it runs
/// (`--keep-days`; spawn it as a task). Running traces are left alone.
pub async fn expire_traces(store: Store, keep: Duration, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let cutoff = unix_ms().saturating_sub(u64::try_from(keep.as_millis()).unwrap_or(u64::MAX));
        match store.expire(cutoff).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(expired = n, "deleted traces older than --keep-days"),
            Err(error) => tracing::error!(%error, "could not expire old traces"),
        }
    }
}

/// How long the server waits for running traces to end on shutdown before it lets them be marked interrupted.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
