//! How `tracemap trace --rounds N` shows a watched route: on a terminal, one table redrawn in place after every
//! round (as mtr does); otherwise, or with `--report`, only the final table. `--json` and `--csv` print the final
//! statistics instead. The table is a pure function of the report, tested without a terminal.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use anyhow::Context;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracemap_shared::{Hop, HopStats, LossAt, TraceEvent, TraceReport, TraceStatus};

use super::output::{as_label, sanitize};

/// What the user asked to see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The table, redrawn every round on a terminal (only the final one otherwise).
    Table,
    /// Only the final table (`--report`).
    Report,
    /// The final report as JSON, with `hop.stats` (`--json`).
    Json,
    /// The final statistics as CSV (`--csv`).
    Csv,
}

/// Shows the watch that `runner` runs and whose events arrive on `rx` until its last round, or until Ctrl-C: then
/// the runner is stopped (its prober with it), the stream closes, and the statistics so far are printed as asked.
pub async fn run(
    format: Format,
    rx: mpsc::UnboundedReceiver<TraceEvent>,
    runner: JoinHandle<()>,
) -> anyhow::Result<ExitCode> {
    let abort = runner.abort_handle();
    let stop = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            abort.abort();
        }
    });
    let mut stdout = std::io::stdout();
    let how = match format {
        Format::Json | Format::Csv => Show::Quiet,
        Format::Report => Show::Report,
        Format::Table if stdout.is_terminal() => Show::Live,
        Format::Table => Show::Report,
    };
    let mut report = show(rx, &mut stdout, how).await?;
    stop.abort();
    if report.status == TraceStatus::Running {
        report.status = TraceStatus::Stopped;
    }
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&report).context("encoding the report")?),
        Format::Csv => print!("{}", csv(&report)),
        Format::Table | Format::Report => {}
    }
    if let Some(reason) = &report.error {
        eprintln!("tracemap: {reason}");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// How the watch is shown while it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Show {
    /// Redraw the table in place after every round (a terminal).
    Live,
    /// Print only the final table.
    Report,
    /// Print nothing; the caller prints the final report (`--json`, `--csv`).
    Quiet,
}

/// Folds the events, drawing as `show` says, until the stream ends (the last round, or Ctrl-C, which ends the
/// runner and so the stream); returns the report with the statistics so far.
pub async fn show(
    mut rx: mpsc::UnboundedReceiver<TraceEvent>,
    out: &mut impl Write,
    show: Show,
) -> std::io::Result<TraceReport> {
    let mut report = TraceReport::default();
    let mut drawn = 0usize;
    while let Some(event) = rx.recv().await {
        // A new round means the one before is complete: draw it before the new one begins.
        if matches!(event, TraceEvent::Round { round, .. } if round > 1) && show == Show::Live {
            drawn = redraw(out, &report, drawn)?;
        }
        report.apply(&event);
        if let TraceEvent::Started { target, address, protocol, .. } = &event
            && show != Show::Quiet
        {
            writeln!(out, "tracemap watching {} ({address}), {protocol} probes", sanitize(target))?;
        }
    }
    match show {
        Show::Live => {
            redraw(out, &report, drawn)?;
        }
        Show::Report => {
            for line in table(&report) {
                writeln!(out, "{line}")?;
            }
        }
        Show::Quiet => {}
    }
    out.flush()?;
    Ok(report)
}

/// Replaces the `drawn` lines printed last with the current table; returns how many lines it printed.
fn redraw(out: &mut impl Write, report: &TraceReport, drawn: usize) -> std::io::Result<usize> {
    if drawn > 0 {
        // Up to the first line of the last table, then clear to the end of the screen.
        write!(out, "\x1b[{drawn}F\x1b[J")?;
    }
    let lines = table(report);
    for line in &lines {
        writeln!(out, "{line}")?;
    }
    out.flush()?;
    Ok(lines.len())
}

/// The table: a header, then one line per hop (and one per other address that answered it).
pub fn table(report: &TraceReport) -> Vec<String> {
    let rounds = report.rounds.unwrap_or(0);
    let mut lines = vec![
        format!("rounds: {rounds}"),
        format!(
            "{:>3}  {:<40} {:>6} {:>5} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7}",
            "Hop", "Host", "Loss%", "Snt", "Last", "Avg", "Best", "Wrst", "StDev", "Jttr"
        ),
    ];
    for hop in &report.hops {
        let Some(stats) = &hop.stats else { continue };
        // `~`: the route changed at this hop; `=`: load balancing between the addresses listed beneath it.
        let mark = if hop.load_balanced {
            '='
        } else if report.route_changes.iter().any(|change| change.ttl == hop.ttl) {
            '~'
        } else {
            '.'
        };
        lines.push(format!("{:>3}{mark} {:<40} {}", hop.ttl, host(hop), figures(stats)));
        for other in hop.other_addresses() {
            if let Some(stats) = &other.stats {
                let name = match &other.hostname {
                    Some(name) => format!("{} ({})", sanitize(name), other.address),
                    None => other.address.clone(),
                };
                lines.push(format!(
                    "     {:<40} {:>6} {:>5} {}",
                    clip(&format!("  {name}"), 40),
                    "",
                    stats.received,
                    times(stats)
                ));
            }
        }
    }
    lines.extend(notes(report));
    lines
}

/// Sentences under the table: where loss happens, and every route change with its round and time.
pub fn notes(report: &TraceReport) -> Vec<String> {
    let mut notes = Vec::new();
    let mut told_from = Vec::new();
    for hop in &report.hops {
        match hop.loss_at {
            Some(loss @ LossAt::Forwarding { from_ttl }) if !told_from.contains(&from_ttl) => {
                told_from.push(from_ttl);
                notes.push(format!("{}: packets are lost on the path", loss.describe()));
            }
            Some(loss @ LossAt::HopOnly) => notes.push(format!("hop {}: {}", hop.ttl, loss.describe())),
            _ => {}
        }
        if hop.load_balanced {
            let addresses: Vec<&str> = hop.addresses.iter().map(|entry| entry.address.as_str()).collect();
            notes.push(format!("hop {}: load balancing between {}", hop.ttl, addresses.join(", ")));
        }
    }
    for change in &report.route_changes {
        notes.push(format!(
            "hop {}: route changed in round {} (+{:.1} s): {} -> {}",
            change.ttl,
            change.round,
            change.at_ms as f64 / 1000.0,
            change.from,
            change.to
        ));
    }
    notes
}

/// The hop's shown address with its name and AS, or `???` when nothing answered.
fn host(hop: &Hop) -> String {
    let mut text = match (&hop.address, &hop.hostname) {
        (Some(address), Some(name)) => format!("{} ({address})", sanitize(name)),
        (Some(address), None) => address.clone(),
        (None, _) => "???".to_owned(),
    };
    if let Some(asn) = &hop.asn {
        text = format!("{text} [{}]", as_label(asn));
    }
    clip(&text, 40)
}

fn clip(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_owned();
    }
    let mut clipped: String = text.chars().take(width - 1).collect();
    clipped.push('…');
    clipped
}

fn figures(stats: &HopStats) -> String {
    format!("{:>5.1}% {:>5} {}", stats.loss_pct, stats.sent, times(stats))
}

fn times(stats: &HopStats) -> String {
    let ms = |value: Option<f64>| value.map_or_else(|| format!("{:>7}", "-"), |v| format!("{v:>7.1}"));
    [stats.last_ms, stats.avg_ms, stats.best_ms, stats.worst_ms, stats.stddev_ms, stats.jitter_ms]
        .into_iter()
        .map(ms)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The statistics as CSV: one row per hop (`scope` = `hop`, its shown address) and one per address that answered
/// it (`scope` = `address`), with the JSON's names as columns. Names from the network are quoted, and a leading
/// `=`, `+`, `-` or `@` is defused so that a spreadsheet never runs them.
pub fn csv(report: &TraceReport) -> String {
    let mut text = String::from(
        "ttl,scope,address,hostname,sent,received,loss_pct,last_ms,avg_ms,best_ms,worst_ms,stddev_ms,jitter_ms,jitter_max_ms,p95_ms\n",
    );
    let mut row = |ttl: u8, scope: &str, address: Option<&str>, hostname: Option<&str>, stats: &HopStats| {
        let ms = |value: Option<f64>| value.map_or_else(String::new, |v| format!("{v:.3}"));
        text.push_str(&format!(
            "{ttl},{scope},{},{},{},{},{:.1},{},{},{},{},{},{},{},{}\n",
            cell(address.unwrap_or("")),
            cell(hostname.unwrap_or("")),
            stats.sent,
            stats.received,
            stats.loss_pct,
            ms(stats.last_ms),
            ms(stats.avg_ms),
            ms(stats.best_ms),
            ms(stats.worst_ms),
            ms(stats.stddev_ms),
            ms(stats.jitter_ms),
            ms(stats.jitter_max_ms),
            ms(stats.p95_ms),
        ));
    };
    for hop in &report.hops {
        let Some(stats) = &hop.stats else { continue };
        row(hop.ttl, "hop", hop.address.as_deref(), hop.hostname.as_deref(), stats);
        for address in &hop.addresses {
            if let Some(stats) = &address.stats {
                row(hop.ttl, "address", Some(&address.address), address.hostname.as_deref(), stats);
            }
        }
    }
    text
}

/// One CSV cell: quoted, quotes doubled, a formula's first character defused.
fn cell(value: &str) -> String {
    let value = sanitize(value);
    let defused = if value.starts_with(['=', '+', '-', '@']) { format!("'{value}") } else { value };
    format!("\"{}\"", defused.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracemap_shared::{ProbeReply, ReplyKind};

    fn probe(ttl: u8, from: Option<&str>, rtt: f64) -> TraceEvent {
        let reply = from.map(|from| ProbeReply::new(from, rtt, ReplyKind::TimeExceeded));
        TraceEvent::Probe { ttl, index: 0, reply, rate_limited: false, send_error: None }
    }

    fn watched() -> TraceReport {
        let mut report = TraceReport::default();
        for round in 1..=4u32 {
            report.apply(&TraceEvent::Round { round, at_ms: u64::from(round) * 1000 });
            report.apply(&probe(1, Some("10.0.1.1"), 1.0 + f64::from(round)));
            // Hop 2 alternates between two routers and loses every fourth probe.
            let second = match round {
                4 => None,
                r if r % 2 == 0 => Some("10.0.2.2"),
                _ => Some("10.0.2.1"),
            };
            report.apply(&probe(2, second, 5.0));
        }
        report
    }

    #[test]
    fn the_table_has_a_line_per_hop_and_per_other_address() {
        let lines = table(&watched());
        assert_eq!(lines[0], "rounds: 4");
        assert!(lines[1].contains("Loss%") && lines[1].contains("Jttr"), "{}", lines[1]);
        assert!(lines[2].starts_with("  1. 10.0.1.1"), "{lines:#?}");
        assert!(lines[2].contains("  0.0%     4     5.0     3.5     2.0     5.0"), "{lines:#?}");
        // Hop 2 went back to 10.0.2.1 in round 3: load balancing, marked `=`.
        assert!(lines[3].starts_with("  2= 10.0.2.1") && lines[3].contains(" 25.0%     4"), "{lines:#?}");
        assert!(lines[4].contains("  10.0.2.2"), "the other router has its own line: {lines:#?}");
        assert_eq!(lines[5], "loss from hop 2 on: packets are lost on the path");
        assert_eq!(lines[6], "hop 2: load balancing between 10.0.2.1, 10.0.2.2");
        assert_eq!(lines.len(), 7);
    }

    #[test]
    fn csv_rows_carry_hop_and_address_statistics() {
        let text = csv(&watched());
        let rows: Vec<&str> = text.lines().collect();
        assert!(rows[0].starts_with("ttl,scope,address,hostname,sent,received,loss_pct,last_ms"));
        assert_eq!(rows[1], "1,hop,\"10.0.1.1\",\"\",4,4,0.0,5.000,3.500,2.000,5.000,1.118,1.000,1.000,5.000");
        assert!(rows.iter().any(|row| row.starts_with("2,hop,") && row.contains(",4,3,25.0,")), "{text}");
        assert!(rows.iter().any(|row| row.starts_with("2,address,\"10.0.2.2\",\"\",1,1,")), "{text}");
        assert_eq!(cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
    }

    #[tokio::test]
    async fn live_redraws_after_each_round_and_at_the_end() {
        let (tx, rx) = mpsc::unbounded_channel();
        for round in 1..=3u32 {
            tx.send(TraceEvent::Round { round, at_ms: 0 }).unwrap();
            tx.send(probe(1, Some("10.0.1.1"), 1.0)).unwrap();
        }
        drop(tx);
        let mut out = Vec::new();
        let report = show(rx, &mut out, Show::Live).await.unwrap();
        let text = String::from_utf8(out).unwrap();
        // Drawn after rounds 1 and 2 (when the next began) and at the end; the last two replace the one before.
        assert_eq!(text.matches("rounds: ").count(), 3, "{text}");
        assert!(text.find("rounds: 1").unwrap() < text.find("rounds: 2").unwrap(), "{text}");
        assert_eq!(text.matches("\x1b[3F\x1b[J").count(), 2, "{text:?}");
        assert_eq!(report.hops[0].stats.as_ref().map(|s| s.sent), Some(3));
    }
}
