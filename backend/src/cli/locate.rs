//! `tracemap locate ADDRESS...`: what tracemap knows about addresses, and which source said so, without tracing.
//!
//! It uses the same sources and options as `trace`, so it is the way to check a geofeed, a database or a resolver
//! before trusting a map. `--json` prints an array with one object per address, `address`, `kind`, `hostname`,
//! `geo` and `asn` shaped as in `trace --json`. `-` reads addresses from standard input, one per line.

use std::io::{BufRead, Write};
use std::net::IpAddr;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use serde::Serialize;
use tracemap::enrich::Enricher;
use tracemap_shared::{Asn, Geo};

use super::geo::{GeoArgs, open_enricher};
use super::output::{as_label, place, sanitize};

#[derive(Args, Debug)]
pub struct LocateArgs {
    /// IP addresses to look up; `-` reads them from standard input, one per line.
    #[arg(required_unless_present = "hostname", value_name = "ADDRESS")]
    addresses: Vec<String>,
    /// A router name to read for places, without any lookup (repeatable): every place it may mean, best first.
    #[arg(long, value_name = "NAME")]
    hostname: Vec<String>,
    /// Do not look up names (reverse DNS).
    #[arg(short = 'n', long = "no-dns")]
    no_dns: bool,
    /// Do not look up locations.
    #[arg(short = 'g', long = "no-geoip")]
    no_geoip: bool,
    /// Print a JSON array instead of text.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    geo: GeoArgs,
}

/// Everything known about one address; the JSON shape of `locate --json`.
#[derive(Debug, Serialize)]
struct Located {
    address: String,
    kind: &'static str,
    hostname: Option<String>,
    /// Who named it: the reverse DNS, when a name was found.
    hostname_source: Option<&'static str>,
    geo: Option<Geo>,
    asn: Option<Asn>,
}

/// What a name says, for `--hostname`; the JSON shape of `locate --json --hostname`.
#[derive(Debug, Serialize)]
struct NameHints {
    hostname: String,
    hints: Vec<Geo>,
}

pub async fn run(args: LocateArgs) -> anyhow::Result<ExitCode> {
    let addresses = parse_addresses(&args.addresses)?;
    let enricher = Arc::new(open_enricher(&args.geo, !args.no_geoip)?);
    if !args.hostname.is_empty() {
        if !enricher.has_places() {
            eprintln!("tracemap: no place table under data/places: names cannot be read (scripts/setup.sh fetches it)");
        }
        let named: Vec<NameHints> = args
            .hostname
            .iter()
            .map(|name| NameHints { hostname: name.clone(), hints: enricher.name_hints(name) })
            .collect();
        let mut out = std::io::stdout().lock();
        if args.json {
            serde_json::to_writer_pretty(&mut out, &named).context("encoding the answer")?;
            writeln!(out)?;
        } else {
            for one in &named {
                writeln!(out, "{}", sanitize(&one.hostname))?;
                if one.hints.is_empty() {
                    writeln!(out, "  hint      none: the name says nowhere tracemap recognises")?;
                }
                for hint in &one.hints {
                    writeln!(out, "  hint      {}", place_line(hint))?;
                }
            }
        }
        if addresses.is_empty() {
            return Ok(ExitCode::SUCCESS);
        }
    }
    if !args.no_geoip && !enricher.has_geoip() && args.geo.geofeed.is_none() {
        eprintln!("tracemap: no GeoIP database: locations are unavailable");
    }
    // Names are looked up all at once: each lookup is bounded by the resolver's timeout.
    let names = futures_util::future::join_all(addresses.iter().map(|ip| {
        let enricher = Arc::clone(&enricher);
        let wanted = !args.no_dns;
        async move { if wanted { enricher.hostname(*ip).await } else { None } }
    }))
    .await;
    let located: Vec<Located> =
        addresses.iter().zip(names).map(|(ip, hostname)| locate(&enricher, *ip, hostname, !args.no_geoip)).collect();
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &located).context("encoding the answer")?;
        writeln!(out)?;
    } else {
        for (i, one) in located.iter().enumerate() {
            if i > 0 {
                writeln!(out)?;
            }
            write!(out, "{}", describe(one))?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// The addresses as typed, or read from standard input for `-`. Anything that is not an IP address is refused
/// before any lookup, naming it (cut short: it may be anything).
fn parse_addresses(args: &[String]) -> anyhow::Result<Vec<IpAddr>> {
    let mut texts: Vec<String> = Vec::new();
    for arg in args {
        if arg == "-" {
            for line in std::io::stdin().lock().lines() {
                let line = line.context("reading addresses from standard input")?;
                let line = line.trim();
                if !line.is_empty() && !line.starts_with('#') {
                    texts.push(line.to_owned());
                }
            }
        } else {
            texts.push(arg.clone());
        }
    }
    texts
        .iter()
        .map(|t| {
            t.trim().parse::<IpAddr>().map_err(|_| {
                anyhow::anyhow!("'{}' is not an IP address", sanitize(&t.chars().take(64).collect::<String>()))
            })
        })
        .collect()
}

fn locate(enricher: &Enricher, ip: IpAddr, hostname: Option<String>, geo: bool) -> Located {
    let info = enricher.info(ip, false);
    Located {
        address: ip.to_string(),
        kind: info.kind.as_str(),
        hostname_source: hostname.is_some().then_some("reverse DNS"),
        geo: if geo { enricher.place(ip, hostname.as_deref(), None, None) } else { None },
        hostname,
        asn: info.asn,
    }
}

/// `Amsterdam, NL  52.3086, 4.7639 (within 50 km)  [hostname ams10]`.
fn place_line(geo: &Geo) -> String {
    let mut line = place(geo);
    if let Some(code) = geo.country_code.as_deref().filter(|c| Some(*c) != geo.country.as_deref()) {
        line.push_str(&format!(" ({})", sanitize(code)));
    }
    line.push_str(&format!("  {:.4}, {:.4}", geo.lat, geo.lon));
    if let Some(km) = geo.accuracy_km {
        line.push_str(&format!(" (within {km} km)"));
    }
    match (&geo.source, &geo.token) {
        (Some(source), Some(token)) => line.push_str(&format!("  [{} {}]", sanitize(source), sanitize(token))),
        (Some(source), None) => line.push_str(&format!("  [{}]", sanitize(source))),
        _ => {}
    }
    line
}

/// The text form: one labelled line per fact, each with its source in brackets.
fn describe(one: &Located) -> String {
    let mut text = format!("{}\n  kind      {}\n", one.address, one.kind);
    match &one.hostname {
        Some(name) => text.push_str(&format!("  hostname  {}  [reverse DNS]\n", sanitize(name))),
        None => text.push_str("  hostname  -\n"),
    }
    match &one.geo {
        Some(geo) => {
            text.push_str(&format!("  location  {}\n", place_line(geo)));
            // The other candidates, so a name's hint and each database can be compared.
            for other in geo.candidates.iter().filter(|c| c.source != geo.source || c.token != geo.token) {
                text.push_str(&format!("  also      {}\n", place_line(other)));
            }
        }
        None if one.kind != "public" => {
            text.push_str(&format!("  location  none: a {} address is nowhere in particular\n", one.kind));
        }
        None => text.push_str("  location  unknown\n"),
    }
    match &one.asn {
        Some(asn) => {
            let source = asn.source.as_deref().map(|s| format!("  [{}]", sanitize(s))).unwrap_or_default();
            text.push_str(&format!("  asn       {}{source}\n", as_label(asn)));
        }
        None => text.push_str("  asn       -\n"),
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_ip_addresses_are_accepted() {
        let ok = parse_addresses(&["10.0.0.1".into(), " ::1 ".into()]).expect("addresses");
        assert_eq!(ok.len(), 2);
        for bad in ["example.com", "10.0.0.256", "-x", "1.2.3.4/24", "\u{1b}[2J"] {
            let err = parse_addresses(&[bad.into()]).expect_err(bad).to_string();
            assert!(err.contains("is not an IP address") && !err.contains('\u{1b}'), "{err}");
        }
    }

    #[test]
    fn text_names_every_source() {
        let one = Located {
            address: "10.0.2.1".into(),
            kind: "private",
            hostname: Some("core.lab".into()),
            hostname_source: Some("reverse DNS"),
            geo: Some(Geo {
                city: Some("Sydney".into()),
                region: Some("NSW".into()),
                country: Some("AU".into()),
                country_code: Some("AU".into()),
                accuracy_km: Some(5),
                source: Some("geofeed lab.csv".into()),
                ..Geo::at(-33.87, 151.21)
            }),
            asn: Some(Asn { number: 64512, org: Some("Lab".into()), source: Some("lab-asn.csv".into()) }),
        };
        assert_eq!(
            describe(&one),
            "10.0.2.1\n  kind      private\n  hostname  core.lab  [reverse DNS]\n  location  Sydney, NSW, AU  \
             -33.8700, 151.2100 (within 5 km)  [geofeed lab.csv]\n  asn       AS64512 Lab  [lab-asn.csv]\n"
        );
        let bare = Located {
            address: "192.168.1.1".into(),
            kind: "private",
            hostname: None,
            hostname_source: None,
            geo: None,
            asn: None,
        };
        assert!(describe(&bare).contains("location  none: a private address is nowhere in particular"));
    }
}
