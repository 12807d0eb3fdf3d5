//! Sockets and the loop that drives tracers: the only module that touches the network.

use tokio::sync::mpsc;
use tracemap_shared::TraceEvent;

use crate::probe::ProbeConfig;

/// Why probing could not run.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// The protocol or family is not implemented yet.
    #[error("{0} probes are not supported yet")]
    Unsupported(String),
}

/// Probes the route described by `config`, sending one `TraceEvent::Probe` per try (answered or timed out) to
/// `events` as soon as it is known. Returns whether the destination answered.
pub async fn trace(config: &ProbeConfig, events: &mpsc::UnboundedSender<TraceEvent>) -> Result<bool, NetError> {
    let _ = events;
    Err(NetError::Unsupported(config.protocol.to_string()))
}
