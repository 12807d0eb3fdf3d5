//! `GET /api/traces/{id}/live`: one JSON text frame per event, past events first, ending with the terminal event.
//!
//! The sending loop is generic over a `Sink` so tests can drive it without a socket. Messages from the viewer
//! are not needed; they are read only to notice a close, and their size is capped.

use std::time::Duration;

use axum::Extension;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use futures_util::{Sink, SinkExt, StreamExt};
use tracemap_shared::TraceEvent;

use super::client::Client;
use super::hub::Subscription;
use super::{AppError, AppState};

/// The viewer has nothing to say; a few KiB covers any control message.
const MAX_INCOMING_BYTES: usize = 4 * 1024;
/// A viewer that cannot take a frame in this long is gone.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// Where a viewer's events come from.
enum Source {
    Live(Subscription),
    Stored(Vec<TraceEvent>),
}

/// Whether a browser page at `origin` may open the live stream of a server reached as `host`. Browsers always
/// send `Origin` on a WebSocket upgrade, and cookies or not, a page from another site must not read our streams
/// (cross-site WebSocket hijacking). Clients that are not browsers send no `Origin` and are let through.
/// `hosts` are the names the server was reached by: the `Host` header and, from a trusted proxy, the
/// `X-Forwarded-Host` it was asked for.
fn origin_allowed(origin: Option<&str>, hosts: &[&str], allowed: &[String]) -> bool {
    let Some(origin) = origin else { return true };
    let origin = origin.trim_end_matches('/');
    if allowed.iter().any(|a| a.trim_end_matches('/').eq_ignore_ascii_case(origin)) {
        return true;
    }
    hosts.iter().any(|host| same_host(origin, host))
}

fn same_host(origin: &str, host: &str) -> bool {
    ["http://", "https://"].iter().any(|scheme| {
        origin.len() == scheme.len() + host.len()
            && origin[..scheme.len()].eq_ignore_ascii_case(scheme)
            && origin[scheme.len()..].eq_ignore_ascii_case(host)
    })
}

/// Refuses a WebSocket upgrade from a page of another origin (see [`origin_allowed`]); the class sockets use it too.
pub(super) fn check_origin(state: &AppState, client: &Client, headers: &HeaderMap) -> Result<(), AppError> {
    let header = |name| headers.get(name).and_then(|v: &axum::http::HeaderValue| v.to_str().ok());
    let hosts: Vec<&str> =
        header(header::HOST).into_iter().chain(client.forwarded_host.as_deref().filter(|_| client.via_proxy)).collect();
    if !origin_allowed(header(header::ORIGIN), &hosts, &state.config.allowed_origins) {
        return Err(AppError::new(
            StatusCode::FORBIDDEN,
            "forbidden_origin",
            "this page's origin may not watch traces here (see --public-url and --allow-origin)",
        ));
    }
    Ok(())
}

pub(super) async fn live(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Extension(client): Extension<Client>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, AppError> {
    check_origin(&state, &client, &headers)?;
    let source = match state.hub.get(&id) {
        Some(trace) => Source::Live(trace.subscribe()),
        None => match state.store.get(&id).await? {
            Some(stored) => Source::Stored(stored.events),
            None => return Err(AppError::trace_not_found()),
        },
    };
    let upgrade = upgrade.map_err(|rejection| {
        AppError::new(
            rejection.status(),
            "websocket_required",
            format!("open this URL as a WebSocket: {}", rejection.body_text()),
        )
    })?;
    Ok(upgrade
        .max_message_size(MAX_INCOMING_BYTES)
        .max_frame_size(MAX_INCOMING_BYTES)
        .on_upgrade(move |socket| serve(socket, source)))
}

async fn serve(socket: WebSocket, source: Source) {
    let (mut sink, mut incoming) = socket.split();
    // Reading is only for noticing that the viewer left; anything it sends is dropped.
    let mut reader = tokio::spawn(async move {
        while let Some(Ok(msg)) = incoming.next().await {
            if matches!(msg, Message::Close(_)) {
                break;
            }
        }
    });
    tokio::select! {
        result = stream(&mut sink, source) => {
            if result.is_ok() {
                let _ = tokio::time::timeout(SEND_TIMEOUT, sink.send(Message::Close(None))).await;
            }
            reader.abort();
        }
        _ = &mut reader => {}
    }
}

/// Sends the past, then live events until the terminal one. Errors mean the viewer is gone or too slow.
async fn stream<S>(sink: &mut S, source: Source) -> Result<(), ()>
where
    S: Sink<Message> + Unpin,
{
    let mut subscription = match source {
        Source::Stored(events) => {
            for event in &events {
                let text = serde_json::to_string(event).map_err(|_| ())?;
                send(sink, Utf8Bytes::from(text)).await?;
            }
            return Ok(());
        }
        Source::Live(subscription) => subscription,
    };
    let mut frames = Vec::new();
    // The past first (everything the log holds), then each batch as it is published.
    while subscription.next_frames(&mut frames).await {
        for frame in frames.drain(..) {
            send(sink, frame.text).await?;
            if frame.terminal {
                return Ok(());
            }
        }
    }
    // The trace's log closed without a terminal event: nothing more will come.
    Ok(())
}

/// Sends one frame; a viewer that cannot take it within [`SEND_TIMEOUT`] is cut off (its frames are shared with the
/// other viewers, so a stalled one costs no memory while it waits, only its place in the log).
async fn send<S>(sink: &mut S, text: Utf8Bytes) -> Result<(), ()>
where
    S: Sink<Message> + Unpin,
{
    match tokio::time::timeout(SEND_TIMEOUT, sink.send(Message::Text(text))).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::hub::Hub;
    use futures::channel::mpsc;
    use tracemap_shared::TraceReport;

    fn texts(msgs: Vec<Message>) -> Vec<String> {
        msgs.into_iter()
            .filter_map(|m| match m {
                Message::Text(t) => Some(t.to_string()),
                _ => None,
            })
            .collect()
    }

    #[tokio::test]
    async fn live_stream_sends_past_then_live_and_stops_at_terminal() {
        let hub = Hub::default();
        let trace = hub.insert("t", TraceReport::default());
        trace.publish(TraceEvent::Probe { ttl: 1, index: 0, reply: None, rate_limited: false, send_error: None });
        let sub = trace.subscribe();
        let (mut tx, rx) = mpsc::unbounded::<Message>();
        let publisher = tokio::spawn(async move {
            trace.publish(TraceEvent::Probe { ttl: 2, index: 0, reply: None, rate_limited: false, send_error: None });
            trace.publish(TraceEvent::Finished { destination_reached: false, duration_ms: 1 });
            trace.publish(TraceEvent::Probe { ttl: 9, index: 0, reply: None, rate_limited: false, send_error: None });
        });
        stream(&mut tx, Source::Live(sub)).await.expect("stream");
        publisher.await.expect("publisher");
        drop(tx);
        let got = texts(rx.collect().await);
        assert_eq!(got.len(), 3, "{got:?}");
        assert!(got[0].contains(r#""ttl":1"#));
        assert!(got[1].contains(r#""ttl":2"#));
        assert!(got[2].contains(r#""type":"finished""#));
    }

    #[test]
    fn only_same_origin_or_allowed_pages_may_watch() {
        let allowed = vec!["https://maps.example.org".to_owned()];
        assert!(origin_allowed(Some("http://127.0.0.1:8080"), &["127.0.0.1:8080"], &[]));
        assert!(origin_allowed(Some("HTTPS://Tracemap.example"), &["tracemap.example"], &[]));
        assert!(origin_allowed(None, &["127.0.0.1:8080"], &[]));
        assert!(origin_allowed(Some("https://maps.example.org/"), &["127.0.0.1:8080"], &allowed));
        for evil in ["http://evil.example", "http://127.0.0.1:8081", "null", "http://127.0.0.1:8080.evil.example", ""] {
            assert!(!origin_allowed(Some(evil), &["127.0.0.1:8080"], &allowed), "{evil}");
        }
        assert!(!origin_allowed(Some("http://127.0.0.1:8080"), &[], &[]));
        // Behind a proxy: the host it was asked for counts too.
        let hosts = ["127.0.0.1:8080", "trace.example.org"];
        assert!(origin_allowed(Some("https://trace.example.org"), &hosts, &[]));
        assert!(!origin_allowed(Some("https://evil.example"), &hosts, &[]));
    }

    #[tokio::test]
    async fn stored_stream_replays_everything() {
        let events = vec![
            TraceEvent::Probe { ttl: 1, index: 0, reply: None, rate_limited: false, send_error: None },
            TraceEvent::Failed { reason: "no privilege".into() },
        ];
        let (mut tx, rx) = mpsc::unbounded::<Message>();
        stream(&mut tx, Source::Stored(events)).await.expect("stream");
        drop(tx);
        assert_eq!(texts(rx.collect().await).len(), 2);
    }
}
