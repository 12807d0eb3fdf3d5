//! The server's side of the agents: who is out there (from their heartbeats), handing one of them a trace, and
//! bringing that trace's events home.
//!
//! The server connects to NATS once, retrying with back-off for as long as it runs (a broker that is down at start
//! or restarts later is found again; `/healthz` says which). A trace sent to an agent is forwarded event by event
//! into the same channel a local runner would fill, so the hub, the store and the viewers cannot tell the two
//! apart except by the `from` the `started` event carries. An agent whose heartbeat stops while its trace runs
//! ends that trace `failed`, with the reason, instead of leaving it running for ever.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use tokio::sync::mpsc;
use tracemap_shared::{AgentInfo, ApiErrorBody, TraceEvent, TraceRequest};

use super::connect::{NatsTarget, backoff};
use super::{HEARTBEAT_TIMEOUT, Heartbeat, JOB_ANSWER_TIMEOUT, Job, JobAnswer, PREFIX, Stop, check_name};

/// Every agent the server has heard of, and its NATS connection.
#[derive(Debug)]
pub struct Agents {
    client: async_nats::Client,
    shown: String,
    seen: Mutex<BTreeMap<String, Seen>>,
    disconnects: Arc<AtomicU64>,
}

#[derive(Debug, Clone)]
struct Seen {
    beat: Heartbeat,
    at: Instant,
    at_ms: u64,
    /// It said goodbye (a clean exit): offline at once, not after the timeout.
    gone: bool,
}

impl Seen {
    fn online(&self, now: Instant) -> bool {
        !self.gone && now.saturating_duration_since(self.at) < HEARTBEAT_TIMEOUT
    }
}

/// Why a trace could not be handed to an agent.
#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    /// No agent of that name has ever announced itself.
    #[error("no agent named '{0}' (GET /api/agents lists them)")]
    Unknown(String),
    /// The agent is known but its heartbeat stopped.
    #[error("agent '{0}' is offline")]
    Offline(String),
    /// It did not answer the job in time.
    #[error("agent '{0}' did not answer within {1} s")]
    NoAnswer(String, u64),
    /// It refused the job (its own policy or limits), with its reason.
    #[error("agent '{name}' refused: {}", .error.message)]
    Refused {
        /// The agent.
        name: String,
        /// Its answer.
        error: ApiErrorBody,
    },
    /// NATS itself failed (not connected, a bad answer).
    #[error("agent '{0}': {1}")]
    Nats(String, String),
}

fn unix_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

impl Agents {
    /// Connects to NATS (in the background when the broker is not up yet: the server starts anyway and keeps
    /// trying) and starts listening for agents.
    pub async fn connect(target: &NatsTarget) -> anyhow::Result<Arc<Agents>> {
        let disconnects = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&disconnects);
        let shown = target.shown.clone();
        let options = target
            .options("tracemap serve")?
            .retry_on_initial_connect()
            .max_reconnects(None)
            .reconnect_delay_callback(backoff)
            .event_callback(move |event| {
                let counter = Arc::clone(&counter);
                let shown = shown.clone();
                async move {
                    match event {
                        async_nats::Event::Disconnected => {
                            counter.fetch_add(1, Ordering::Relaxed);
                            tracing::warn!(nats = %shown, "lost NATS; reconnecting with back-off");
                        }
                        async_nats::Event::Connected => tracing::info!(nats = %shown, "connected to NATS"),
                        other => tracing::warn!(nats = %shown, event = %other, "NATS"),
                    }
                }
            });
        let client = options
            .connect(target.shown.as_str())
            .await
            .map_err(|e| anyhow::anyhow!(super::connect::describe(&target.shown, &e)))?;
        let agents =
            Arc::new(Agents { client, shown: target.shown.clone(), seen: Mutex::new(BTreeMap::new()), disconnects });
        let beats = agents.client.subscribe(format!("{PREFIX}.*.heartbeat")).await?;
        let byes = agents.client.subscribe(format!("{PREFIX}.*.bye")).await?;
        tokio::spawn(Arc::clone(&agents).listen(beats, byes));
        Ok(agents)
    }

    fn table(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Seen>> {
        self.seen.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records heartbeats and goodbyes for as long as the server runs.
    async fn listen(self: Arc<Self>, mut beats: async_nats::Subscriber, mut byes: async_nats::Subscriber) {
        loop {
            tokio::select! {
                Some(message) = beats.next() => {
                    let Some(name) = name_in(&message.subject) else { continue };
                    match serde_json::from_slice::<Heartbeat>(&message.payload) {
                        Ok(beat) if beat.name == name => {
                            let mut table = self.table();
                            if table.get(name).is_none_or(|s| !s.online(Instant::now())) {
                                tracing::info!(agent = name, "agent online");
                            }
                            table.insert(name.to_owned(), Seen { beat, at: Instant::now(), at_ms: unix_ms(), gone: false });
                        }
                        _ => tracing::warn!(subject = %message.subject, "ignored a malformed heartbeat"),
                    }
                }
                Some(message) = byes.next() => {
                    let Some(name) = name_in(&message.subject) else { continue };
                    if let Some(seen) = self.table().get_mut(name) {
                        seen.gone = true;
                        tracing::info!(agent = name, "agent said goodbye");
                    }
                }
                else => break,
            }
        }
    }

    /// Every agent heard of, by name, with whether it is online now.
    pub fn list(&self) -> Vec<AgentInfo> {
        let now = Instant::now();
        self.table()
            .values()
            .map(|seen| AgentInfo {
                name: seen.beat.name.clone(),
                location: seen.beat.location.clone(),
                version: seen.beat.version.clone(),
                online: seen.online(now),
                running: if seen.online(now) { seen.beat.running } else { 0 },
                last_seen_ms: seen.at_ms,
            })
            .collect()
    }

    /// `None` for an agent never heard of, else whether it is online and how long since its last heartbeat.
    fn status(&self, name: &str) -> Option<(bool, Duration)> {
        let now = Instant::now();
        self.table().get(name).map(|seen| (seen.online(now), now.saturating_duration_since(seen.at)))
    }

    /// The NATS link for `/healthz`: where, whether it is up, how often it was lost.
    pub fn health(&self) -> serde_json::Value {
        let state = match self.client.connection_state() {
            async_nats::connection::State::Connected => "connected",
            async_nats::connection::State::Disconnected => "reconnecting",
            async_nats::connection::State::Pending => "connecting",
        };
        let online = self.list().iter().filter(|a| a.online).count();
        serde_json::json!({
            "url": self.shown,
            "state": state,
            "disconnects": self.disconnects.load(Ordering::Relaxed),
            "agents_online": online,
        })
    }

    /// Hands trace `id` to agent `name`: subscribes to its events first (so none is missed), then sends the job
    /// and waits for the agent to accept or refuse it.
    pub async fn dispatch(
        self: &Arc<Self>,
        name: &str,
        id: &str,
        mut request: TraceRequest,
    ) -> Result<Remote, DispatchError> {
        check_name(name).map_err(|_| DispatchError::Unknown(name.chars().take(40).collect()))?;
        match self.status(name) {
            None => return Err(DispatchError::Unknown(name.to_owned())),
            Some((false, _)) => return Err(DispatchError::Offline(name.to_owned())),
            Some((true, _)) => {}
        }
        let nats = |e: &dyn std::fmt::Display| DispatchError::Nats(name.to_owned(), e.to_string());
        let events = self.client.subscribe(super::events_subject(name, id)).await.map_err(|e| nats(&e))?;
        request.from.clear();
        let job = serde_json::to_vec(&Job { id: id.to_owned(), request }).map_err(|e| nats(&e))?;
        let asked = self.client.request(super::subject(name, "jobs"), job.into());
        let answer = match tokio::time::timeout(JOB_ANSWER_TIMEOUT, asked).await {
            Err(_) => return Err(DispatchError::NoAnswer(name.to_owned(), JOB_ANSWER_TIMEOUT.as_secs())),
            Ok(Err(e)) if e.kind() == async_nats::RequestErrorKind::TimedOut => {
                return Err(DispatchError::NoAnswer(name.to_owned(), JOB_ANSWER_TIMEOUT.as_secs()));
            }
            Ok(Err(e)) if e.kind() == async_nats::RequestErrorKind::NoResponders => {
                return Err(DispatchError::Offline(name.to_owned()));
            }
            Ok(Err(e)) => return Err(nats(&e)),
            Ok(Ok(message)) => message,
        };
        let answer: JobAnswer = serde_json::from_slice(&answer.payload).map_err(|e| nats(&e))?;
        if let Some(error) = answer.error {
            return Err(DispatchError::Refused { name: name.to_owned(), error });
        }
        Ok(Remote { agents: Arc::clone(self), name: name.to_owned(), id: id.to_owned(), events })
    }

    /// Asks agent `name` to stop trace `id` (best effort: an agent that is gone has stopped anyway).
    pub async fn stop(&self, name: &str, id: &str) {
        let Ok(stop) = serde_json::to_vec(&Stop { id: id.to_owned() }) else { return };
        if let Err(error) = self.client.publish(super::subject(name, "stop"), stop.into()).await {
            tracing::warn!(agent = name, %id, %error, "could not ask the agent to stop a trace");
        }
        let _ = self.client.flush().await;
    }
}

/// The agent name in `tracemap.agent.{name}.{leaf}`.
fn name_in(subject: &str) -> Option<&str> {
    let name = subject.strip_prefix(PREFIX)?.strip_prefix('.')?.split('.').next()?;
    check_name(name).ok().map(|()| name)
}

/// A trace running on an agent.
#[derive(Debug)]
pub struct Remote {
    agents: Arc<Agents>,
    /// The agent.
    pub name: String,
    /// The trace's id.
    pub id: String,
    events: async_nats::Subscriber,
}

/// How often a remote trace checks its agent's heartbeat while no event comes.
const LIVENESS_CHECK: Duration = Duration::from_millis(250);

impl Remote {
    /// Forwards the trace's events into `events` until its terminal one, stamping `from` on `started` (the server
    /// says who probed, not the agent). When the agent's heartbeat stops first, ends the trace with `failed` and
    /// the reason. The last event sent is always `finished` or `failed`.
    pub async fn forward(mut self, events: mpsc::UnboundedSender<TraceEvent>) {
        let mut check = tokio::time::interval(LIVENESS_CHECK);
        check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                message = self.events.next() => {
                    let Some(message) = message else {
                        let _ = events.send(TraceEvent::Failed {
                            reason: format!("lost the connection to agent {} (NATS closed)", self.name),
                        });
                        return;
                    };
                    let mut event = match serde_json::from_slice::<TraceEvent>(&message.payload) {
                        Ok(event) => event,
                        Err(error) => {
                            tracing::warn!(agent = %self.name, id = %self.id, %error, "ignored a malformed event");
                            continue;
                        }
                    };
                    if let TraceEvent::Started { options, .. } = &mut event {
                        options.from = Some(self.name.clone());
                    }
                    let terminal = event.is_terminal();
                    let _ = events.send(event);
                    if terminal {
                        return;
                    }
                }
                _ = check.tick() => {
                    if let Some((false, silent)) = self.agents.status(&self.name) {
                        let reason = if silent < HEARTBEAT_TIMEOUT {
                            format!("agent {} went offline during the trace", self.name)
                        } else {
                            format!(
                                "agent {} stopped answering during the trace (no heartbeat for {} s)",
                                self.name,
                                silent.as_secs()
                            )
                        };
                        tracing::warn!(agent = %self.name, id = %self.id, "{reason}");
                        let _ = events.send(TraceEvent::Failed { reason });
                        return;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_names_come_from_their_subjects() {
        assert_eq!(name_in("tracemap.agent.sydney.heartbeat"), Some("sydney"));
        assert_eq!(name_in("tracemap.agent.sydney.bye"), Some("sydney"));
        assert_eq!(name_in("tracemap.agentx.sydney.bye"), None);
        assert_eq!(name_in("other.agent.sydney.bye"), None);
    }
}
