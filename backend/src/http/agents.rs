//! Traces from vantage points: `GET /api/agents`, and `POST /api/traces` with `from`, which hands the trace to
//! each named agent (see [`crate::agent`]) instead of the server's own prober. Everything else is as for a local
//! trace: the same checks and client rate limit, a slot of `--max-concurrent`, the store, the hub, the stop button;
//! the events come from the agent.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tokio::sync::mpsc;
use tracemap_shared::{AgentList, TraceCreated, TraceFrom, TraceReport, TraceRequest};

use super::client::Client;
use super::{AppError, AppState, follow_run, request, tokens, unix_ms};
use crate::agent::registry::{Agents, DispatchError};
use crate::runner;

/// `GET /api/agents`: every agent this server has heard of (none without `--nats`).
pub async fn list(State(state): State<AppState>) -> Json<AgentList> {
    Json(AgentList { agents: state.agents.as_ref().map(|a| a.list()).unwrap_or_default() })
}

impl From<DispatchError> for AppError {
    fn from(err: DispatchError) -> Self {
        let message = err.to_string();
        match err {
            DispatchError::Unknown(_) => AppError::new(StatusCode::BAD_REQUEST, "unknown_agent", message),
            DispatchError::Offline(_) => AppError::new(StatusCode::SERVICE_UNAVAILABLE, "agent_offline", message),
            DispatchError::NoAnswer(..) => AppError::new(StatusCode::GATEWAY_TIMEOUT, "agent_timeout", message),
            DispatchError::Nats(..) => AppError::new(StatusCode::BAD_GATEWAY, "agent_unreachable", message),
            DispatchError::Refused { error, .. } => {
                // The agent's own code, when it is one the API knows; its sentence in any case.
                let (status, code) = match error.code.as_str() {
                    "forbidden_target" => (StatusCode::FORBIDDEN, "forbidden_target"),
                    "rate_limited" => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
                    "busy" => (StatusCode::SERVICE_UNAVAILABLE, "busy"),
                    "invalid_field" => (StatusCode::BAD_REQUEST, "invalid_field"),
                    "invalid_target" => (StatusCode::BAD_REQUEST, "invalid_target"),
                    "unresolvable_target" => (StatusCode::BAD_REQUEST, "unresolvable_target"),
                    _ => (StatusCode::BAD_GATEWAY, "agent_refused"),
                };
                AppError::new(status, code, message)
            }
        }
    }
}

/// `POST /api/traces` with `from`: one trace per named agent. The options and the client's rate limit were
/// checked by the caller; the target's syntax is checked here, its address by each agent, from where it stands.
pub(super) async fn create_remote(
    state: AppState,
    client: Client,
    request: TraceRequest,
) -> Result<Response, AppError> {
    let Some(agents) = state.agents.clone() else {
        return Err(AppError::new(
            StatusCode::BAD_REQUEST,
            "invalid_field",
            "from: this server has no agents (start it with --nats URL)",
        ));
    };
    let target = request.target.trim().to_owned();
    if let Some(literal) = runner::parse_target(&target)? {
        request::check_family(&request, literal)?;
    }
    let mut names: Vec<String> = Vec::new();
    for name in &request.from {
        if !names.contains(name) {
            names.push(name.clone());
        }
    }
    let mut started = Vec::new();
    for name in &names {
        match start_one(&state, &agents, name, &target, &request).await {
            Ok(one) => started.push(one),
            // The first refusal is the answer when nothing started; later ones are logged, the others run.
            Err(err) if started.is_empty() => return Err(err),
            Err(err) => tracing::warn!(agent = %name, error = ?err, "one vantage point of several refused"),
        }
    }
    tracing::info!(client = ?client.ip, target = %target, agents = started.len(), "remote traces started");
    let first = started.first().cloned().unwrap_or_default();
    let traces = if names.len() == 1 { Vec::new() } else { started };
    let created = TraceCreated { id: first.id, delete_token: first.delete_token, joined_after_ms: None, traces };
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

/// Hands one trace to agent `name`, records it, and forwards its events to the hub until it ends.
async fn start_one(
    state: &AppState,
    agents: &Arc<Agents>,
    name: &str,
    target: &str,
    request: &TraceRequest,
) -> Result<TraceFrom, AppError> {
    let Ok(slot) = Arc::clone(&state.slots).try_acquire_owned() else {
        return Err(AppError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            format!("{} traces are already running; try again in a few seconds", state.config.max_concurrent),
        ));
    };
    let id = super::new_trace_id();
    let remote = agents.dispatch(name, &id, request.clone()).await?;
    let mut report = TraceReport::new(target.to_owned(), request.protocol);
    report.id = Some(id.clone());
    report.max_hops = request.max_hops.unwrap_or(state.config.probe_defaults.max_hops);
    report.tries = request.tries.unwrap_or(state.config.probe_defaults.tries);
    report.options.from = Some(name.to_owned());
    let delete_token = tokens::new_token();
    if let Err(err) = state.store.insert(&id, unix_ms(), &report, Some(tokens::hash(&delete_token))).await {
        agents.stop(name, &id).await;
        return Err(err.into());
    }
    let live = state.hub.insert(&id, report);
    let (tx, rx) = mpsc::unbounded_channel();
    let forward = tokio::spawn(remote.forward(tx));
    let (state, agents, trace_id, agent) = (state.clone(), Arc::clone(agents), id.clone(), name.to_owned());
    tokio::spawn(async move {
        let report = follow_run(&state, &trace_id, &live, rx, || async {
            forward.abort();
            agents.stop(&agent, &trace_id).await;
        })
        .await;
        drop(slot);
        tracing::info!(id = %trace_id, %agent, status = ?report.status, hops = report.hops.len(), "remote trace ended");
    });
    tracing::info!(%id, agent = name, %target, "trace handed to an agent");
    Ok(TraceFrom { from: name.to_owned(), id, delete_token: Some(delete_token) })
}
