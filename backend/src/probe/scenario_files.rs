//! The runner shared by the scenario-file tests of the tracer and of the hop book: every `*.scenario` file of a
//! directory is run, and every file's first mismatch is reported together.

use std::fmt::Write as _;
use std::path::Path;

/// Runs `run(file name, text)` on every `*.scenario` file of `dir` (relative to the backend crate), in name order;
/// fails naming each file that fails, or when fewer than `at_least` files are found.
pub(crate) fn run_all(dir: &str, at_least: usize, run: impl Fn(&str, &str) -> Result<(), String>) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "scenario"))
        .collect();
    files.sort();
    assert!(files.len() >= at_least, "scenario files missing from {}", dir.display());
    let mut failures = String::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap_or_else(|error| panic!("{}: {error}", file.display()));
        let name = file.file_name().map_or_else(String::new, |name| name.to_string_lossy().into_owned());
        if let Err(failure) = run(&name, &text) {
            let _ = writeln!(failures, "{failure}");
        }
    }
    assert!(failures.is_empty(), "\n{failures}");
}
