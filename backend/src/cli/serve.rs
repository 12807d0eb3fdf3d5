//! `tracemap serve`: the web app and its API.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use tracemap::enrich::Enricher;
use tracemap::http::assets::Page;
use tracemap::http::policy::{TargetPolicy, local_addresses};
use tracemap::http::{self, AppState, ServiceConfig};
use tracemap::net::{ProbeSockets, Prober};
use tracemap::privilege;
use tracemap::store::Store;
use tracemap_shared::{Geo, TileLayer};

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
    /// Where this server stands, as LAT,LON[,LABEL]: drawn as the start of every route.
    #[arg(long, value_name = "LAT,LON[,LABEL]", env = "TRACEMAP_LOCATION", value_parser = parse_location)]
    location: Option<Geo>,
    /// A raster tile URL template ({z}/{x}/{y}) for the page's map instead of the offline basemap.
    #[arg(long, value_name = "URL", env = "TRACEMAP_TILES", requires = "tiles_attribution")]
    tiles: Option<String>,
    /// The attribution the tile provider requires (plain text), shown on the map.
    #[arg(long = "tiles-attribution", value_name = "TEXT", env = "TRACEMAP_TILES_ATTRIBUTION")]
    tiles_attribution: Option<String>,
    /// Never look up hop names (reverse DNS), whatever a request asks: no PTR query leaves this server.
    #[arg(long = "no-dns", env = "TRACEMAP_NO_DNS")]
    no_dns: bool,
    /// Started as root, become this user once the sockets are open (every capability is dropped in any case).
    #[arg(long, default_value = "nobody", env = "TRACEMAP_USER")]
    user: String,
    /// Keep the privileges the server was started with (for debugging; never in production).
    #[arg(long = "keep-privileges", env = "TRACEMAP_KEEP_PRIVILEGES")]
    keep_privileges: bool,
    #[command(flatten)]
    geo: GeoArgs,
}

fn parse_location(s: &str) -> Result<Geo, String> {
    let mut parts = s.splitn(3, ',');
    let mut number = |what: &str, range: std::ops::RangeInclusive<f64>| {
        parts
            .next()
            .and_then(|p| p.trim().parse::<f64>().ok())
            .filter(|v| range.contains(v))
            .ok_or_else(|| format!("expected LAT,LON[,LABEL] with a valid {what}"))
    };
    let lat = number("latitude", -90.0..=90.0)?;
    let lon = number("longitude", -180.0..=180.0)?;
    let label = parts.next().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned);
    Ok(Geo {
        city: label,
        region: None,
        country: None,
        country_code: None,
        lat,
        lon,
        accuracy_km: None,
        source: Some("--location".to_owned()),
        token: None,
        plausible: None,
        max_km: None,
        candidates: Vec::new(),
    })
}

fn tile_layer(url: Option<&str>, attribution: Option<&str>) -> anyhow::Result<Option<TileLayer>> {
    let Some(url) = url else { return Ok(None) };
    anyhow::ensure!(
        url.starts_with("https://") || url.starts_with("http://"),
        "--tiles must be an http(s) URL template"
    );
    anyhow::ensure!(["{z}", "{x}", "{y}"].iter().all(|p| url.contains(p)), "--tiles needs {{z}}, {{x}} and {{y}}");
    let attribution = attribution.unwrap_or_default().trim();
    anyhow::ensure!(!attribution.is_empty(), "--tiles-attribution is required: tile providers require credit");
    Ok(Some(TileLayer { url: url.to_owned(), attribution: attribution.to_owned() }))
}

/// What `serve` opens while it may: before the runtime starts threads and before privileges are dropped.
pub struct Prepared {
    args: ServeArgs,
    store: Store,
    enricher: Arc<Enricher>,
    page: Page,
    sockets: ProbeSockets,
    listener: std::net::TcpListener,
}

/// Opens everything the server needs a privilege or a file for (the probe sockets, the listening socket, the
/// database, GeoIP and ASN data, the page), then drops privileges. Runs on the main thread before the async
/// runtime exists, so no thread ever holds a capability afterwards.
pub fn prepare(args: ServeArgs) -> anyhow::Result<Prepared> {
    let enricher = Arc::new(open_enricher(&args.geo, true)?);
    if let Some(parent) = args.db.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    let store = Store::open(&args.db).with_context(|| format!("opening {}", args.db.display()))?;
    let page = match &args.web_dir {
        Some(dir) => Page::load(dir).with_context(|| format!("reading the page in --web-dir {}", dir.display()))?,
        None => Page::embedded(),
    };
    if !page.has_index() {
        match &args.web_dir {
            Some(dir) => {
                tracing::warn!(dir = %dir.display(), "no index.html in --web-dir: the API works, the page does not")
            }
            None => tracing::warn!(
                "this binary was built before the page (scripts/build-frontend.sh): the API works, the page does not"
            ),
        }
    }
    // One prober for every trace: its raw sockets are opened now, once, and shared.
    let sockets = ProbeSockets::open().context("opening the probe sockets")?;
    if !sockets.is_privileged() {
        tracing::warn!(
            "no CAP_NET_RAW: UDP traces work, ICMP only where net.ipv4.ping_group_range admits this group, TCP not at all (setcap cap_net_raw+ep on the binary, or run as root)"
        );
    }
    let listener =
        std::net::TcpListener::bind(args.listen).with_context(|| format!("cannot listen on {}", args.listen))?;
    listener.set_nonblocking(true).context("making the listening socket non-blocking")?;
    if args.keep_privileges {
        tracing::warn!("--keep-privileges: the server keeps every privilege it was started with");
    } else {
        let dropped = privilege::drop_privileges(&args.user).context("dropping privileges")?;
        match &dropped.user {
            Some(user) => {
                tracing::info!(user, uid = dropped.uid, gid = dropped.gid, "switched user; no capabilities left")
            }
            None => tracing::info!(uid = dropped.uid, "no capabilities left"),
        }
    }
    Ok(Prepared { args, store, enricher, page, sockets, listener })
}

/// Serves until SIGINT or SIGTERM, on what [`prepare`] opened.
pub async fn run(prepared: Prepared) -> anyhow::Result<ExitCode> {
    let Prepared { args, store, enricher, page, sockets, listener } = prepared;
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
        location: args.location.clone(),
        tiles: tile_layer(args.tiles.as_deref(), args.tiles_attribution.as_deref())?,
        reverse_dns: !args.no_dns,
        ..ServiceConfig::default()
    };
    let _ = tracemap::net::install(Arc::new(Prober::start(sockets).context("starting the prober")?));
    let state = AppState::with_config(store, enricher, page, config);
    let hub = Arc::clone(&state.hub);
    let listener = tokio::net::TcpListener::from_std(listener).context("registering the listening socket")?;
    let url = format!("http://{}/", listener.local_addr().context("reading the bound address")?);
    tracing::info!(%url, db = %args.db.display(), "tracemap is serving");
    println!("tracemap is serving on {url}");
    http::server::serve(listener, http::app(state), shutdown_signal(), http::SHUTDOWN_GRACE).await;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_flag() {
        let geo = parse_location("-36.85, 174.76, Auckland lab").expect("valid");
        assert_eq!((geo.lat, geo.lon, geo.city.as_deref()), (-36.85, 174.76, Some("Auckland lab")));
        assert!(parse_location("1,2").expect("no label").city.is_none());
        for bad in ["", "1", "91,0", "0,181", "x,y", "1;2"] {
            assert!(parse_location(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tiles_need_a_template_and_credit() {
        let url = "https://tiles.example/{z}/{x}/{y}.png";
        assert!(tile_layer(None, None).expect("none").is_none());
        assert_eq!(
            tile_layer(Some(url), Some("© Example")).expect("ok").map(|t| t.attribution),
            Some("© Example".into())
        );
        assert!(tile_layer(Some(url), None).is_err());
        assert!(tile_layer(Some("javascript:alert(1)/{z}/{x}/{y}"), Some("x")).is_err());
        assert!(tile_layer(Some("https://tiles.example/{z}.png"), Some("x")).is_err());
    }
}
