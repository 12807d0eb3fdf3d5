//! The NATS flags `serve` and `agent` share: how to log in besides the URL, and the CA of a `tls://` broker.

use std::path::PathBuf;

use clap::Args;
use tracemap::agent::connect::NatsSettings;

#[derive(Args, Debug, Clone, Default)]
pub struct NatsAuthArgs {
    /// A NATS credentials file (JWT and nkey seed, as `nsc` writes them) instead of credentials in the URL.
    #[arg(long = "nats-creds", value_name = "FILE", env = "TRACEMAP_NATS_CREDS")]
    pub creds: Option<PathBuf>,
    /// A file holding an nkey seed (SU...) instead of credentials in the URL.
    #[arg(long = "nats-nkey", value_name = "FILE", env = "TRACEMAP_NATS_NKEY")]
    pub nkey: Option<PathBuf>,
    /// The CA certificate (PEM) that signed a tls:// broker's certificate, when the system does not trust it.
    #[arg(long = "nats-ca", value_name = "FILE", env = "TRACEMAP_NATS_CA")]
    pub ca: Option<PathBuf>,
}

impl NatsAuthArgs {
    /// The settings for broker `url`.
    pub fn settings(&self, url: &str) -> NatsSettings {
        NatsSettings { url: url.to_owned(), creds: self.creds.clone(), nkey: self.nkey.clone(), ca: self.ca.clone() }
    }
}
