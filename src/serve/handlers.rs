//! The read endpoints: status, history, health, readiness and metrics. Each answers from the
//! engine's library functions, the same ones the command line prints.

use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use migration_engine::run::report;

use crate::serve::error::ApiError;
use crate::serve::state::AppState;
use crate::serve::{metrics, probes};

/// `GET /api/v1/migrations/status`: the document of `migrate status --format json`.
pub async fn status(State(state): State<AppState>) -> Result<Response, ApiError> {
    let url = &state.options().url;
    let runner = state
        .read_runner()
        .await
        .map_err(|e| ApiError::from_migrate(url, &e))?;
    let doc = report::status_report(&runner, url)
        .await
        .map_err(|e| ApiError::from_migrate(url, &e))?;
    Ok(axum::Json(doc.to_json()).into_response())
}

/// Query of `GET /api/v1/migrations/history`.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct HistoryQuery {
    /// Newest rows to return (all without it).
    pub limit: Option<u64>,
}

/// `GET /api/v1/migrations/history?limit=N`: the document of `migrate history --format json`.
pub async fn history(
    State(state): State<AppState>,
    query: Result<Query<HistoryQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("{e}: `limit` must be a whole number of rows, e.g. ?limit=20"),
        )
    })?;
    let url = &state.options().url;
    let runner = state
        .read_runner()
        .await
        .map_err(|e| ApiError::from_migrate(url, &e))?;
    let doc = report::history_report(&runner, query.limit)
        .await
        .map_err(|e| ApiError::from_migrate(url, &e))?;
    Ok(axum::Json(doc.to_json()).into_response())
}

/// `GET /health`: always 200 while the process answers; says whether the database does.
pub async fn health(State(state): State<AppState>) -> Response {
    axum::Json(probes::health(&state).await).into_response()
}

/// `GET /ready`: 200 when ready, 503 with the reasons otherwise.
pub async fn ready(State(state): State<AppState>) -> Response {
    let readiness = probes::readiness(&state).await;
    let status = if readiness.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(readiness)).into_response()
}

/// `GET /metrics`: Prometheus (OpenMetrics) text.
pub async fn metrics(State(state): State<AppState>) -> Response {
    let text = metrics::render(&state).await;
    ([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], text).into_response()
}
