//! `tracemap trace HOST`: one trace in the terminal, as a table or one JSON document.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, ValueEnum};
use tokio::sync::mpsc;
use tracemap::net::Family;
use tracemap::probe::{ProbeConfig, Watch};
use tracemap::runner::{self, TraceJob};
use tracemap_shared::{Geo, Protocol};

use super::geo::{GeoArgs, open_enricher, parse_location};
use super::{output, watch};

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum ProtoArg {
    Icmp,
    Udp,
    Tcp,
}

impl From<ProtoArg> for Protocol {
    fn from(p: ProtoArg) -> Self {
        match p {
            ProtoArg::Icmp => Protocol::Icmp,
            ProtoArg::Udp => Protocol::Udp,
            ProtoArg::Tcp => Protocol::Tcp,
        }
    }
}

/// `--family`: the key a configuration file sets (`family = "6"`); `-4` and `-6` are its short forms.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum FamilyArg {
    Auto,
    #[value(name = "4", alias = "ipv4")]
    V4,
    #[value(name = "6", alias = "ipv6")]
    V6,
}

#[derive(Args, Debug)]
pub struct TraceArgs {
    /// Hostname or IP address to trace.
    host: String,
    /// Do not resolve hop addresses to names.
    #[arg(short = 'n', long = "no-dns")]
    no_dns: bool,
    /// Do not look up hop locations.
    #[arg(short = 'g', long = "no-geoip")]
    no_geoip: bool,
    /// Longest wait for a probe's reply, in seconds.
    #[arg(short = 't', long, default_value_t = 2.0, value_parser = parse_timeout)]
    timeout: f64,
    /// Probes per hop (per round with --rounds) [default: 3, or 1 with --rounds].
    #[arg(short = 'r', long, value_parser = clap::value_parser!(u8).range(1..=10))]
    tries: Option<u8>,
    /// Probe protocol.
    #[arg(short = 'p', long = "proto", value_enum, default_value_t = ProtoArg::Icmp)]
    proto: ProtoArg,
    /// Highest TTL to probe.
    #[arg(short = 'm', long = "max-hops", default_value_t = 30, value_parser = clap::value_parser!(u8).range(1..=255))]
    max_hops: u8,
    /// First TTL to probe (skips the hops before it).
    #[arg(short = 'f', long = "first-ttl", default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=255))]
    first_ttl: u8,
    /// TCP: the port probed (default 80). UDP: the destination port of the first probe (default 33434), or of every
    /// probe with --paris.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    port: Option<u16>,
    /// UDP: keep ports and length constant (Paris traceroute) so per-flow load balancers keep one path.
    #[arg(long)]
    paris: bool,
    /// Address family: `auto` (the first address the name resolves to), `4` or `6`.
    #[arg(long, value_enum, default_value_t = FamilyArg::Auto)]
    family: FamilyArg,
    /// Trace over IPv4 only: short for `--family 4`, and beats a `family` from a configuration file.
    #[arg(short = '4', conflicts_with_all = ["ipv6", "family"])]
    ipv4: bool,
    /// Trace over IPv6 only: short for `--family 6`, and beats a `family` from a configuration file.
    #[arg(short = '6', conflicts_with = "family")]
    ipv6: bool,
    /// Print one JSON document instead of a table.
    #[arg(long)]
    json: bool,
    /// Watch the route: probe every hop again this many rounds (0: until Ctrl-C) and keep per-hop statistics.
    #[arg(long, value_name = "N")]
    rounds: Option<u32>,
    /// With --rounds: least time between the starts of two rounds, in seconds (rounds also wait for the routers'
    /// ICMP rate limits: a burst of 6, then one a second).
    #[arg(long, value_name = "SECS", default_value_t = 1.0, value_parser = parse_interval, requires = "rounds")]
    interval: f64,
    /// With --rounds: print only the final table, not one per round.
    #[arg(long, requires = "rounds", conflicts_with_all = ["json", "csv"])]
    report: bool,
    /// With --rounds: print the final statistics as CSV, a row per hop and per address.
    #[arg(long, requires = "rounds", conflicts_with = "json")]
    csv: bool,
    /// Where this prober stands, as LAT,LON[,LABEL]: every place is checked against the replies' round-trip times
    /// from there (light in fibre covers about 100 km per ms of round trip).
    #[arg(long, value_name = "LAT,LON[,LABEL]", env = "TRACEMAP_LOCATION", value_parser = boxed_location)]
    location: Option<Box<Geo>>,
    #[command(flatten)]
    geo: GeoArgs,
}

/// `--location`, boxed: a place is large next to the other arguments.
fn boxed_location(s: &str) -> Result<Box<Geo>, String> {
    parse_location(s).map(Box::new)
}

fn parse_interval(s: &str) -> Result<f64, String> {
    let secs: f64 = s.parse().map_err(|_| format!("'{s}' is not a number of seconds"))?;
    if (0.01..=3600.0).contains(&secs) { Ok(secs) } else { Err("must be between 0.01 and 3600 seconds".to_owned()) }
}

fn parse_timeout(s: &str) -> Result<f64, String> {
    let secs: f64 = s.parse().map_err(|_| format!("'{s}' is not a number of seconds"))?;
    if (0.05..=60.0).contains(&secs) { Ok(secs) } else { Err("must be between 0.05 and 60 seconds".to_owned()) }
}

impl TraceArgs {
    /// The family asked for: `-4`/`-6` on the command line, else `--family` (flag, then configuration file).
    fn family(&self) -> Option<Family> {
        match (self.ipv4, self.ipv6, self.family) {
            (true, _, _) => Some(Family::V4),
            (_, true, _) => Some(Family::V6),
            (_, _, FamilyArg::V4) => Some(Family::V4),
            (_, _, FamilyArg::V6) => Some(Family::V6),
            (_, _, FamilyArg::Auto) => None,
        }
    }
}

pub async fn run(args: TraceArgs) -> anyhow::Result<ExitCode> {
    let enricher = Arc::new(open_enricher(&args.geo, !args.no_geoip)?);
    if args.paris && !matches!(args.proto, ProtoArg::Udp) {
        anyhow::bail!("--paris applies to UDP probes only (-p udp)");
    }
    if args.first_ttl > args.max_hops {
        anyhow::bail!("the first TTL ({}) is beyond the maximum number of hops ({})", args.first_ttl, args.max_hops);
    }
    let destination = runner::resolve_family(&args.host, args.family()).await?;
    let probe = ProbeConfig {
        destination,
        protocol: args.proto.into(),
        first_ttl: args.first_ttl,
        max_hops: args.max_hops,
        tries: args.tries.unwrap_or(if args.rounds.is_some() { 1 } else { 3 }),
        timeout: Duration::from_secs_f64(args.timeout),
        port: args.port,
        paris: args.paris,
        watch: args.rounds.map(|rounds| Watch { rounds, interval: Duration::from_secs_f64(args.interval) }),
    };
    let job = TraceJob {
        target: args.host.clone(),
        probe,
        geo: !args.no_geoip,
        dns: !args.no_dns,
        location: args.location.as_deref().cloned(),
    };
    let (tx, rx) = mpsc::unbounded_channel();
    let runner = tokio::spawn(runner::run(job, enricher, tx));
    if args.rounds.is_some() {
        let format = match (args.json, args.csv, args.report) {
            (true, _, _) => watch::Format::Json,
            (_, true, _) => watch::Format::Csv,
            (_, _, true) => watch::Format::Report,
            _ => watch::Format::Table,
        };
        return watch::run(format, rx, runner).await;
    }
    let report = if args.json {
        let report = output::collect(rx).await;
        println!("{}", serde_json::to_string_pretty(&report).context("encoding the report")?);
        report
    } else {
        output::print_table(rx, &mut std::io::stdout(), !args.no_dns).await?
    };
    if let Some(reason) = &report.error {
        eprintln!("tracemap: {reason}");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use clap::{CommandFactory, FromArgMatches};

    use super::*;
    use crate::cli::config::{FileSettings, apply, parse};

    /// `tracemap trace` as `argv` gives it, over a configuration file holding `file`.
    fn trace_args(file: &str, argv: &[&str]) -> Result<TraceArgs, clap::Error> {
        let mut settings = FileSettings::default();
        parse(&crate::Cli::command(), Path::new("/etc/tracemap/config.toml"), file, &mut settings).expect("valid");
        let command = apply(crate::Cli::command(), &settings);
        let matches = command.try_get_matches_from([&["tracemap", "trace", "example.net"], argv].concat())?;
        match crate::Cli::from_arg_matches(&matches)?.command {
            crate::Command::Trace(args) => Ok(args),
            other => panic!("not a trace: {other:?}"),
        }
    }

    #[test]
    fn the_family_is_a_configuration_key_that_minus_4_and_minus_6_override() {
        assert_eq!(trace_args("", &[]).expect("default").family(), None);
        assert_eq!(trace_args("", &["-4"]).expect("-4").family(), Some(Family::V4));
        assert_eq!(trace_args("", &["--family", "ipv6"]).expect("alias").family(), Some(Family::V6));
        let six = "[trace]\nfamily = \"6\"\n";
        assert_eq!(trace_args(six, &[]).expect("file").family(), Some(Family::V6));
        assert_eq!(trace_args(six, &["-4"]).expect("-4 beats the file").family(), Some(Family::V4));
        assert_eq!(trace_args(six, &["--family", "auto"]).expect("flag beats file").family(), None);
        let four = "[trace]\nfamily = \"4\"\n";
        assert_eq!(trace_args(four, &["-6"]).expect("-6 beats the file").family(), Some(Family::V6));
        // On one command line, the short and long forms cannot disagree, nor can -4 and -6.
        assert!(trace_args("", &["-4", "--family", "6"]).is_err());
        assert!(trace_args("", &["-4", "-6"]).is_err());
        // The short forms are not keys of their own; a wrong family names the choices.
        let mut settings = FileSettings::default();
        let error = parse(&crate::Cli::command(), Path::new("c.toml"), "[trace]\nipv4 = true", &mut settings);
        assert!(error.expect_err("no ipv4 key").to_string().starts_with("c.toml:2: unknown key \"ipv4\""));
        let error = parse(&crate::Cli::command(), Path::new("c.toml"), "[trace]\nfamily = \"5\"", &mut settings);
        let message = error.expect_err("bad family").to_string();
        assert!(message.starts_with("c.toml:2: [trace] family: invalid value '5'"), "{message}");
    }
}
