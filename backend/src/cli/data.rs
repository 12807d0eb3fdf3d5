//! `tracemap data`: which data files are in use, their versions and ages, and every place tracemap looked.

use std::io::Write;
use std::process::ExitCode;

use clap::Args;
use tracemap::data::{DataDirs, KNOWN_SETS, STALE_AFTER_DAYS};

#[derive(Args, Debug)]
pub struct DataArgs {
    /// Look here first, as `--data-dir` does for `trace`, `locate` and `serve`.
    #[arg(long = "data-dir", value_name = "DIR", env = "TRACEMAP_DATA_DIR")]
    data_dir: Option<std::path::PathBuf>,
    /// Print the sets found as JSON (the `data` field of `/api/config`).
    #[arg(long)]
    json: bool,
}

pub fn run(args: DataArgs) -> anyhow::Result<ExitCode> {
    let dirs = DataDirs::standard(args.data_dir.as_deref());
    let sources = dirs.sources(KNOWN_SETS);
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&sources)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(out, "Data directories, searched in this order (the first holding a set wins):")?;
    for dir in dirs.dirs() {
        let state = if dir.path.is_dir() { "" } else { "  (missing)" };
        let shown = match std::fs::canonicalize(&dir.path) {
            Ok(full) if full != dir.path => format!("{} = {}", dir.path.display(), full.display()),
            _ => dir.path.display().to_string(),
        };
        writeln!(out, "  {:<16} {shown}{state}", dir.origin)?;
    }
    writeln!(out)?;
    for name in KNOWN_SETS {
        if !sources.iter().any(|s| s.name == *name) {
            writeln!(out, "{name}: not found in any of them (install tracemap-data, or run scripts/setup.sh)")?;
        }
    }
    for source in &sources {
        let version = source.version.as_deref().unwrap_or("no VERSION file");
        let age = match source.age_days {
            Some(days) => format!(", {days} days old"),
            None => String::new(),
        };
        writeln!(out, "{}: {} (version {version}{age})", source.name, source.dir)?;
        if source.stale {
            writeln!(
                out,
                "  STALE: older than {STALE_AFTER_DAYS} days; places and AS numbers may be wrong. Newer data: a newer \
                 tracemap-data package, or newer versions pinned in a checkout's scripts/setup.sh"
            )?;
        }
        let mut files: Vec<(String, u64)> = std::fs::read_dir(&source.dir)
            .map(|entries| {
                entries
                    .flatten()
                    .filter(|e| e.path().is_file())
                    .map(|e| (e.file_name().to_string_lossy().into_owned(), e.metadata().map(|m| m.len()).unwrap_or(0)))
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        for (file, size) in files {
            let size = if size < 100_000 { format!("{size} B") } else { format!("{:.1} MB", size as f64 / 1e6) };
            writeln!(out, "  {file:<28} {size:>10}")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
