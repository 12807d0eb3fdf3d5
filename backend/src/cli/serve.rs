//! `tracemap serve`: the web app and its API.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use tracemap::addr::Prefix;
use tracemap::enrich::Enricher;
use tracemap::http::assets::Page;
use tracemap::http::policy::{TargetPolicy, local_addresses};
use tracemap::http::{self, AppState, ServiceConfig};
use tracemap::net::{ProbeSockets, Prober};
use tracemap::privilege;
use tracemap::store::Store;
use tracemap_shared::{Geo, TileLayer};

use super::geo::{GeoArgs, open_enricher, parse_location};

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on. Behind a reverse proxy, keep it on loopback and pass --trusted-proxy.
    #[arg(long, default_value = "127.0.0.1:8080", env = "TRACEMAP_LISTEN")]
    listen: SocketAddr,
    /// SQLite file holding the traces. Default: $STATE_DIRECTORY/traces.sqlite under systemd, else
    /// $XDG_STATE_HOME/tracemap/traces.sqlite (~/.local/state/tracemap/traces.sqlite), else
    /// /var/lib/tracemap/traces.sqlite; `tracemap config serve` shows the one in effect.
    #[arg(long, default_value_os_t = tracemap::data::default_db(), hide_default_value = true, env = "TRACEMAP_DB")]
    db: PathBuf,
    /// Serve the page from this folder (a Trunk `dist/`) instead of the copy embedded in the binary.
    #[arg(long = "web-dir", env = "TRACEMAP_WEB_DIR")]
    web_dir: Option<PathBuf>,
    /// Another origin allowed to open the live WebSocket (repeatable), e.g. https://maps.example.org.
    #[arg(long = "allow-origin", value_name = "ORIGIN", env = "TRACEMAP_ALLOW_ORIGIN", value_delimiter = ',')]
    allow_origin: Vec<String>,
    /// Let remote clients trace private, loopback and other internal or special addresses too.
    #[arg(long = "allow-private", env = "TRACEMAP_ALLOW_PRIVATE")]
    allow_private: bool,
    /// A reverse proxy (address or CIDR block, repeatable) whose X-Forwarded-For / Forwarded names the client.
    #[arg(long = "trusted-proxy", value_name = "CIDR", env = "TRACEMAP_TRUSTED_PROXY", value_delimiter = ',')]
    trusted_proxy: Vec<Prefix>,
    /// The address users reach the page at, e.g. https://trace.example.org: its origin may open the live WebSocket.
    #[arg(long = "public-url", value_name = "URL", env = "TRACEMAP_PUBLIC_URL", value_parser = parse_public_url)]
    public_url: Option<String>,
    /// A secret that lists every trace (GET /api/traces) and deletes any, sent as Authorization: Bearer SECRET.
    #[arg(long = "admin-token", value_name = "SECRET", env = "TRACEMAP_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    /// Delete traces older than this many days (checked hourly); by default traces are kept for ever.
    #[arg(long = "keep-days", value_name = "N", env = "TRACEMAP_KEEP_DAYS", value_parser = clap::value_parser!(u32).range(1..))]
    keep_days: Option<u32>,
    /// Trace starts one client (an IPv4 address or an IPv6 /64) may make at once.
    #[arg(long = "rate-burst", default_value_t = 5, env = "TRACEMAP_RATE_BURST")]
    rate_burst: u32,
    /// Trace starts one client may make per minute on average.
    #[arg(long = "rate-per-minute", default_value_t = 20, env = "TRACEMAP_RATE_PER_MINUTE")]
    rate_per_minute: u32,
    /// Traces running at once, server-wide; more get 503.
    #[arg(long = "max-concurrent", default_value_t = 32, env = "TRACEMAP_MAX_CONCURRENT")]
    max_concurrent: usize,
    /// A trace request identical to one under way, or finished this many seconds ago, joins its probe run
    /// instead of probing again (a class tracing one site); 0 never shares.
    #[arg(long = "share-window", value_name = "SECS", default_value_t = 10, env = "TRACEMAP_SHARE_WINDOW")]
    share_window: u64,
    /// The most rounds one watch (a request with `rounds`) may run; a watch "until stopped" ends there.
    #[arg(long = "max-rounds", value_name = "N", default_value_t = 600, env = "TRACEMAP_MAX_ROUNDS", value_parser = clap::value_parser!(u32).range(1..))]
    max_rounds: u32,
    /// The longest one watch may run, in seconds; it ends there with the rounds so far.
    #[arg(long = "max-watch-seconds", value_name = "SECS", default_value_t = 900, env = "TRACEMAP_MAX_WATCH_SECONDS", value_parser = clap::value_parser!(u32).range(1..))]
    max_watch_seconds: u32,
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
    /// A NATS broker where agents (`tracemap agent`) offer to trace from elsewhere: nats://USER:PASSWORD@HOST:4222,
    /// nats://TOKEN@HOST or tls://...; requests name them in `from`.
    #[arg(long, value_name = "URL", env = "TRACEMAP_NATS", hide_env_values = true)]
    nats: Option<String>,
    #[command(flatten)]
    nats_auth: super::nats::NatsAuthArgs,
    #[command(flatten)]
    geo: GeoArgs,
}

/// The origin (`scheme://host[:port]`) of a `--public-url`.
fn parse_public_url(s: &str) -> Result<String, String> {
    let s = s.trim();
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .ok_or("expected an http:// or https:// URL, e.g. https://trace.example.org")?;
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() || host.contains(['@', '?', '#', ' ']) {
        return Err("expected a URL with a host name, e.g. https://trace.example.org".to_owned());
    }
    let scheme = &s[..s.len() - rest.len()];
    Ok(format!("{}{}", scheme.to_ascii_lowercase(), host.to_ascii_lowercase()))
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
    nats: Option<tracemap::agent::connect::NatsTarget>,
}

/// Opens everything the server needs a privilege or a file for (the probe sockets, the listening socket, the
/// database, GeoIP and ASN data, the page), then drops privileges. Runs on the main thread before the async
/// runtime exists, so no thread ever holds a capability afterwards.
pub fn prepare(args: ServeArgs) -> anyhow::Result<Prepared> {
    // NATS credential files are read now, while they are readable.
    let nats = args.nats.as_deref().map(|url| args.nats_auth.settings(url).load()).transpose()?;
    let enricher = open_enricher(&args.geo, true)?;
    // Read every table now, while the files are still readable: the user dropped to may not be able to.
    enricher.wait_loaded();
    let enricher = Arc::new(enricher);
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
    Ok(Prepared { args, store, enricher, page, sockets, listener, nats })
}

/// Serves until SIGINT or SIGTERM, on what [`prepare`] opened.
pub async fn run(prepared: Prepared) -> anyhow::Result<ExitCode> {
    let Prepared { args, store, enricher, page, sockets, listener, nats } = prepared;
    if !args.listen.ip().is_loopback() {
        tracing::warn!(listen = %args.listen, "listening beyond loopback: anyone who reaches this port can start traces");
    }
    // Who is remote is decided per request (http::client): this machine's own users may trace its networks, which
    // is the point of a lab or a classroom; everybody else, also through a proxy, may not unless allowed.
    if args.allow_private {
        tracing::warn!("--allow-private: remote clients may make this server probe its own networks");
    }
    let mut allowed_origins = args.allow_origin.clone();
    allowed_origins.extend(args.public_url.clone());
    let config = ServiceConfig {
        policy: TargetPolicy {
            allow_private: args.allow_private,
            own: if args.allow_private { Vec::new() } else { local_addresses() },
        },
        trusted_proxies: args.trusted_proxy.clone(),
        admin_token: args.admin_token.clone().filter(|t| !t.is_empty()),
        allowed_origins,
        rate_burst: args.rate_burst,
        rate_per_minute: args.rate_per_minute,
        max_concurrent: args.max_concurrent.max(1),
        location: args.location.clone(),
        tiles: tile_layer(args.tiles.as_deref(), args.tiles_attribution.as_deref())?,
        reverse_dns: !args.no_dns,
        data: super::geo::sources_in_use(&args.geo),
        share_window: std::time::Duration::from_secs(args.share_window),
        watch: http::request::WatchLimits { max_rounds: args.max_rounds, max_seconds: args.max_watch_seconds },
        ..ServiceConfig::default()
    };
    super::geo::warn_if_stale(&config.data);
    let _ = tracemap::net::install(Arc::new(Prober::start(sockets).context("starting the prober")?));
    if let Some(days) = args.keep_days {
        let keep = Duration::from_secs(u64::from(days) * 86_400);
        tokio::spawn(http::expire_traces(store.clone(), keep, Duration::from_secs(3600)));
    }
    let mut state = AppState::with_config(store, enricher, page, config);
    if let Some(nats) = &nats {
        state.agents = Some(tracemap::agent::registry::Agents::connect(nats).await?);
        tracing::info!(nats = %nats.shown, "taking agents from NATS");
    }
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
    fn public_url_is_kept_as_its_origin() {
        assert_eq!(parse_public_url("https://Trace.Example.org/").as_deref(), Ok("https://trace.example.org"));
        assert_eq!(parse_public_url("http://10.0.0.1:8443/x").as_deref(), Ok("http://10.0.0.1:8443"));
        for bad in ["trace.example.org", "ftp://x", "https://", "https://u@evil.example", "javascript:alert(1)"] {
            assert!(parse_public_url(bad).is_err(), "{bad}");
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
