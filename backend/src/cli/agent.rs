//! `tracemap agent`: a vantage point. It probes with the same prober, runner and enrichment as `serve`, but takes
//! its traces from a server over NATS instead of from browsers (see [`tracemap::agent`] for the subjects).
//!
//! It never trusts the server for what it may do: each job is checked against the agent's own target policy (the
//! same special-address table and `--allow-private` as `serve`; every job counts as remote), its own rate limit and
//! its own `--max-concurrent`, and the target is resolved here, from where the agent stands. Like `serve`, it opens
//! its raw sockets and reads its files first, then drops every privilege before the runtime starts.

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use futures_util::StreamExt;
use tokio::sync::{Semaphore, mpsc};
use tracemap::agent::connect::NatsTarget;
use tracemap::agent::{self, HEARTBEAT_EVERY, Heartbeat, Job, JobAnswer, Stop};
use tracemap::enrich::Enricher;
use tracemap::http::AppError;
use tracemap::http::limits::{ClientKey, RateLimiter};
use tracemap::http::policy::{TargetPolicy, local_addresses};
use tracemap::http::request;
use tracemap::net::{ProbeSockets, Prober};
use tracemap::privilege;
use tracemap::probe::ProbeConfig;
use tracemap::runner::{self, TraceJob};
use tracemap_shared::{ApiErrorBody, Geo, TraceEvent};

use super::geo::{GeoArgs, open_enricher, parse_location};
use super::nats::NatsAuthArgs;

#[derive(Args, Debug)]
pub struct AgentArgs {
    // Both are required, checked in `prepare` rather than by clap, so `tracemap config` can show the agent's
    // settings without them.
    /// The NATS broker the server listens on (required): nats://USER:PASSWORD@HOST:4222, nats://TOKEN@HOST, tls://...
    #[arg(long, value_name = "URL", env = "TRACEMAP_NATS", hide_env_values = true)]
    nats: Option<String>,
    /// This vantage point's name (required), unique among the server's agents (letters, digits, '-', '_'; at most 32).
    #[arg(long, value_name = "NAME", env = "TRACEMAP_AGENT_NAME", value_parser = parse_name)]
    name: Option<String>,
    /// Where this agent stands, as LAT,LON[,LABEL]: the start of its routes on the map.
    #[arg(long, value_name = "LAT,LON[,LABEL]", env = "TRACEMAP_LOCATION", value_parser = parse_location)]
    location: Option<Geo>,
    /// Trace private, loopback and other internal or special addresses too (this agent's own networks).
    #[arg(long = "allow-private", env = "TRACEMAP_ALLOW_PRIVATE")]
    allow_private: bool,
    /// Traces this agent runs at once; more are refused as busy.
    #[arg(long = "max-concurrent", default_value_t = 8, env = "TRACEMAP_MAX_CONCURRENT")]
    max_concurrent: usize,
    /// Trace starts this agent takes at once, whoever asks.
    #[arg(long = "rate-burst", default_value_t = 5, env = "TRACEMAP_RATE_BURST")]
    rate_burst: u32,
    /// Trace starts this agent takes per minute on average, whoever asks.
    #[arg(long = "rate-per-minute", default_value_t = 20, env = "TRACEMAP_RATE_PER_MINUTE")]
    rate_per_minute: u32,
    /// Never look up hop names (reverse DNS), whatever a job asks.
    #[arg(long = "no-dns", env = "TRACEMAP_NO_DNS")]
    no_dns: bool,
    /// Started as root, become this user once the sockets are open (every capability is dropped in any case).
    #[arg(long, default_value = "nobody", env = "TRACEMAP_USER")]
    user: String,
    /// Keep the privileges the agent was started with (for debugging; never in production).
    #[arg(long = "keep-privileges", env = "TRACEMAP_KEEP_PRIVILEGES")]
    keep_privileges: bool,
    #[command(flatten)]
    auth: NatsAuthArgs,
    #[command(flatten)]
    geo: GeoArgs,
}

fn parse_name(s: &str) -> Result<String, String> {
    agent::check_name(s).map(|()| s.to_owned())
}

/// What the agent opens while it may (see `serve`'s `prepare`).
pub struct Prepared {
    args: AgentArgs,
    name: String,
    enricher: Arc<Enricher>,
    sockets: ProbeSockets,
    nats: NatsTarget,
}

/// Reads the data and the NATS credentials and opens the probe sockets, then drops privileges; on the main thread
/// before the runtime exists.
pub fn prepare(args: AgentArgs) -> anyhow::Result<Prepared> {
    let Some(url) = args.nats.as_deref() else {
        anyhow::bail!("--nats URL is required: the broker the server listens on, e.g. nats://NAME:PASSWORD@HOST:4222");
    };
    let Some(name) = args.name.clone() else {
        anyhow::bail!("--name NAME is required: this vantage point's name, e.g. --name sydney");
    };
    let nats = args.auth.settings(url).load()?;
    let enricher = open_enricher(&args.geo, true)?;
    enricher.wait_loaded();
    let sockets = ProbeSockets::open().context("opening the probe sockets")?;
    if args.keep_privileges {
        tracing::warn!("--keep-privileges: the agent keeps every privilege it was started with");
    } else {
        let dropped = privilege::drop_privileges(&args.user).context("dropping privileges")?;
        tracing::info!(user = ?dropped.user, uid = dropped.uid, "no capabilities left");
    }
    Ok(Prepared { args, name, enricher: Arc::new(enricher), sockets, nats })
}

/// What every job handler shares.
struct Worker {
    name: String,
    client: async_nats::Client,
    enricher: Arc<Enricher>,
    policy: TargetPolicy,
    limiter: RateLimiter,
    slots: Arc<Semaphore>,
    max_concurrent: usize,
    location: Option<Geo>,
    reverse_dns: bool,
    /// Running traces by id, to stop one on request.
    running: Mutex<HashMap<String, tokio::task::AbortHandle>>,
}

/// Connects, announces itself and takes jobs until SIGINT or SIGTERM; a broker that refuses it (wrong credentials,
/// unreachable) ends the command at once with the reason.
pub async fn run(prepared: Prepared) -> anyhow::Result<ExitCode> {
    let Prepared { args, name, enricher, sockets, nats } = prepared;
    let _ = tracemap::net::install(Arc::new(Prober::start(sockets).context("starting the prober")?));
    let client = nats
        .options(&format!("tracemap agent {name}"))?
        .max_reconnects(None)
        .reconnect_delay_callback(tracemap::agent::connect::backoff)
        .connect(nats.shown.as_str())
        .await
        .map_err(|e| anyhow::anyhow!(tracemap::agent::connect::describe(&nats.shown, &e)))?;
    let mut jobs = client.subscribe(agent::subject(&name, "jobs")).await.context("subscribing to jobs")?;
    let mut stops = client.subscribe(agent::subject(&name, "stop")).await.context("subscribing to stops")?;
    let max_concurrent = args.max_concurrent.max(1);
    let worker = Arc::new(Worker {
        name: name.clone(),
        client: client.clone(),
        enricher,
        policy: TargetPolicy {
            allow_private: args.allow_private,
            own: if args.allow_private { Vec::new() } else { local_addresses() },
        },
        limiter: RateLimiter::new(args.rate_burst, args.rate_per_minute),
        slots: Arc::new(Semaphore::new(max_concurrent)),
        max_concurrent,
        location: args.location.clone(),
        reverse_dns: !args.no_dns,
        running: Mutex::new(HashMap::new()),
    });
    let beating = tokio::spawn(Arc::clone(&worker).heartbeat());
    tracing::info!(nats = %nats.shown, agent = %name, "agent is taking jobs");
    println!("tracemap agent {name} is connected to {}", nats.shown);
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            Some(message) = jobs.next() => {
                let worker = Arc::clone(&worker);
                tokio::spawn(async move { worker.take(message).await });
            }
            Some(message) = stops.next() => {
                if let Ok(Stop { id }) = serde_json::from_slice(&message.payload)
                    && let Some(run) = worker.lock_running().remove(&id)
                {
                    run.abort();
                    tracing::info!(%id, "trace stopped on the server's request");
                }
            }
            () = &mut shutdown => break,
            else => break,
        }
    }
    beating.abort();
    // Running traces end now, and say why, so the server does not wait for a heartbeat timeout.
    let running: Vec<(String, tokio::task::AbortHandle)> = worker.lock_running().drain().collect();
    for (id, run) in running {
        run.abort();
        let failed = TraceEvent::Failed { reason: format!("agent {name} was shut down during the trace") };
        if let Ok(json) = serde_json::to_vec(&failed) {
            let _ = client.publish(agent::events_subject(&name, &id), json.into()).await;
        }
    }
    let _ = client.publish(agent::subject(&name, "bye"), "{}".into()).await;
    let _ = tokio::time::timeout(EXIT_FLUSH, client.flush()).await;
    Ok(ExitCode::SUCCESS)
}

impl Worker {
    fn lock_running(&self) -> std::sync::MutexGuard<'_, HashMap<String, tokio::task::AbortHandle>> {
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Says who and where the agent is, and how busy, every [`HEARTBEAT_EVERY`].
    async fn heartbeat(self: Arc<Self>) {
        let mut tick = tokio::time::interval(HEARTBEAT_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let beat = Heartbeat {
                name: self.name.clone(),
                version: env!("CARGO_PKG_VERSION").to_owned(),
                location: self.location.clone(),
                running: u32::try_from(self.max_concurrent - self.slots.available_permits()).unwrap_or(u32::MAX),
                max_concurrent: u32::try_from(self.max_concurrent).unwrap_or(u32::MAX),
            };
            let Ok(json) = serde_json::to_vec(&beat) else { continue };
            if let Err(error) = self.client.publish(agent::subject(&self.name, "heartbeat"), json.into()).await {
                tracing::warn!(%error, "could not send a heartbeat");
            }
        }
    }

    /// Answers one job: refused with the reason, or accepted and run, its events published as they come.
    async fn take(self: Arc<Self>, message: async_nats::Message) {
        let Some(reply) = message.reply.clone() else { return };
        let answer = match self.accept(&message.payload).await {
            Ok(()) => JobAnswer::default(),
            Err(error) => {
                tracing::info!(code = %error.code, reason = %error.message, "job refused");
                JobAnswer { error: Some(error) }
            }
        };
        if let Ok(json) = serde_json::to_vec(&answer)
            && let Err(error) = self.client.publish(reply, json.into()).await
        {
            tracing::warn!(%error, "could not answer a job");
        }
    }

    /// Checks a job against this agent's own rules and, when it passes, starts it.
    async fn accept(self: &Arc<Self>, payload: &[u8]) -> Result<(), ApiErrorBody> {
        let refuse = |code: &str, message: String| ApiErrorBody { code: code.to_owned(), message };
        let Job { id, request: req } = serde_json::from_slice(payload)
            .map_err(|e| refuse("invalid_request", format!("agent {}: not a job: {e}", self.name)))?;
        if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(refuse("invalid_request", "a job's id is 1 to 64 letters and digits".to_owned()));
        }
        request::check_options(&req).map_err(|e| e.body())?;
        if let Err(wait) = self.limiter.check(ClientKey::Unknown, Instant::now()) {
            return Err(refuse(
                "rate_limited",
                format!("agent {} takes no more traces for {} s", self.name, wait.as_secs().max(1)),
            ));
        }
        let target = req.target.trim().to_owned();
        let destination = runner::resolve_family(&target, request::wanted_family(&req))
            .await
            .map_err(|e| AppError::from(e).body())?;
        request::check_family(&req, destination).map_err(|e| e.body())?;
        if let Err(kind) = self.policy.check(destination, true) {
            return Err(refuse(
                "forbidden_target",
                request::forbidden_target(&target, destination, &kind, &format!("agent {}", self.name)),
            ));
        }
        let Ok(slot) = Arc::clone(&self.slots).try_acquire_owned() else {
            return Err(refuse("busy", format!("agent {} runs {} traces already", self.name, self.max_concurrent)));
        };
        let job = TraceJob {
            target,
            probe: request::probe_config(&req, destination, &ProbeConfig::default(), None),
            geo: req.geo.unwrap_or(true),
            dns: self.reverse_dns && req.dns.unwrap_or(true),
            location: self.location.clone(),
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let run = tokio::spawn(runner::run(job, Arc::clone(&self.enricher), tx));
        self.lock_running().insert(id.clone(), run.abort_handle());
        tokio::spawn(Arc::clone(self).publish(id, rx, slot));
        Ok(())
    }

    /// Publishes a trace's events in order, `started` marked with this agent's name, until the runner ends.
    async fn publish(
        self: Arc<Self>,
        id: String,
        mut events: mpsc::UnboundedReceiver<TraceEvent>,
        _slot: tokio::sync::OwnedSemaphorePermit,
    ) {
        let subject = agent::events_subject(&self.name, &id);
        let began = Instant::now();
        while let Some(mut event) = events.recv().await {
            if let TraceEvent::Started { options, .. } = &mut event {
                options.from = Some(self.name.clone());
            }
            let Ok(json) = serde_json::to_vec(&event) else { continue };
            if let Err(error) = self.client.publish(subject.clone(), json.into()).await {
                tracing::warn!(%id, %error, "could not publish an event");
            }
        }
        self.lock_running().remove(&id);
        let _ = self.client.flush().await;
        tracing::info!(%id, took_ms = began.elapsed().as_millis() as u64, "trace ended");
    }
}

async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! { _ = tokio::signal::ctrl_c() => {}, () = term => {} }
    tracing::info!("shutting down");
}

/// How long an agent waits for a NATS flush at exit, at most.
const EXIT_FLUSH: Duration = Duration::from_secs(2);
