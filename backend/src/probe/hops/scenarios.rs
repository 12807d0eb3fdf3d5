//! The scenario files in `src/probe/scenarios/pacing/*.scenario`: the hop book (shared answers and the routers'
//! modelled budgets) driven line by line, in readable text.
//!
//! Each line is a time in milliseconds since the book's epoch, then one step:
//!
//! ```text
//! 0     answer r1 ttl=1 [to=dest|ADDR] [after=ADDR] [as=te|unreachable|dest]
//!                                    `r1` answered a probe to the destination at TTL 1 (Time Exceeded unless said)
//! 5     lose ttl=2 [to=..] [sibling=rN[/unreachable]] [last] -> resend 1005 | silent
//!                                    | rate-limited by r2 after 7
//!                                    a probe at TTL 2 was given up (`last`: it may not go again); the verdict
//!                                    (a probable rate limit names the router and the probes it had from us)
//! 5     evidence r1 = 3              probes of this process that reached r1 recently
//! ```
//!
//! `rN` is router N (10.0.N.1), `dest` the destination (10.0.9.2), `src` our source (10.0.0.2). The trace's own
//! path is every `answer` with `to=` the same destination. `#` starts a comment; a mismatch names the file and line.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use tracemap_shared::ReplyKind;

use super::{GivenUp, HopBook};
use crate::probe::GiveUp;
use crate::probe::ratelimit::REFILL_WITH_MARGIN;

const DESTINATION: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 9, 2));
const SOURCE: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));

#[test]
fn pacing_scenario_files() {
    crate::probe::scenario_files::run_all("src/probe/scenarios/pacing", 4, run);
}

#[test]
fn a_pacing_mismatch_names_the_file_and_line() {
    let failure = run("x.scenario", "0 answer r1 ttl=1\n0 lose ttl=1 sibling=r1 -> silent\n").expect_err("a resend");
    assert!(failure.starts_with("x.scenario:2: "), "{failure}");
    assert!(failure.contains("resend 1050"), "{failure}");
}

fn run(file: &str, text: &str) -> Result<(), String> {
    let mut book = HopBook::default();
    let mut paths: HashMap<IpAddr, HashMap<u8, IpAddr>> = HashMap::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let fail = |message: String| format!("{file}:{}: {message}\n    {line}", number + 1);
        let words: Vec<&str> = line.split_whitespace().collect();
        step(&mut book, &mut paths, &words).map_err(fail)?;
    }
    Ok(())
}

fn step(book: &mut HopBook, paths: &mut HashMap<IpAddr, HashMap<u8, IpAddr>>, words: &[&str]) -> Result<(), String> {
    let [at, step, rest @ ..] = words else { return Err("expected: TIME STEP ...".to_owned()) };
    let now = Duration::from_millis(at.parse().map_err(|_| format!("{at:?} is not a time in milliseconds"))?);
    let (words, expected) = match rest.iter().position(|word| *word == "->" || *word == "=") {
        Some(arrow) => (&rest[..arrow], Some(rest[arrow + 1..].join(" "))),
        None => (rest, None),
    };
    let options = |from: usize| -> HashMap<&str, &str> {
        words[from..].iter().map(|word| word.split_once('=').unwrap_or((word, ""))).collect()
    };
    match *step {
        "answer" => {
            let responder = address(words.first().ok_or("answer WHO")?)?;
            let options = options(1);
            let ttl = ttl(&options)?;
            let destination = options.get("to").map_or(Ok(DESTINATION), |to| address(to))?;
            let kind = match options.get("as").copied() {
                None | Some("te") => ReplyKind::TimeExceeded,
                Some("unreachable") => ReplyKind::Unreachable,
                Some("dest") => ReplyKind::Destination,
                Some(other) => return Err(format!("unknown kind {other:?}")),
            };
            let path = paths.entry(destination).or_default();
            let previous = match options.get("after") {
                Some(after) => Some(address(after)?),
                None if ttl == 1 => Some(SOURCE),
                None => path.get(&(ttl - 1)).copied(),
            };
            path.entry(ttl).or_insert(responder);
            book.note_answer(now, destination, ttl, previous, responder, kind, REFILL_WITH_MARGIN);
            Ok(())
        }
        "lose" => {
            let options = options(0);
            let destination = options.get("to").map_or(Ok(DESTINATION), |to| address(to))?;
            let sibling = match options.get("sibling") {
                Some(text) => {
                    let (who, kind) = text.split_once('/').unwrap_or((text, "te"));
                    let kind = if kind == "unreachable" { ReplyKind::Unreachable } else { ReplyKind::TimeExceeded };
                    Some((kind, address(who)?))
                }
                None => None,
            };
            let empty = HashMap::new();
            let probe = GivenUp {
                destination,
                ttl: ttl(&options)?,
                source: SOURCE,
                path: paths.get(&destination).unwrap_or(&empty),
                sibling,
                may_resend: !options.contains_key("last"),
            };
            let verdict = book.give_up(now, probe, REFILL_WITH_MARGIN);
            let got = match verdict.give_up {
                GiveUp::Resend(..) => format!("resend {}", verdict.at.as_millis()),
                GiveUp::RateLimited => match verdict.evidence {
                    Some(evidence) => {
                        format!("rate-limited by {} after {}", name(evidence.router), evidence.recent_probes)
                    }
                    None => "rate-limited without evidence".to_owned(),
                },
                GiveUp::Silent => "silent".to_owned(),
            };
            compare(&got, expected)
        }
        "evidence" => {
            let responder = address(words.first().ok_or("evidence WHO = N")?)?;
            compare(&book.recent_probes(now, responder).to_string(), expected)
        }
        other => Err(format!("unknown step {other:?} (answer, lose, evidence)")),
    }
}

fn compare(got: &str, expected: Option<String>) -> Result<(), String> {
    match expected {
        Some(expected) if expected != got => Err(format!("got {got}, expected {expected}")),
        Some(_) => Ok(()),
        None => Err(format!("say what is expected: got {got}")),
    }
}

fn ttl(options: &HashMap<&str, &str>) -> Result<u8, String> {
    let text = options.get("ttl").ok_or("ttl=N missing")?;
    text.parse().map_err(|_| format!("ttl {text:?} is not a number"))
}

/// The inverse of [`address`] for routers, for messages.
fn name(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) if v4.octets()[..2] == [10, 0] && v4.octets()[3] == 1 => format!("r{}", v4.octets()[2]),
        other => other.to_string(),
    }
}

fn address(text: &str) -> Result<IpAddr, String> {
    match text {
        "dest" => return Ok(DESTINATION),
        "src" => return Ok(SOURCE),
        _ => {}
    }
    if let Some(n) = text.strip_prefix('r').and_then(|n| n.parse::<u8>().ok()) {
        return Ok(IpAddr::V4(Ipv4Addr::new(10, 0, n, 1)));
    }
    text.parse().map_err(|_| format!("{text:?} is not rN, dest, src or an IP address"))
}
