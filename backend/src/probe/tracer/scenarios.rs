//! The scenario files in `src/probe/scenarios/*.scenario`: the tracer driven line by line, in readable text.
//!
//! Each line is a time in milliseconds since the trace began, then one step:
//!
//! ```text
//! config max_hops=3 tries=2 timeout=2000 first_ttl=1   (first line; any key may be left out)
//! 0     poll 1.0 1.1 2.0 2.1 -> wait 2000   poll until it stops sending: exactly these probes (TTL.try, `+` for a
//!                                           resend), then optionally the action that stopped it (`wait MS`, `done`)
//! 5     reply 1.0 from r1 -> accepted       a reply to the latest attempt of TTL 1 try 0 (`1.0#0`: attempt 0),
//!                                           from router 1 (10.0.1.1), `dest`, or an IP literal; `as echo`,
//!                                           `as port-unreachable` or `as unreachable CODE` instead of Time
//!                                           Exceeded; optionally how the tracer takes it
//! 5     outcomes 1.0=r1 1.1=* 2.0=dest      exactly these outcomes, in this order, since the last check (`none`)
//! ```
//!
//! `#` starts a comment. A mismatch fails with the file name and line number, and what the tracer did instead.

use std::net::{IpAddr, Ipv4Addr};

use super::tests::{DESTINATION, ID, reply_to};
use super::*;

const FIRST_SEQ: u16 = 1000;

/// Runs every scenario file of the directory; fails on the first mismatch of each, naming them all.
#[test]
fn scenario_files() {
    crate::probe::scenario_files::run_all("src/probe/scenarios", 7, run);
}

#[test]
fn a_mismatch_names_the_file_and_line() {
    let text = "config max_hops=1 tries=1\n# comment\n0 poll 1.0 -> wait 2000\n5 reply 1.0 from r1 -> duplicate\n";
    let failure = run("broken.scenario", text).expect_err("the reply is accepted, not a duplicate");
    assert!(failure.starts_with("broken.scenario:4: "), "{failure}");
    assert!(failure.contains("Accepted"), "{failure}");
    let failure = run("typo.scenario", "0 pol 1.0").expect_err("unknown step");
    assert!(failure.starts_with("typo.scenario:1: "), "{failure}");
}

/// Runs one scenario; `Err` names `file:line: what went wrong`.
fn run(file: &str, text: &str) -> Result<(), String> {
    let mut scenario: Option<Scenario> = None;
    for (number, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let fail = |message: String| format!("{file}:{}: {message}\n    {line}", number + 1);
        let words: Vec<&str> = line.split_whitespace().collect();
        if words[0] == "config" {
            if scenario.is_some() {
                return Err(fail("config must come first, once".to_owned()));
            }
            scenario = Some(Scenario::new(&words[1..]).map_err(fail)?);
            continue;
        }
        let scenario = scenario.get_or_insert_with(|| Scenario::new(&[]).unwrap_or_else(|_| unreachable!()));
        scenario.step(&words).map_err(fail)?;
    }
    Ok(())
}

/// A tracer under test and what it has sent and reported so far.
struct Scenario {
    tracer: Tracer,
    /// Every probe sent, in order.
    sent: Vec<Probe>,
}

impl Scenario {
    fn new(settings: &[&str]) -> Result<Scenario, String> {
        let mut config = ProbeConfig { destination: DESTINATION, max_hops: 3, tries: 2, ..ProbeConfig::default() };
        for setting in settings {
            let (key, value) = setting.split_once('=').ok_or(format!("expected key=value, got {setting:?}"))?;
            let number: u64 = value.parse().map_err(|_| format!("{key}: {value:?} is not a number"))?;
            let byte = || u8::try_from(number).map_err(|_| format!("{key}: {number} is too large"));
            match key {
                "max_hops" => config.max_hops = byte()?,
                "tries" => config.tries = byte()?,
                "first_ttl" => config.first_ttl = byte()?,
                "timeout" => config.timeout = Duration::from_millis(number),
                _ => return Err(format!("unknown setting {key:?}")),
            }
        }
        Ok(Scenario { tracer: Tracer::new(&config, ID, FIRST_SEQ, Pacing::default()), sent: Vec::new() })
    }

    fn step(&mut self, words: &[&str]) -> Result<(), String> {
        let [at, step, rest @ ..] = words else { return Err("expected: TIME STEP ...".to_owned()) };
        let now = Duration::from_millis(at.parse().map_err(|_| format!("{at:?} is not a time in milliseconds"))?);
        match *step {
            "poll" => self.poll(now, rest),
            "reply" => self.reply(now, rest),
            "outcomes" => self.outcomes(rest),
            other => Err(format!("unknown step {other:?} (poll, reply, outcomes)")),
        }
    }

    /// Polls until the tracer stops sending; compares the probes and, after `->`, the final action.
    fn poll(&mut self, now: Duration, expected: &[&str]) -> Result<(), String> {
        let (sends, then) = match expected.iter().position(|word| *word == "->") {
            Some(arrow) => (&expected[..arrow], Some(&expected[arrow + 1..])),
            None => (expected, None),
        };
        let mut got = Vec::new();
        let action = loop {
            match self.tracer.poll(now) {
                Action::Send(probe) => {
                    got.push(format!("{}.{}{}", probe.ttl, probe.index, if probe.attempt > 0 { "+" } else { "" }));
                    self.sent.push(probe);
                    if got.len() > 10_000 {
                        return Err("the tracer never stops sending".to_owned());
                    }
                }
                other => break other,
            }
        };
        if got != sends {
            return Err(format!("sent [{}], expected [{}]", got.join(" "), sends.join(" ")));
        }
        let action = match action {
            Action::Wait(at) => format!("wait {}", at.as_millis()),
            Action::Done => "done".to_owned(),
            Action::Send(_) => unreachable!("the loop only stops on another action"),
        };
        match then {
            Some(then) if then.join(" ") != action => Err(format!("then {action}, expected {}", then.join(" "))),
            _ => Ok(()),
        }
    }

    /// `TTL.TRY[#ATTEMPT] from ADDR [as KIND [CODE]] [-> MATCH]`.
    fn reply(&mut self, now: Duration, words: &[&str]) -> Result<(), String> {
        let [probe, "from", from, rest @ ..] = words else {
            return Err("expected: reply TTL.TRY from ADDR".to_owned());
        };
        let (position, attempt) = match probe.split_once('#') {
            Some((position, attempt)) => (position, Some(attempt.parse::<u8>().map_err(|_| "bad attempt")?)),
            None => (*probe, None),
        };
        let (ttl, index) = position_of(position)?;
        let probe = self
            .sent
            .iter()
            .rev()
            .find(|p| p.ttl == ttl && p.index == index && attempt.is_none_or(|a| a == p.attempt))
            .copied()
            .ok_or(format!("{position} was never sent"))?;
        let from = address(from)?;
        let (response, rest) = match rest {
            ["as", "echo", rest @ ..] => (Response::EchoReply, rest),
            ["as", "port-unreachable", rest @ ..] => (Response::Unreachable { code: 3, mtu: 0 }, rest),
            ["as", "unreachable", code, rest @ ..] => {
                (Response::Unreachable { code: code.parse().map_err(|_| "bad code")?, mtu: 0 }, rest)
            }
            ["as", kind, ..] => return Err(format!("unknown reply kind {kind:?}")),
            rest => (Response::TimeExceeded, rest),
        };
        let taken = self.tracer.on_reply(now, &reply_to(probe, from, response));
        match rest {
            [] => Ok(()),
            ["->", expected] if format!("{taken:?}").eq_ignore_ascii_case(expected) => Ok(()),
            ["->", expected] => Err(format!("the tracer took it as {taken:?}, expected {expected}")),
            _ => Err("expected: -> accepted|late|duplicate|foreign|beyond".to_owned()),
        }
    }

    /// Compares the outcomes reported since the last check with `TTL.TRY=ADDR|*` (or `none`).
    fn outcomes(&mut self, expected: &[&str]) -> Result<(), String> {
        let got: Vec<String> = self
            .tracer
            .drain_outcomes()
            .map(|outcome| {
                let who = outcome.reply.map_or_else(|| "*".to_owned(), |answer| name(answer.from));
                format!("{}.{}={who}", outcome.ttl, outcome.index)
            })
            .collect();
        let expected: Vec<&str> = if expected == ["none"] { Vec::new() } else { expected.to_vec() };
        if got == expected {
            Ok(())
        } else {
            Err(format!("reported [{}], expected [{}]", got.join(" "), expected.join(" ")))
        }
    }
}

/// `3.1` → TTL 3, try 1.
fn position_of(text: &str) -> Result<(u8, u8), String> {
    let (ttl, index) = text.split_once('.').ok_or(format!("expected TTL.TRY, got {text:?}"))?;
    let parse = |part: &str| part.parse::<u8>().map_err(|_| format!("expected TTL.TRY, got {text:?}"));
    Ok((parse(ttl)?, parse(index)?))
}

/// `rN` is router N (10.0.N.1), `dest` the destination, anything else an IP literal.
fn address(text: &str) -> Result<IpAddr, String> {
    if text == "dest" {
        return Ok(DESTINATION);
    }
    if let Some(n) = text.strip_prefix('r').and_then(|n| n.parse::<u8>().ok()) {
        return Ok(IpAddr::V4(Ipv4Addr::new(10, 0, n, 1)));
    }
    text.parse().map_err(|_| format!("{text:?} is not rN, dest or an IP address"))
}

/// The inverse of [`address`], for messages.
fn name(ip: IpAddr) -> String {
    match ip {
        DESTINATION => "dest".to_owned(),
        IpAddr::V4(v4) if v4.octets()[..2] == [10, 0] && v4.octets()[3] == 1 => format!("r{}", v4.octets()[2]),
        other => other.to_string(),
    }
}
