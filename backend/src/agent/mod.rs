//! Vantage points: `tracemap agent` processes that probe from other places and meet the server on NATS.
//!
//! An agent connects out (so it works behind NAT), announces itself with a heartbeat, takes trace jobs on its own
//! subjects and publishes every event of each trace back; the server's hub, store and viewers take those events
//! exactly as they take its own prober's. This module holds what both sides agree on: the subjects, the message
//! formats (JSON; events are the `shared` types) and the timings. `connect` turns `--nats` and its credential
//! flags into a connection; `registry` is the server's side (who is online, dispatching a trace, forwarding its
//! events). The agent's own loop is the `agent` subcommand (`cli/agent.rs`), which reuses the runner unchanged.
//!
//! Subjects, all under `tracemap.agent.{name}` so a NATS account can confine each agent to its own:
//!
//! | subject | from → to | payload |
//! | --- | --- | --- |
//! | `tracemap.agent.{name}.heartbeat` | agent → server, every [`HEARTBEAT_EVERY`] | [`Heartbeat`] |
//! | `tracemap.agent.{name}.bye` | agent → server, on a clean exit | `{}` |
//! | `tracemap.agent.{name}.jobs` | server → agent, request/reply | [`Job`], answered by [`JobAnswer`] |
//! | `tracemap.agent.{name}.events.{id}` | agent → server | one `shared::TraceEvent` per message |
//! | `tracemap.agent.{name}.stop` | server → agent | [`Stop`] |

pub mod connect;
pub mod registry;

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tracemap_shared::{ApiErrorBody, Geo, TraceRequest};

/// The root of every subject tracemap uses on NATS.
pub const PREFIX: &str = "tracemap.agent";

/// How often an agent says it is alive.
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(1);

/// How long without a heartbeat before the server counts an agent gone and fails its running traces: a few missed
/// beats, so one late message on a busy link is not a death.
pub const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(4);

/// Longest the server waits for an agent to accept or refuse a job: the agent resolves the target first, which
/// may take the resolver's whole timeout ([`crate::runner::RESOLVE_TIMEOUT`]).
pub const JOB_ANSWER_TIMEOUT: Duration = Duration::from_secs(8);

/// The subject `tracemap.agent.{name}.{leaf}`.
pub fn subject(name: &str, leaf: &str) -> String {
    format!("{PREFIX}.{name}.{leaf}")
}

/// The subject a trace's events travel on.
pub fn events_subject(name: &str, id: &str) -> String {
    format!("{PREFIX}.{name}.events.{id}")
}

/// The longest agent name.
pub const MAX_NAME: usize = 32;

/// Checks an agent name: 1 to [`MAX_NAME`] letters, digits, `-` or `_`, so it is one subject token (no `.`, `*`
/// or `>`) and safe in a URL and on the page.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > MAX_NAME {
        return Err(format!("an agent name has 1 to {MAX_NAME} characters"));
    }
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err(format!("'{name}': an agent name has only letters, digits, '-' and '_'"));
    }
    Ok(())
}

/// What an agent says about itself, every [`HEARTBEAT_EVERY`] (the first one announces it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Heartbeat {
    /// Its `--name` (the same as in the subject, or the message is ignored).
    pub name: String,
    /// The tracemap version it runs.
    pub version: String,
    /// Its `--location`.
    #[serde(default)]
    pub location: Option<Geo>,
    /// Traces it runs now.
    #[serde(default)]
    pub running: u32,
    /// Traces it runs at most at once (`--max-concurrent`).
    #[serde(default)]
    pub max_concurrent: u32,
}

/// A trace the server asks an agent to run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// The trace's id on the server: its events go to [`events_subject`]`(name, id)`.
    pub id: String,
    /// The request as the client sent it, `from` left out; the agent resolves the target itself, from where it
    /// stands, and applies its own limits and target policy.
    pub request: TraceRequest,
}

/// An agent's answer to a [`Job`]: accepted (no `error`; its events follow), or refused with the same error body
/// the HTTP API uses (`forbidden_target`, `rate_limited`, `busy`, `invalid_field`, `unresolvable_target`...).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct JobAnswer {
    /// Why the agent refused the job; `None` when it runs it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiErrorBody>,
}

/// The server asks an agent to stop one of its traces (`DELETE /api/traces/{id}/run`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stop {
    /// The trace's id.
    pub id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_one_subject_token() {
        for good in ["sydney", "lab-2", "eu_west_1", &"a".repeat(MAX_NAME)] {
            assert_eq!(check_name(good), Ok(()), "{good}");
        }
        for bad in ["", "a.b", "*", ">", "a b", "é", &"a".repeat(MAX_NAME + 1), "a\n"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        assert_eq!(subject("sydney", "jobs"), "tracemap.agent.sydney.jobs");
        assert_eq!(events_subject("sydney", "abc"), "tracemap.agent.sydney.events.abc");
    }

    #[test]
    fn messages_are_plain_json() {
        let job: Job =
            serde_json::from_str(r#"{"id":"abc","request":{"target":"example.net","max_hops":5}}"#).expect("a job");
        assert_eq!((job.id.as_str(), job.request.max_hops), ("abc", Some(5)));
        assert_eq!(serde_json::to_string(&JobAnswer::default()).expect("json"), "{}");
        let beat: Heartbeat = serde_json::from_str(r#"{"name":"a","version":"0.1.0"}"#).expect("a heartbeat");
        assert_eq!((beat.running, beat.location), (0, None));
    }
}
