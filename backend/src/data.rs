//! Where tracemap finds its data (GeoIP, ASN and any other set laid out like the checkout's `data/`): one search
//! path looked through in order, so an installed binary run from any directory finds the installed data, and
//! what each set's `VERSION` file says about its age. Every data lookup goes through [`DataDirs::find`] or
//! [`DataDirs::find_where`]; nothing else names a data directory.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use tracemap_shared::DataSource;

/// Data older than this many days is called stale: IP ranges move between networks and places every month, and a
/// DB-IP Lite month is already two months behind after ~60 days.
pub const STALE_AFTER_DAYS: u64 = 90;

/// The sets tracemap itself reads; [`DataDirs::sources`] also reports any other folder with a `VERSION` file.
pub const KNOWN_SETS: &[&str] = &["geoip", "asn"];

/// One place data is looked for, and why it is on the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchDir {
    /// The folder (relative only for the checkout's `data`, which is relative to the current directory).
    pub path: PathBuf,
    /// Where the entry comes from: `--data-dir`, `$XDG_DATA_HOME`, `~/.local/share`, `system`, `checkout`.
    pub origin: &'static str,
}

/// The data search path, first match wins: `--data-dir` (or `TRACEMAP_DATA_DIR`), `$XDG_DATA_HOME/tracemap`
/// (else `~/.local/share/tracemap`), `/usr/local/share/tracemap`, `/usr/share/tracemap`, then `./data` (a
/// checkout, where `scripts/setup.sh` puts it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataDirs {
    dirs: Vec<SearchDir>,
}

impl DataDirs {
    /// The search path for this process's environment, with `explicit` (`--data-dir`) first when given.
    pub fn standard(explicit: Option<&Path>) -> Self {
        Self::from_parts(explicit, std::env::var_os("XDG_DATA_HOME"), std::env::var_os("HOME"))
    }

    /// The search path from its inputs, without reading the environment.
    pub fn from_parts(explicit: Option<&Path>, xdg_data_home: Option<OsString>, home: Option<OsString>) -> Self {
        let mut dirs = Vec::new();
        if let Some(dir) = explicit {
            dirs.push(SearchDir { path: dir.to_path_buf(), origin: "--data-dir" });
        }
        // The XDG base directory specification ignores relative values.
        match xdg_data_home.map(PathBuf::from).filter(|p| p.is_absolute()) {
            Some(xdg) => dirs.push(SearchDir { path: xdg.join("tracemap"), origin: "$XDG_DATA_HOME" }),
            None => {
                if let Some(home) = home.map(PathBuf::from).filter(|p| p.is_absolute()) {
                    dirs.push(SearchDir { path: home.join(".local/share/tracemap"), origin: "~/.local/share" });
                }
            }
        }
        dirs.push(SearchDir { path: PathBuf::from("/usr/local/share/tracemap"), origin: "system" });
        dirs.push(SearchDir { path: PathBuf::from("/usr/share/tracemap"), origin: "system" });
        dirs.push(SearchDir { path: PathBuf::from("data"), origin: "checkout" });
        DataDirs { dirs }
    }

    /// The folders looked through, in order.
    pub fn dirs(&self) -> &[SearchDir] {
        &self.dirs
    }

    /// The first `DIR/name` on the search path that exists: a file, or a folder with something in it. `name` may
    /// be a set (`geoip`) or a file in one (`places/airports.csv`).
    pub fn find(&self, name: &str) -> Option<PathBuf> {
        self.find_where(name, |path| {
            path.is_file() || std::fs::read_dir(path).is_ok_and(|mut entries| entries.next().is_some())
        })
    }

    /// The first `DIR/name` on the search path that `usable` accepts (e.g. a folder holding the files wanted).
    pub fn find_where(&self, name: &str, usable: impl Fn(&Path) -> bool) -> Option<PathBuf> {
        self.dirs.iter().map(|dir| dir.path.join(name)).find(|path| usable(path))
    }

    /// Every data set found: the `known` names first, then any other folder holding a `VERSION` file, each from
    /// the first directory that has it.
    pub fn sources(&self, known: &[&str]) -> Vec<DataSource> {
        let mut names: Vec<String> = known.iter().map(|n| (*n).to_owned()).collect();
        for dir in &self.dirs {
            let Ok(entries) = std::fs::read_dir(&dir.path) else { continue };
            let mut found: Vec<String> = entries
                .flatten()
                .filter(|e| e.path().join("VERSION").is_file())
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| !names.contains(n))
                .collect();
            found.sort();
            names.extend(found);
        }
        let now = SystemTime::now();
        names.iter().filter_map(|name| self.find(name).map(|dir| describe(name, &dir, now))).collect()
    }
}

/// One line about the sets in `sources` older than [`STALE_AFTER_DAYS`], if any. The server logs it once at start;
/// `trace` and `locate` do not repeat it on every run (the newest data the registries serve can itself be months
/// old): `tracemap data` and `/api/config` say it where a user looks.
pub fn stale_note(sources: &[DataSource]) -> Option<String> {
    let old: Vec<String> = sources
        .iter()
        .filter(|s| s.stale)
        .map(|s| format!("{} {} days", s.name, s.age_days.unwrap_or_default()))
        .collect();
    (!old.is_empty()).then(|| {
        format!(
            "data older than {STALE_AFTER_DAYS} days ({}): some places and AS numbers may be out of date; \
             `tracemap data` shows the files and how to get newer ones",
            old.join(", ")
        )
    })
}

/// Where `serve` keeps its traces unless told (`--db`): in the service's state directory when systemd gives it one
/// (`$STATE_DIRECTORY`, from `StateDirectory=`), else the user's (`$XDG_STATE_HOME/tracemap`, else
/// `~/.local/state/tracemap`), else `/var/lib/tracemap`; never relative to the current directory.
pub fn default_db() -> PathBuf {
    default_db_from(std::env::var_os("STATE_DIRECTORY"), std::env::var_os("XDG_STATE_HOME"), std::env::var_os("HOME"))
}

/// [`default_db`] from its inputs, without reading the environment.
pub fn default_db_from(
    state_directory: Option<OsString>,
    xdg_state_home: Option<OsString>,
    home: Option<OsString>,
) -> PathBuf {
    const FILE: &str = "traces.sqlite";
    let absolute = |value: Option<OsString>| value.map(PathBuf::from).filter(|p| p.is_absolute());
    // systemd lists one folder per `StateDirectory=` entry, separated by colons: the first is ours.
    let service = state_directory.and_then(|dirs| {
        let first = dirs.to_string_lossy().split(':').next().map(PathBuf::from);
        first.filter(|p| p.is_absolute())
    });
    if let Some(dir) = service {
        return dir.join(FILE);
    }
    if let Some(dir) = absolute(xdg_state_home) {
        return dir.join("tracemap").join(FILE);
    }
    match absolute(home) {
        Some(home) => home.join(".local/state/tracemap").join(FILE),
        None => Path::new("/var/lib/tracemap").join(FILE),
    }
}

/// What set `name` in `dir` says about itself: its version (the `VERSION` file) and age, from the date the
/// version carries (ip-location-db versions end in `YYYYMMDDHH`) or else when the `VERSION` file was written.
pub fn describe(name: &str, dir: &Path, now: SystemTime) -> DataSource {
    let version_file = dir.join("VERSION");
    let version = std::fs::read_to_string(&version_file).ok().map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    let now_days = days_since_epoch(now);
    let dated = version.as_deref().and_then(version_date).map(|(y, m, d)| days_from_civil(y, m, d));
    let fetched = std::fs::metadata(&version_file).and_then(|m| m.modified()).ok().map(days_since_epoch);
    let age_days = dated.or(fetched).map(|day| now_days.saturating_sub(day).max(0) as u64);
    DataSource {
        name: name.to_owned(),
        dir: dir.display().to_string(),
        version,
        age_days,
        stale: age_days.is_some_and(|age| age > STALE_AFTER_DAYS),
    }
}

/// The date a version string carries: its first dot-separated part that starts with a plausible `YYYYMMDD`.
pub fn version_date(version: &str) -> Option<(i64, u32, u32)> {
    version.split(['.', '-', '+']).find_map(|part| {
        let digits = part.get(..8).filter(|d| part.len() >= 8 && d.bytes().all(|b| b.is_ascii_digit()))?;
        let year: i64 = digits[..4].parse().ok()?;
        let month: u32 = digits[4..6].parse().ok()?;
        let day: u32 = digits[6..8].parse().ok()?;
        ((2000..2200).contains(&year) && (1..=12).contains(&month) && (1..=31).contains(&day))
            .then_some((year, month, day))
    })
}

fn days_since_epoch(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(since) => (since.as_secs() / 86_400) as i64,
        Err(before) => -((before.duration().as_secs() / 86_400) as i64),
    }
}

/// Days from 1970-01-01 to a proleptic Gregorian date, counting whole 400-year eras (146 097 days each) from
/// 0000-03-01 so that the leap day falls at the end of each counted year.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let (m, d) = (i64::from(month), i64::from(day));
    let y = if m <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let day_of_year = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(dirs: &DataDirs) -> Vec<String> {
        dirs.dirs().iter().map(|d| d.path.display().to_string()).collect()
    }

    #[test]
    fn search_order_is_flag_then_user_then_system_then_checkout() {
        let dirs = DataDirs::from_parts(Some(Path::new("/srv/tm")), Some("/x/share".into()), Some("/home/u".into()));
        assert_eq!(
            paths(&dirs),
            ["/srv/tm", "/x/share/tracemap", "/usr/local/share/tracemap", "/usr/share/tracemap", "data"]
        );
        let dirs = DataDirs::from_parts(None, None, Some("/home/u".into()));
        assert_eq!(paths(&dirs)[0], "/home/u/.local/share/tracemap");
        // A relative XDG_DATA_HOME is ignored, as the specification says; no HOME, no user directory.
        let dirs = DataDirs::from_parts(None, Some("rel".into()), None);
        assert_eq!(paths(&dirs), ["/usr/local/share/tracemap", "/usr/share/tracemap", "data"]);
    }

    #[test]
    fn the_database_goes_to_a_state_directory_never_the_current_one() {
        let db = |service: Option<&str>, xdg: Option<&str>, home: Option<&str>| {
            default_db_from(service.map(Into::into), xdg.map(Into::into), home.map(Into::into))
        };
        let home = Some("/home/u");
        assert_eq!(db(None, None, home), Path::new("/home/u/.local/state/tracemap/traces.sqlite"));
        assert_eq!(db(None, Some("/x/state"), home), Path::new("/x/state/tracemap/traces.sqlite"));
        // systemd's StateDirectory= wins, its first folder when there are several.
        let service = Some("/var/lib/tracemap:/var/lib/other");
        assert_eq!(db(service, Some("/x/state"), home), Path::new("/var/lib/tracemap/traces.sqlite"));
        // Relative values are ignored, as the XDG specification says; with nothing usable, the system's place.
        assert_eq!(db(Some("rel"), Some("rel"), Some("rel")), Path::new("/var/lib/tracemap/traces.sqlite"));
        assert_eq!(db(None, None, None), Path::new("/var/lib/tracemap/traces.sqlite"));
    }

    #[test]
    fn first_directory_holding_the_name_wins() {
        let root = std::env::temp_dir().join(format!("tracemap-data-test-{}", std::process::id()));
        let (first, second) = (root.join("first"), root.join("second"));
        std::fs::create_dir_all(first.join("geoip")).expect("mkdir");
        std::fs::create_dir_all(second.join("geoip")).expect("mkdir");
        std::fs::create_dir_all(second.join("places")).expect("mkdir");
        std::fs::write(second.join("geoip/a.mmdb"), b"x").expect("write");
        std::fs::write(second.join("places/VERSION"), b"2.3.2026010112\n").expect("write");
        std::fs::write(second.join("places/airports.csv"), b"x").expect("write");
        let dirs = DataDirs::from_parts(Some(&first), None, None);
        let dirs = DataDirs {
            dirs: dirs.dirs[..1].iter().cloned().chain([SearchDir { path: second.clone(), origin: "test" }]).collect(),
        };
        // An empty folder does not shadow a later one that has the data.
        assert_eq!(dirs.find("geoip"), Some(second.join("geoip")));
        assert_eq!(dirs.find("places/airports.csv"), Some(second.join("places/airports.csv")));
        assert_eq!(dirs.find("asn"), None);
        std::fs::write(first.join("geoip/b.mmdb"), b"x").expect("write");
        assert_eq!(dirs.find("geoip"), Some(first.join("geoip")));
        // Sets found by their VERSION file come after the known ones, which are listed only when present.
        let sources = dirs.sources(KNOWN_SETS);
        let names: Vec<&str> = sources.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["geoip", "places"]);
        assert_eq!(sources[1].version.as_deref(), Some("2.3.2026010112"));
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn age_comes_from_the_version_date_and_old_data_is_stale() {
        assert_eq!(version_date("2.3.2026060513"), Some((2026, 6, 5)));
        assert_eq!(version_date("20250101"), Some((2025, 1, 1)));
        assert_eq!(version_date("1.0.3"), None);
        assert_eq!(version_date("2.3.2026139913"), None);
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(2026, 6, 5) - days_from_civil(2026, 3, 7), 90);

        let dir = std::env::temp_dir().join(format!("tracemap-age-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(dir.join("VERSION"), "2.3.2026060513\n").expect("write");
        let day = |y, m, d| UNIX_EPOCH + std::time::Duration::from_secs(days_from_civil(y, m, d) as u64 * 86_400);
        let fresh = describe("geoip", &dir, day(2026, 9, 3));
        assert_eq!((fresh.age_days, fresh.stale), (Some(90), false));
        let old = describe("geoip", &dir, day(2026, 9, 4));
        assert_eq!((old.age_days, old.stale), (Some(91), true));
        assert_eq!(stale_note(std::slice::from_ref(&fresh)), None);
        let note = stale_note(&[old.clone(), fresh, DataSource { name: "asn".into(), ..old }]).expect("a note");
        assert!(note.starts_with("data older than 90 days (geoip 91 days, asn 91 days): "), "{note}");
        assert!(!note.contains('\n'), "one line: {note}");
        // No date in the version: the VERSION file's own time says when the data was fetched.
        std::fs::write(dir.join("VERSION"), "local\n").expect("write");
        assert_eq!(describe("geoip", &dir, SystemTime::now()).age_days, Some(0));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
