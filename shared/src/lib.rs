//! The contract between the tracemap backend and its browser frontend.
//!
//! Everything that crosses the wire is defined here and nowhere else: the request that starts a trace, the events a
//! running trace emits (one JSON object each, tagged by `type`), and the trace report those events fold into. The
//! backend folds the same events to answer `GET /api/traces/{id}` and `trace --json`; the frontend folds them to draw
//! its table and map. Keeping the fold here means both sides agree on what an event means.
//!
//! This crate depends on serde alone so that it compiles unchanged for the server and for wasm32.

use serde::{Deserialize, Serialize};

pub mod math;
pub mod place;
pub mod stats;
pub mod topojson;
pub mod watch;
pub mod words;

pub use stats::HopStats;
pub use watch::{LossAt, RouteChange};

/// Version of the event stream. Bumped when an event changes meaning; new optional fields do not bump it.
pub const EVENT_VERSION: u32 = 1;

/// The probe protocol of a trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// ICMP echo requests; the destination answers with an echo reply.
    #[default]
    Icmp,
    /// UDP datagrams to high ports; the destination answers with port unreachable.
    Udp,
    /// TCP SYN segments; the destination answers with SYN-ACK or RST.
    Tcp,
}

impl Protocol {
    /// The lower-case name used on the command line and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Icmp => "icmp",
            Protocol::Udp => "udp",
            Protocol::Tcp => "tcp",
        }
    }
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the prober sends probes and reads their answers, which depends on the privileges it runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeMode {
    /// Raw sockets (root or CAP_NET_RAW): every protocol, every answer read from the shared receive sockets.
    Raw,
    /// No raw sockets: UDP probes on an ordinary datagram socket, ICMP errors read from its error queue
    /// (`IP_RECVERR`/`IPV6_RECVERR`), as `tracepath` does.
    UdpErrorQueue,
    /// No raw sockets: ICMP echo on an ICMP datagram ("ping") socket, allowed by `net.ipv4.ping_group_range`;
    /// errors come from its error queue, echo replies as ordinary reads.
    IcmpDatagram,
}

impl ProbeMode {
    /// The name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ProbeMode::Raw => "raw",
            ProbeMode::UdpErrorQueue => "udp_error_queue",
            ProbeMode::IcmpDatagram => "icmp_datagram",
        }
    }

    /// A few words for people: what the mode is and whether it needed privileges.
    pub fn describe(self) -> &'static str {
        match self {
            ProbeMode::Raw => "raw sockets",
            ProbeMode::UdpErrorQueue => "unprivileged UDP, error queue",
            ProbeMode::IcmpDatagram => "unprivileged ICMP datagram socket",
        }
    }
}

impl std::fmt::Display for ProbeMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which address family to trace over when a name has both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// The family of the first address the name resolves to.
    #[default]
    Auto,
    /// IPv4 only.
    Ipv4,
    /// IPv6 only.
    Ipv6,
}

/// Body of `POST /api/traces`. Only `target` is required; every other field has the server's default. Unknown
/// fields are refused, so a misspelt option is an error rather than silently ignored.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceRequest {
    /// A hostname or an IP literal.
    pub target: String,
    /// Probe protocol; ICMP when absent.
    #[serde(default)]
    pub protocol: Protocol,
    /// Address family; `auto` when absent.
    #[serde(default)]
    pub family: Family,
    /// Highest TTL to probe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_hops: Option<u8>,
    /// Probes per TTL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tries: Option<u8>,
    /// Longest wait for one probe's reply, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u32>,
    /// Destination port for TCP and UDP probes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// First TTL to probe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_ttl: Option<u8>,
    /// Whether to resolve hop names (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns: Option<bool>,
    /// Whether to locate hops (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub geo: Option<bool>,
    /// Where to trace from: the names of agents (`tracemap agent --name`), one trace each; a single name may be
    /// sent as a string. Empty or absent: the server probes itself.
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "one_or_many")]
    pub from: Vec<String>,
    /// Watch the route: probe every hop again this many rounds, keeping per-hop statistics (0: until stopped, or
    /// until the server's cap). Absent: trace once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rounds: Option<u32>,
    /// With `rounds`: least time between the starts of two rounds, in whole seconds (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<u32>,
}

/// `"a"` or `["a", "b"]`.
fn one_or_many<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(deserializer)? {
        OneOrMany::One(one) => vec![one],
        OneOrMany::Many(many) => many,
    })
}

impl TraceRequest {
    /// A request for `target` with every option at the server's default.
    pub fn new(target: impl Into<String>, protocol: Protocol) -> Self {
        TraceRequest { target: target.into(), protocol, ..Default::default() }
    }
}

/// The settings of a trace that are not in [`TraceEvent::Started`]'s older fields, as the trace really ran: the
/// destination port (TCP and UDP; the default filled in), the address family traced over and the per-probe wait.
/// Recorded in the `started` event and the report so a permalink, an export and "trace again" keep them; absent
/// from traces stored before they were recorded (every field then reads `None`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TraceOptions {
    /// Destination port of TCP probes, or of the first (or every, Paris) UDP probe; `None` for ICMP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// The address family the trace ran over (`ipv4` or `ipv6`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<Family>,
    /// Longest wait for one probe's reply, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u32>,
    /// The vantage point that probed: the name of the agent (`tracemap agent --name`) the trace ran on; absent
    /// when the server (or the command line) probed itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// A watch: the most rounds it runs and their interval; absent from a single trace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watch: Option<WatchSettings>,
}

impl TraceOptions {
    /// The JSON keys of these fields. On the wire they sit flattened among the fields of a `started` event and of a
    /// [`TraceReport`]. The page (wasm32) reads them nested under `"options"`: serde's `flatten` buffers the whole
    /// object it appears in, 5.6 kB gzip of the page's module (BENCHMARKS.md, "WASM bundle size"), so on wasm32
    /// those two `options` fields are plain, required fields, and `frontend/src/json.rs` moves these keys under
    /// `"options"` before it decodes (a frame it forgot to move fails to decode instead of losing its options).
    pub const KEYS: [&'static str; 5] = ["port", "family", "timeout_ms", "from", "watch"];
}

/// How a watch runs, as recorded in its `started` event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct WatchSettings {
    /// The most rounds it runs (0: until stopped).
    pub rounds: u32,
    /// Least time between the starts of two rounds, in milliseconds.
    pub interval_ms: u64,
}

/// Answer to `POST /api/traces`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TraceCreated {
    /// The trace's permanent id, as used in `/t/{id}` and `/api/traces/{id}`.
    pub id: String,
    /// The secret that deletes the trace (`DELETE /api/traces/{id}` with `Authorization: Bearer TOKEN`), given
    /// only here, once, to its creator; the server keeps only its hash. Absent from servers that predate it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_token: Option<String>,
    /// Set when the request joined an identical probe run already under way or just finished (`--share-window`):
    /// how many milliseconds after that run started this trace joined it. The trace has its own id and token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub joined_after_ms: Option<u64>,
    /// With several vantage points in `from`: every trace started, one per name, in the request's order (the
    /// first is the one `id` names); empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub traces: Vec<TraceFrom>,
}

/// What a teacher's page shows in a follow-the-teacher class, sent to every student page of the class
/// (`/api/classes/{code}/live`): the trace on show, the replay step, the selected hop and presenter mode.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ClassView {
    /// The id of the trace on show; `None` before the teacher shows one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<String>,
    /// The replay step on show (0-based), when the replay is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<u32>,
    /// The TTL of the selected hop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selected: Option<u8>,
    /// Whether presenter mode is on.
    #[serde(default)]
    pub presenter: bool,
}

/// Answer to `POST /api/classes`: the class's code (students join at `/c/{code}`) and the teacher's secret, given
/// only here; whoever holds it drives the class. The server keeps only its hash.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ClassCreated {
    /// Six letters and digits without look-alikes (no I, L, O, 0, 1).
    pub code: String,
    /// The teacher's secret (`Authorization: Bearer` to end the class, the first frame of the teacher's socket).
    pub token: String,
}

/// A frame the server sends on `/api/classes/{code}/live`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClassMessage {
    /// What the teacher shows now (sent at once on joining, then on every change).
    View {
        /// The view.
        view: ClassView,
    },
    /// How many student pages follow the class.
    Students {
        /// Their number.
        count: u32,
    },
    /// Whether the teacher's page is connected: sent on joining and whenever that changes. While it is away the
    /// student pages keep the last view; the class ends if it stays away for the grace period (10 minutes).
    Teacher {
        /// The teacher's page is connected.
        present: bool,
    },
    /// The class is over: the teacher ended it, or was gone too long. The socket closes after it.
    Ended {
        /// Why, in words.
        reason: String,
    },
}

/// A frame a page sends on `/api/classes/{code}/live`. Students send nothing; the teacher's page first proves it
/// is the teacher, then sends its view on every change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClassCommand {
    /// The teacher's secret from [`ClassCreated`]; the first frame of the teacher's socket.
    Teach {
        /// The secret.
        token: String,
    },
    /// What the teacher shows now.
    View {
        /// The view.
        view: ClassView,
    },
}

/// One of the traces a request with several vantage points started: the answer then is the first one's
/// [`TraceCreated`] plus `traces`, one of these per name in `from`, in the request's order.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TraceFrom {
    /// The agent it runs on.
    pub from: String,
    /// The trace's id.
    pub id: String,
    /// Its delete token (see [`TraceCreated::delete_token`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_token: Option<String>,
}

/// A vantage point: an agent (`tracemap agent`) as the server last heard of it. Answer to `GET /api/agents` is
/// [`AgentList`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct AgentInfo {
    /// Its `--name`, unique among the agents of one server.
    pub name: String,
    /// Where it stands (`--location`), the start of its routes on the map.
    #[serde(default)]
    pub location: Option<Geo>,
    /// The tracemap version it runs.
    #[serde(default)]
    pub version: String,
    /// Whether its heartbeat is current (false once it has said goodbye or gone silent).
    #[serde(default)]
    pub online: bool,
    /// Traces it is running now.
    #[serde(default)]
    pub running: u32,
    /// Unix time (milliseconds) of its last heartbeat.
    #[serde(default)]
    pub last_seen_ms: u64,
}

/// Answer to `GET /api/agents`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct AgentList {
    /// Every agent heard of since the server started, by name.
    pub agents: Vec<AgentInfo>,
}

/// One line of `GET /api/traces`: enough to list recent traces without loading them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceSummary {
    /// The trace's id.
    pub id: String,
    /// What was traced.
    pub target: String,
    /// The resolved address.
    #[serde(default)]
    pub address: Option<String>,
    /// Probe protocol.
    pub protocol: Protocol,
    /// Lifecycle status.
    pub status: TraceStatus,
    /// Whether the destination answered.
    pub destination_reached: bool,
    /// Number of hops probed.
    pub hops: usize,
    /// Unix time (milliseconds) when the trace was created.
    pub created_ms: u64,
    /// Duration, once finished.
    #[serde(default)]
    pub duration_ms: Option<u64>,
    /// Probes per hop (0 when unknown).
    #[serde(default)]
    pub tries: u8,
    /// Highest TTL probed (0 when unknown).
    #[serde(default)]
    pub max_hops: u8,
    /// Port, family and per-probe wait, when recorded.
    #[serde(default, flatten)]
    pub options: TraceOptions,
}

/// Answer to `GET /api/traces`: most recent first.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TraceList {
    /// The traces.
    pub traces: Vec<TraceSummary>,
}

/// A raster tile layer the server operator configured (`--tiles`), drawn instead of the offline basemap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TileLayer {
    /// URL template with `{z}`, `{x}`, `{y}` (and optionally `{s}`).
    pub url: String,
    /// The attribution the tile provider requires, as plain text (shown verbatim, never as HTML).
    pub attribution: String,
}

/// Answer to `GET /api/config`: what the page needs to know about the server it talks to.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ServerInfo {
    /// The server's version.
    pub version: String,
    /// Where the prober stands (`--location`), the start of every route on the map.
    #[serde(default)]
    pub location: Option<Geo>,
    /// A tile layer to use instead of the offline basemap.
    #[serde(default)]
    pub tiles: Option<TileLayer>,
    /// Labels of the GeoIP databases in use (the page credits DB-IP when one of them is DB-IP's).
    #[serde(default)]
    pub geoip: Vec<String>,
    /// Labels of the ASN sources in use.
    #[serde(default)]
    pub asn: Vec<String>,
    /// Whether the server looks up hop names at all (`serve --no-dns` turns it off for every trace).
    #[serde(default = "yes")]
    pub reverse_dns: bool,
    /// The data sets the server read at start (`tracemap data` prints the same): GeoIP, ASN and any other.
    #[serde(default)]
    pub data: Vec<DataSource>,
    /// The most rounds one watch may run (`serve --max-rounds`); absent from servers that cannot watch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_rounds: Option<u32>,
    /// The longest one watch may run, in seconds (`serve --max-watch-seconds`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_watch_seconds: Option<u32>,
}

/// One data set a server or command reads (`geoip`, `asn`, ...): where it was found, its version and age.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DataSource {
    /// The set's name, which is also its folder under a data directory.
    pub name: String,
    /// The folder it was read from.
    pub dir: String,
    /// The version its `VERSION` file names, when it has one.
    #[serde(default)]
    pub version: Option<String>,
    /// Days since the data was published (from its version) or else fetched (the `VERSION` file's time).
    #[serde(default)]
    pub age_days: Option<u64>,
    /// Whether it is older than tracemap trusts for locations and AS numbers (ranges move).
    #[serde(default)]
    pub stale: bool,
}

fn yes() -> bool {
    true
}

/// Error body of every API failure: `{"error": {"code": "...", "message": "..."}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    /// The error itself.
    pub error: ApiErrorBody,
}

/// A machine-readable code and a sentence a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiErrorBody {
    /// Stable identifier such as `unresolvable_target` or `not_found`.
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
}

/// Where a GeoIP database places an address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Geo {
    /// City name, when the database knows it.
    pub city: Option<String>,
    /// First-level subdivision (state, region), when known.
    #[serde(default)]
    pub region: Option<String>,
    /// Country name, or its ISO code when the database has no name.
    pub country: Option<String>,
    /// ISO 3166-1 alpha-2 country code.
    #[serde(default)]
    pub country_code: Option<String>,
    /// Latitude in degrees.
    pub lat: f64,
    /// Longitude in degrees.
    pub lon: f64,
    /// Radius in kilometres within which the address lies, when the database says.
    #[serde(default)]
    pub accuracy_km: Option<u32>,
    /// Which database placed the address (for attribution and trust), e.g. `DBIP-City-Lite`.
    #[serde(default)]
    pub source: Option<String>,
    /// For a place read from a router's name: the token it came from, e.g. "ams10".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Some(true): the place fits the smallest RTT seen from this address; Some(false): the speed of light rules it
    /// out; None: nothing could judge it (no prober location and no pair of hops to compare).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plausible: Option<bool>,
    /// How far (km) the answering router can be from the prober at most, from its smallest RTT.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_km: Option<f64>,
    /// Every candidate considered, in the order geofeed → hostname → each GeoIP database; each one a `Geo` with its
    /// own source/accuracy_km/token/plausible/max_km and empty `candidates`. The outer Geo is the chosen one: the
    /// first plausible candidate, else the best one flagged `plausible: Some(false)`. Never drop a location silently.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub candidates: Vec<Geo>,
}

impl Geo {
    /// A place known only by its coordinates: no names, no source, not judged, no candidates. The rest is filled in
    /// with struct-update syntax, naming only what is known: `Geo { city: Some("Sydney".into()), ..Geo::at(-33.87,
    /// 151.21) }`. Builders from real data (databases, geofeeds, router names) spell every field out instead, so a
    /// new field makes each of them decide.
    pub fn at(lat: f64, lon: f64) -> Geo {
        Geo {
            city: None,
            region: None,
            country: None,
            country_code: None,
            lat,
            lon,
            accuracy_km: None,
            source: None,
            token: None,
            plausible: None,
            max_km: None,
            candidates: Vec::new(),
        }
    }
}

/// The autonomous system that announces an address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Asn {
    /// AS number, e.g. 13335.
    pub number: u32,
    /// The organisation holding the AS, when the source names it.
    #[serde(default)]
    pub org: Option<String>,
    /// Which source said so (for attribution and trust), e.g. `ip-location-db asn`.
    #[serde(default)]
    pub source: Option<String>,
}

/// What answered a probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplyKind {
    /// A router on the path: ICMP Time Exceeded.
    TimeExceeded,
    /// The destination answered (echo reply, port unreachable, SYN-ACK or RST).
    Destination,
    /// ICMP Destination Unreachable from somewhere other than the destination.
    Unreachable,
}

/// One MPLS label stack entry (RFC 4950) a router reported in the ICMP extensions of its answer (RFC 4884).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MplsLabel {
    /// The label (20 bits).
    pub label: u32,
    /// Traffic class (3 bits; formerly EXP).
    pub tc: u8,
    /// Bottom-of-stack bit (S).
    pub bottom_of_stack: bool,
    /// The label entry's TTL.
    pub ttl: u8,
}

impl std::fmt::Display for MplsLabel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MPLS L={} TC={} S={} TTL={}", self.label, self.tc, u8::from(self.bottom_of_stack), self.ttl)
    }
}

/// One answered probe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeReply {
    /// The address that answered.
    pub from: String,
    /// Round-trip time in milliseconds.
    pub rtt_ms: f64,
    /// What kind of answer it was.
    pub kind: ReplyKind,
    /// ICMP unreachable code as traceroute shows it (`!N`, `!H`, `!P`, `!X`...), when there is one; for a TCP
    /// probe's answer from the destination, which segment came back: `SYN-ACK` (port open) or `RST` (closed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flag: Option<String>,
    /// The MPLS label stack the probe carried where it was answered, outermost first (absent from JSON when empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mpls: Vec<MplsLabel>,
}

impl ProbeReply {
    /// A reply of `kind` from `from` after `rtt_ms`, with no flag and no labels.
    pub fn new(from: impl Into<String>, rtt_ms: f64, kind: ReplyKind) -> Self {
        ProbeReply { from: from.into(), rtt_ms, kind, flag: None, mpls: Vec::new() }
    }
}

/// One address that answered at a hop, with its own information.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HopAddress {
    /// The address.
    pub address: String,
    /// Tries (indexes into `Hop::probes`) this address answered, ascending.
    #[serde(default)]
    pub probes: Vec<u8>,
    /// Reverse DNS name of this address.
    #[serde(default)]
    pub hostname: Option<String>,
    /// Location of this address.
    #[serde(default)]
    pub geo: Option<Geo>,
    /// The autonomous system of this address.
    #[serde(default)]
    pub asn: Option<Asn>,
    /// What sort of address this is, as in [`Hop::kind`].
    #[serde(default)]
    pub kind: Option<String>,
    /// Watch mode: this address's own answers over the rounds (a lost probe belongs to no address, so `sent`
    /// counts its answers); absent from a single trace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats: Option<HopStats>,
}

impl HopAddress {
    /// An entry for `address` that answered no try yet and has no information.
    pub fn new(address: impl Into<String>) -> Self {
        HopAddress {
            address: address.into(),
            probes: Vec::new(),
            hostname: None,
            geo: None,
            asn: None,
            kind: None,
            stats: None,
        }
    }
}

/// One TTL of the route.
///
/// Its own fields (`address`, `hostname`, `geo`, `asn`, `kind`) describe the shown address: the one that answered
/// most tries (ties: the earliest). `addresses` holds every address that answered, each with its own information;
/// the shown fields are always a copy of one entry's, never a mix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "HopJson")]
pub struct Hop {
    /// The time-to-live (hop limit) the probes were sent with.
    pub ttl: u8,
    /// One entry per try: `None` for no reply within the timeout.
    pub probes: Vec<Option<ProbeReply>>,
    /// The address that answered most of this hop's probes.
    #[serde(default)]
    pub address: Option<String>,
    /// Reverse DNS name of `address`.
    pub hostname: Option<String>,
    /// Location of `address`.
    pub geo: Option<Geo>,
    /// The autonomous system of `address`.
    #[serde(default)]
    pub asn: Option<Asn>,
    /// What sort of address `address` is: `public`, or a special range (`private`, `shared`, `loopback`,
    /// `link-local`, `unique-local`, `documentation`, `multicast`, ...) that no database can place.
    #[serde(default)]
    pub kind: Option<String>,
    /// Tries (indexes into `probes`) that went unanswered because tracemap's own probes had spent the hop's ICMP
    /// rate limit (see [`TraceEvent::Probe`]); absent from JSON when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rate_limited: Vec<u8>,
    /// Every address that answered at this TTL, in the order of their first answer, each with its own tries and
    /// information (an entry may also come from information that arrived before its probe). Absent from JSON when
    /// nothing answered; a hop read from JSON stored before this field existed derives it from its probes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<HopAddress>,
    /// Tries that were never sent, with the system's reason (see [`TraceEvent::Probe`]); absent from JSON when
    /// empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_sent: Vec<NotSent>,
    /// Watch mode: every probe at this TTL over the rounds (see [`HopStats`]); absent from a single trace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats: Option<HopStats>,
    /// Tries lost to a probable rate limit, each with its evidence (see [`TraceEvent::RateLimit`]); absent when
    /// none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub probable_rate_limits: Vec<ProbableRateLimit>,
    /// Watch mode: where this hop's loss happens (see [`LossAt`]); absent when it lost nothing, or nothing is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss_at: Option<LossAt>,
    /// Watch mode: its answers came back, round after round, to addresses it answered from before: several next
    /// hops share the traffic (load balancing); absent when false.
    #[serde(default, skip_serializing_if = "is_false")]
    pub load_balanced: bool,
}

/// The JSON form of [`Hop`], read first so that hops stored before `addresses` existed get theirs from their probes.
#[derive(Deserialize)]
struct HopJson {
    ttl: u8,
    probes: Vec<Option<ProbeReply>>,
    #[serde(default)]
    address: Option<String>,
    #[serde(default)]
    hostname: Option<String>,
    #[serde(default)]
    geo: Option<Geo>,
    #[serde(default)]
    asn: Option<Asn>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    rate_limited: Vec<u8>,
    #[serde(default)]
    not_sent: Vec<NotSent>,
    #[serde(default)]
    addresses: Vec<HopAddress>,
    #[serde(default)]
    stats: Option<HopStats>,
    #[serde(default)]
    probable_rate_limits: Vec<ProbableRateLimit>,
    #[serde(default)]
    loss_at: Option<LossAt>,
    #[serde(default)]
    load_balanced: bool,
}

impl From<HopJson> for Hop {
    fn from(json: HopJson) -> Self {
        let HopJson {
            ttl,
            probes,
            address,
            hostname,
            geo,
            asn,
            kind,
            rate_limited,
            not_sent,
            addresses,
            stats,
            probable_rate_limits,
            loss_at,
            load_balanced,
        } = json;
        let mut hop = Hop {
            ttl,
            probes,
            address,
            hostname,
            geo,
            asn,
            kind,
            rate_limited,
            not_sent,
            addresses,
            stats,
            probable_rate_limits,
            loss_at,
            load_balanced,
        };
        if hop.addresses.is_empty() && hop.answered() > 0 {
            // Old JSON knew only the shown address's information; the other addresses keep their tries alone.
            hop.sync_probes();
            if let Some(shown) = hop.address.clone()
                && let Some(entry) = hop.addresses.iter_mut().find(|a| a.address == shown)
            {
                entry.hostname.clone_from(&hop.hostname);
                entry.geo.clone_from(&hop.geo);
                entry.asn.clone_from(&hop.asn);
                entry.kind.clone_from(&hop.kind);
            }
        }
        hop
    }
}

/// A try probably lost to its router's ICMP rate limit, and the evidence: how many probes this process had sent
/// that router in the last seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbableRateLimit {
    /// Which try (an index into the hop's `probes`).
    pub index: u8,
    /// The router whose budget was spent.
    pub router: String,
    /// Probes of this process that reached it in the last ten seconds or so.
    pub recent_probes: u32,
}

/// A try the system refused to send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotSent {
    /// Which try (an index into the hop's `probes`).
    pub index: u8,
    /// The system's reason, e.g. `Operation not permitted (os error 1)`.
    pub reason: String,
}

impl Hop {
    /// A hop at `ttl` with `tries` unanswered probes and nothing known yet.
    pub fn new(ttl: u8, tries: usize) -> Self {
        Hop {
            ttl,
            probes: vec![None; tries],
            address: None,
            hostname: None,
            geo: None,
            asn: None,
            kind: None,
            rate_limited: Vec::new(),
            not_sent: Vec::new(),
            addresses: Vec::new(),
            stats: None,
            probable_rate_limits: Vec::new(),
            loss_at: None,
            load_balanced: false,
        }
    }

    /// Number of probes that were answered.
    pub fn answered(&self) -> usize {
        self.probes.iter().flatten().count()
    }

    /// The entry of `address`, when it answered or has information.
    pub fn address_entry(&self, address: &str) -> Option<&HopAddress> {
        self.addresses.iter().find(|a| a.address == address)
    }

    /// The addresses other than the shown one, in the order of their first answer.
    pub fn other_addresses(&self) -> impl Iterator<Item = &HopAddress> {
        self.addresses.iter().filter(move |a| Some(a.address.as_str()) != self.address.as_deref())
    }

    /// The entry of `address`, created (after the others) when absent.
    fn entry_mut(&mut self, address: &str) -> &mut HopAddress {
        let pos = match self.addresses.iter().position(|a| a.address == address) {
            Some(pos) => pos,
            None => {
                self.addresses.push(HopAddress::new(address));
                self.addresses.len() - 1
            }
        };
        &mut self.addresses[pos]
    }

    /// Counts one probe of a watch round in the hop's statistics, and an answer in its address's.
    fn record_round(&mut self, reply: Option<&ProbeReply>) {
        let rtt = reply.map(|reply| reply.rtt_ms);
        self.stats.get_or_insert_with(HopStats::default).record(rtt);
        if let Some(reply) = reply {
            self.entry_mut(&reply.from).stats.get_or_insert_with(HopStats::default).record(rtt);
        }
    }

    /// Recomputes every entry's tries from `probes`, adding an entry for an address seen for the first time.
    fn sync_probes(&mut self) {
        let answers: Vec<(usize, String)> =
            self.probes.iter().enumerate().filter_map(|(i, p)| p.as_ref().map(|r| (i, r.from.clone()))).collect();
        for (_, from) in &answers {
            self.entry_mut(from);
        }
        for entry in &mut self.addresses {
            entry.probes = answers
                .iter()
                .filter(|(_, from)| *from == entry.address)
                .filter_map(|(i, _)| u8::try_from(*i).ok())
                .collect();
        }
    }

    /// Sets the shown address to the majority (or, before any answer, the first address with information) and
    /// copies that address's own information onto the hop.
    fn show_majority(&mut self) {
        let shown = majority_address(&self.probes).or_else(|| self.addresses.first().map(|a| a.address.clone()));
        let entry = shown.as_deref().and_then(|shown| self.address_entry(shown)).cloned();
        self.address = shown;
        match entry {
            Some(entry) => {
                self.hostname = entry.hostname;
                self.geo = entry.geo;
                self.asn = entry.asn;
                self.kind = entry.kind;
            }
            None => (self.hostname, self.geo, self.asn, self.kind) = (None, None, None, None),
        }
    }
}

/// Lifecycle of a stored trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TraceStatus {
    /// Probes are still in flight.
    #[default]
    Running,
    /// The trace ended normally (whether or not the destination answered).
    Finished,
    /// The trace could not run (unresolvable target, no privilege...).
    Failed,
    /// The server stopped while the trace was running.
    Interrupted,
    /// Someone stopped the trace before it ended (`DELETE /api/traces/{id}/run`); the hops probed so far are kept.
    Stopped,
}

/// A whole trace: what `trace --json` prints and `GET /api/traces/{id}` answers.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TraceReport {
    /// Server-side id; absent from the command line's output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Lifecycle status.
    #[serde(default)]
    pub status: TraceStatus,
    /// What the user asked to trace.
    pub target: String,
    /// The address the target resolved to, once known.
    #[serde(default)]
    pub address: Option<String>,
    /// Probe protocol.
    #[serde(default)]
    pub protocol: Protocol,
    /// How the probes were sent (absent from traces stored before it was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<ProbeMode>,
    /// Highest TTL that will be probed.
    #[serde(default)]
    pub max_hops: u8,
    /// Probes per hop.
    #[serde(default)]
    pub tries: u8,
    /// First TTL probed (absent from traces stored before it was recorded: read it as 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_ttl: Option<u8>,
    /// Port, family and per-probe wait, when recorded. Flattened on the wire; nested for the page (see
    /// [`TraceOptions::KEYS`]).
    #[cfg_attr(not(target_arch = "wasm32"), serde(default, flatten))]
    pub options: TraceOptions,
    /// Hops in TTL order, from the first probed TTL.
    pub hops: Vec<Hop>,
    /// Whether the destination answered.
    pub destination_reached: bool,
    /// Wall-clock duration of the trace, once finished.
    #[serde(default)]
    pub duration_ms: Option<u64>,
    /// Why the trace failed, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Unix time (milliseconds) when the trace started.
    #[serde(default)]
    pub started_at_ms: Option<u64>,
    /// Where the prober stood (`--location LAT,LON[,LABEL]` of `trace` and `serve`), so a permalink knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Geo>,
    /// Watch mode: the rounds begun so far; absent from a single trace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rounds: Option<u32>,
    /// Watch mode: every hop that answered from a new address, in order (see [`RouteChange`]); absent when none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub route_changes: Vec<RouteChange>,
    /// What the fold of a watch keeps between events (not part of the JSON; public only so that a report can be
    /// written with `..Default::default()`).
    #[serde(skip)]
    pub watch_state: watch::WatchState,
    /// Set when this trace joined an identical probe run of the server's instead of probing again: how many
    /// milliseconds after that run started (see [`TraceCreated::joined_after_ms`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub joined_after_ms: Option<u64>,
}

/// One event of a running trace. On the WebSocket each is one text frame: `{"type": "...", ...}`.
///
/// That is its only form on the wire and on disk. The page (the wasm32 build) reads the same frames, but serde's
/// internally tagged derive buffers every event into an intermediate value and decodes every field type a second
/// time from it: 14 kB gzip of the page's module (BENCHMARKS.md, "WASM bundle size"). So on wasm32 this type has
/// no `Serialize` and its `Deserialize` is externally tagged: the page lifts `"type"` out of the parsed frame and
/// decodes `{"probe": {...}}` (`frontend/src/json.rs`, `event_from_str`), the same fields by the same rules.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[cfg_attr(not(target_arch = "wasm32"), derive(Serialize), serde(tag = "type"))]
#[serde(rename_all = "snake_case")]
// `hop_info` is the big one; a few hundred bytes per event is nothing next to its JSON, and boxing its fields
// would make every consumer (the frontend included) unwrap them.
#[allow(clippy::large_enum_variant)]
pub enum TraceEvent {
    /// The target resolved and probing begins.
    Started {
        /// Event stream version ([`EVENT_VERSION`]).
        version: u32,
        /// What the user asked to trace.
        target: String,
        /// The resolved address that is traced.
        address: String,
        /// Probe protocol.
        protocol: Protocol,
        /// First TTL that will be probed.
        #[serde(default = "one")]
        first_ttl: u8,
        /// Highest TTL that will be probed.
        max_hops: u8,
        /// Probes per hop.
        tries: u8,
        /// Unix time in milliseconds.
        started_at_ms: u64,
        /// How the probes are sent; absent from events stored before it was recorded.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mode: Option<ProbeMode>,
        /// Port, family and per-probe wait; absent from events stored before they were recorded. Flattened on the
        /// wire; nested for the page (see [`TraceOptions::KEYS`]).
        #[cfg_attr(not(target_arch = "wasm32"), serde(default, flatten))]
        options: TraceOptions,
        /// Where the prober stood (`--location LAT,LON[,LABEL]` of `trace` and `serve`), so a permalink knows it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        location: Option<Geo>,
    },
    /// A probe was answered, or its wait ran out (`reply` is `null`).
    Probe {
        /// TTL the probe was sent with.
        ttl: u8,
        /// Which try of this TTL (0-based).
        index: u8,
        /// The answer, or `None` for a timeout.
        reply: Option<ProbeReply>,
        /// With no answer: the hop answers other probes, but tracemap's own probes (of this and other traces) had
        /// spent its ICMP rate limit; not a silent hop. Absent from JSON when false.
        #[serde(default, skip_serializing_if = "is_false")]
        rate_limited: bool,
        /// The probe never left: the system refused to send it, twice (a full socket buffer under load, a local
        /// firewall), and this says why. The try is lost, the trace goes on. Absent from JSON when it was sent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        send_error: Option<String>,
    },
    /// Everything enrichment knows about the address that answered at `ttl`; each one replaces the last for that
    /// address. The first follows the probe that revealed the address; with reverse DNS on, a second one follows
    /// when the name lookup ends, found or not (`hostname` stays `null` when there is no name).
    HopInfo {
        /// TTL of the hop.
        ttl: u8,
        /// The address the information is about.
        address: String,
        /// Reverse DNS name.
        hostname: Option<String>,
        /// GeoIP location.
        geo: Option<Geo>,
        /// Autonomous system.
        #[serde(default)]
        asn: Option<Asn>,
        /// Address kind, as in [`Hop::kind`].
        #[serde(default)]
        kind: Option<String>,
    },
    /// The probe just reported (`ttl`, `index`, no answer, `rate_limited`) was probably lost to `router`'s ICMP
    /// rate limit: this process had sent it `recent_probes` probes in the last seconds, more than its modelled
    /// budget. Follows that probe's event; a lost probe without it is a plain `*`.
    RateLimit {
        /// TTL of the probe.
        ttl: u8,
        /// Which try.
        index: u8,
        /// The router whose budget was spent.
        router: String,
        /// Probes of this process that reached it in the last ten seconds or so.
        recent_probes: u32,
    },
    /// Watch mode: round `round` (1 for the first) begins, `at_ms` milliseconds after the trace started. The probe
    /// events that follow, until the next round, belong to it; each hop's statistics count them.
    Round {
        /// The round's number, from 1.
        round: u32,
        /// When it began, in milliseconds since the trace started.
        at_ms: u64,
    },
    /// The trace ended.
    Finished {
        /// Whether the destination answered.
        destination_reached: bool,
        /// Wall-clock duration in milliseconds.
        duration_ms: u64,
    },
    /// The trace could not run or stopped on an error.
    Failed {
        /// A sentence a person can act on.
        reason: String,
    },
}

fn one() -> u8 {
    1
}

fn is_false(value: &bool) -> bool {
    !*value
}

impl TraceEvent {
    /// Whether this event ends the stream.
    pub fn is_terminal(&self) -> bool {
        matches!(self, TraceEvent::Finished { .. } | TraceEvent::Failed { .. })
    }
}

impl TraceReport {
    /// An empty report for `target`, before any event.
    pub fn new(target: impl Into<String>, protocol: Protocol) -> Self {
        TraceReport { target: target.into(), protocol, ..Default::default() }
    }

    /// Folds one event into the report. Events are idempotent where that is cheap (a repeated probe event
    /// overwrites the same slot), so a viewer that receives an event twice draws the same route.
    pub fn apply(&mut self, event: &TraceEvent) {
        match event {
            TraceEvent::Started {
                target,
                address,
                protocol,
                first_ttl,
                max_hops,
                tries,
                started_at_ms,
                mode,
                options,
                location,
                ..
            } => {
                self.target.clone_from(target);
                self.first_ttl = Some(*first_ttl);
                self.options.clone_from(options);
                self.address = Some(address.clone());
                self.protocol = *protocol;
                self.mode = *mode;
                self.max_hops = *max_hops;
                self.tries = *tries;
                self.started_at_ms = Some(*started_at_ms);
                self.location.clone_from(location);
                self.status = TraceStatus::Running;
            }
            TraceEvent::Probe { ttl, index, reply, rate_limited, send_error } => {
                let watching = self.rounds.is_some();
                if reply.as_ref().is_some_and(|r| r.kind == ReplyKind::Destination) {
                    self.destination_reached = true;
                }
                let tries = usize::from(self.tries.max(index.saturating_add(1)));
                let hop = self.hop_mut(*ttl, tries);
                let slot = usize::from(*index);
                if hop.probes.len() <= slot {
                    hop.probes.resize(slot + 1, None);
                }
                hop.probes[slot] = reply.clone();
                if watching {
                    if let Some(reply) = reply {
                        self.observe_answer(*ttl, &reply.from);
                    }
                    let hop = self.hop_mut(*ttl, tries);
                    hop.record_round(reply.as_ref());
                }
                let hop = self.hop_mut(*ttl, tries);
                hop.sync_probes();
                hop.show_majority();
                hop.rate_limited.retain(|&index| usize::from(index) != slot);
                hop.probable_rate_limits.retain(|limit| usize::from(limit.index) != slot);
                if *rate_limited && reply.is_none() {
                    hop.rate_limited.push(*index);
                    hop.rate_limited.sort_unstable();
                }
                hop.not_sent.retain(|not_sent| not_sent.index != *index);
                if let (Some(reason), None) = (send_error, reply) {
                    hop.not_sent.push(NotSent { index: *index, reason: reason.clone() });
                    hop.not_sent.sort_unstable_by_key(|not_sent| not_sent.index);
                }
                if watching {
                    self.judge_loss();
                }
            }
            TraceEvent::HopInfo { ttl, address, hostname, geo, asn, kind } => {
                let tries = usize::from(self.tries);
                let hop = self.hop_mut(*ttl, tries);
                let entry = hop.entry_mut(address);
                entry.hostname.clone_from(hostname);
                entry.geo.clone_from(geo);
                entry.asn.clone_from(asn);
                entry.kind.clone_from(kind);
                hop.show_majority();
            }
            TraceEvent::RateLimit { ttl, index, router, recent_probes } => {
                let tries = usize::from(self.tries.max(index.saturating_add(1)));
                let hop = self.hop_mut(*ttl, tries);
                hop.probable_rate_limits.retain(|limit| limit.index != *index);
                if hop.rate_limited.contains(index) {
                    let (index, router, recent_probes) = (*index, router.clone(), *recent_probes);
                    hop.probable_rate_limits.push(ProbableRateLimit { index, router, recent_probes });
                    hop.probable_rate_limits.sort_unstable_by_key(|limit| limit.index);
                }
            }
            TraceEvent::Round { round, at_ms } => {
                self.rounds = Some(*round);
                self.watch_state.at_ms = *at_ms;
            }
            TraceEvent::Finished { destination_reached, duration_ms } => {
                self.destination_reached = *destination_reached;
                self.duration_ms = Some(*duration_ms);
                self.status = TraceStatus::Finished;
            }
            TraceEvent::Failed { reason } => {
                self.error = Some(reason.clone());
                self.status = TraceStatus::Failed;
            }
        }
    }

    /// The hop for `ttl`, created (with any missing hops before it) when absent, keeping hops in TTL order.
    fn hop_mut(&mut self, ttl: u8, tries: usize) -> &mut Hop {
        let pos = match self.hops.binary_search_by_key(&ttl, |h| h.ttl) {
            Ok(pos) => pos,
            Err(pos) => {
                self.hops.insert(pos, Hop::new(ttl, tries));
                pos
            }
        };
        &mut self.hops[pos]
    }
}

/// The address that answered most probes; ties go to the earliest probe.
fn majority_address(probes: &[Option<ProbeReply>]) -> Option<String> {
    let mut best: Option<(&str, usize)> = None;
    for reply in probes.iter().flatten() {
        let count = probes.iter().flatten().filter(|r| r.from == reply.from).count();
        if best.is_none_or(|(_, c)| count > c) {
            best = Some((&reply.from, count));
        }
    }
    best.map(|(addr, _)| addr.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_created_carries_a_delete_token_when_the_server_gives_one() {
        let old: TraceCreated = serde_json::from_str(r#"{"id":"abc"}"#).expect("answer without a token");
        assert_eq!(old, TraceCreated { id: "abc".into(), ..Default::default() });
        let new = TraceCreated { id: "abc".into(), delete_token: Some("f00d".into()), ..Default::default() };
        let json = serde_json::to_string(&new).expect("json");
        assert_eq!(json, r#"{"id":"abc","delete_token":"f00d"}"#);
        assert_eq!(serde_json::from_str::<TraceCreated>(&json).expect("back"), new);
    }

    fn reply(from: &str, rtt: f64, kind: ReplyKind) -> Option<ProbeReply> {
        Some(ProbeReply { from: from.into(), rtt_ms: rtt, kind, flag: None, mpls: Vec::new() })
    }

    fn started() -> TraceEvent {
        TraceEvent::Started {
            version: EVENT_VERSION,
            target: "example.test".into(),
            address: "10.0.0.9".into(),
            protocol: Protocol::Icmp,
            first_ttl: 1,
            max_hops: 30,
            tries: 3,
            started_at_ms: 1,
            mode: Some(ProbeMode::Raw),
            options: TraceOptions::default(),
            location: None,
        }
    }

    #[test]
    fn events_fold_into_ordered_hops() {
        let mut report = TraceReport::new("example.test", Protocol::Icmp);
        report.apply(&started());
        report.apply(&TraceEvent::Probe {
            ttl: 2,
            index: 0,
            reply: reply("10.0.2.1", 2.0, ReplyKind::TimeExceeded),
            rate_limited: false,
            send_error: None,
        });
        report.apply(&TraceEvent::Probe { ttl: 1, index: 1, reply: None, rate_limited: false, send_error: None });
        report.apply(&TraceEvent::Probe {
            ttl: 3,
            index: 2,
            reply: reply("10.0.0.9", 3.0, ReplyKind::Destination),
            rate_limited: false,
            send_error: None,
        });
        let ttls: Vec<u8> = report.hops.iter().map(|h| h.ttl).collect();
        assert_eq!(ttls, [1, 2, 3]);
        assert_eq!(report.hops[0].probes, vec![None, None, None]);
        assert_eq!(report.hops[1].address.as_deref(), Some("10.0.2.1"));
        assert_eq!(report.hops[2].answered(), 1);
        assert!(report.destination_reached);
        assert_eq!(report.status, TraceStatus::Running);
    }

    #[test]
    fn repeated_events_do_not_duplicate() {
        let mut report = TraceReport::default();
        report.apply(&started());
        let ev = TraceEvent::Probe {
            ttl: 1,
            index: 0,
            reply: reply("10.0.1.1", 1.0, ReplyKind::TimeExceeded),
            rate_limited: false,
            send_error: None,
        };
        report.apply(&ev);
        report.apply(&ev);
        assert_eq!(report.hops.len(), 1);
        assert_eq!(report.hops[0].answered(), 1);
    }

    #[test]
    fn hop_info_updates_its_own_address_and_the_hop_shows_the_majoritys() {
        let mut report = TraceReport::default();
        report.apply(&started());
        report.apply(&TraceEvent::Probe {
            ttl: 1,
            index: 0,
            reply: reply("10.0.1.1", 1.0, ReplyKind::TimeExceeded),
            rate_limited: false,
            send_error: None,
        });
        report.apply(&TraceEvent::Probe {
            ttl: 1,
            index: 1,
            reply: reply("10.0.1.1", 1.0, ReplyKind::TimeExceeded),
            rate_limited: false,
            send_error: None,
        });
        report.apply(&TraceEvent::Probe {
            ttl: 1,
            index: 2,
            reply: reply("10.9.9.9", 1.0, ReplyKind::TimeExceeded),
            rate_limited: false,
            send_error: None,
        });
        report.apply(&TraceEvent::HopInfo {
            ttl: 1,
            address: "10.9.9.9".into(),
            hostname: Some("other".into()),
            geo: None,
            asn: None,
            kind: None,
        });
        assert_eq!(report.hops[0].address.as_deref(), Some("10.0.1.1"));
        assert_eq!(report.hops[0].hostname, None);
        assert_eq!(report.hops[0].address_entry("10.9.9.9").and_then(|a| a.hostname.as_deref()), Some("other"));
        report.apply(&TraceEvent::HopInfo {
            ttl: 1,
            address: "10.0.1.1".into(),
            hostname: Some("r1.test".into()),
            geo: None,
            asn: Some(Asn { number: 64512, org: Some("Lab".into()), source: None }),
            kind: Some("private".into()),
        });
        assert_eq!(report.hops[0].hostname.as_deref(), Some("r1.test"));
        assert_eq!(report.hops[0].asn.as_ref().map(|a| a.number), Some(64512));
        assert_eq!(report.hops[0].kind.as_deref(), Some("private"));
    }

    fn probe(ttl: u8, index: u8, from: &str) -> TraceEvent {
        TraceEvent::Probe {
            ttl,
            index,
            reply: reply(from, 1.0, ReplyKind::TimeExceeded),
            rate_limited: false,
            send_error: None,
        }
    }

    fn place(city: &str, lat: f64) -> Geo {
        Geo { city: Some(city.into()), source: Some("test".into()), ..Geo::at(lat, 0.0) }
    }

    #[test]
    fn a_geo_at_coordinates_has_the_wire_form_of_an_unnamed_place() {
        let json = serde_json::to_value(Geo::at(-33.87, 151.21)).expect("json");
        assert_eq!(
            json,
            serde_json::json!({
                "city": null, "region": null, "country": null, "country_code": null,
                "lat": -33.87, "lon": 151.21, "accuracy_km": null, "source": null,
            }),
            "the judged fields and candidates are left out when empty"
        );
        assert_eq!(serde_json::from_value::<Geo>(json).expect("back"), Geo::at(-33.87, 151.21));
    }

    /// A `hop_info` for `address` at TTL 1 whose name, place and AS all name `tag`.
    fn info(address: &str, tag: &str, number: u32) -> TraceEvent {
        TraceEvent::HopInfo {
            ttl: 1,
            address: address.into(),
            hostname: Some(format!("{tag}.test")),
            geo: Some(place(tag, f64::from(number % 90))),
            asn: Some(Asn { number, org: Some(tag.into()), source: None }),
            kind: Some("public".into()),
        }
    }

    /// The shown address and the name, city and AS shown with it.
    fn shown(hop: &Hop) -> (Option<&str>, Option<&str>, Option<&str>, Option<u32>) {
        (
            hop.address.as_deref(),
            hop.hostname.as_deref(),
            hop.geo.as_ref().and_then(|g| g.city.as_deref()),
            hop.asn.as_ref().map(|a| a.number),
        )
    }

    #[test]
    fn when_the_majority_flips_the_hop_shows_the_new_addresss_own_information() {
        let mut report = TraceReport::default();
        report.apply(&started());
        report.apply(&probe(1, 0, "10.0.1.1"));
        report.apply(&info("10.0.1.1", "a", 1));
        assert_eq!(shown(&report.hops[0]), (Some("10.0.1.1"), Some("a.test"), Some("a"), Some(1)));
        report.apply(&probe(1, 1, "10.0.2.1"));
        report.apply(&info("10.0.2.1", "b", 2));
        // One try each: the tie goes to the earliest, A.
        assert_eq!(shown(&report.hops[0]), (Some("10.0.1.1"), Some("a.test"), Some("a"), Some(1)));
        report.apply(&probe(1, 2, "10.0.2.1"));
        let hop = &report.hops[0];
        assert_eq!(shown(hop), (Some("10.0.2.1"), Some("b.test"), Some("b"), Some(2)));
        assert_eq!(hop.geo, Some(place("b", 2.0)));
        assert_eq!(hop.kind.as_deref(), Some("public"));
        let entries: Vec<(&str, &[u8])> = hop.addresses.iter().map(|a| (a.address.as_str(), &a.probes[..])).collect();
        assert_eq!(entries, [("10.0.1.1", &[0][..]), ("10.0.2.1", &[1, 2][..])]);
        assert_eq!(hop.address_entry("10.0.1.1").and_then(|a| a.hostname.as_deref()), Some("a.test"));
        let others: Vec<&str> = hop.other_addresses().map(|a| a.address.as_str()).collect();
        assert_eq!(others, ["10.0.1.1"]);
    }

    #[test]
    fn alternating_answers_keep_each_address_with_its_own_tries_and_information() {
        let mut report = TraceReport::default();
        report.apply(&started());
        for index in 0..6u8 {
            let from = if index % 2 == 0 { "10.0.1.1" } else { "10.0.2.1" };
            report.apply(&probe(1, index, from));
            if index < 2 {
                report.apply(&info(from, if index == 0 { "a" } else { "b" }, u32::from(index) + 1));
            }
            let hop = &report.hops[0];
            // Ties go to the earliest answer; A answered first and never falls behind.
            assert_eq!(shown(hop), (Some("10.0.1.1"), Some("a.test"), Some("a"), Some(1)), "after try {index}");
        }
        let hop = &report.hops[0];
        assert_eq!(hop.probes.len(), 6);
        assert_eq!(hop.addresses.len(), 2);
        assert_eq!(hop.addresses[0].probes, [0, 2, 4]);
        assert_eq!(hop.addresses[1].probes, [1, 3, 5]);
        assert_eq!(hop.addresses[1].asn.as_ref().map(|a| a.number), Some(2));
        assert_eq!(hop.addresses[1].geo.as_ref().and_then(|g| g.city.as_deref()), Some("b"));
    }

    #[test]
    fn information_before_the_probe_and_after_the_flip_lands_on_its_own_address() {
        let mut report = TraceReport::default();
        report.apply(&started());
        // B's information arrives before any probe of B (another viewer's order, or a replayed log).
        report.apply(&info("10.0.2.1", "b", 2));
        assert_eq!(shown(&report.hops[0]), (Some("10.0.2.1"), Some("b.test"), Some("b"), Some(2)));
        report.apply(&probe(1, 0, "10.0.1.1"));
        assert_eq!(shown(&report.hops[0]), (Some("10.0.1.1"), None, None, None));
        report.apply(&info("10.0.1.1", "a", 1));
        report.apply(&probe(1, 1, "10.0.2.1"));
        report.apply(&probe(1, 2, "10.0.2.1"));
        assert_eq!(shown(&report.hops[0]), (Some("10.0.2.1"), Some("b.test"), Some("b"), Some(2)));
        // After the flip, a late name for A (reverse DNS) changes A's entry and never the shown B.
        report.apply(&TraceEvent::HopInfo {
            ttl: 1,
            address: "10.0.1.1".into(),
            hostname: Some("a-late.test".into()),
            geo: None,
            asn: None,
            kind: Some("public".into()),
        });
        let hop = &report.hops[0];
        assert_eq!(shown(hop), (Some("10.0.2.1"), Some("b.test"), Some("b"), Some(2)));
        assert_eq!(hop.address_entry("10.0.1.1").and_then(|a| a.hostname.as_deref()), Some("a-late.test"));
        // ...and a late name for B shows at once.
        report.apply(&info("10.0.2.1", "b2", 3));
        assert_eq!(shown(&report.hops[0]), (Some("10.0.2.1"), Some("b2.test"), Some("b2"), Some(3)));
        // Entries stay in the order they first appeared.
        let order: Vec<&str> = report.hops[0].addresses.iter().map(|a| a.address.as_str()).collect();
        assert_eq!(order, ["10.0.2.1", "10.0.1.1"]);
    }

    #[test]
    fn hops_stored_before_addresses_derive_them_from_their_probes() {
        let old = r#"{"ttl":1,"probes":[{"from":"10.0.1.1","rtt_ms":1.0,"kind":"time_exceeded"},
            {"from":"10.0.2.1","rtt_ms":1.0,"kind":"time_exceeded"},null,
            {"from":"10.0.1.1","rtt_ms":1.0,"kind":"time_exceeded"}],
            "address":"10.0.1.1","hostname":"a.test","geo":{"city":"A","country":null,"lat":1.0,"lon":2.0},
            "asn":{"number":1},"kind":"public"}"#;
        let hop: Hop = serde_json::from_str(old).unwrap();
        assert_eq!(hop.addresses.len(), 2);
        let a = &hop.addresses[0];
        assert_eq!(
            (a.address.as_str(), &a.probes[..], a.hostname.as_deref()),
            ("10.0.1.1", &[0, 3][..], Some("a.test"))
        );
        assert_eq!(a.geo.as_ref().map(|g| (g.lat, g.plausible, g.candidates.len())), Some((1.0, None, 0)));
        assert_eq!(a.asn.as_ref().map(|a| a.number), Some(1));
        let b = &hop.addresses[1];
        assert_eq!((b.address.as_str(), &b.probes[..], b.hostname.as_deref()), ("10.0.2.1", &[1][..], None));

        let report = r#"{"target":"t","hops":[{"ttl":1,"probes":[null],"hostname":null,"geo":null}],
            "destination_reached":false}"#;
        let report: TraceReport = serde_json::from_str(report).unwrap();
        assert!(report.hops[0].addresses.is_empty());
        assert_eq!(report.location, None);
        let json = serde_json::to_value(&report).unwrap();
        assert!(json["hops"][0].get("addresses").is_none(), "{json}");
        assert!(json.get("location").is_none(), "{json}");
    }

    #[test]
    fn addresses_location_and_judged_places_round_trip_through_json() {
        let mut report = TraceReport::default();
        let mut start = started();
        let here = Geo { source: Some("--location".into()), ..place("Here", 10.0) };
        if let TraceEvent::Started { location, .. } = &mut start {
            *location = Some(here.clone());
        }
        report.apply(&start);
        assert_eq!(report.location, Some(here));
        report.apply(&probe(1, 0, "10.0.1.1"));
        report.apply(&probe(1, 1, "10.0.2.1"));
        let judged = Geo {
            token: Some("ams10".into()),
            plausible: Some(false),
            max_km: Some(5.0),
            candidates: vec![Geo { plausible: Some(false), max_km: Some(5.0), ..place("Amsterdam", 52.0) }],
            ..place("Amsterdam", 52.0)
        };
        report.apply(&TraceEvent::HopInfo {
            ttl: 1,
            address: "10.0.2.1".into(),
            hostname: None,
            geo: Some(judged.clone()),
            asn: None,
            kind: None,
        });
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["hops"][0]["addresses"][1]["geo"]["token"], "ams10");
        assert_eq!(json["hops"][0]["addresses"][1]["geo"]["plausible"], false);
        assert_eq!(json["hops"][0]["addresses"][1]["probes"], serde_json::json!([1]));
        assert!(json["hops"][0]["addresses"][1]["geo"]["candidates"][0].get("candidates").is_none(), "{json}");
        assert_eq!(json["location"]["city"], "Here");
        let back: TraceReport = serde_json::from_value(json).unwrap();
        assert_eq!(back, report);
        assert_eq!(back.hops[0].addresses[1].geo, Some(judged));
    }

    #[test]
    fn event_json_is_tagged_by_type() {
        let json = serde_json::to_value(TraceEvent::Finished { destination_reached: true, duration_ms: 12 }).unwrap();
        assert_eq!(json["type"], "finished");
        let json = serde_json::to_value(TraceEvent::Probe {
            ttl: 4,
            index: 1,
            reply: None,
            rate_limited: false,
            send_error: None,
        })
        .unwrap();
        assert_eq!(json, serde_json::json!({"type": "probe", "ttl": 4, "index": 1, "reply": null}));
        let back: TraceEvent = serde_json::from_value(json).unwrap();
        assert_eq!(back, TraceEvent::Probe { ttl: 4, index: 1, reply: None, rate_limited: false, send_error: None });
    }

    #[test]
    fn events_and_hops_from_before_asn_and_kind_still_read() {
        let old = r#"{"type":"hop_info","ttl":1,"address":"10.0.0.1","hostname":null,"geo":null}"#;
        let event: TraceEvent = serde_json::from_str(old).unwrap();
        assert!(matches!(event, TraceEvent::HopInfo { asn: None, kind: None, .. }));
        let hop: Hop = serde_json::from_str(r#"{"ttl":1,"probes":[null],"hostname":null,"geo":null}"#).unwrap();
        assert_eq!((hop.asn, hop.kind), (None, None));
    }

    #[test]
    fn mode_and_mpls_are_optional_in_json() {
        let old = r#"{"type":"started","version":1,"target":"t","address":"10.0.0.9","protocol":"udp","max_hops":30,
            "tries":3,"started_at_ms":1}"#;
        let event: TraceEvent = serde_json::from_str(old).unwrap();
        assert!(matches!(event, TraceEvent::Started { mode: None, first_ttl: 1, .. }));
        let json = serde_json::to_value(started()).unwrap();
        assert_eq!(json["mode"], "raw");
        let mut report = TraceReport::default();
        report.apply(&started());
        assert_eq!(serde_json::to_value(&report).unwrap()["mode"], "raw");
        for (mode, name) in [
            (ProbeMode::Raw, "raw"),
            (ProbeMode::UdpErrorQueue, "udp_error_queue"),
            (ProbeMode::IcmpDatagram, "icmp_datagram"),
        ] {
            assert_eq!(serde_json::to_value(mode).unwrap(), name);
            assert_eq!(mode.as_str(), name);
        }

        let plain = reply("10.0.1.1", 1.0, ReplyKind::TimeExceeded);
        let json = serde_json::to_value(&plain).unwrap();
        assert!(json.get("mpls").is_none(), "{json}");
        let label = MplsLabel { label: 24001, tc: 0, bottom_of_stack: true, ttl: 1 };
        let labelled = plain.map(|r| ProbeReply { mpls: vec![label], ..r });
        let json = serde_json::to_value(&labelled).unwrap();
        assert_eq!(json["mpls"], serde_json::json!([{"label": 24001, "tc": 0, "bottom_of_stack": true, "ttl": 1}]));
        assert_eq!(serde_json::from_value::<Option<ProbeReply>>(json).unwrap(), labelled);
        assert_eq!(label.to_string(), "MPLS L=24001 TC=0 S=1 TTL=1");
    }

    #[test]
    fn request_protocol_defaults_to_icmp() {
        let req: TraceRequest = serde_json::from_str(r#"{"target":"10.0.0.1"}"#).unwrap();
        assert_eq!(req.protocol, Protocol::Icmp);
        assert!(serde_json::from_str::<TraceRequest>(r#"{"target":"x","protocol":"gre"}"#).is_err());
        let err = serde_json::from_str::<TraceRequest>(r#"{"target":"x","max_hop":3}"#).unwrap_err();
        assert!(err.to_string().contains("max_hop"), "{err}");
        assert_eq!(req, TraceRequest::new("10.0.0.1", Protocol::Icmp));
    }

    #[test]
    fn trace_options_keys_are_the_json_keys_of_every_option() {
        let all = TraceOptions {
            port: Some(1),
            family: Some(Family::Ipv6),
            timeout_ms: Some(2),
            from: Some("a".into()),
            watch: Some(WatchSettings { rounds: 3, interval_ms: 4 }),
        };
        let json = serde_json::to_value(&all).unwrap();
        let mut keys: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        let mut expected = TraceOptions::KEYS.to_vec();
        expected.sort_unstable();
        assert_eq!(keys, expected, "TraceOptions::KEYS must list every field's JSON key");
    }

    #[test]
    fn trace_options_travel_in_started_and_old_traces_still_read() {
        let options = TraceOptions {
            port: Some(8080),
            family: Some(Family::Ipv4),
            timeout_ms: Some(800),
            from: Some("sydney".into()),
            watch: None,
        };
        let mut event = started();
        if let TraceEvent::Started { protocol, options: started_options, .. } = &mut event {
            *protocol = Protocol::Tcp;
            *started_options = options.clone();
        }
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(
            (json["port"].clone(), json["family"].clone(), json["timeout_ms"].clone()),
            (8080.into(), "ipv4".into(), 800.into())
        );
        assert_eq!(json["from"], "sydney");
        assert_eq!(serde_json::from_value::<TraceEvent>(json).unwrap(), event);
        let mut report = TraceReport::default();
        report.apply(&event);
        assert_eq!((&report.options, report.first_ttl), (&options, Some(1)));
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["port"], 8080);
        assert_eq!(serde_json::from_value::<TraceReport>(json).unwrap(), report);

        let old = r#"{"status":"finished","target":"t","protocol":"udp","hops":[],"destination_reached":true}"#;
        let report: TraceReport = serde_json::from_str(old).unwrap();
        assert_eq!((report.options, report.first_ttl), (TraceOptions::default(), None));
        assert_eq!(serde_json::to_value(TraceStatus::Stopped).unwrap(), "stopped");
        let summary = r#"{"id":"a","target":"t","protocol":"icmp","status":"stopped","destination_reached":false,
            "hops":2,"created_ms":5}"#;
        let summary: TraceSummary = serde_json::from_str(summary).unwrap();
        assert_eq!(
            (summary.status, summary.options, summary.tries),
            (TraceStatus::Stopped, TraceOptions::default(), 0)
        );
    }

    #[test]
    fn from_is_one_vantage_point_or_several_and_absent_for_the_server_itself() {
        let one: TraceRequest = serde_json::from_str(r#"{"target":"t","from":"sydney"}"#).unwrap();
        assert_eq!(one.from, ["sydney"]);
        let two: TraceRequest = serde_json::from_str(r#"{"target":"t","from":["a","b"]}"#).unwrap();
        assert_eq!(two.from, ["a", "b"]);
        let none: TraceRequest = serde_json::from_str(r#"{"target":"t"}"#).unwrap();
        assert!(none.from.is_empty());
        assert!(!serde_json::to_string(&none).unwrap().contains("from"));
        assert!(serde_json::from_str::<TraceRequest>(r#"{"target":"t","from":3}"#).is_err());
    }

    #[test]
    fn failed_and_finished_set_status() {
        let mut report = TraceReport::default();
        report.apply(&TraceEvent::Failed { reason: "cannot resolve".into() });
        assert_eq!(report.status, TraceStatus::Failed);
        assert!(TraceEvent::Failed { reason: String::new() }.is_terminal());
        report.apply(&TraceEvent::Finished { destination_reached: false, duration_ms: 5 });
        assert_eq!(report.status, TraceStatus::Finished);
        assert_eq!(report.duration_ms, Some(5));
    }
}
