//! Which autonomous system announces an address, from CSV range files or MaxMind DB files.
//!
//! The CSV form is the one npm's `@ip-location-db/asn` ships (`start,end,number,organisation`, inclusive ranges,
//! IPv4 and IPv6 in separate files, organisation quoted when it holds a comma). Half a million rows would be heavy
//! as one struct each, so a file becomes a compact table: sorted range starts and ends in plain vectors, searched
//! by bisection, with each organisation name stored once. The mmdb form is MaxMind's GeoLite2-ASN schema
//! (`autonomous_system_number`, `autonomous_system_organization`) or IPinfo's (`asn: "AS123"`, `as_name`).

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use maxminddb::Reader;
use serde::Deserialize;
use tracemap_shared::Asn;

use super::asn_index::{self, IndexedTable};

/// Why an ASN source could not be used.
#[derive(Debug, thiserror::Error)]
pub enum AsnError {
    /// The file could not be read.
    #[error("cannot read ASN file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The file ends in `.mmdb` but is not a MaxMind DB.
    #[error("cannot open ASN database {path}: {source}")]
    Mmdb {
        /// The file.
        path: PathBuf,
        /// What the reader said.
        source: maxminddb::MaxMindDbError,
    },
    /// Not one line of the CSV file was a range.
    #[error("{path} has no usable ASN range (first problem: {first})")]
    Empty {
        /// The file.
        path: PathBuf,
        /// The first bad line, with its number.
        first: String,
    },
}

/// Sorted, non-overlapping inclusive ranges of one address family.
#[derive(Debug, Default)]
struct Ranges<T> {
    starts: Vec<T>,
    ends: Vec<T>,
    numbers: Vec<u32>,
    /// Index into [`RangeTable::orgs`].
    orgs: Vec<u32>,
}

impl<T: Ord + Copy> Ranges<T> {
    fn push(&mut self, start: T, end: T, number: u32, org: u32) {
        self.starts.push(start);
        self.ends.push(end);
        self.numbers.push(number);
        self.orgs.push(org);
    }

    /// Sorts by start; files are sorted already, but a hand-made one may not be.
    fn sort(&mut self) {
        if self.starts.windows(2).all(|w| w[0] <= w[1]) {
            return;
        }
        let mut order: Vec<usize> = (0..self.starts.len()).collect();
        order.sort_by_key(|&i| self.starts[i]);
        self.starts = order.iter().map(|&i| self.starts[i]).collect();
        self.ends = order.iter().map(|&i| self.ends[i]).collect();
        self.numbers = order.iter().map(|&i| self.numbers[i]).collect();
        self.orgs = order.iter().map(|&i| self.orgs[i]).collect();
    }

    /// The range with the greatest start at or below `ip`, if it reaches `ip`.
    fn find(&self, ip: T) -> Option<usize> {
        let i = self.starts.partition_point(|&s| s <= ip).checked_sub(1)?;
        (self.ends[i] >= ip).then_some(i)
    }

    fn len(&self) -> usize {
        self.starts.len()
    }
}

/// One CSV file (or several merged) as a searchable table.
#[derive(Debug, Default)]
pub struct RangeTable {
    v4: Ranges<u32>,
    v6: Ranges<u128>,
    orgs: Vec<String>,
    label: String,
}

/// A problem on one line of an ASN CSV file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for LineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl RangeTable {
    /// Parses CSV text; good lines are kept, bad ones returned. `label` names the source in every answer.
    pub fn parse(text: &str, label: &str) -> (RangeTable, Vec<LineError>) {
        let mut table = RangeTable { label: label.to_owned(), ..RangeTable::default() };
        let mut interned: HashMap<String, u32> = HashMap::new();
        let mut errors = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            match parse_line(line) {
                Ok((start, end, number, org)) => {
                    let next = u32::try_from(table.orgs.len()).unwrap_or(u32::MAX);
                    let org = *interned.entry(org).or_insert_with_key(|org| {
                        table.orgs.push(org.clone());
                        next
                    });
                    match (start, end) {
                        (IpAddr::V4(s), IpAddr::V4(e)) => table.v4.push(u32::from(s), u32::from(e), number, org),
                        (IpAddr::V6(s), IpAddr::V6(e)) => table.v6.push(u128::from(s), u128::from(e), number, org),
                        // `parse_line` refuses ranges whose ends are of different families.
                        _ => {}
                    }
                }
                Err(message) => errors.push(LineError { line: i + 1, message }),
            }
        }
        table.v4.sort();
        table.v6.sort();
        (table, errors)
    }

    /// Number of ranges.
    pub fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    /// The columns, for [`super::asn_index::encode`]: (starts, ends, numbers, org indexes) per family, the
    /// organisations and the label.
    #[allow(clippy::type_complexity)]
    pub(crate) fn parts(
        &self,
    ) -> ((&[u32], &[u32], &[u32], &[u32]), (&[u128], &[u128], &[u32], &[u32]), &[String], &str) {
        (
            (&self.v4.starts, &self.v4.ends, &self.v4.numbers, &self.v4.orgs),
            (&self.v6.starts, &self.v6.ends, &self.v6.numbers, &self.v6.orgs),
            &self.orgs,
            &self.label,
        )
    }

    /// Whether the table has no range.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The AS whose range holds `ip`.
    pub fn lookup(&self, ip: IpAddr) -> Option<Asn> {
        let (number, org) = match ip {
            IpAddr::V4(v4) => self.v4.find(u32::from(v4)).map(|i| (self.v4.numbers[i], self.v4.orgs[i])),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => self.v4.find(u32::from(v4)).map(|i| (self.v4.numbers[i], self.v4.orgs[i])),
                None => self.v6.find(u128::from(v6)).map(|i| (self.v6.numbers[i], self.v6.orgs[i])),
            },
        }?;
        // AS 0 marks space that nobody announces.
        (number != 0).then(|| Asn {
            number,
            org: self.orgs.get(org as usize).filter(|o| !o.is_empty()).cloned(),
            source: Some(self.label.clone()),
        })
    }
}

/// `start,end,number,organisation`; the organisation may be quoted (`"Cloudflare, Inc."`, `""` for a quote).
fn parse_line(line: &str) -> Result<(IpAddr, IpAddr, u32, String), String> {
    let mut parts = line.splitn(4, ',');
    let mut next = |what: &str| parts.next().map(str::trim).ok_or_else(|| format!("no {what} column"));
    let start: IpAddr = next("start")?.parse().map_err(|_| "the start is not an IP address".to_owned())?;
    let end: IpAddr = next("end")?.parse().map_err(|_| "the end is not an IP address".to_owned())?;
    let number = next("AS number")?;
    let number: u32 = number
        .strip_prefix("AS")
        .unwrap_or(number)
        .parse()
        .map_err(|_| format!("'{}' is not an AS number", number.chars().take(20).collect::<String>()))?;
    let org = unquote(parts.next().unwrap_or("").trim())?;
    let in_order = match (start, end) {
        (IpAddr::V4(s), IpAddr::V4(e)) => s <= e,
        (IpAddr::V6(s), IpAddr::V6(e)) => s <= e,
        _ => return Err("start and end are of different address families".to_owned()),
    };
    if !in_order {
        return Err("the range ends before it starts".to_owned());
    }
    Ok((start, end, number, org))
}

fn unquote(field: &str) -> Result<String, String> {
    match field.strip_prefix('"') {
        None => Ok(field.to_owned()),
        Some(rest) => {
            let inner = rest.strip_suffix('"').ok_or("an unterminated quote")?;
            Ok(inner.replace("\"\"", "\""))
        }
    }
}

/// An ASN record in any of the mmdb schemas; every field optional.
#[derive(Debug, Deserialize)]
struct MmdbRecord {
    /// Read through [`AsnField`]: the mmdb decoder refuses an integer of another width than asked for.
    autonomous_system_number: Option<AsnField>,
    autonomous_system_organization: Option<String>,
    /// IPinfo writes `"AS13335"`.
    asn: Option<AsnField>,
    as_name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum AsnField {
    Number(u64),
    Text(String),
}

impl MmdbRecord {
    fn into_asn(self, source: &str) -> Option<Asn> {
        let number = match self.autonomous_system_number.or(self.asn)? {
            AsnField::Number(n) => u32::try_from(n).ok(),
            AsnField::Text(t) => t.trim().trim_start_matches("AS").parse().ok(),
        };
        let number = number.filter(|&n| n != 0)?;
        let org = self.autonomous_system_organization.or(self.as_name).filter(|o| !o.is_empty());
        Some(Asn { number, org, source: Some(source.to_owned()) })
    }
}

/// One configured source.
enum Source {
    Table(RangeTable),
    /// A range CSV read through its binary index (see [`super::asn_index`]).
    Index(IndexedTable),
    Mmdb {
        reader: Reader<maxminddb::Mmap>,
        label: String,
    },
}

/// The ASN sources, consulted in order; the first that knows an address answers.
#[derive(Default)]
pub struct AsnDb {
    sources: Vec<Source>,
}

impl std::fmt::Debug for AsnDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.labels()).finish()
    }
}

impl AsnDb {
    /// Opens every file: `*.mmdb` as a MaxMind DB, anything else as range CSV. Bad CSV lines are returned with
    /// their file and line so the caller can report them; a file with no good line at all is an error.
    pub fn open<P: AsRef<Path>>(paths: &[P]) -> Result<(AsnDb, Vec<(PathBuf, LineError)>), AsnError> {
        let mut db = AsnDb::default();
        let mut problems = Vec::new();
        for path in paths {
            let path = path.as_ref();
            if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("mmdb")) {
                // SAFETY: as for the GeoIP files (see `geoip.rs`): data files are replaced by renaming, never
                // rewritten in place.
                let reader = unsafe { Reader::open_mmap(path) }
                    .map_err(|source| AsnError::Mmdb { path: path.to_owned(), source })?;
                let label = match reader.metadata().database_type.as_str() {
                    "" => file_name(path),
                    kind => kind.to_owned(),
                };
                db.sources.push(Source::Mmdb { reader, label });
            } else if let Some(index) = asn_index::fresh(path, &asn_index::index_path(path))
                .then(|| IndexedTable::open(&asn_index::index_path(path)))
                .flatten()
                .filter(|index| index.label() == csv_label(path))
            {
                db.sources.push(Source::Index(index));
            } else {
                let text =
                    std::fs::read_to_string(path).map_err(|source| AsnError::Read { path: path.to_owned(), source })?;
                let (table, errors) = RangeTable::parse(&text, &csv_label(path));
                if table.is_empty() {
                    let first = errors.first().map_or_else(|| "the file is empty".to_owned(), ToString::to_string);
                    return Err(AsnError::Empty { path: path.to_owned(), first });
                }
                problems.extend(errors.into_iter().map(|e| (path.to_owned(), e)));
                // Next time, map the parsed table instead of parsing again (a read-only folder only costs time).
                if let Err(err) = asn_index::write(&asn_index::index_path(path), &asn_index::encode(&table)) {
                    tracing::debug!(file = %path.display(), %err, "cannot cache the ASN index");
                }
                db.sources.push(Source::Table(table));
            }
        }
        Ok((db, problems))
    }

    /// A database of one already-parsed table.
    pub fn from_table(table: RangeTable) -> AsnDb {
        AsnDb { sources: vec![Source::Table(table)] }
    }

    /// Whether no source is configured.
    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }

    /// The sources' labels, in lookup order.
    pub fn labels(&self) -> Vec<&str> {
        self.sources
            .iter()
            .map(|s| match s {
                Source::Table(t) => t.label.as_str(),
                Source::Index(t) => t.label(),
                Source::Mmdb { label, .. } => label.as_str(),
            })
            .collect()
    }

    /// The AS of `ip`, from the first source that knows it.
    pub fn lookup(&self, ip: IpAddr) -> Option<Asn> {
        self.sources.iter().find_map(|source| match source {
            Source::Table(table) => table.lookup(ip),
            Source::Index(index) => index.lookup(ip),
            Source::Mmdb { reader, label } => {
                let record: MmdbRecord = reader.lookup(ip).ok()?.decode().ok()??;
                record.into_asn(label)
            }
        })
    }
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default()
}

/// npm's files are `asn-ipv4.csv` and `asn-ipv6.csv`: name them after the project that publishes them.
fn csv_label(path: &Path) -> String {
    let name = file_name(path);
    if name.starts_with("asn-ipv") { "ip-location-db asn".to_owned() } else { name }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CSV: &str = "\
1.0.0.0,1.0.0.255,13335,\"Cloudflare, Inc.\"
1.0.4.0,1.0.7.255,38803,Gtelecom Pty Ltd
1.0.64.0,1.0.127.255,18144,\"Enecom,Inc. \"\"East\"\"\"
2001:200::,2001:200:1b9:ffff:ffff:ffff:ffff:ffff,2500,WIDE Project
2001::,2001::ffff:ffff:ffff:ffff:ffff:ffff,6939,Hurricane Electric LLC
9.9.9.0,9.9.9.255,0,
not,an,address
1.2.3.4,1.2.3.0,5,backwards
1.2.3.4,::1,5,mixed
1.2.3.4,1.2.3.5,AS-x,words
8.8.8.0,8.8.8.255,AS15169,Google LLC
";

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }

    #[test]
    fn ranges_are_found_by_bisection() {
        let (table, errors) = RangeTable::parse(CSV, "test");
        assert_eq!(table.len(), 7);
        let cf = table.lookup(ip("1.0.0.1")).expect("in range");
        assert_eq!(
            (cf.number, cf.org.as_deref(), cf.source.as_deref()),
            (13335, Some("Cloudflare, Inc."), Some("test"))
        );
        assert_eq!(table.lookup(ip("1.0.0.255")).map(|a| a.number), Some(13335));
        assert_eq!(table.lookup(ip("1.0.1.0")), None, "between ranges");
        assert_eq!(table.lookup(ip("0.255.255.255")), None, "before the first");
        assert_eq!(table.lookup(ip("1.0.7.255")).map(|a| a.number), Some(38803));
        assert_eq!(table.lookup(ip("1.0.100.1")).and_then(|a| a.org), Some("Enecom,Inc. \"East\"".into()));
        assert_eq!(table.lookup(ip("8.8.8.8")).map(|a| a.number), Some(15169));
        assert_eq!(table.lookup(ip("2001:200:1::1")).map(|a| a.number), Some(2500));
        assert_eq!(table.lookup(ip("2001::1")).map(|a| a.number), Some(6939), "unsorted input gets sorted");
        assert_eq!(table.lookup(ip("2001:201::1")), None);
        assert_eq!(table.lookup(ip("::ffff:1.0.0.1")).map(|a| a.number), Some(13335));
        assert_eq!(table.lookup(ip("9.9.9.9")), None, "AS 0 is nobody");
        let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [7, 8, 9, 10]);
    }

    #[test]
    fn random_lines_never_panic() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(4);
        let alphabet: Vec<char> = "0123456789abcdefAS.:,\"\\ \t\r#-/é\u{0}".chars().collect();
        for _ in 0..2000 {
            let mut text: String = CSV.to_owned();
            for _ in 0..rng.random_range(1..40) {
                text.push(alphabet[rng.random_range(0..alphabet.len())]);
                if rng.random_bool(0.1) {
                    text.push('\n');
                }
            }
            let (table, _) = RangeTable::parse(&text, "fuzz");
            for probe in ["1.0.0.1", "::1", "2001::1", "255.255.255.255", "ffff::"] {
                let _ = table.lookup(ip(probe));
            }
        }
    }

    #[test]
    fn organisations_are_stored_once() {
        let text = (0..100u32).map(|i| format!("10.0.{i}.0,10.0.{i}.255,64512,Lab\n")).collect::<String>();
        let (table, errors) = RangeTable::parse(&text, "lab");
        assert!(errors.is_empty());
        assert_eq!((table.len(), table.orgs.len()), (100, 1));
    }

    #[test]
    fn ipinfo_and_maxmind_records() {
        let maxmind: MmdbRecord =
            serde_json::from_str(r#"{"autonomous_system_number":15169,"autonomous_system_organization":"GOOGLE"}"#)
                .expect("json");
        assert_eq!(maxmind.into_asn("GeoLite2-ASN").map(|a| a.number), Some(15169));
        let ipinfo: MmdbRecord =
            serde_json::from_str(r#"{"asn":"AS13335","as_name":"Cloudflare, Inc.","as_domain":"cloudflare.com"}"#)
                .expect("json");
        let asn = ipinfo.into_asn("ipinfo").expect("asn");
        assert_eq!((asn.number, asn.org.as_deref()), (13335, Some("Cloudflare, Inc.")));
        let empty: MmdbRecord = serde_json::from_str(r#"{"country":"DE"}"#).expect("json");
        assert!(empty.into_asn("x").is_none());
    }

    #[test]
    fn a_file_without_ranges_is_refused() {
        let dir = std::env::temp_dir().join(format!("enrich-asn-empty-{}", std::process::id()));
        std::fs::write(&dir, "nonsense\n").expect("write");
        let err = AsnDb::open(&[&dir]).expect_err("must fail");
        let _ = std::fs::remove_file(&dir);
        assert!(err.to_string().contains("line 1"), "{err}");
    }
}
