//! The `tracemap` command: `trace` a host from the terminal, or `serve` the web app. Only wiring lives here.

mod cli_output;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
use tokio::sync::mpsc;
use tracemap::enrich::{self, Enricher, GeoIp, Geofeed};
use tracemap::http::{self, AppState};
use tracemap::probe::ProbeConfig;
use tracemap::runner::{self, TraceJob};
use tracemap::store::Store;
use tracemap_shared::Protocol;

#[derive(Parser, Debug)]
#[command(name = "tracemap", version, about = "A traceroute you open in a browser tab")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Trace the route to HOST and print it.
    Trace(TraceArgs),
    /// Serve the web app and its API.
    Serve(ServeArgs),
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum ProtoArg {
    Icmp,
    Udp,
    Tcp,
}

impl From<ProtoArg> for Protocol {
    fn from(p: ProtoArg) -> Self {
        match p {
            ProtoArg::Icmp => Protocol::Icmp,
            ProtoArg::Udp => Protocol::Udp,
            ProtoArg::Tcp => Protocol::Tcp,
        }
    }
}

#[derive(Args, Debug)]
struct GeoArgs {
    /// MaxMind DB file(s) for locations; default: the DB-IP files under data/geoip.
    #[arg(long = "geoip-db", value_name = "PATH", env = "TRACEMAP_GEOIP_DB", value_delimiter = ',')]
    geoip_db: Vec<PathBuf>,
    /// Your own locations: an RFC 8805 geofeed CSV with latitude and longitude columns; overrides the databases.
    #[arg(long, value_name = "PATH", env = "TRACEMAP_GEOFEED")]
    geofeed: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct TraceArgs {
    /// Hostname or IP address to trace.
    host: String,
    /// Do not resolve hop addresses to names.
    #[arg(short = 'n', long = "no-dns")]
    no_dns: bool,
    /// Do not look up hop locations.
    #[arg(short = 'g', long = "no-geoip")]
    no_geoip: bool,
    /// Longest wait for a probe's reply, in seconds.
    #[arg(short = 't', long, default_value_t = 2.0, value_parser = parse_timeout)]
    timeout: f64,
    /// Probes per hop.
    #[arg(short = 'r', long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(1..=10))]
    tries: u8,
    /// Probe protocol.
    #[arg(short = 'p', long = "proto", value_enum, default_value_t = ProtoArg::Icmp)]
    proto: ProtoArg,
    /// Highest TTL to probe.
    #[arg(short = 'm', long = "max-hops", default_value_t = 30, value_parser = clap::value_parser!(u8).range(1..=255))]
    max_hops: u8,
    /// Print one JSON document instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    geo: GeoArgs,
}

#[derive(Args, Debug)]
struct ServeArgs {
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

fn parse_timeout(s: &str) -> Result<f64, String> {
    let secs: f64 = s.parse().map_err(|_| format!("'{s}' is not a number of seconds"))?;
    if (0.05..=60.0).contains(&secs) { Ok(secs) } else { Err("must be between 0.05 and 60 seconds".to_owned()) }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("tracemap=info,tower_http=warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("tracemap: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Trace(args) => trace(args).await,
            Command::Serve(args) => serve(args).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("tracemap: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Opens the geofeed and the GeoIP databases named, or the default DB-IP files when none are. Named files must
/// open; missing defaults only mean no locations.
fn open_enricher(geo: &GeoArgs, wanted: bool) -> anyhow::Result<Enricher> {
    if !wanted {
        return Ok(Enricher::default());
    }
    let geofeed = match &geo.geofeed {
        None => None,
        Some(path) => {
            let (feed, errors) = Geofeed::load(path).with_context(|| format!("reading geofeed {}", path.display()))?;
            for error in &errors {
                tracing::warn!(file = %path.display(), "skipped geofeed {error}");
            }
            tracing::info!(file = %path.display(), networks = feed.len(), skipped = errors.len(), "geofeed loaded");
            Some(feed)
        }
    };
    let files = if geo.geoip_db.is_empty() {
        enrich::default_geoip_files(Path::new(enrich::DEFAULT_GEOIP_DIR))
    } else {
        geo.geoip_db.clone()
    };
    if files.is_empty() {
        tracing::warn!(
            "no GeoIP database found under {}: locations are unavailable (the README's run command fetches one)",
            enrich::DEFAULT_GEOIP_DIR
        );
        return Ok(Enricher::new(geofeed, None));
    }
    let geoip = GeoIp::open(&files)?;
    tracing::debug!(databases = ?geoip.labels(), "GeoIP ready");
    Ok(Enricher::new(geofeed, Some(geoip)))
}

async fn trace(args: TraceArgs) -> anyhow::Result<ExitCode> {
    let enricher = Arc::new(open_enricher(&args.geo, !args.no_geoip)?);
    let destination = runner::resolve(&args.host).await?;
    let probe = ProbeConfig {
        destination,
        protocol: args.proto.into(),
        max_hops: args.max_hops,
        tries: args.tries,
        timeout: Duration::from_secs_f64(args.timeout),
        ..ProbeConfig::default()
    };
    let job = TraceJob { target: args.host.clone(), probe, geo: !args.no_geoip };
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(runner::run(job, enricher, tx));
    let report = if args.json {
        let report = cli_output::collect(rx).await;
        println!("{}", serde_json::to_string_pretty(&report).context("encoding the report")?);
        report
    } else {
        cli_output::print_table(rx, &mut std::io::stdout()).await?
    };
    if let Some(reason) = &report.error {
        eprintln!("tracemap: {reason}");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

async fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
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
