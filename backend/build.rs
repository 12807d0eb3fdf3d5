//! The built page in `../dist` is embedded into the binary (see `src/http/assets.rs`). Trunk writes new hashed file
//! names on every build; watching the folder makes cargo re-embed when files are added or removed, not only when
//! an existing one changes.
fn main() {
    println!("cargo:rerun-if-changed=../dist");
}
