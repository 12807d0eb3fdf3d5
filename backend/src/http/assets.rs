//! The page, held in memory: `tracemap serve` alone is a complete deployment.
//!
//! Trunk's release build in `dist/` is compiled into the binary. A server started with `--web-dir` reads that
//! folder instead, once at start (before it drops privileges, so the folder need not be readable by the user it
//! becomes); restart it to pick up a rebuilt page. Files whose names carry Trunk's content hash never change under
//! that name, so browsers may keep them for a year; `index.html` (which names the current hashes) is revalidated on
//! every load with its ETag. `scripts/build-frontend.sh` also writes each text file compressed ahead of time
//! (`X.br`, brotli 11, and `X.gz`, gzip 9, both smaller than compressing per request): `X` is served as one of
//! them when the browser accepts it.

use std::collections::HashMap;
use std::hash::Hasher;
use std::io;
use std::path::Path;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

/// The built frontend. Missing when the server was compiled before the page was built: then only `--web-dir`
/// serves a page.
#[derive(RustEmbed)]
#[folder = "$CARGO_MANIFEST_DIR/../dist"]
#[allow_missing = true]
struct Dist;

/// A page folder larger than this is not a Trunk build: refuse it rather than fill memory.
const MAX_PAGE_BYTES: u64 = 256 * 1024 * 1024;
/// The same for the number of files.
const MAX_PAGE_FILES: usize = 10_000;

/// Whether the binary carries a built page.
pub fn embedded() -> bool {
    Dist::get("index.html").is_some()
}

/// One file of the page.
#[derive(Debug)]
struct File {
    data: Bytes,
    mime: HeaderValue,
    etag: HeaderValue,
}

impl File {
    fn new(path: &str, data: Bytes) -> File {
        // The content decides the tag: the same bytes keep their tag across restarts and servers.
        let mut hasher = std::hash::DefaultHasher::new();
        hasher.write(&data);
        let etag = HeaderValue::from_str(&format!("\"{:016x}-{:x}\"", hasher.finish(), data.len()))
            .unwrap_or_else(|_| HeaderValue::from_static("\"0\""));
        let mime = mime_guess::from_path(path).first_or_octet_stream();
        let mime = HeaderValue::from_str(mime.as_ref())
            .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
        File { data, mime, etag }
    }
}

/// A built page, every file in memory by its path (no leading slash, `/` between folders).
#[derive(Debug, Default)]
pub struct Page {
    files: HashMap<String, File>,
}

impl Page {
    /// The page compiled into the binary (empty when it was built before the page).
    pub fn embedded() -> Page {
        let files = Dist::iter()
            .filter_map(|path| {
                let file = Dist::get(&path)?;
                Some((path.to_string(), File::new(&path, Bytes::from(file.data.into_owned()))))
            })
            .collect();
        Page { files }
    }

    /// Reads the built page in `dir` (a Trunk `dist/`), following no symbolic links out of it.
    pub fn load(dir: &Path) -> io::Result<Page> {
        let mut files = HashMap::new();
        let mut total = 0u64;
        let mut pending = vec![(dir.to_path_buf(), String::new())];
        while let Some((folder, prefix)) = pending.pop() {
            for entry in std::fs::read_dir(&folder)? {
                let entry = entry?;
                let Some(name) = entry.file_name().to_str().map(str::to_owned) else { continue };
                let kind = entry.file_type()?;
                let path = format!("{prefix}{name}");
                if kind.is_dir() {
                    pending.push((entry.path(), format!("{path}/")));
                } else if kind.is_file() {
                    let data = std::fs::read(entry.path())?;
                    total += data.len() as u64;
                    if total > MAX_PAGE_BYTES || files.len() >= MAX_PAGE_FILES {
                        return Err(io::Error::other(format!(
                            "{} holds more than {MAX_PAGE_FILES} files or {} MiB: not a built page",
                            dir.display(),
                            MAX_PAGE_BYTES >> 20
                        )));
                    }
                    let file = File::new(&path, Bytes::from(data));
                    files.insert(path, file);
                }
            }
        }
        Ok(Page { files })
    }

    /// Whether the page has its `index.html`.
    pub fn has_index(&self) -> bool {
        self.files.contains_key("index.html")
    }

    /// The bytes of the file at `path` (no leading slash), if the page has one (shared, not copied).
    pub fn bytes(&self, path: &str) -> Option<Bytes> {
        self.files.get(path).map(|file| file.data.clone())
    }

    /// The file at `path` (no leading slash), honouring `If-None-Match`; compressed ahead of time when the page has
    /// such a copy and `Accept-Encoding` admits it (brotli first).
    pub fn serve(&self, path: &str, request_headers: &HeaderMap) -> Response {
        let Some(plain) = self.files.get(path) else {
            return StatusCode::NOT_FOUND.into_response();
        };
        let variants = [("br", "br"), ("gz", "gzip")]
            .into_iter()
            .filter_map(|(suffix, coding)| Some((self.files.get(&format!("{path}.{suffix}"))?, coding)))
            .collect::<Vec<_>>();
        let accepted = request_headers.get(header::ACCEPT_ENCODING).and_then(|v| v.to_str().ok()).unwrap_or("");
        let chosen = variants.iter().find(|(_, coding)| accepts(accepted, coding));
        let file = chosen.map_or(plain, |(file, _)| file);
        let cache = if is_hashed(path) { "public, max-age=31536000, immutable" } else { "no-cache" };
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, plain.mime.clone());
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
        // Each encoding has its own bytes, so its own tag.
        headers.insert(header::ETAG, file.etag.clone());
        if !variants.is_empty() {
            headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        }
        if let Some((_, coding)) = chosen {
            headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(coding));
        }
        let etag = file.etag.as_bytes();
        let fresh = request_headers
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|tags| tags.split(',').any(|t| t.trim().as_bytes() == etag || t.trim() == "*"));
        if fresh {
            return (StatusCode::NOT_MODIFIED, headers).into_response();
        }
        (headers, Body::from(file.data.clone())).into_response()
    }
}

/// Whether an `Accept-Encoding` value admits `coding`: named (or `*`) without `q=0`.
fn accepts(accept_encoding: &str, coding: &str) -> bool {
    accept_encoding.split(',').any(|item| {
        let mut parts = item.split(';');
        let name = parts.next().unwrap_or("").trim();
        let refused = parts.any(|p| {
            let p = p.trim();
            let q = p.strip_prefix("q=").or_else(|| p.strip_prefix("Q="));
            q.is_some_and(|q| q.trim().parse::<f32>().is_ok_and(|q| q <= 0.0))
        });
        (name.eq_ignore_ascii_case(coding) || name == "*") && !refused
    })
}

/// Whether a file name carries a Trunk content hash (`name-6c92c0056ca7a79.ext`, or `_bg.wasm` after one).
fn is_hashed(path: &str) -> bool {
    let file = path.rsplit('/').next().unwrap_or(path);
    let stem = file.split('.').next().unwrap_or(file);
    let stem = stem.strip_suffix("_bg").unwrap_or(stem);
    stem.rsplit_once('-').is_some_and(|(_, hash)| hash.len() >= 8 && hash.bytes().all(|b| b.is_ascii_hexdigit()))
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

    #[test]
    fn accept_encoding_is_read_with_its_weights() {
        assert!(accepts("gzip, deflate, br, zstd", "br"));
        assert!(accepts("gzip;q=1.0, br;q=0.5", "br"));
        assert!(accepts("*", "gzip"));
        assert!(!accepts("gzip, br;q=0", "br"));
        assert!(!accepts("br;q=0.000", "br"));
        assert!(!accepts("identity", "gzip"));
        assert!(!accepts("", "br"));
        assert!(!accepts("brotli", "br"));
    }

    #[test]
    fn a_compressed_copy_is_served_to_a_browser_that_accepts_it() {
        let dir = std::env::temp_dir().join(format!("tracemap-page-encodings-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("folder");
        std::fs::write(dir.join("app-0123456789abcdef.js"), "plain").expect("script");
        std::fs::write(dir.join("app-0123456789abcdef.js.br"), "brotli").expect("brotli copy");
        std::fs::write(dir.join("app-0123456789abcdef.js.gz"), "gzip").expect("gzip copy");
        std::fs::write(dir.join("map.json"), "{}").expect("no copies");
        let page = Page::load(&dir).expect("loads");
        std::fs::remove_dir_all(&dir).expect("cleanup");
        let ask = |accept: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(accept).expect("header"));
            page.serve("app-0123456789abcdef.js", &headers)
        };
        let br = ask("gzip, deflate, br");
        assert_eq!(br.headers()[header::CONTENT_ENCODING], "br");
        assert_eq!(br.headers()[header::CONTENT_TYPE], "text/javascript");
        assert_eq!(br.headers()[header::VARY], "accept-encoding");
        let gz = ask("gzip, br;q=0");
        assert_eq!(gz.headers()[header::CONTENT_ENCODING], "gzip");
        assert_ne!(gz.headers()[header::ETAG], br.headers()[header::ETAG], "each encoding has its own tag");
        let plain = ask("identity");
        assert!(plain.headers().get(header::CONTENT_ENCODING).is_none());
        assert_eq!(plain.headers()[header::VARY], "accept-encoding");
        let json = page.serve("map.json", &HeaderMap::new());
        assert!(json.headers().get(header::VARY).is_none(), "no copies, nothing varies");
    }

    #[test]
    fn a_folder_is_read_once_and_served_with_tags() {
        let dir = std::env::temp_dir().join(format!("tracemap-page-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("images")).expect("folder");
        std::fs::write(dir.join("index.html"), "<!doctype html>").expect("index");
        std::fs::write(dir.join("app-0123456789abcdef.js"), "x").expect("script");
        std::fs::write(dir.join("images/pin.png"), [0x89, b'P']).expect("image");
        let page = Page::load(&dir).expect("loads");
        std::fs::remove_dir_all(&dir).expect("cleanup");
        // Served from memory: the folder is gone.
        assert!(page.has_index());
        let index = page.serve("index.html", &HeaderMap::new());
        assert_eq!(index.status(), StatusCode::OK);
        assert_eq!(index.headers()[header::CONTENT_TYPE], "text/html");
        assert_eq!(index.headers()[header::CACHE_CONTROL], "no-cache");
        let script = page.serve("app-0123456789abcdef.js", &HeaderMap::new());
        assert!(script.headers()[header::CACHE_CONTROL].to_str().expect("ascii").contains("immutable"));
        assert_eq!(page.serve("images/pin.png", &HeaderMap::new()).headers()[header::CONTENT_TYPE], "image/png");
        assert_eq!(page.serve("missing.js", &HeaderMap::new()).status(), StatusCode::NOT_FOUND);
        let mut conditional = HeaderMap::new();
        conditional.insert(header::IF_NONE_MATCH, index.headers()[header::ETAG].clone());
        assert_eq!(page.serve("index.html", &conditional).status(), StatusCode::NOT_MODIFIED);
        assert!(Page::load(&dir).is_err(), "a missing folder is an error");
    }
}
