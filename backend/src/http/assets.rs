//! The page, embedded: `tracemap serve` alone is a complete deployment.
//!
//! Trunk's release build in `dist/` is compiled into the binary. Files whose names carry Trunk's content hash never
//! change under that name, so browsers may keep them for a year; `index.html` (which names the current hashes) is
//! revalidated on every load with its ETag. A server started with `--web-dir` serves that folder instead, for
//! working on the page without rebuilding the server.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

/// The built frontend. Missing when the server was compiled before the page was built: then only `--web-dir`
/// serves a page.
#[derive(RustEmbed)]
#[folder = "$CARGO_MANIFEST_DIR/../dist"]
#[allow_missing = true]
struct Dist;

/// Whether the binary carries a built page.
pub fn embedded() -> bool {
    Dist::get("index.html").is_some()
}

/// Whether a file name carries a Trunk content hash (`name-6c92c0056ca7a79.ext`, or `_bg.wasm` after one).
fn is_hashed(path: &str) -> bool {
    let file = path.rsplit('/').next().unwrap_or(path);
    let stem = file.split('.').next().unwrap_or(file);
    let stem = stem.strip_suffix("_bg").unwrap_or(stem);
    stem.rsplit_once('-').is_some_and(|(_, hash)| hash.len() >= 8 && hash.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The embedded file at `path` (no leading slash), honouring `If-None-Match`.
pub fn serve(path: &str, request_headers: &HeaderMap) -> Response {
    let Some(file) = Dist::get(path) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let etag = format!("\"{}\"", file.metadata.sha256_hash().iter().map(|b| format!("{b:02x}")).collect::<String>());
    let cache = if is_hashed(path) { "public, max-age=31536000, immutable" } else { "no-cache" };
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_str(file.metadata.mimetype()) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    let fresh = request_headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    if fresh {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    (headers, Body::from(file.data.into_owned())).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashed_names_are_recognised() {
        assert!(is_hashed("tracemap-frontend-3f2a9c1d0b4e5f60.js"));
        assert!(is_hashed("tracemap-frontend-3f2a9c1d0b4e5f60_bg.wasm"));
        assert!(is_hashed("main-0123456789abcdef.css"));
        // Trunk does not zero-pad its 64-bit hashes.
        assert!(is_hashed("leaflet-6c92c0056ca7a79.css"));
        assert!(!is_hashed("index.html"));
        assert!(!is_hashed("countries-110m.json"));
        assert!(!is_hashed("images/marker-icon.png"));
        assert!(!is_hashed("leaflet.js"));
    }
}
