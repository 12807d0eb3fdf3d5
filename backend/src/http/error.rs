//! The one error type at the HTTP edge: a status, a stable code and a sentence for the client.
//! Internal details are logged here and never sent.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tracemap_shared::{ApiError, ApiErrorBody};

use crate::runner::ResolveError;
use crate::store::StoreError;

/// An API failure as the client sees it.
#[derive(Debug)]
pub struct AppError {
    status: StatusCode,
    code: &'static str,
    message: String,
    retry_after: Option<u64>,
}

impl AppError {
    /// A failure with an explicit status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        AppError { status, code, message: message.into(), retry_after: None }
    }

    /// 429 with the wait before the client may start another trace.
    pub fn rate_limited(wait: std::time::Duration) -> Self {
        let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
        let mut err = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("too many traces started from your address; try again in {secs} s"),
        );
        err.retry_after = Some(secs);
        err
    }

    /// The code and sentence the client gets (an agent answers a refused job with them).
    pub fn body(&self) -> ApiErrorBody {
        ApiErrorBody { code: self.code.to_owned(), message: self.message.clone() }
    }

    /// 404 for an unknown trace id.
    pub fn trace_not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "no trace with this id")
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let body = ApiError { error: ApiErrorBody { code: self.code.to_owned(), message: self.message } };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        response
    }
}

impl From<ResolveError> for AppError {
    fn from(err: ResolveError) -> Self {
        let code = match err {
            ResolveError::Invalid(_) => "invalid_target",
            ResolveError::NotFound(_) | ResolveError::Timeout(..) => "unresolvable_target",
        };
        Self::new(StatusCode::BAD_REQUEST, code, err.to_string())
    }
}

impl From<StoreError> for AppError {
    fn from(err: StoreError) -> Self {
        tracing::error!(error = %err, "store failure");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "storage", "the trace store failed; see the server log")
    }
}

impl From<JsonRejection> for AppError {
    fn from(rejection: JsonRejection) -> Self {
        // Wrong types and missing fields are the client's mistake like bad syntax: 400, naming the field.
        let status = match rejection.status() {
            StatusCode::UNPROCESSABLE_ENTITY => StatusCode::BAD_REQUEST,
            other => other,
        };
        Self::new(status, "invalid_request", rejection.body_text())
    }
}
