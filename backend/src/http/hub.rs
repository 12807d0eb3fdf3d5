//! Live traces: each running trace's event log plus a broadcast to whoever watches it.
//!
//! A viewer that arrives late takes a copy of the log and subscribes under the same lock that publishing holds,
//! so it sees every event exactly once: the past from the copy, the rest from the broadcast. Once a trace has
//! ended and been stored, it leaves the hub and the store answers for it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{Notify, broadcast};
use tracemap_shared::{TraceEvent, TraceReport};

/// More than any one trace emits (a 255-hop trace with 10 tries is about 2,800 events), so a viewer that keeps
/// up never lags; one that stalls is cut off instead of growing memory.
const BROADCAST_CAPACITY: usize = 4096;

/// A running trace.
#[derive(Debug)]
pub struct LiveTrace {
    state: Mutex<LiveState>,
    tx: broadcast::Sender<TraceEvent>,
    stop: Notify,
    stopped: AtomicBool,
}

#[derive(Debug)]
struct LiveState {
    report: TraceReport,
    events: Vec<TraceEvent>,
}

/// What a new viewer receives: the past, then a live feed.
#[derive(Debug)]
pub struct Subscription {
    /// Every event emitted before the viewer arrived.
    pub past: Vec<TraceEvent>,
    /// Events from now on.
    pub live: broadcast::Receiver<TraceEvent>,
}

impl LiveTrace {
    fn lock(&self) -> MutexGuard<'_, LiveState> {
        // Publishing never panics while holding the lock; tolerate poison rather than take the server down.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends `event` to the log, folds it into the report and sends it to current viewers.
    pub fn publish(&self, event: TraceEvent) {
        let mut state = self.lock();
        state.report.apply(&event);
        state.events.push(event.clone());
        // No receivers is normal (nobody watching).
        let _ = self.tx.send(event);
    }

    /// A consistent view for a new viewer.
    pub fn subscribe(&self) -> Subscription {
        let state = self.lock();
        Subscription { past: state.events.clone(), live: self.tx.subscribe() }
    }

    /// The report as folded so far.
    pub fn report(&self) -> TraceReport {
        self.lock().report.clone()
    }

    /// Asks the trace to stop (`DELETE /api/traces/{id}/run`); its task ends the probing and stores it as stopped.
    pub fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        // `notify_one` keeps a permit when nobody waits yet, so a stop is never lost.
        self.stop.notify_one();
    }

    /// Resolves once [`LiveTrace::stop`] has been called.
    pub async fn stop_requested(&self) {
        self.stop.notified().await;
    }

    /// Whether someone stopped the trace.
    pub fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    /// The report and the whole log, for storage.
    pub fn snapshot(&self) -> (TraceReport, Vec<TraceEvent>) {
        let state = self.lock();
        (state.report.clone(), state.events.clone())
    }
}

/// All running traces of this server.
#[derive(Debug, Default)]
pub struct Hub {
    live: Mutex<HashMap<String, Arc<LiveTrace>>>,
}

impl Hub {
    fn map(&self) -> MutexGuard<'_, HashMap<String, Arc<LiveTrace>>> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a new running trace whose report starts as `report`.
    pub fn insert(&self, id: &str, report: TraceReport) -> Arc<LiveTrace> {
        let (tx, _) = broadcast::channel(BROADCAST_CAPACITY);
        let trace = Arc::new(LiveTrace {
            state: Mutex::new(LiveState { report, events: Vec::new() }),
            tx,
            stop: Notify::new(),
            stopped: AtomicBool::new(false),
        });
        self.map().insert(id.to_owned(), Arc::clone(&trace));
        trace
    }

    /// The running trace `id`, if it is still running here.
    pub fn get(&self, id: &str) -> Option<Arc<LiveTrace>> {
        self.map().get(id).cloned()
    }

    /// Forgets `id` (after it has been stored).
    pub fn remove(&self, id: &str) {
        self.map().remove(id);
    }

    /// How many traces are running.
    pub fn len(&self) -> usize {
        self.map().len()
    }

    /// Whether no trace is running.
    pub fn is_empty(&self) -> bool {
        self.map().is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(ttl: u8) -> TraceEvent {
        TraceEvent::Probe { ttl, index: 0, reply: None, rate_limited: false }
    }

    #[tokio::test]
    async fn late_viewer_sees_every_event_once() {
        let hub = Hub::default();
        let trace = hub.insert("t", TraceReport::default());
        trace.publish(probe(1));
        trace.publish(probe(2));
        let mut sub = trace.subscribe();
        trace.publish(probe(3));
        assert_eq!(sub.past, vec![probe(1), probe(2)]);
        assert_eq!(sub.live.recv().await.ok(), Some(probe(3)));
        assert!(sub.live.try_recv().is_err());
        assert_eq!(trace.report().hops.len(), 3);
        hub.remove("t");
        assert!(hub.get("t").is_none() && hub.is_empty());
    }
}
