//! The built page in `../dist` is embedded into the binary (see `src/http/assets.rs`). Trunk writes new hashed file
//! names on every build; watching the folder makes cargo re-embed when files are added or removed, not only when
//! an existing one changes.
//!
//! Cargo reruns a build script on every build while a path it watches is missing, and each rerun recompiles this
//! crate. So a checkout without the page gets an empty `dist/` to watch (git ignores it), dated in the past so that
//! creating it is not itself a change: the first Trunk build writes into it, which is a change, and the next cargo
//! build embeds the page.
use std::fs::{self, File};
use std::path::Path;
use std::time::SystemTime;

fn main() {
    let dist = Path::new("../dist");
    if !dist.exists() && fs::create_dir(dist).is_ok() {
        // Best effort: when the date cannot be set, cargo builds this crate once more, then settles.
        let _ = File::open(dist).and_then(|folder| folder.set_modified(SystemTime::UNIX_EPOCH));
    }
    if dist.is_dir() {
        println!("cargo:rerun-if-changed=../dist");
    } else {
        // A source tree we may not write to (a packaged crate): nothing to embed, nothing to watch but this file.
        println!("cargo:rerun-if-changed=build.rs");
    }
}
