//! Link previews: what a chat or a course page shows for a pasted `/t/{id}`. The permalink's HTML carries Open
//! Graph and Twitter-card tags (a title such as "Route to example.net: 12 hops, reached in 84 ms", a description
//! with the first and last places and the AS path, and `og:image`), and `/t/{id}.png` is a 1200 × 630 picture of
//! the route drawn here: the page's offline world map (Natural Earth via world-atlas), great-circle arcs, numbered
//! markers and the title. No browser, no tile server. Text needs a TrueType font read at run time (DejaVu Sans
//! from Debian's `fonts-dejavu-core`); without one the picture is drawn without words.
//!
//! Every interpolated value is HTML-escaped: targets, names, places and AS names come from users and the network.

use std::f64::consts::PI;
use std::fmt::Write as _;
use std::sync::{Arc, OnceLock};

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use ab_glyph::{Font, FontArc, PxScale, ScaleFont, point};
use tiny_skia::{
    Color, FillRule, LineCap, LineJoin, Paint, PathBuilder, Pixmap, PremultipliedColorU8, Rect, Stroke, StrokeDash,
    Transform,
};
use tracemap_shared::topojson::{self, Geometry, Position};
use tracemap_shared::words::escape_html;
use tracemap_shared::{Hop, TraceReport, TraceStatus};

use super::client::Client;
use super::{AppError, AppState};

/// The picture's size, the one link unfurlers ask for.
pub const WIDTH: u32 = 1200;
/// See [`WIDTH`].
pub const HEIGHT: u32 = 630;
/// The band at the top that holds the title and the description.
const BAND: f32 = 118.0;
/// Where the fonts are looked for, in order (Debian's `fonts-dejavu-core`).
const FONT_PATHS: &[&str] =
    &["/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"];
/// The page's offline basemap file (copied into the built page from npm `world-atlas`).
pub const BASEMAP_FILE: &str = "countries-110m.json";

/// The world map's polygons, each a list of rings in degrees.
#[derive(Debug, Default)]
pub struct Basemap {
    polygons: Vec<Vec<Vec<Position>>>,
}

impl Basemap {
    /// The countries of a world-atlas TopoJSON file.
    pub fn from_topojson(text: &str) -> Result<Basemap, topojson::TopoError> {
        let collection = topojson::decode_object(text, "countries")?;
        let mut polygons = Vec::new();
        fn collect(geometry: Geometry, out: &mut Vec<Vec<Vec<Position>>>) {
            match geometry {
                Geometry::Polygon { coordinates } => out.push(coordinates),
                Geometry::MultiPolygon { coordinates } => out.extend(coordinates),
                Geometry::GeometryCollection { geometries } => geometries.into_iter().for_each(|g| collect(g, out)),
                _ => {}
            }
        }
        for feature in collection.features {
            if let Some(geometry) = feature.geometry {
                collect(geometry, &mut polygons);
            }
        }
        Ok(Basemap { polygons })
    }

    /// Each country's polygons: rings of `[lon, lat]` in degrees.
    pub fn polygons(&self) -> &[Vec<Vec<Position>>] {
        &self.polygons
    }
}

/// What drawing needs and is read once: the basemap (from the page) and the font.
#[derive(Debug, Default)]
pub struct Drawing {
    basemap: OnceLock<Basemap>,
    font: OnceLock<Option<FontArc>>,
}

impl Drawing {
    /// The basemap, decoded on first use from the page's copy of `countries-110m.json` (empty when missing).
    pub fn basemap(&self, page_file: impl FnOnce() -> Option<Vec<u8>>) -> &Basemap {
        self.basemap.get_or_init(|| {
            let text = page_file().and_then(|bytes| String::from_utf8(bytes).ok()).unwrap_or_default();
            Basemap::from_topojson(&text).unwrap_or_else(|error| {
                tracing::warn!(%error, "link previews are drawn without a world map");
                Basemap::default()
            })
        })
    }

    /// The first font of [`FONT_PATHS`] that reads, once.
    pub fn font(&self) -> Option<&FontArc> {
        self.font
            .get_or_init(|| {
                let font = FONT_PATHS
                    .iter()
                    .find_map(|path| std::fs::read(path).ok().and_then(|data| FontArc::try_from_vec(data).ok()));
                if font.is_none() {
                    tracing::warn!(paths = ?FONT_PATHS, "no font for link previews: pictures are drawn without text");
                }
                font
            })
            .as_ref()
    }
}

/// `text` safe inside HTML text and double- or single-quoted attributes ([`escape_html`]), with control characters
/// turned into spaces first: a name from the network with a newline or a bell in it stays on one line in a tag.
pub fn escape(text: &str) -> String {
    let plain: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    escape_html(&plain)
}

/// A round trip in words: `84 ms`, `4.1 ms`, `0.04 ms`.
fn rtt_text(ms: f64) -> String {
    if ms >= 10.0 {
        format!("{ms:.0} ms")
    } else if ms >= 1.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.2} ms")
    }
}

fn fastest(hop: &Hop) -> Option<f64> {
    hop.probes.iter().flatten().map(|reply| reply.rtt_ms).filter(|rtt| rtt.is_finite()).reduce(f64::min)
}

/// The one-line title: "Route to example.net: 12 hops, reached in 84 ms".
pub fn title(report: &TraceReport) -> String {
    let target = &report.target;
    let hops = report.hops.len();
    let hops = format!("{hops} hop{}", if hops == 1 { "" } else { "s" });
    match report.status {
        TraceStatus::Running => format!("Route to {target}: tracing, {hops} so far"),
        TraceStatus::Failed => format!("Trace to {target} failed"),
        _ if report.destination_reached => match report.hops.last().and_then(fastest) {
            Some(rtt) => format!("Route to {target}: {hops}, reached in {}", rtt_text(rtt)),
            None => format!("Route to {target}: {hops}, reached"),
        },
        _ => format!("Route to {target}: {hops}, no answer from the destination"),
    }
}

fn place_name(geo: &tracemap_shared::Geo) -> Option<String> {
    let parts: Vec<&str> = [geo.city.as_deref(), geo.country_code.as_deref().or(geo.country.as_deref())]
        .into_iter()
        .flatten()
        .filter(|s| !s.is_empty())
        .collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// The description: first and last places, then the AS path (each AS once, in order).
pub fn description(report: &TraceReport) -> String {
    let places: Vec<String> = report
        .location
        .iter()
        .chain(report.hops.iter().filter_map(|h| h.geo.as_ref()))
        .filter_map(place_name)
        .collect();
    let mut parts = Vec::new();
    match (places.first(), places.last()) {
        (Some(first), Some(last)) if first != last => parts.push(format!("From {first} to {last}")),
        (Some(only), _) => parts.push(format!("In {only}")),
        _ => {}
    }
    let mut path: Vec<String> = Vec::new();
    let mut last = None;
    for asn in report.hops.iter().filter_map(|h| h.asn.as_ref()) {
        if last == Some(asn.number) {
            continue;
        }
        last = Some(asn.number);
        path.push(match asn.org.as_deref().filter(|o| !o.is_empty()) {
            Some(org) => format!("AS{} {org}", asn.number),
            None => format!("AS{}", asn.number),
        });
    }
    if !path.is_empty() {
        parts.push(format!("AS path: {}", path.join(" → ")));
    }
    if parts.is_empty() {
        parts.push(format!("A traceroute to {} drawn on a map by tracemap", report.target));
    }
    parts.join(". ")
}

/// The tags for the permalink `{base}/t/{id}`, to go into the page's `<head>`. `base` is the server's own origin.
pub fn meta_tags(report: &TraceReport, base: &str, id: &str) -> String {
    let (title, description) = (escape(&title(report)), escape(&description(report)));
    let (url, image) = (escape(&format!("{base}/t/{id}")), escape(&format!("{base}/t/{id}.png")));
    let mut out = String::new();
    let _ = write!(
        out,
        "<meta property=\"og:type\" content=\"website\">\
         <meta property=\"og:site_name\" content=\"tracemap\">\
         <meta property=\"og:title\" content=\"{title}\">\
         <meta property=\"og:description\" content=\"{description}\">\
         <meta property=\"og:url\" content=\"{url}\">\
         <meta property=\"og:image\" content=\"{image}\">\
         <meta property=\"og:image:width\" content=\"{WIDTH}\">\
         <meta property=\"og:image:height\" content=\"{HEIGHT}\">\
         <meta property=\"og:image:alt\" content=\"{title}\">\
         <meta name=\"twitter:card\" content=\"summary_large_image\">\
         <meta name=\"twitter:title\" content=\"{title}\">\
         <meta name=\"twitter:description\" content=\"{description}\">\
         <meta name=\"twitter:image\" content=\"{image}\">\
         <meta name=\"description\" content=\"{description}\">"
    );
    out
}

/// The page's `index.html` with the tags put before `</head>` and its `<title>` naming the route.
pub fn page_with_tags(index: &str, report: &TraceReport, base: &str, id: &str) -> String {
    let tags = meta_tags(report, base, id);
    // Before `</head>`; a page without one (not Trunk's) gets them after its title, never before a doctype.
    let at = index.find("</head>").or_else(|| index.find("</title>").map(|at| at + "</title>".len())).unwrap_or(0);
    let mut page = format!("{}{tags}{}", &index[..at], &index[at..]);
    if let (Some(start), Some(end)) = (page.find("<title>"), page.find("</title>"))
        && start < end
    {
        page.replace_range(start + "<title>".len()..end, &format!("{} · tracemap", escape(&title(report))));
    }
    page
}

/// `GET /t/{id}`: the page, its head carrying the tags of trace `id` when there is one (else the plain page, which
/// says what is wrong); `GET /t/{id}.png`: the trace's picture.
pub(super) async fn permalink(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Extension(client): Extension<Client>,
    headers: HeaderMap,
) -> Response {
    if let Some(id) = id.strip_suffix(".png") {
        return picture(&state, id).await;
    }
    let plain = || state.page.serve("index.html", &headers);
    let Some(index) = state.page.bytes("index.html") else { return plain() };
    let Ok(index) = std::str::from_utf8(&index) else { return plain() };
    let report = match super::current_report(&state, &id).await {
        Ok(Some(report)) => report,
        _ => return plain(),
    };
    let html = page_with_tags(index, &report, &origin(&headers, &client), &id);
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CACHE_CONTROL, "no-cache")], html).into_response()
}

/// The origin the client reached this server by (unfurlers want absolute URLs): the `Host` header, or from a
/// trusted proxy the host and scheme it forwards. A host with characters no host name has is not repeated.
pub(super) fn origin(headers: &HeaderMap, client: &Client) -> String {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let host = client
        .forwarded_host
        .as_deref()
        .filter(|_| client.via_proxy)
        .or_else(|| header("host"))
        .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b)))
        .unwrap_or("localhost");
    let https = client.via_proxy && header("x-forwarded-proto").is_some_and(|p| p.eq_ignore_ascii_case("https"));
    format!("{}://{host}", if https { "https" } else { "http" })
}

/// The picture of trace `id`: the stored one, or drawn now (on the blocking pool) and stored once the trace has
/// ended. A running trace's picture is drawn afresh each time and not cached.
async fn picture(state: &AppState, id: &str) -> Response {
    match state.store.preview(id).await {
        Ok(Some(png)) => return png_response(png, false),
        Ok(None) => {}
        Err(error) => return AppError::from(error).into_response(),
    }
    let report = match super::current_report(state, id).await {
        Ok(Some(report)) => report,
        Ok(None) => return AppError::trace_not_found().into_response(),
        Err(error) => return error.into_response(),
    };
    let running = report.status == TraceStatus::Running || state.hub.get(id).is_some();
    let (drawing, page) = (Arc::clone(&state.drawing), Arc::clone(&state.page));
    let drawn = tokio::task::spawn_blocking(move || {
        let basemap = drawing.basemap(|| page.bytes(BASEMAP_FILE).map(|bytes| bytes.to_vec()));
        render(&report, basemap, drawing.font())
    })
    .await;
    match drawn {
        Ok(Ok(png)) => {
            if !running && let Err(error) = state.store.set_preview(id, png.clone()).await {
                tracing::warn!(%id, %error, "could not keep a preview; it will be drawn again");
            }
            png_response(png, running)
        }
        Ok(Err(error)) => {
            tracing::error!(%id, %error, "could not draw a preview");
            AppError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the picture could not be drawn")
                .into_response()
        }
        Err(_) => AppError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the picture could not be drawn")
            .into_response(),
    }
}

fn png_response(png: Vec<u8>, running: bool) -> Response {
    let cache = if running { "no-cache" } else { "public, max-age=86400" };
    ([(header::CONTENT_TYPE, "image/png"), (header::CACHE_CONTROL, cache)], png).into_response()
}

/// Web Mercator, in units of the world's width (x in [0, 1), y growing southwards).
fn mercator(lon: f64, lat: f64) -> (f64, f64) {
    let lat = lat.clamp(-85.0, 85.0).to_radians();
    let x = (lon + 180.0) / 360.0;
    let y = (1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / PI) / 2.0;
    (x, y)
}

/// Points along the great circle from `a` to `b` (degrees, `[lon, lat]`), longitudes kept continuous.
pub(super) fn great_circle(a: Position, b: Position) -> Vec<Position> {
    let to_vec = |p: Position| {
        let (lon, lat) = (p[0].to_radians(), p[1].to_radians());
        [lat.cos() * lon.cos(), lat.cos() * lon.sin(), lat.sin()]
    };
    let (va, vb) = (to_vec(a), to_vec(b));
    let dot = (va[0] * vb[0] + va[1] * vb[1] + va[2] * vb[2]).clamp(-1.0, 1.0);
    let angle = dot.acos();
    let steps = ((angle.to_degrees() / 2.0).ceil() as usize).clamp(1, 90);
    let mut out: Vec<Position> = Vec::with_capacity(steps + 1);
    for i in 0..=steps {
        let t = i as f64 / steps as f64;
        let p = if angle < 1e-9 {
            va
        } else {
            let (sa, sb) = (((1.0 - t) * angle).sin() / angle.sin(), (t * angle).sin() / angle.sin());
            [sa * va[0] + sb * vb[0], sa * va[1] + sb * vb[1], sa * va[2] + sb * vb[2]]
        };
        let lat = p[2].atan2((p[0] * p[0] + p[1] * p[1]).sqrt()).to_degrees();
        let mut lon = p[1].atan2(p[0]).to_degrees();
        if let Some(prev) = out.last() {
            while lon - prev[0] > 180.0 {
                lon -= 360.0;
            }
            while prev[0] - lon > 180.0 {
                lon += 360.0;
            }
        }
        out.push([lon, lat]);
    }
    out
}

/// Maps degrees to pixels of the map area.
pub(super) struct View {
    x0: f64,
    y0: f64,
    scale: f64,
    top: f64,
}

impl View {
    /// A view of every point (degrees) in a map area `width` × `height` pixels whose top is `top` pixels down,
    /// padded, no closer than about 25° of longitude, or the world.
    pub(super) fn fit(points: &[Position], width: f64, height: f64, top: f64) -> View {
        let (w, h) = (width, height);
        let projected: Vec<(f64, f64)> = points.iter().map(|p| mercator(p[0], p[1])).collect();
        let (mut min_x, mut max_x, mut min_y, mut max_y) = match projected.first() {
            None => {
                let (x0, y0) = mercator(-180.0, 78.0);
                let (x1, y1) = mercator(180.0, -58.0);
                (x0, x1, y0, y1)
            }
            Some(&(x, y)) => {
                projected.iter().fold((x, x, y, y), |(a, b, c, d), &(x, y)| (a.min(x), b.max(x), c.min(y), d.max(y)))
            }
        };
        let min_span = 25.0 / 360.0;
        let (cx, cy) = ((min_x + max_x) / 2.0, (min_y + max_y) / 2.0);
        let span_x = ((max_x - min_x) * 1.3).max(min_span);
        let span_y = ((max_y - min_y) * 1.3).max(min_span * h / w);
        min_x = cx - span_x / 2.0;
        max_x = cx + span_x / 2.0;
        min_y = cy - span_y / 2.0;
        max_y = cy + span_y / 2.0;
        let scale = (w / (max_x - min_x)).min(h / (max_y - min_y));
        let x0 = (min_x + max_x) / 2.0 - w / scale / 2.0;
        let y0 = (min_y + max_y) / 2.0 - h / scale / 2.0;
        View { x0, y0, scale, top }
    }

    /// Pixels of a point (degrees).
    pub(super) fn px(&self, p: Position) -> (f32, f32) {
        let (x, y) = mercator(p[0], p[1]);
        (((x - self.x0) * self.scale) as f32, ((y - self.y0) * self.scale + self.top) as f32)
    }
}

fn color(hex: u32) -> Color {
    Color::from_rgba8((hex >> 16) as u8, (hex >> 8) as u8, hex as u8, 255)
}

fn paint(hex: u32) -> Paint<'static> {
    let mut paint = Paint::default();
    paint.set_color(color(hex));
    paint.anti_alias = true;
    paint
}

/// A marker's colour by round-trip time, as on the page: fast green, middling amber, slow red.
pub(super) fn rtt_color(rtt: Option<f64>) -> u32 {
    match rtt {
        Some(ms) if ms < 30.0 => 0x2e7d32,
        Some(ms) if ms < 120.0 => 0xb26a00,
        Some(_) => 0xc62828,
        None => 0x606060,
    }
}

/// Draws `text` with its left end at `x` on `baseline`, blending into `pixmap`; returns its width.
fn draw_text(pixmap: &mut Pixmap, font: &FontArc, text: &str, size: f32, x: f32, baseline: f32, rgb: u32) -> f32 {
    let scaled = font.as_scaled(PxScale::from(size));
    let (width, height) = (pixmap.width() as i32, pixmap.height() as i32);
    let (r, g, b) = (((rgb >> 16) & 255) as f32, ((rgb >> 8) & 255) as f32, (rgb & 255) as f32);
    let mut caret = x;
    let mut previous = None;
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        if let Some(previous) = previous {
            caret += scaled.kern(previous, id);
        }
        let glyph = id.with_scale_and_position(size, point(caret, baseline));
        caret += scaled.h_advance(id);
        previous = Some(id);
        let Some(outline) = font.outline_glyph(glyph) else { continue };
        let bounds = outline.px_bounds();
        let pixels = pixmap.pixels_mut();
        outline.draw(|gx, gy, coverage| {
            let (px, py) = (bounds.min.x as i32 + gx as i32, bounds.min.y as i32 + gy as i32);
            if px < 0 || py < 0 || px >= width || py >= height {
                return;
            }
            let Some(dst) = pixels.get_mut((py * width + px) as usize) else { return };
            let a = coverage.clamp(0.0, 1.0);
            let mix = |src: f32, dst: u8| (src * a + f32::from(dst) * (1.0 - a)).round() as u8;
            // Everything under text is opaque, so premultiplied and plain colours are the same here.
            if let Some(out) =
                PremultipliedColorU8::from_rgba(mix(r, dst.red()), mix(g, dst.green()), mix(b, dst.blue()), 255)
            {
                *dst = out;
            }
        });
    }
    caret - x
}

fn text_width(font: &FontArc, text: &str, size: f32) -> f32 {
    let scaled = font.as_scaled(PxScale::from(size));
    let mut previous = None;
    let mut width = 0.0;
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        if let Some(previous) = previous {
            width += scaled.kern(previous, id);
        }
        width += scaled.h_advance(id);
        previous = Some(id);
    }
    width
}

/// `text` at the largest size from `size` down to `min` that fits `room`, cut with an ellipsis if none does.
fn fitted(font: &FontArc, text: &str, size: f32, min: f32, room: f32) -> (String, f32) {
    let mut size = size;
    while size > min && text_width(font, text, size) > room {
        size -= 2.0;
    }
    let mut kept: Vec<char> = text.chars().collect();
    let mut text = text.to_owned();
    while kept.len() > 1 && text_width(font, &text, size) > room {
        kept.pop();
        while kept.last() == Some(&' ') {
            kept.pop();
        }
        text = kept.iter().collect::<String>() + "…";
    }
    (text, size)
}

/// A place on the route: the prober's own (no TTL) or a located hop's, with its fastest reply and whether the
/// replies rule the place out.
pub(super) struct Stop {
    /// The hop's TTL (its marker's number); `None` for the prober.
    pub ttl: Option<u8>,
    /// The hop's fastest reply, in milliseconds.
    pub rtt: Option<f64>,
    /// Whether the place cannot be true (drawn hollow, reached by a dashed line).
    pub doubtful: bool,
}

/// The route's places (the prober's own when known, then each located hop) and their positions, longitudes made
/// continuous along the route so an arc across the Pacific does not circle the world.
pub(super) fn route(report: &TraceReport) -> (Vec<Stop>, Vec<Position>) {
    let places: Vec<(Stop, Position)> = report
        .location
        .iter()
        .map(|geo| (Stop { ttl: None, rtt: None, doubtful: false }, [geo.lon, geo.lat]))
        .chain(report.hops.iter().filter_map(|hop| {
            let geo = hop.geo.as_ref()?;
            let stop = Stop { ttl: Some(hop.ttl), rtt: fastest(hop), doubtful: geo.plausible == Some(false) };
            Some((stop, [geo.lon, geo.lat]))
        }))
        .collect();
    let (stops, points): (Vec<Stop>, Vec<Position>) = places.into_iter().unzip();
    (stops, continuous(&points))
}

/// `points` with each longitude moved by whole turns to within 180° of the one before.
pub(super) fn continuous(points: &[Position]) -> Vec<Position> {
    let mut out: Vec<Position> = Vec::with_capacity(points.len());
    for p in points {
        let mut lon = p[0];
        if let Some(prev) = out.last() {
            while lon - prev[0] > 180.0 {
                lon -= 360.0;
            }
            while prev[0] - lon > 180.0 {
                lon += 360.0;
            }
        }
        out.push([lon, p[1]]);
    }
    out
}

/// The route of `report` as a 1200 × 630 PNG over `basemap`, with the title when there is a `font`.
pub fn render(report: &TraceReport, basemap: &Basemap, font: Option<&FontArc>) -> Result<Vec<u8>, String> {
    let mut pixmap = Pixmap::new(WIDTH, HEIGHT).ok_or("cannot allocate the picture")?;
    pixmap.fill(color(0xd4e4ee));

    let (stops, route) = route(report);
    let view = View::fit(&route, f64::from(WIDTH), f64::from(HEIGHT) - f64::from(BAND), f64::from(BAND));

    // Land, drawn at the three world copies a view can reach.
    let land = paint(0xf3efe6);
    let mut border = paint(0xb5ad9c);
    border.anti_alias = true;
    let thin = Stroke { width: 0.8, ..Stroke::default() };
    for polygon in basemap.polygons() {
        for offset in [-360.0, 0.0, 360.0] {
            let mut builder = PathBuilder::new();
            for ring in polygon {
                // Rings that cross the antimeridian are made continuous, then drawn at each copy.
                for (i, p) in continuous(ring).into_iter().enumerate() {
                    let (x, y) = view.px([p[0] + offset, p[1]]);
                    if i == 0 { builder.move_to(x, y) } else { builder.line_to(x, y) }
                }
                builder.close();
            }
            if let Some(path) = builder.finish() {
                let bounds = path.bounds();
                if bounds.right() < 0.0 || bounds.left() > WIDTH as f32 || bounds.bottom() < BAND {
                    continue;
                }
                pixmap.fill_path(&path, &land, FillRule::EvenOdd, Transform::identity(), None);
                pixmap.stroke_path(&path, &border, &thin, Transform::identity(), None);
            }
        }
    }

    // Arcs between consecutive places: solid, or finely dashed towards a place the replies rule out.
    let arc = paint(0x1f5fbf);
    for (i, pair) in route.windows(2).enumerate() {
        let doubtful = stops[i].doubtful || stops[i + 1].doubtful;
        let mut builder = PathBuilder::new();
        let points = great_circle(pair[0], pair[1]);
        // The arc starts where the continuous route does (a whole number of turns away, if any).
        let shift = points.first().map_or(0.0, |first| pair[0][0] - first[0]);
        for (j, p) in points.into_iter().enumerate() {
            let (x, y) = view.px([p[0] + shift, p[1]]);
            if j == 0 { builder.move_to(x, y) } else { builder.line_to(x, y) }
        }
        let Some(path) = builder.finish() else { continue };
        let stroke = Stroke {
            width: if doubtful { 2.5 } else { 4.5 },
            line_cap: LineCap::Round,
            line_join: LineJoin::Round,
            dash: if doubtful { StrokeDash::new(vec![6.0, 6.0], 0.0) } else { None },
            ..Stroke::default()
        };
        pixmap.stroke_path(&path, &arc, &stroke, Transform::identity(), None);
    }

    // Markers: the prober a dark dot, each hop a numbered disc coloured by its fastest reply.
    let white = paint(0xffffff);
    let ring = Stroke { width: 3.0, ..Stroke::default() };
    for (Stop { ttl, rtt, doubtful }, p) in stops.iter().zip(&route) {
        let (x, y) = view.px(*p);
        let radius = if ttl.is_some() { 17.0 } else { 9.0 };
        let Some(circle) = PathBuilder::from_circle(x, y, radius) else { continue };
        let fill = if ttl.is_some() { rtt_color(*rtt) } else { 0x222222 };
        if *doubtful {
            pixmap.fill_path(&circle, &white, FillRule::Winding, Transform::identity(), None);
            pixmap.stroke_path(&circle, &paint(fill), &ring, Transform::identity(), None);
        } else {
            pixmap.fill_path(&circle, &paint(fill), FillRule::Winding, Transform::identity(), None);
            pixmap.stroke_path(&circle, &white, &ring, Transform::identity(), None);
        }
        if let (Some(ttl), Some(font)) = (ttl, font) {
            let label = ttl.to_string();
            let size = if label.len() > 2 { 14.0 } else { 17.0 };
            let w = text_width(font, &label, size);
            let ink = if *doubtful { fill } else { 0xffffff };
            draw_text(&mut pixmap, font, &label, size, x - w / 2.0, y + size * 0.36, ink);
        }
    }

    // The band: title and description, and the credit for the map.
    let band = Rect::from_xywh(0.0, 0.0, WIDTH as f32, BAND).ok_or("band")?;
    pixmap.fill_rect(band, &paint(0xffffff), Transform::identity(), None);
    let rule = Rect::from_xywh(0.0, BAND - 3.0, WIDTH as f32, 3.0).ok_or("rule")?;
    pixmap.fill_rect(rule, &paint(0x1f5fbf), Transform::identity(), None);
    if let Some(font) = font {
        let room = WIDTH as f32 - 72.0;
        let (text, size) = fitted(font, &title(report), 44.0, 28.0, room);
        draw_text(&mut pixmap, font, &text, size, 36.0, 58.0, 0x141e2c);
        let (text, size) = fitted(font, &description(report), 24.0, 16.0, room);
        draw_text(&mut pixmap, font, &text, size, 36.0, 96.0, 0x4a5566);
        let credit = "tracemap · map: Natural Earth";
        let w = text_width(font, credit, 15.0);
        let back = Rect::from_xywh(WIDTH as f32 - w - 20.0, HEIGHT as f32 - 26.0, w + 20.0, 26.0).ok_or("credit")?;
        pixmap.fill_rect(back, &paint(0xffffff), Transform::identity(), None);
        draw_text(&mut pixmap, font, credit, 15.0, WIDTH as f32 - w - 10.0, HEIGHT as f32 - 8.0, 0x4a5566);
    }
    pixmap.encode_png().map_err(|e| e.to_string())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use tracemap_shared::{Asn, Geo, ProbeReply, Protocol, ReplyKind};

    fn geo(city: &str, code: &str, lat: f64, lon: f64) -> Geo {
        Geo { city: Some(city.into()), country_code: Some(code.into()), ..Geo::at(lat, lon) }
    }

    fn hop(ttl: u8, rtt: f64, geo: Option<Geo>, asn: Option<(u32, &str)>) -> Hop {
        Hop {
            ttl,
            probes: vec![Some(ProbeReply::new(format!("192.0.2.{ttl}"), rtt, ReplyKind::TimeExceeded)), None],
            address: Some(format!("192.0.2.{ttl}")),
            geo,
            hostname: None,
            asn: asn.map(|(number, org)| Asn { number, org: Some(org.into()), source: None }),
            kind: None,
            ..Hop::new(ttl, 2)
        }
    }

    /// A made-up route from Sydney to Frankfurt, for the tests and the example in `docs/`.
    pub(crate) fn sample() -> TraceReport {
        let mut report = TraceReport::new("example.net", Protocol::Icmp);
        report.status = TraceStatus::Finished;
        report.destination_reached = true;
        report.location = Some(geo("Sydney", "AU", -33.87, 151.21));
        report.hops = vec![
            hop(1, 0.4, None, None),
            hop(2, 2.1, Some(geo("Sydney", "AU", -33.87, 151.21)), Some((64500, "Southern Cross Transit"))),
            hop(3, 95.3, Some(geo("Singapore", "SG", 1.29, 103.85)), Some((64500, "Southern Cross Transit"))),
            hop(4, 152.0, Some(geo("Mumbai", "IN", 19.08, 72.88)), Some((64501, "Arabian Sea Cable"))),
            hop(5, 251.4, Some(geo("Marseille", "FR", 43.30, 5.37)), Some((64502, "Euro <Backbone> & Co"))),
            hop(6, 262.8, Some(geo("Frankfurt", "DE", 50.11, 8.68)), Some((64503, "Example Hosting"))),
        ];
        report
    }

    /// The world-atlas countries the page's basemap is made from (empty, with a note, when npm has not run).
    pub(crate) fn world() -> Basemap {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../node_modules/world-atlas/countries-110m.json");
        match std::fs::read_to_string(path) {
            Ok(text) => Basemap::from_topojson(&text).expect("world-atlas decodes"),
            Err(_) => {
                assert!(std::env::var("CI").as_deref() != Ok("true"), "{path} missing: run scripts/setup.sh");
                eprintln!("SKIPPED the world map: {path} missing (run scripts/setup.sh)");
                Basemap::default()
            }
        }
    }

    #[test]
    fn titles_and_descriptions_say_what_the_route_did() {
        let report = sample();
        assert_eq!(title(&report), "Route to example.net: 6 hops, reached in 263 ms");
        assert_eq!(
            description(&report),
            "From Sydney, AU to Frankfurt, DE. AS path: AS64500 Southern Cross Transit → AS64501 Arabian Sea Cable → \
             AS64502 Euro <Backbone> & Co → AS64503 Example Hosting"
        );
        let mut unreached = report.clone();
        unreached.destination_reached = false;
        assert_eq!(title(&unreached), "Route to example.net: 6 hops, no answer from the destination");
        assert_eq!(description(&TraceReport::new("h", Protocol::Icmp)), "A traceroute to h drawn on a map by tracemap");
    }

    #[test]
    fn every_interpolated_value_is_escaped() {
        let mut report = sample();
        report.target = "\"><script>alert(1)</script>".into();
        let page = page_with_tags(
            "<html><head><title>tracemap</title></head><body></body></html>",
            &report,
            "http://h",
            "id'1",
        );
        assert!(!page.contains("<script>"), "{page}");
        assert!(page.contains("&lt;Backbone&gt; &amp; Co"), "{page}");
        assert!(page.contains("content=\"http://h/t/id&#39;1.png\""), "{page}");
        assert!(page.contains("<title>Route to &quot;&gt;&lt;script&gt;"), "{page}");
        assert!(page.find("og:title").is_some_and(|at| at < page.find("</head>").unwrap_or(0)));
        assert_eq!(escape("a\u{7}b"), "a b");
    }

    #[test]
    fn the_picture_is_1200_by_630_with_the_map_the_route_and_the_title() {
        let drawing = Drawing::default();
        let basemap = world();
        let png = render(&sample(), &basemap, drawing.font()).expect("png");
        if let Ok(out) = std::env::var("TRACEMAP_PREVIEW_OUT") {
            std::fs::write(out, &png).expect("write the example");
        }
        let pixmap = Pixmap::decode_png(&png).expect("a PNG");
        assert_eq!((pixmap.width(), pixmap.height()), (WIDTH, HEIGHT));
        let at = |x: u32, y: u32| {
            let p = pixmap.pixel(x, y).expect("inside");
            (u32::from(p.red()) << 16) | (u32::from(p.green()) << 8) | u32::from(p.blue())
        };
        let mut colours = std::collections::HashMap::new();
        for y in (0..HEIGHT).step_by(3) {
            for x in (0..WIDTH).step_by(3) {
                *colours.entry(at(x, y)).or_insert(0u32) += 1;
            }
        }
        let count = |c: u32| colours.get(&c).copied().unwrap_or(0);
        assert!(count(0xd4e4ee) > 1000, "sea");
        if !basemap.polygons.is_empty() {
            assert!(count(0xf3efe6) > 1000, "land");
        }
        assert!(count(0x1f5fbf) > 200, "the arcs and the band's rule");
        assert!(count(0xc62828) > 100, "slow hops' markers (Mumbai onwards)");
        if drawing.font().is_some() {
            let inked = (0..WIDTH).flat_map(|x| (20..70).map(move |y| (x, y))).filter(|&(x, y)| at(x, y) == 0x141e2c);
            assert!(inked.count() > 300, "the title is written");
        } else {
            assert!(std::env::var("CI").as_deref() != Ok("true"), "no DejaVu font: install fonts-dejavu-core");
            eprintln!("SKIPPED the text checks: no DejaVu font (install fonts-dejavu-core)");
        }
        let empty = render(&TraceReport::new("h", Protocol::Icmp), &Basemap::default(), None).expect("png");
        assert!(Pixmap::decode_png(&empty).is_ok_and(|p| p.width() == WIDTH), "no place at all: the world, no error");
    }
}
