//! A small MaxMind DB writer, so the tests can make fixtures in every schema tracemap reads (MaxMind's nested
//! City and ASN records, DB-IP's flat one, IPinfo's) without shipping binary files or real data.
//!
//! It writes format version 2.0 with 32-bit records: a binary trie over address bits, 16 zero bytes, the data
//! section (each inserted record encoded once, no pointers), then the metadata marker and map. IPv4 networks in an
//! IPv6 tree live under `::/96`, where readers look for them. Networks must be inserted from broad to narrow.

// Each test crate uses a different part of this module.
#![allow(dead_code)]

use std::net::IpAddr;
use std::path::Path;

/// A value of the MaxMind DB data section.
#[derive(Debug, Clone)]
pub enum Value {
    Str(String),
    F64(f64),
    F32(f32),
    U16(u16),
    U32(u32),
    U64(u64),
    Bool(bool),
    Map(Vec<(String, Value)>),
    Array(Vec<Value>),
}

/// `Value::Str` from anything string-like.
pub fn s(text: &str) -> Value {
    Value::Str(text.to_owned())
}

/// A map from `(key, value)` pairs.
pub fn map<const N: usize>(pairs: [(&str, Value); N]) -> Value {
    Value::Map(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

#[derive(Debug, Clone, Copy)]
enum Link {
    Empty,
    Node(usize),
    /// Offset into the data section.
    Data(usize),
}

/// An MMDB file being built.
#[derive(Debug)]
pub struct MmdbWriter {
    ip_version: u16,
    database_type: String,
    nodes: Vec<[Link; 2]>,
    data: Vec<u8>,
}

impl MmdbWriter {
    /// An empty database; `ip_version` is 4 (IPv4 only, 32-bit tree) or 6.
    pub fn new(ip_version: u16, database_type: &str) -> MmdbWriter {
        MmdbWriter {
            ip_version,
            database_type: database_type.to_owned(),
            nodes: vec![[Link::Empty; 2]],
            data: Vec::new(),
        }
    }

    /// Maps `network/prefix` to `value`. IPv4 networks in an IPv6 database go under `::/96`.
    pub fn insert(&mut self, network: &str, value: &Value) -> &mut Self {
        let (addr, prefix) = network.split_once('/').expect("network as addr/prefix");
        let addr: IpAddr = addr.parse().expect("network address");
        let prefix: usize = prefix.parse().expect("prefix length");
        let (bits, prefix): (u128, usize) = match (addr, self.ip_version) {
            (IpAddr::V4(v4), 4) => (u128::from(u32::from(v4)) << 96, prefix),
            (IpAddr::V4(v4), _) => (u128::from(u32::from(v4)), prefix + 96),
            (IpAddr::V6(v6), 6) => (u128::from(v6), prefix),
            (IpAddr::V6(_), _) => panic!("an IPv6 network in an IPv4 database"),
        };
        let depth = if self.ip_version == 4 { 32 } else { 128 };
        assert!(prefix > 0 && prefix <= depth, "prefix length");
        let offset = self.data.len();
        encode(value, &mut self.data);
        let mut node = 0;
        for i in 0..prefix {
            let bit = ((bits >> (127 - i)) & 1) as usize;
            if i + 1 == prefix {
                self.nodes[node][bit] = Link::Data(offset);
                break;
            }
            node = match self.nodes[node][bit] {
                Link::Node(next) => next,
                // A broader network ends here: split it so it still covers what the new one does not.
                other @ (Link::Empty | Link::Data(_)) => {
                    self.nodes.push([other; 2]);
                    let next = self.nodes.len() - 1;
                    self.nodes[node][bit] = Link::Node(next);
                    next
                }
            };
        }
        self
    }

    /// The whole file.
    pub fn to_bytes(&self) -> Vec<u8> {
        let count = self.nodes.len();
        let record = |link: Link| -> u32 {
            let value = match link {
                Link::Empty => count,
                Link::Node(n) => n,
                Link::Data(offset) => count + 16 + offset,
            };
            u32::try_from(value).expect("fits 32-bit records")
        };
        let mut out = Vec::new();
        for [left, right] in &self.nodes {
            out.extend_from_slice(&record(*left).to_be_bytes());
            out.extend_from_slice(&record(*right).to_be_bytes());
        }
        out.extend_from_slice(&[0; 16]);
        out.extend_from_slice(&self.data);
        out.extend_from_slice(b"\xAB\xCD\xEFMaxMind.com");
        let metadata = map([
            ("node_count", Value::U32(u32::try_from(count).expect("node count"))),
            ("record_size", Value::U16(32)),
            ("ip_version", Value::U16(self.ip_version)),
            ("database_type", s(&self.database_type)),
            ("languages", Value::Array(vec![s("en")])),
            ("binary_format_major_version", Value::U16(2)),
            ("binary_format_minor_version", Value::U16(0)),
            ("build_epoch", Value::U64(1_790_000_000)),
            ("description", map([("en", s("tracemap test fixture"))])),
        ]);
        encode(&metadata, &mut out);
        out
    }

    /// Writes the file to `path`.
    pub fn write(&self, path: &Path) {
        std::fs::write(path, self.to_bytes()).expect("write the mmdb fixture");
    }
}

/// Control byte(s): the type (extended types after it) and the size, extended for sizes of 29 and more.
fn control(kind: u8, size: usize, out: &mut Vec<u8>) {
    let (first, extended) = if kind <= 7 { (kind << 5, None) } else { (0, Some(kind - 7)) };
    let (low, extra): (u8, Vec<u8>) = match size {
        0..29 => (size as u8, vec![]),
        29..285 => (29, vec![(size - 29) as u8]),
        285..65_821 => (30, ((size - 285) as u16).to_be_bytes().to_vec()),
        _ => (31, ((size - 65_821) as u32).to_be_bytes()[1..].to_vec()),
    };
    out.push(first | low);
    out.extend(extended);
    out.extend(extra);
}

/// An unsigned integer in as few big-endian bytes as it needs.
fn unsigned(kind: u8, value: u64, out: &mut Vec<u8>) {
    let bytes = value.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    control(kind, 8 - skip, out);
    out.extend_from_slice(&bytes[skip..]);
}

fn encode(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Str(text) => {
            control(2, text.len(), out);
            out.extend_from_slice(text.as_bytes());
        }
        Value::F64(v) => {
            control(3, 8, out);
            out.extend_from_slice(&v.to_be_bytes());
        }
        Value::F32(v) => {
            control(15, 4, out);
            out.extend_from_slice(&v.to_be_bytes());
        }
        Value::U16(v) => unsigned(5, u64::from(*v), out),
        Value::U32(v) => unsigned(6, u64::from(*v), out),
        Value::U64(v) => unsigned(9, *v, out),
        Value::Bool(v) => control(14, usize::from(*v), out),
        Value::Map(pairs) => {
            control(7, pairs.len(), out);
            for (key, value) in pairs {
                encode(&Value::Str(key.clone()), out);
                encode(value, out);
            }
        }
        Value::Array(items) => {
            control(11, items.len(), out);
            for item in items {
                encode(item, out);
            }
        }
    }
}
