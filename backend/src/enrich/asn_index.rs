//! A range CSV's table as a compact binary file, memory-mapped and searched in place.
//!
//! Parsing npm's 32 MB of ASN CSV took most of a second at every start. The first open writes the parsed table
//! beside the CSV (`asn-ipv4.csv.idx`): fixed-width little-endian arrays (range starts, ends, AS numbers and
//! organisation indexes per family, then the organisation names), so later opens only map the file and check its
//! size, and a lookup touches a few pages. The index is rebuilt whenever the CSV is newer than it, or it does not
//! read as one.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use tracemap_shared::Asn;

use super::asn::RangeTable;

const MAGIC: &[u8; 8] = b"TMASNIX1";
const HEADER: usize = 8 + 4 * 8;

/// Where the index of `csv` lives.
pub fn index_path(csv: &Path) -> PathBuf {
    let mut name = csv.as_os_str().to_owned();
    name.push(".idx");
    PathBuf::from(name)
}

/// Serialises a parsed table.
pub fn encode(table: &RangeTable) -> Vec<u8> {
    let (v4, v6, orgs, label) = table.parts();
    let mut out = Vec::with_capacity(HEADER + v4.0.len() * 16 + v6.0.len() * 40 + orgs.len() * 24);
    out.extend_from_slice(MAGIC);
    for n in [v4.0.len(), v6.0.len(), orgs.len(), label.len()] {
        out.extend_from_slice(&(n as u64).to_le_bytes());
    }
    for column in [v4.0, v4.1] {
        column.iter().for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
    }
    for column in [v4.2, v4.3] {
        column.iter().for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
    }
    for column in [v6.0, v6.1] {
        column.iter().for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
    }
    for column in [v6.2, v6.3] {
        column.iter().for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
    }
    let mut offset = 0u32;
    out.extend_from_slice(&offset.to_le_bytes());
    for org in orgs {
        offset = offset.saturating_add(org.len() as u32);
        out.extend_from_slice(&offset.to_le_bytes());
    }
    orgs.iter().for_each(|o| out.extend_from_slice(o.as_bytes()));
    out.extend_from_slice(label.as_bytes());
    out
}

/// Bytes of an index: a map of the file, or a buffer (tests, and systems where mapping fails).
#[derive(Debug)]
enum Bytes {
    Mapped(memmap2::Mmap),
    Owned(Vec<u8>),
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Mapped(m) => m,
            Bytes::Owned(v) => v,
        }
    }
}

/// An index opened for lookups.
#[derive(Debug)]
pub struct IndexedTable {
    bytes: Bytes,
    n4: usize,
    n6: usize,
    norgs: usize,
    /// Offsets of the sections.
    v6_at: usize,
    orgs_at: usize,
    names_at: usize,
    label: String,
}

impl IndexedTable {
    /// Checks `bytes` and makes them searchable; `None` when they are not a whole index.
    fn new(bytes: Bytes) -> Option<IndexedTable> {
        if bytes.len() < HEADER || &bytes[..8] != MAGIC {
            return None;
        }
        let field = |i: usize| usize::try_from(u64::from_le_bytes(bytes[8 + i * 8..16 + i * 8].try_into().ok()?)).ok();
        let (n4, n6, norgs, label_len) = (field(0)?, field(1)?, field(2)?, field(3)?);
        let v6_at = HEADER.checked_add(n4.checked_mul(16)?)?;
        let orgs_at = v6_at.checked_add(n6.checked_mul(40)?)?;
        let names_at = orgs_at.checked_add(norgs.checked_add(1)?.checked_mul(4)?)?;
        let read_u32 = |at: usize| bytes.get(at..at + 4).and_then(|b| b.try_into().ok()).map(u32::from_le_bytes);
        let names_len = usize::try_from(read_u32(names_at.checked_sub(4)?)?).ok()?;
        let end = names_at.checked_add(names_len)?.checked_add(label_len)?;
        if end != bytes.len() {
            return None;
        }
        let label = String::from_utf8(bytes[end - label_len..].to_vec()).ok()?;
        Some(IndexedTable { bytes, n4, n6, norgs, v6_at, orgs_at, names_at, label })
    }

    /// Maps the index file at `path`; `None` when it is missing or not a whole index.
    pub fn open(path: &Path) -> Option<IndexedTable> {
        let file = std::fs::File::open(path).ok()?;
        // SAFETY: the index is only ever replaced by renaming a complete new file over it (see `write`), never
        // rewritten in place, so the mapped bytes do not change under us.
        let bytes = match unsafe { memmap2::Mmap::map(&file) } {
            Ok(map) => Bytes::Mapped(map),
            Err(_) => Bytes::Owned(std::fs::read(path).ok()?),
        };
        IndexedTable::new(bytes)
    }

    /// From bytes in memory.
    pub fn from_bytes(bytes: Vec<u8>) -> Option<IndexedTable> {
        IndexedTable::new(Bytes::Owned(bytes))
    }

    /// The label given to the table it was made from.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Number of ranges.
    pub fn len(&self) -> usize {
        self.n4 + self.n6
    }

    /// Whether it holds no range.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn u32_at(&self, at: usize) -> u32 {
        self.bytes.get(at..at + 4).and_then(|b| b.try_into().ok()).map_or(0, u32::from_le_bytes)
    }

    fn u128_at(&self, at: usize) -> u128 {
        self.bytes.get(at..at + 16).and_then(|b| b.try_into().ok()).map_or(0, u128::from_le_bytes)
    }

    /// The range with the greatest start at or below `key`, when it reaches `key`: (AS number, org index).
    fn find<T: Ord + Copy>(
        &self,
        n: usize,
        key: T,
        start: impl Fn(usize) -> T,
        end: impl Fn(usize) -> T,
    ) -> Option<usize> {
        let (mut lo, mut hi) = (0, n);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if start(mid) <= key { lo = mid + 1 } else { hi = mid }
        }
        let i = lo.checked_sub(1)?;
        (end(i) >= key).then_some(i)
    }

    /// The AS whose range holds `ip`.
    pub fn lookup(&self, ip: IpAddr) -> Option<Asn> {
        let v4 = match ip {
            IpAddr::V4(v4) => Some(u32::from(v4)),
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(u32::from),
        };
        let (number, org) = match (v4, ip) {
            (Some(key), _) => {
                let n = self.n4;
                let i = self.find(n, key, |i| self.u32_at(HEADER + i * 4), |i| self.u32_at(HEADER + (n + i) * 4))?;
                (self.u32_at(HEADER + (2 * n + i) * 4), self.u32_at(HEADER + (3 * n + i) * 4))
            }
            (None, IpAddr::V6(v6)) => {
                let (n, at) = (self.n6, self.v6_at);
                let key = u128::from(v6);
                let i = self.find(n, key, |i| self.u128_at(at + i * 16), |i| self.u128_at(at + (n + i) * 16))?;
                (self.u32_at(at + n * 32 + i * 4), self.u32_at(at + n * 36 + i * 4))
            }
            (None, IpAddr::V4(_)) => return None,
        };
        (number != 0).then(|| Asn { number, org: self.org(org as usize), source: Some(self.label.clone()) })
    }

    fn org(&self, i: usize) -> Option<String> {
        if i >= self.norgs {
            return None;
        }
        let from = self.u32_at(self.orgs_at + i * 4) as usize;
        let to = self.u32_at(self.orgs_at + (i + 1) * 4) as usize;
        let name = self.bytes.get(self.names_at + from..self.names_at + to)?;
        Some(String::from_utf8_lossy(name).into_owned()).filter(|o| !o.is_empty())
    }
}

/// Writes `bytes` to `path` through a temporary file renamed over it, so a reader never sees half an index.
pub fn write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = PathBuf::from(format!("{}.{}.part", path.display(), std::process::id()));
    std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path)).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// Whether the index at `index` is at least as new as `csv`.
pub fn fresh(csv: &Path, index: &Path) -> bool {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    matches!((modified(csv), modified(index)), (Some(c), Some(i)) if i >= c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_index_answers_as_the_table_does() {
        let csv = "1.0.0.0,1.0.0.255,13335,\"Cloudflare, Inc.\"\n1.0.4.0,1.0.7.255,38803,Gtelecom\n\
                   9.9.9.0,9.9.9.255,0,\n2001:200::,2001:200:1b9:ffff:ffff:ffff:ffff:ffff,2500,WIDE Project\n\
                   8.8.8.0,8.8.8.255,15169,\n";
        let (table, _) = RangeTable::parse(csv, "test");
        let index = IndexedTable::from_bytes(encode(&table)).expect("index");
        assert_eq!((index.len(), index.label()), (5, "test"));
        for ip in [
            "1.0.0.1",
            "1.0.1.0",
            "0.0.0.1",
            "1.0.7.255",
            "9.9.9.9",
            "8.8.8.8",
            "2001:200:1::1",
            "2001:201::1",
            "::ffff:1.0.0.1",
            "255.255.255.255",
            "::",
        ] {
            let ip: IpAddr = ip.parse().expect("address");
            assert_eq!(index.lookup(ip), table.lookup(ip), "{ip}");
        }
        let bytes = encode(&table);
        for cut in [0, 7, HEADER, bytes.len() - 1] {
            assert!(IndexedTable::from_bytes(bytes[..cut].to_vec()).is_none(), "cut at {cut}");
        }
        let mut extra = bytes.clone();
        extra.push(0);
        assert!(IndexedTable::from_bytes(extra).is_none());
        let empty = IndexedTable::from_bytes(encode(&RangeTable::default())).expect("empty index");
        assert_eq!(empty.lookup("1.2.3.4".parse().expect("address")), None);
    }
}
