//! The mutation endpoints, `POST /api/v1/migrations/migrate` and
//! `POST /api/v1/migrations/rollback/{version}`: off without a token, authorised by bearer
//! token, run through the engine's [`Runner`] exactly as the command line runs them (lock,
//! checks, backups, destructive-change refusal, production guard). One run at a time per
//! server (a second request gets 409 naming the first); the run goes on in its own task when
//! the client goes away, and shutdown waits for it.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::connect_info::ConnectInfo;
use axum::extract::{Path, State};
use axum::http::{Extensions, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use migration_engine::cli::Environment;
use migration_engine::cli::output::describe;
use migration_engine::review::script;
use migration_engine::run::runner::Event;
use migration_engine::{DatabaseUrl, Direction, MigrateError, RunOptions, Runner, Step, Target};

use crate::serve::auth::authorize;
use crate::serve::error::ApiError;
use crate::serve::state::{AppState, RunInfo};

/// Body of `POST /api/v1/migrations/migrate` (an empty body: apply everything).
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MigrateRequest {
    /// Apply up to and including this migration (full name or unique prefix); all without it.
    #[serde(default)]
    pub target_version: Option<String>,
    /// Return the SQL each migration would run; change nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// Safe-window gates to skip by name (recorded in the history of the run).
    #[serde(default)]
    pub skip_gates: Vec<String>,
}

/// Body of `POST /api/v1/migrations/rollback/{version}` (may be empty).
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RollbackRequest {
    /// Return the SQL each migration would run; change nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// Confirms a rollback in production (required there).
    #[serde(default)]
    pub confirm: bool,
    /// Safe-window gates to skip by name (recorded in the history of the run).
    #[serde(default)]
    pub skip_gates: Vec<String>,
}

/// What a finished run answers.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunReport {
    /// `migrate` or `rollback`.
    pub operation: &'static str,
    /// The database, password redacted.
    pub database: String,
    /// The migrations it ran, in order.
    pub steps: Vec<Step>,
    /// The event log of the run (as the command line's `--format json` log).
    pub events: Vec<serde_json::Value>,
}

/// `POST /api/v1/migrations/migrate`.
pub async fn migrate(
    State(state): State<AppState>,
    headers: HeaderMap,
    extensions: Extensions,
    body: Bytes,
) -> Result<Response, ApiError> {
    authorize(
        state.options().token.as_ref(),
        &headers,
        &state.token_env_var(),
    )?;
    let request: MigrateRequest = parse_body(&body)?;
    let target = match request.target_version.as_deref() {
        None => Target::All,
        Some(v) => Target::Version(v.to_string()),
    };
    let label = request
        .target_version
        .clone()
        .unwrap_or_else(|| "latest".into());
    if request.dry_run {
        return dry_run(&state, Direction::Up, &target).await;
    }
    execute(
        &state,
        client(&extensions),
        Operation::Migrate,
        target,
        label,
        request.skip_gates,
    )
    .await
}

/// `POST /api/v1/migrations/rollback/{version}`: reverts every migration applied after
/// `version` (`base`: all of them), as `migrate down --to VERSION`.
pub async fn rollback(
    State(state): State<AppState>,
    Path(version): Path<String>,
    headers: HeaderMap,
    extensions: Extensions,
    body: Bytes,
) -> Result<Response, ApiError> {
    authorize(
        state.options().token.as_ref(),
        &headers,
        &state.token_env_var(),
    )?;
    let request: RollbackRequest = parse_body(&body)?;
    let target = if version.eq_ignore_ascii_case("base") {
        Target::Base
    } else {
        Target::Version(version.clone())
    };
    if request.dry_run {
        return dry_run(&state, Direction::Down, &target).await;
    }
    if state.options().environment == Environment::Production && !request.confirm {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "a rollback removes schema and data and the environment is production: send \
             {\"confirm\": true} in the body to confirm (and check that a backup exists)",
        ));
    }
    execute(
        &state,
        client(&extensions),
        Operation::Rollback,
        target,
        version,
        request.skip_gates,
    )
    .await
}

fn parse_body<T: serde::de::DeserializeOwned + Default>(body: &Bytes) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!(
                "the request body is not valid: {e}. Send JSON such as {{\"target_version\": \
                 \"m20250128_120000_safety_system\", \"dry_run\": true}} (rollback: \
                 {{\"dry_run\": false, \"confirm\": true}})"
            ),
        )
    })
}

fn client(extensions: &Extensions) -> String {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.to_string())
        .unwrap_or_else(|| "an in-process client".into())
}

async fn dry_run(
    state: &AppState,
    direction: Direction,
    target: &Target,
) -> Result<Response, ApiError> {
    let url = &state.options().url;
    let runner = state
        .read_runner()
        .await
        .map_err(|e| ApiError::from_migrate(url, &e))?;
    let migrations = (state.options().migrations)();
    let dry = script::dry_run(&runner, &migrations, url.redacted(), direction, target)
        .await
        .map_err(|e| ApiError::from_migrate(url, &e))?;
    Ok(axum::Json(serde_json::json!({ "dry_run": dry })).into_response())
}

#[derive(Debug, Clone, Copy)]
enum Operation {
    Migrate,
    Rollback,
}

impl Operation {
    fn name(self) -> &'static str {
        match self {
            Self::Migrate => "migrate",
            Self::Rollback => "rollback",
        }
    }
}

/// Clears the server's "run in progress" mark however the run's task ends.
struct RunGuard(AppState);

impl Drop for RunGuard {
    fn drop(&mut self) {
        self.0.finish_run();
    }
}

async fn execute(
    state: &AppState,
    client: String,
    operation: Operation,
    target: Target,
    label: String,
    skip_gates: Vec<String>,
) -> Result<Response, ApiError> {
    let url = state.options().url.clone();
    if state.shutting_down() {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the server is shutting down and starts no new migration run: send the request to \
             the server that replaces it",
        ));
    }
    let info = RunInfo {
        operation: operation.name().into(),
        target: label,
        client,
        started_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    };
    if let Err(holder) = state.start_run(info.clone()) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "another migration run is in progress: {holder}. Wait for it to finish (watch \
                 GET /api/v1/migrations/status), then send the request again"
            ),
        )
        .with("holder", holder.to_string()));
    }
    let guard = RunGuard(state.clone());
    state.options().log.notice(&format!("Starting {info}"));
    let events = Arc::new(Mutex::new(Vec::new()));
    let task_state = state.clone();
    let task_events = events.clone();
    // Its own task: a client that goes away does not cancel a run half-way.
    let task = tokio::spawn(async move {
        let _guard = guard;
        run(&task_state, operation, &target, skip_gates, task_events).await
    });
    let result = task.await.unwrap_or_else(|e| {
        Err(MigrateError::Database {
            action: "running the migrations".into(),
            cause: format!("the run's task ended abnormally: {e}"),
            source: None,
        })
    });
    let events = events.lock().map(|e| e.clone()).unwrap_or_default();
    match result {
        Ok(steps) => Ok(axum::Json(RunReport {
            operation: operation.name(),
            database: url.redacted().to_string(),
            steps,
            events,
        })
        .into_response()),
        Err(e) => {
            state.options().log.error(&e);
            Err(ApiError::from_migrate(&url, &e).with("events", events))
        }
    }
}

async fn run(
    state: &AppState,
    operation: Operation,
    target: &Target,
    skip_gates: Vec<String>,
    events: Arc<Mutex<Vec<serde_json::Value>>>,
) -> Result<Vec<Step>, MigrateError> {
    let o = state.options();
    let db = migration_engine::connect(&o.url, &o.connect).await?;
    let log = o.log.clone();
    let url = o.url.clone();
    let runner = Runner::with_config(db, (o.migrations)(), o.config.clone())
        .with_options(RunOptions {
            lock_timeout: o.lock_timeout,
            backup: o.backup.clone().map(|b| (b, o.url.clone())),
            environment: o.environment,
            skip_gates,
            statement_timeout: o.statement_timeout,
            migration_timeout: o.migration_timeout,
            ..RunOptions::default()
        })
        .on_event(move |e: &Event<'_>| {
            log.event(e);
            if let Ok(mut list) = events.lock() {
                list.push(event_json(&url, e));
            }
        });
    let result = match operation {
        Operation::Migrate => runner.up(target).await,
        Operation::Rollback => runner.down(target).await,
    };
    let _ = runner.connection().clone().close().await;
    result
}

/// An event as the `--format json` event log writes it, with its `level` and `message`, every
/// string scrubbed of the URL's credentials.
fn event_json(url: &DatabaseUrl, event: &Event<'_>) -> serde_json::Value {
    let (level, text, mut json) = describe(event);
    if let Some(map) = json.as_object_mut() {
        map.insert(
            "ts".into(),
            chrono::Utc::now()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
                .into(),
        );
        map.insert("level".into(), level.into());
        map.insert("message".into(), text.into());
    }
    scrub(url, json)
}

fn scrub(url: &DatabaseUrl, value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::String(s) => Value::String(url.scrub(&s)),
        Value::Array(items) => Value::Array(items.into_iter().map(|v| scrub(url, v)).collect()),
        Value::Object(map) => {
            Value::Object(map.into_iter().map(|(k, v)| (k, scrub(url, v))).collect())
        }
        other => other,
    }
}
