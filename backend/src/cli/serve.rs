//! `tracemap serve`: the web app and its API.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use tracemap::http::{self, AppState};
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
    /// Folder with the built frontend.
    #[arg(long = "web-dir", default_value = "dist", env = "TRACEMAP_WEB_DIR")]
    web_dir: PathBuf,
    #[command(flatten)]
    geo: GeoArgs,
}

pub async fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let enricher = Arc::new(open_enricher(&args.geo, true)?);
    if let Some(parent) = args.db.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    let store = Store::open(&args.db).with_context(|| format!("opening {}", args.db.display()))?;
    if !args.web_dir.join("index.html").is_file() {
        tracing::warn!(dir = %args.web_dir.display(), "no built frontend here: the API works, the page does not");
    }
    if !args.listen.ip().is_loopback() {
        tracing::warn!(listen = %args.listen, "listening beyond loopback: anyone who reaches this port can start traces");
    }
    let state = AppState::new(store, enricher, args.web_dir.clone());
    let hub = Arc::clone(&state.hub);
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let url = format!("http://{}/", listener.local_addr().context("reading the bound address")?);
    tracing::info!(%url, db = %args.db.display(), "tracemap is serving");
    println!("tracemap is serving on {url}");
    axum::serve(listener, http::app(state)).with_graceful_shutdown(shutdown_signal()).await.context("serving")?;
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
