//! Live traces: each running trace's event log, serialised once, read by whoever watches it.
//!
//! Each event is turned into its JSON frame once, when it is published, and every viewer sends that same shared
//! frame (a reference-counted string): a hundred viewers cost a hundred pointers, not a hundred copies. There is no
//! broadcast queue: the log is the buffer, and it holds exactly the trace's events (a trace emits a bounded number:
//! one per probe, one or two per hop address, a start and an end), so nothing is reserved up front and a trace costs
//! what it emitted. A viewer keeps its place in the log and wakes when it grows; one that reads slowly falls behind
//! without holding up the others or growing memory, and the WebSocket cuts it off when it stops taking frames. Once
//! a trace has ended and been stored, it leaves the hub and the store answers for it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::ws::Utf8Bytes;
use tokio::sync::{Notify, watch};
use tracemap_shared::{TraceEvent, TraceReport};

/// One event as JSON, shared by every viewer (cloning it only counts a reference).
#[derive(Debug, Clone)]
pub struct Frame {
    /// The event's JSON text.
    pub text: Utf8Bytes,
    /// Whether the event ends the trace (`finished` or `failed`).
    pub terminal: bool,
}

/// A running trace.
#[derive(Debug)]
pub struct LiveTrace {
    state: Mutex<LiveState>,
    /// How many frames the log holds, and whether it is closed; viewers wait on it.
    published: watch::Sender<(usize, bool)>,
    stop: Notify,
    stopped: AtomicBool,
    /// How many viewers hold a [`Subscription`]: a watch ends when the last one has been gone for a while.
    viewers: watch::Sender<usize>,
}

#[derive(Debug)]
struct LiveState {
    report: TraceReport,
    events: Vec<TraceEvent>,
    frames: Vec<Frame>,
}

/// A viewer's place in a trace's log: the frames it has not taken yet, and a wake-up when more come. It counts as
/// one of the trace's viewers until it is dropped.
#[derive(Debug)]
pub struct Subscription {
    trace: Arc<LiveTrace>,
    next: usize,
    published: watch::Receiver<(usize, bool)>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.trace.viewers.send_modify(|viewers| *viewers = viewers.saturating_sub(1));
    }
}

impl Subscription {
    /// Waits until the log holds frames this viewer has not taken and moves them to `out` (shared, not copied).
    /// Returns `false`, with nothing taken, once the log is closed and every frame has been taken: the trace's
    /// publisher is gone and nothing more will come.
    pub async fn next_frames(&mut self, out: &mut Vec<Frame>) -> bool {
        loop {
            let (len, closed) = *self.published.borrow_and_update();
            if self.next < len {
                let state = self.trace.lock();
                let frames = &state.frames[self.next.min(state.frames.len())..];
                out.extend(frames.iter().cloned());
                self.next += frames.len();
                return true;
            }
            if closed || self.published.changed().await.is_err() {
                return false;
            }
        }
    }
}

impl LiveTrace {
    fn lock(&self) -> MutexGuard<'_, LiveState> {
        // Publishing never panics while holding the lock; tolerate poison rather than take the server down.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends `event` to the log (and its JSON frame, made here once for every viewer), folds it into the report
    /// and wakes the viewers.
    pub fn publish(&self, event: TraceEvent) {
        let frame = match serde_json::to_string(&event) {
            Ok(json) => Some(Frame { text: Utf8Bytes::from(json), terminal: event.is_terminal() }),
            Err(error) => {
                // Not expected for these types; the event is still stored, viewers miss it rather than the trace.
                tracing::error!(%error, ?event, "cannot serialise an event for viewers");
                None
            }
        };
        let mut state = self.lock();
        state.report.apply(&event);
        state.events.push(event);
        if let Some(frame) = frame {
            state.frames.push(frame);
        }
        let len = state.frames.len();
        drop(state);
        self.published.send_modify(|(published, _)| *published = len);
    }

    /// Resolves once the log is closed (the trace has ended and been stored).
    pub async fn closed(&self) {
        let mut published = self.published.subscribe();
        let _ = published.wait_for(|(_, closed)| *closed).await;
    }

    /// Closes the log: viewers that have taken every frame stop waiting. Publishing after this still works.
    pub fn close(&self) {
        self.published.send_modify(|(_, closed)| *closed = true);
    }

    /// A new viewer's place: the start of the log, so it receives every event exactly once.
    pub fn subscribe(self: &Arc<Self>) -> Subscription {
        self.viewers.send_modify(|viewers| *viewers += 1);
        Subscription { trace: Arc::clone(self), next: 0, published: self.published.subscribe() }
    }

    /// How many viewers are subscribed now.
    pub fn viewers(&self) -> usize {
        *self.viewers.borrow()
    }

    /// Resolves once the trace has had no viewer for `grace` on end (counting from now when it has none now): a
    /// page that reloads comes back within it, a closed tab does not.
    pub async fn abandoned(&self, grace: std::time::Duration) {
        let mut viewers = self.viewers.subscribe();
        loop {
            if viewers.wait_for(|n| *n == 0).await.is_err() {
                return;
            }
            match tokio::time::timeout(grace, viewers.wait_for(|n| *n > 0)).await {
                Err(_) => return,
                Ok(Err(_)) => return,
                Ok(Ok(_)) => {}
            }
        }
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
    live: Mutex<HashMap<String, Name>>,
}

/// One name of a running log: the trace's own id, or a trace that joined it `joined_after_ms` after its start.
#[derive(Debug)]
struct Name {
    trace: Arc<LiveTrace>,
    joined_after_ms: Option<u64>,
}

impl Hub {
    fn map(&self) -> MutexGuard<'_, HashMap<String, Name>> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a new running trace whose report starts as `report`.
    pub fn insert(&self, id: &str, report: TraceReport) -> Arc<LiveTrace> {
        let (published, _) = watch::channel((0, false));
        let state = LiveState { report, events: Vec::new(), frames: Vec::new() };
        let trace = Arc::new(LiveTrace {
            state: Mutex::new(state),
            published,
            stop: Notify::new(),
            stopped: AtomicBool::new(false),
            viewers: watch::channel(0).0,
        });
        self.map().insert(id.to_owned(), Name { trace: Arc::clone(&trace), joined_after_ms: None });
        trace
    }

    /// The running trace `id`, if it is still running here.
    pub fn get(&self, id: &str) -> Option<Arc<LiveTrace>> {
        self.map().get(id).map(|name| Arc::clone(&name.trace))
    }

    /// The running trace `id` and, if `id` joined another trace's run, how long after that run's start: read
    /// together, so a joined trace never loses its offset to an unlink in between.
    pub fn get_named(&self, id: &str) -> Option<(Arc<LiveTrace>, Option<u64>)> {
        self.map().get(id).map(|name| (Arc::clone(&name.trace), name.joined_after_ms))
    }

    /// Registers `id` as another name of the running `trace`, joined `joined_after_ms` after its start (a trace
    /// that joined it, `http::share`): viewers of `id` read the same log.
    pub fn link(&self, id: &str, trace: Arc<LiveTrace>, joined_after_ms: u64) {
        self.map().insert(id.to_owned(), Name { trace, joined_after_ms: Some(joined_after_ms) });
    }

    /// Forgets the other name `id` without closing the log, which the trace's own id still serves.
    pub fn unlink(&self, id: &str) {
        self.map().remove(id);
    }

    /// Forgets `id` (after it has been stored) and closes its log.
    pub fn remove(&self, id: &str) {
        if let Some(name) = self.map().remove(id) {
            name.trace.close();
        }
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
        TraceEvent::Probe { ttl, index: 0, reply: None, rate_limited: false, send_error: None }
    }

    fn json(event: &TraceEvent) -> String {
        serde_json::to_string(event).expect("json")
    }

    #[tokio::test]
    async fn late_viewer_sees_every_event_once() {
        let hub = Hub::default();
        let trace = hub.insert("t", TraceReport::default());
        trace.publish(probe(1));
        trace.publish(probe(2));
        let mut sub = trace.subscribe();
        let mut frames = Vec::new();
        assert!(sub.next_frames(&mut frames).await);
        trace.publish(probe(3));
        assert!(sub.next_frames(&mut frames).await);
        let texts: Vec<&str> = frames.iter().map(|frame| frame.text.as_str()).collect();
        assert_eq!(texts, [json(&probe(1)), json(&probe(2)), json(&probe(3))]);
        assert_eq!(trace.report().hops.len(), 3);
        hub.remove("t");
        assert!(!sub.next_frames(&mut frames).await, "closed, and everything taken");
        assert_eq!(frames.len(), 3);
        assert!(hub.get("t").is_none() && hub.is_empty());
    }

    #[tokio::test]
    async fn every_viewer_shares_one_serialised_frame() {
        let hub = Hub::default();
        let trace = hub.insert("t", TraceReport::default());
        trace.publish(probe(1));
        let (mut a, mut b) = (trace.subscribe(), trace.subscribe());
        let (mut got_a, mut got_b) = (Vec::new(), Vec::new());
        assert!(a.next_frames(&mut got_a).await && b.next_frames(&mut got_b).await);
        // The same bytes in memory, not two serialisations of the same event.
        assert_eq!(got_a[0].text.as_str().as_ptr(), got_b[0].text.as_str().as_ptr());
    }

    #[tokio::test]
    async fn a_waiting_viewer_wakes_on_publish_and_on_close() {
        let hub = Hub::default();
        let trace = hub.insert("t", TraceReport::default());
        let mut sub = trace.subscribe();
        let waiter = tokio::spawn(async move {
            let mut frames = Vec::new();
            let first = sub.next_frames(&mut frames).await;
            let second = sub.next_frames(&mut frames).await;
            (first, second, frames.len())
        });
        tokio::task::yield_now().await;
        trace.publish(probe(1));
        tokio::task::yield_now().await;
        hub.remove("t");
        assert_eq!(waiter.await.expect("waiter"), (true, false, 1));
    }

    #[test]
    fn every_subscription_counts_as_a_viewer_until_it_is_dropped() {
        let hub = Hub::default();
        let trace = hub.insert("t", TraceReport::default());
        assert_eq!(trace.viewers(), 0);
        let (a, b) = (trace.subscribe(), trace.subscribe());
        assert_eq!(trace.viewers(), 2);
        drop(a);
        assert_eq!(trace.viewers(), 1);
        drop(b);
        assert_eq!(trace.viewers(), 0, "the grace of `abandoned` starts here (timed in backend/tests/watch_api.rs)");
    }

    #[test]
    fn a_joined_name_reads_its_run_and_its_offset_together_and_unlinking_keeps_the_run() {
        let hub = Hub::default();
        let run = hub.insert("run", TraceReport::default());
        hub.link("joined", Arc::clone(&run), 1396);
        let (live, after) = hub.get_named("joined").expect("linked");
        assert!(Arc::ptr_eq(&live, &run));
        assert_eq!(after, Some(1396));
        assert_eq!(hub.get_named("run").map(|(_, after)| after), Some(None), "the run's own id joined nothing");
        hub.unlink("joined");
        assert!(hub.get_named("joined").is_none());
        assert!(!run.is_stopped() && hub.get("run").is_some(), "the run goes on under its own id");
    }
}
