//! tracemap's backend: a raw-socket traceroute with enrichment, storage and a web service.
//!
//! The modules follow the data: `wire` (packet formats, no I/O) → `probe` (the pure tracer state machine) →
//! `net` (sockets and the loop that drives tracers) → `addr` (the special-address table) → `enrich` (GeoIP, DNS,
//! ASN) → `runner` (one trace from resolution to its last event) → `store` (SQLite) and `http` (axum); `agent` is
//! the NATS side of vantage points (subjects, messages, the server's registry of agents). `data`
//! finds the data files; `main.rs` only wires these up.

pub mod addr;
pub mod agent;
pub mod data;
pub mod enrich;
pub mod http;
pub mod net;
pub mod privilege;
pub mod probe;
pub mod runner;
pub mod store;
pub mod wire;
