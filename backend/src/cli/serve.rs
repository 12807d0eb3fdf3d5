//! `tracemap serve`: the web app and its API.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use tracemap::http::policy::{TargetPolicy, local_addresses};
use tracemap::http::{self, AppState, ServiceConfig};
use tracemap::store::Store;

use super::geo::{GeoArgs, open_enricher};

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on. Anything but loopback exposes raw-socket probing to the network.
    #[arg(long, default_value = "127.0.0.1:8080", env = "TRACEMAP_LISTEN")]
    listen: SocketAddr,
    /// SQLite file holding the traces.
    #[arg(long, default_value = "data/tracemap.sqlite", env = "TRACEMAP_DB")]
    db: PathBuf,
    /// Serve the page from this folder (a Trunk `dist/`) instead of the copy embedded in the binary.
    #[arg(long = "web-dir", env = "TRACEMAP_WEB_DIR")]
    web_dir: Option<PathBuf>,
    /// Another origin allowed to open the live WebSocket (repeatable), e.g. https://maps.example.org.
    #[arg(long = "allow-origin", value_name = "ORIGIN", env = "TRACEMAP_ALLOW_ORIGIN", value_delimiter = ',')]
    allow_origin: Vec<String>,
    /// Trace private, loopback and other internal addresses even when listening beyond loopback.
    #[arg(long = "allow-private", env = "TRACEMAP_ALLOW_PRIVATE")]
    allow_private: bool,
    /// Trace starts one client (an IPv4 address or an IPv6 /64) may make at once.
    #[arg(long = "rate-burst", default_value_t = 5, env = "TRACEMAP_RATE_BURST")]
    rate_burst: u32,
    /// Trace starts one client may make per minute on average.
    #[arg(long = "rate-per-minute", default_value_t = 20, env = "TRACEMAP_RATE_PER_MINUTE")]
    rate_per_minute: u32,
    /// Traces running at once, server-wide; more get 503.
    #[arg(long = "max-concurrent", default_value_t = 32, env = "TRACEMAP_MAX_CONCURRENT")]
    max_concurrent: usize,
    #[command(flatten)]
    geo: GeoArgs,
}

pub async fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let enricher = Arc::new(open_enricher(&args.geo, true)?);
    if let Some(parent) = args.db.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    let store = Store::open(&args.db).with_context(|| format!("opening {}", args.db.display()))?;
    match &args.web_dir {
        Some(dir) if !dir.join("index.html").is_file() => {
            tracing::warn!(dir = %dir.display(), "no index.html in --web-dir: the API works, the page does not");
        }
        None if !http::assets::embedded() => {
            tracing::warn!(
                "this binary was built before the page (scripts/build-frontend.sh): the API works, the page does not"
            );
        }
        _ => {}
    }
    if !args.listen.ip().is_loopback() {
        tracing::warn!(listen = %args.listen, "listening beyond loopback: anyone who reaches this port can start traces");
    }
    // On loopback only this machine's users can reach the server, and tracing the local network is the point
    // of a lab or a classroom; beyond loopback, internal targets are refused unless explicitly allowed.
    let restrict = !args.listen.ip().is_loopback() && !args.allow_private;
    let config = ServiceConfig {
        policy: TargetPolicy { restrict, own: if restrict { local_addresses() } else { Vec::new() } },
        allowed_origins: args.allow_origin.clone(),
        rate_burst: args.rate_burst,
        rate_per_minute: args.rate_per_minute,
        max_concurrent: args.max_concurrent.max(1),
        ..ServiceConfig::default()
    };
    let state = AppState::with_config(store, enricher, args.web_dir.clone(), config);
    let hub = Arc::clone(&state.hub);
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let url = format!("http://{}/", listener.local_addr().context("reading the bound address")?);
    tracing::info!(%url, db = %args.db.display(), "tracemap is serving");
    println!("tracemap is serving on {url}");
    let service = http::app(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, service).with_graceful_shutdown(shutdown_signal()).await.context("serving")?;
    // Give running traces a moment to end and be stored; whatever is left is marked interrupted on restart.
    let deadline = tokio::time::Instant::now() + http::SHUTDOWN_GRACE;
    while !hub.is_empty() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}
