//! The subcommands of the `tracemap` binary, one file each, plus what they share.

pub mod agent;
pub mod config;
pub mod data;
pub mod docs;
pub mod geo;
pub mod locate;
pub mod nats;
pub mod output;
pub mod serve;
pub mod trace;
pub mod watch;
