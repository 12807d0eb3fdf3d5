//! The offline copy of a trace: `GET /api/traces/{id}.html`, one HTML file that keeps the route outside the server
//! (a course archive, a report) and opens from disk with no server and no network. It holds the map as inline SVG
//! (the page's offline world map, the arcs and numbered markers, drawn with the link preview's geometry), the hop
//! table, every replay sentence, the trace's settings and time, and the data credits. No script, no external
//! resource, and a Content-Security-Policy that forbids loading any.
//!
//! The words are `shared::words`', the same the page shows. Every value from a user or the network is escaped.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tracemap_shared::words::replay::{silent_tail, steps};
use tracemap_shared::words::verdict::{source_note, verdict_for, verdicts};
use tracemap_shared::words::{asn_label, format_rtt, geo_label, settings_text, utc_time};
use tracemap_shared::{Hop, TraceReport, TraceStatus};

use super::client::Client;
use super::preview::{
    BASEMAP_FILE, Basemap, View, continuous, description, escape, great_circle, origin, route, rtt_color, title,
};
use super::{AppError, AppState};

/// The map's size in the file (it scales with the window).
const MAP_WIDTH: f64 = 960.0;
/// See [`MAP_WIDTH`].
const MAP_HEIGHT: f64 = 480.0;

/// What the copy credits beside the trace's own data: the server's location and AS sources.
#[derive(Debug, Default, Clone)]
pub struct Credits {
    /// Labels of the server's location databases.
    pub geoip: Vec<String>,
    /// Labels of the server's AS sources.
    pub asn: Vec<String>,
}

/// `GET /api/traces/{id}.html`: the offline copy of trace `id`, as a download.
pub(super) async fn download(
    state: &AppState,
    id: &str,
    headers: &HeaderMap,
    client: &Client,
) -> Result<Response, AppError> {
    let report = super::current_report(state, id).await?.ok_or_else(AppError::trace_not_found)?;
    let credits = Credits {
        geoip: state.enricher.geoip_labels().into_iter().map(str::to_owned).collect(),
        asn: state.enricher.asn_labels().into_iter().map(str::to_owned).collect(),
    };
    let link = format!("{}/t/{id}", origin(headers, client));
    let (drawing, page) = (Arc::clone(&state.drawing), Arc::clone(&state.page));
    let html = tokio::task::spawn_blocking(move || {
        let basemap = drawing.basemap(|| page.bytes(BASEMAP_FILE).map(|bytes| bytes.to_vec()));
        render(&report, basemap, &credits, &link)
    })
    .await
    .map_err(|_| AppError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the offline copy could not be made"))?;
    let mut response = html.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"tracemap-{id}.html\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// The offline copy of `report` over `basemap`; `link` is its permalink, named in the file (not loaded).
pub fn render(report: &TraceReport, basemap: &Basemap, credits: &Credits, link: &str) -> String {
    let mut html = String::with_capacity(64 * 1024);
    let title_text = title(report);
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{} · tracemap</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<header>\n<h1>{}</h1>\n<p>{}</p>\n",
        escape(&title_text),
        escape(&title_text),
        escape(&description(report)),
    );
    let _ = writeln!(html, "<p id=\"settings\">{}</p>", escape(&settings_line(report)));
    let _ = writeln!(
        html,
        "<p class=\"note\">An offline copy made by tracemap; the trace's permalink: <code>{}</code></p>\n</header>",
        escape(link)
    );
    let _ = writeln!(html, "<main>\n<figure>{}<figcaption>{}</figcaption></figure>", svg(report, basemap), LEGEND);
    html.push_str(&table(report));
    html.push_str(&replay(report));
    html.push_str("</main>\n");
    html.push_str(&footer(report, credits));
    html.push_str("</body>\n</html>\n");
    html
}

/// `ICMP, IPv4, 3 probes per hop, timeout 2.00 s, TTL 1–30 · started 2026-11-29 22:58 UTC · finished in 1.2 s`.
fn settings_line(report: &TraceReport) -> String {
    let mut line = settings_text(report);
    if let Some(ms) = report.started_at_ms {
        let _ = write!(line, " · started {}", utc_time(ms));
    }
    let status = match report.status {
        TraceStatus::Running => "still running when this copy was made",
        TraceStatus::Finished => "finished",
        TraceStatus::Failed => "failed",
        TraceStatus::Interrupted => "interrupted",
        TraceStatus::Stopped => "stopped",
    };
    let _ = write!(line, " · {status}");
    if let Some(error) = &report.error {
        let _ = write!(line, ": {error}");
    }
    line
}

/// The route over the world map, as inline SVG: land, great-circle arcs (dashed towards a place the replies rule
/// out) and a numbered marker per located hop coloured by its fastest reply.
fn svg(report: &TraceReport, basemap: &Basemap) -> String {
    let (mut stops, points) = route(report);
    // Doubtful as the table and the sentences say: the server's verdict, else the pairwise check of the places.
    let verdicts = verdicts(report);
    for stop in &mut stops {
        let hop = stop.ttl.and_then(|ttl| report.hops.iter().find(|h| h.ttl == ttl));
        let verdict = hop.and_then(|h| verdict_for(&verdicts, h.ttl, h.address.as_deref()?));
        stop.doubtful |= verdict.is_some_and(|v| v.plausible == Some(false));
    }
    let view = View::fit(&points, MAP_WIDTH, MAP_HEIGHT, 0.0);
    let mut out = format!(
        "<svg id=\"map\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {MAP_WIDTH} {MAP_HEIGHT}\" role=\"img\" \
         aria-label=\"The route on a world map\"><rect width=\"100%\" height=\"100%\" class=\"sea\"/><path class=\"land\" d=\""
    );
    let in_view = |xs: &[(f32, f32)]| {
        let (w, h) = (MAP_WIDTH as f32, MAP_HEIGHT as f32);
        xs.iter().any(|&(x, _)| x >= 0.0)
            && xs.iter().any(|&(x, _)| x <= w)
            && xs.iter().any(|&(_, y)| y >= 0.0)
            && xs.iter().any(|&(_, y)| y <= h)
    };
    for polygon in basemap.polygons() {
        for offset in [-360.0, 0.0, 360.0] {
            let rings: Vec<Vec<(f32, f32)>> = polygon
                .iter()
                .map(|ring| continuous(ring).into_iter().map(|p| view.px([p[0] + offset, p[1]])).collect())
                .collect();
            if !rings.first().is_some_and(|outer| in_view(outer)) {
                continue;
            }
            for ring in rings {
                path_data(&mut out, &ring);
                out.push('Z');
            }
        }
    }
    out.push_str("\"/>");
    for (i, pair) in points.windows(2).enumerate() {
        let doubtful = stops[i].doubtful || stops[i + 1].doubtful;
        let arc = great_circle(pair[0], pair[1]);
        let shift = arc.first().map_or(0.0, |first| pair[0][0] - first[0]);
        let pixels: Vec<(f32, f32)> = arc.into_iter().map(|p| view.px([p[0] + shift, p[1]])).collect();
        out.push_str(if doubtful { "<path class=\"arc doubtful\" d=\"" } else { "<path class=\"arc\" d=\"" });
        path_data(&mut out, &pixels);
        out.push_str("\"/>");
    }
    for (stop, p) in stops.iter().zip(&points) {
        let (x, y) = view.px(*p);
        match stop.ttl {
            None => {
                let _ = write!(
                    out,
                    "<circle class=\"start\" cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"6\"><title>Start</title></circle>"
                );
            }
            Some(ttl) => {
                let colour = format!("#{:06x}", rtt_color(stop.rtt));
                let (fill, ink) = if stop.doubtful { ("#fff", colour.as_str()) } else { (colour.as_str(), "#fff") };
                let rtt = stop.rtt.map(|ms| format!(", {}", format_rtt(ms))).unwrap_or_default();
                let _ = write!(
                    out,
                    "<g class=\"marker\" data-ttl=\"{ttl}\"><title>Hop {ttl}{rtt}</title>\
                     <circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"11\" fill=\"{fill}\" stroke=\"{}\"/>\
                     <text x=\"{x:.1}\" y=\"{:.1}\" fill=\"{ink}\">{ttl}</text></g>",
                    if stop.doubtful { colour.as_str() } else { "#fff" },
                    y + 4.0,
                );
            }
        }
    }
    out.push_str("</svg>");
    out
}

/// SVG path data for a polyline, one decimal place (the map's size does not need more).
fn path_data(out: &mut String, points: &[(f32, f32)]) {
    for (i, (x, y)) in points.iter().enumerate() {
        let _ = write!(out, "{}{x:.1} {y:.1}", if i == 0 { 'M' } else { 'L' });
    }
}

const LEGEND: &str = "Markers are numbered by hop and coloured by the fastest reply: green under 30 ms, amber under \
                      120 ms, red slower; a hollow marker reached by a dashed line is a place its replies rule out.";

/// The hop table: one row per hop (a silent tail folded into one), each probe's time or `*`.
fn table(report: &TraceReport) -> String {
    let verdicts = verdicts(report);
    let tail = silent_tail(report);
    let mut out = String::from(
        "<h2>Hops</h2>\n<table id=\"hops\">\n<thead><tr><th>Hop</th><th>Host</th><th>Replies</th><th>Place</th>\
         <th>AS</th><th>Loss</th></tr></thead>\n<tbody>\n",
    );
    for (index, hop) in report.hops.iter().enumerate() {
        if let Some(tail) = tail.filter(|t| index >= t.index) {
            if index == tail.index {
                let _ = writeln!(
                    out,
                    "<tr class=\"silent\"><td>{}–{}</td><td colspan=\"5\">no answer</td></tr>",
                    tail.first, tail.last
                );
            }
            continue;
        }
        let host = match (&hop.address, &hop.hostname) {
            (Some(address), Some(name)) if name != address => {
                format!("{}<br><small>{}</small>", escape(name), escape(address))
            }
            (Some(address), _) => escape(address),
            (None, _) => "*".to_owned(),
        };
        let mut place = String::new();
        if let Some(geo) = &hop.geo {
            let _ = write!(place, "{}<br><small>{}</small>", escape(&geo_label(geo)), escape(&source_note(geo)));
            let doubt = hop.address.as_deref().and_then(|a| verdict_for(&verdicts, hop.ttl, a));
            if let Some(reason) = doubt.filter(|v| v.plausible == Some(false)).and_then(|v| v.reason.as_deref()) {
                let _ = write!(place, " <span class=\"doubtful\" title=\"{}\">doubtful</span>", escape(reason));
            }
        } else if let Some(kind) = hop.kind.as_deref().filter(|k| *k != "public") {
            let _ = write!(place, "<small>{} address</small>", escape(kind));
        }
        let asn = hop.asn.as_ref().map(|a| escape(&asn_label(a.number, a.org.as_deref()))).unwrap_or_default();
        let others = hop.other_addresses().map(|a| escape(&a.address)).collect::<Vec<_>>();
        let others =
            if others.is_empty() { String::new() } else { format!("<br><small>also {}</small>", others.join(", ")) };
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{host}{others}</td><td class=\"rtt\">{}</td><td>{place}</td><td>{asn}</td>\
             <td>{}</td></tr>",
            hop.ttl,
            replies(hop),
            loss(hop)
        );
    }
    out.push_str("</tbody>\n</table>\n");
    out
}

/// Each try's time, `*` or `*rl` (lost to a rate limit this server's traces had spent), with its flag.
fn replies(hop: &Hop) -> String {
    let cells: Vec<String> = hop
        .probes
        .iter()
        .enumerate()
        .map(|(i, probe)| match probe {
            Some(reply) => {
                let flag = reply.flag.as_deref().map(|f| format!(" {}", escape(f))).unwrap_or_default();
                format!("{}{flag}", format_rtt(reply.rtt_ms))
            }
            None if hop.rate_limited.iter().any(|&r| usize::from(r) == i) => "*rl".to_owned(),
            None => "*".to_owned(),
        })
        .collect();
    cells.join(" · ")
}

/// `1 of 3` lost, tries lost to a rate limit counted apart, or nothing when every try was answered.
fn loss(hop: &Hop) -> String {
    let sent = hop.probes.len();
    let rate_limited = hop.rate_limited.len().min(sent);
    let lost = sent.saturating_sub(hop.answered() + rate_limited);
    let mut parts = Vec::new();
    if lost > 0 {
        parts.push(format!("{lost} of {sent}"));
    }
    if rate_limited > 0 {
        parts.push(format!("{rate_limited} rl"));
    }
    parts.join(", ")
}

/// Every replay step's sentence, in order: what the teacher reads aloud when stepping through the trace.
fn replay(report: &TraceReport) -> String {
    let steps = steps(report);
    if steps.is_empty() {
        return String::new();
    }
    let mut out = String::from("<h2>Step by step</h2>\n<ol id=\"replay\">\n");
    for step in steps {
        let _ = writeln!(out, "<li value=\"{}\">{}</li>", step.ttl, escape(&step.sentence));
    }
    out.push_str("</ol>\n");
    out
}

/// Credits the data's licences require, for the sources in use, as on the page's footer.
fn footer(report: &TraceReport, credits: &Credits) -> String {
    let mut sources: Vec<&str> = Vec::new();
    let hops = report.hops.iter().filter_map(|h| h.geo.as_ref()?.source.as_deref());
    for source in credits.geoip.iter().map(String::as_str).chain(hops) {
        if !source.is_empty() && !sources.contains(&source) {
            sources.push(source);
        }
    }
    let is_dbip = |s: &str| {
        let s = s.to_ascii_lowercase();
        s.contains("dbip") || s.contains("db-ip")
    };
    let mut parts = Vec::new();
    if sources.iter().any(|s| is_dbip(s)) {
        parts.push("IP geolocation by DB-IP (db-ip.com, CC BY 4.0)".to_owned());
    }
    let others: Vec<&str> = sources.iter().copied().filter(|s| !is_dbip(s)).collect();
    if !others.is_empty() {
        parts.push(format!("Locations: {}", others.join(", ")));
    }
    if !credits.asn.is_empty() {
        parts.push(format!("AS numbers: {}", credits.asn.join(", ")));
    }
    parts.push("Places in router names: GeoNames (CC BY 4.0), airportsdata".to_owned());
    parts.push("Basemap made with Natural Earth".to_owned());
    format!("<footer id=\"credits\">{}</footer>\n", escape(&parts.join(" · ")))
}

const STYLE: &str = "\
body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1000px;padding:16px;color:#141e2c;background:#fff}\
h1{font-size:1.5em;margin:.2em 0}h2{font-size:1.15em;margin:1.2em 0 .4em}\
header p{margin:.2em 0;color:#4a5566}.note{font-size:.85em}code{word-break:break-all}\
figure{margin:12px 0}figcaption{font-size:.85em;color:#4a5566}\
svg{width:100%;height:auto;display:block;border:1px solid #c8cfd8}\
.sea{fill:#d4e4ee}.land{fill:#f3efe6;stroke:#b5ad9c;stroke-width:.5;fill-rule:evenodd}\
.arc{fill:none;stroke:#1f5fbf;stroke-width:3;stroke-linecap:round;stroke-linejoin:round}\
.arc.doubtful{stroke-width:1.6;stroke-dasharray:4 4}.start{fill:#222;stroke:#fff;stroke-width:2}\
.marker circle{stroke-width:2}.marker text{font:bold 11px system-ui,sans-serif;text-anchor:middle}\
table{border-collapse:collapse;width:100%;font-size:.92em}th,td{text-align:left;padding:4px 6px;\
border-bottom:1px solid #dde2e8;vertical-align:top}th{background:#f0f3f6}td.rtt{white-space:nowrap}\
small{color:#4a5566}.silent td{color:#4a5566}.doubtful{color:#a33;font-weight:600}\
ol li{margin:.3em 0}footer{margin-top:2em;font-size:.8em;color:#4a5566}\
@media (prefers-color-scheme:dark){body{background:#121820;color:#e4e8ee}header p,small,figcaption,footer,\
.silent td{color:#a9b3c1}th{background:#1d2530}th,td{border-color:#2c3644}.doubtful{color:#f08080}}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_copy_holds_the_map_table_sentences_and_credits_and_loads_nothing() {
        let report = super::super::preview::tests::sample();
        let world = super::super::preview::tests::world();
        let credits = Credits { geoip: vec!["DBIP-City-Lite".into()], asn: vec!["ip-location-db asn".into()] };
        let html = render(&report, &world, &credits, "http://example.test/t/abc");
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains("<svg id=\"map\""), "an inline map");
        if !world.polygons().is_empty() {
            assert!(html.contains("class=\"land\" d=\"M"), "land drawn");
        }
        assert_eq!(html.matches("<g class=\"marker\"").count(), report.hops.iter().filter(|h| h.geo.is_some()).count());
        assert!(html.contains("<table id=\"hops\">"));
        assert_eq!(html.matches("<li value=").count(), steps(&report).len());
        assert!(html.contains("IP geolocation by DB-IP"));
        assert!(html.contains("default-src 'none'"));
        for loader in ["<script", "<link", "<img", "src=", "url(", "@import"] {
            assert!(!html.contains(loader), "{loader} would load something");
        }
    }

    #[test]
    fn values_from_the_network_are_escaped() {
        let mut report = super::super::preview::tests::sample();
        report.target = "<script>alert(1)</script>".into();
        report.hops[0].hostname = Some("\"><img src=x>".into());
        let html = render(&report, &Basemap::default(), &Credits::default(), "<b>");
        assert!(!html.contains("<script>alert"), "target escaped");
        assert!(!html.contains("<img src=x>"), "hostname escaped");
        assert!(!html.contains("<b>"), "link escaped");
    }
}
