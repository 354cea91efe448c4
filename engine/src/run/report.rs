//! The documents `status --format json` and `history --format json` print, as typed data, so
//! that every front end (the command line, an HTTP service) serves the same document from one
//! function. Render them with [`StatusReport::to_json`] / [`HistoryReport::to_json`]: keys come
//! out sorted, exactly as the command line has always printed them.

use crate::bookkeeping::history::Entry;
use crate::db::{DatabaseUrl, backend_name};
use crate::error::MigrateError;
use crate::run::runner::{MigrationState, Runner, State};

/// `status`: every migration of the build with its state, for one database.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StatusReport {
    /// Backend name (`PostgreSQL`, `MySQL`, `SQLite`).
    pub backend: &'static str,
    /// The database URL, password redacted.
    pub database: String,
    /// Every known migration, then applied versions this build does not know.
    pub migrations: Vec<MigrationState>,
    /// How many migrations the history records as applied but the ledger lacks.
    pub missing_from_ledger: usize,
    /// How many migrations are pending.
    pub pending: usize,
}

impl StatusReport {
    /// Builds the report from states already read (see [`status_report`]).
    pub fn new(url: &DatabaseUrl, runner: &Runner, migrations: Vec<MigrationState>) -> Self {
        let count = |state: State| migrations.iter().filter(|s| s.status == state).count();
        Self {
            backend: backend_name(runner.connection().get_database_backend()),
            database: url.redacted().to_string(),
            pending: count(State::Pending),
            missing_from_ledger: count(State::MissingFromLedger),
            migrations,
        }
    }

    /// The JSON document (object keys sorted).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

/// Reads the status of `runner`'s database (reads only, never creates a table).
pub async fn status_report(
    runner: &Runner,
    url: &DatabaseUrl,
) -> Result<StatusReport, MigrateError> {
    let states = runner.status().await?;
    Ok(StatusReport::new(url, runner, states))
}

/// `history`: the runs recorded in the history table, newest first.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct HistoryReport {
    /// The rows, newest first.
    pub history: Vec<Entry>,
}

impl HistoryReport {
    /// The JSON document (object keys sorted).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

/// Reads the newest `limit` history rows (all without a limit).
pub async fn history_report(
    runner: &Runner,
    limit: Option<u64>,
) -> Result<HistoryReport, MigrateError> {
    Ok(HistoryReport {
        history: runner.history(limit).await?,
    })
}
