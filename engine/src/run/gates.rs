//! Safe-window gates (spec section 9, "pre-migration checks"): before a run changes anything,
//! every [`Gate`] of the [`Config`] that applies in the run's [`Environment`] runs its query,
//! and any row it returns stops the run ([`MigrateError::GateClosed`]). A gate can be skipped
//! by name (`--skip-gate NAME`, [`crate::RunOptions::skip_gates`]); the skip, and what the
//! gate saw, is written into the notes of every history row of that run. A gate whose table
//! does not exist yet (a fresh database) passes with a note.
//!
//! [`evaluate`] is the read-only entry point for `doctor`, readiness probes and services.

use sea_orm::{ConnectionTrait, FromQueryResult, JsonValue, Statement};

use crate::config::{Config, Environment, Gate};
use crate::db::is_missing_table;
use crate::error::{GateFailure, MigrateError};

/// How many returned rows a result keeps as a sample.
const SAMPLE_ROWS: usize = 3;

/// How a gate came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GateStatus {
    /// The query returned no row (or its table does not exist yet).
    Pass,
    /// The query returned rows, or failed: a run is refused.
    Fail,
    /// Skipped by name for this run; `clear` says whether it would have passed.
    Skipped,
}

/// One gate's outcome.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct GateResult {
    /// The gate's name.
    pub name: String,
    /// What it ensures.
    pub description: String,
    /// Pass, fail or skipped.
    pub status: GateStatus,
    /// Whether the query found nothing wrong (for a skipped gate: whether it would have passed).
    pub clear: bool,
    /// How many rows the query returned (`None`: it did not run to the end).
    pub rows: Option<usize>,
    /// The first rows it returned, column name to value.
    pub sample: Vec<JsonValue>,
    /// What it saw, in words: "no rows", "2 row(s): ...", the query's error, or why it passed
    /// without running (its table does not exist yet).
    pub saw: String,
}

impl GateResult {
    /// One line: `name: status — what it saw`.
    pub fn describe(&self) -> String {
        let what = if self.description.is_empty() {
            String::new()
        } else {
            format!(" ({})", self.description)
        };
        format!("{}{what}: {}", self.name, self.saw)
    }
}

/// The gates of `config` that apply in `env`, in the order they were configured.
pub fn applicable(config: &Config, env: Environment) -> impl Iterator<Item = &Gate> {
    config.gates.iter().filter(move |g| g.applies_in(env))
}

/// Evaluates every gate of `config` that applies in `env` against `db`; never changes
/// anything and never fails (a query that fails is a failed gate). Empty when no gate is
/// configured for `env`.
pub async fn evaluate<C: ConnectionTrait>(
    db: &C,
    config: &Config,
    env: Environment,
) -> Vec<GateResult> {
    evaluate_skipping(db, config, env, &[]).await
}

/// [`evaluate`], reporting the gates named in `skip` as [`GateStatus::Skipped`] (they are
/// still evaluated, so the record says what they saw).
pub async fn evaluate_skipping<C: ConnectionTrait>(
    db: &C,
    config: &Config,
    env: Environment,
    skip: &[String],
) -> Vec<GateResult> {
    let mut out = Vec::new();
    for gate in applicable(config, env) {
        let mut result = evaluate_one(db, gate).await;
        if skip.iter().any(|s| s == &gate.name) {
            result.status = GateStatus::Skipped;
        }
        out.push(result);
    }
    out
}

async fn evaluate_one<C: ConnectionTrait>(db: &C, gate: &Gate) -> GateResult {
    let mut result = GateResult {
        name: gate.name.clone(),
        description: gate.description.clone(),
        status: GateStatus::Fail,
        clear: false,
        rows: None,
        sample: Vec::new(),
        saw: String::new(),
    };
    let backend = db.get_database_backend();
    match db
        .query_all_raw(Statement::from_string(backend, gate.sql.clone()))
        .await
    {
        Ok(rows) => {
            result.sample = rows
                .iter()
                .take(SAMPLE_ROWS)
                .map(|r| JsonValue::from_query_result(r, "").unwrap_or(JsonValue::Null))
                .collect();
            result.rows = Some(rows.len());
            if rows.is_empty() {
                result.status = GateStatus::Pass;
                result.clear = true;
                result.saw = "no rows".into();
            } else {
                let shown: Vec<String> = result.sample.iter().map(|r| r.to_string()).collect();
                let more = if rows.len() > shown.len() {
                    "; ..."
                } else {
                    ""
                };
                result.saw = format!("{} row(s): {}{more}", rows.len(), shown.join("; "));
            }
        }
        Err(e) if is_missing_table(&e) => {
            result.status = GateStatus::Pass;
            result.clear = true;
            result.saw = format!(
                "passed without rows: its table does not exist yet (a fresh database): {}",
                first_line(&e.to_string())
            );
        }
        Err(e) => {
            result.saw = format!(
                "its query failed, so the plant's state is unknown: {}. Fix the gate's SQL in the \
                 project configuration",
                first_line(&e.to_string())
            );
        }
    }
    result
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

/// The check a migration run makes before it changes anything: evaluates the gates that
/// apply in `env`, skipping those named in `skip`. Refuses ([`MigrateError::GateClosed`])
/// when one that is not skipped fails, and a `skip` name that names no gate of `config`
/// ([`MigrateError::UnknownGate`]). Otherwise returns the note for the history rows of the
/// run: which gates were skipped and what they saw (`None`: nothing skipped). Costs nothing
/// when no gate applies and nothing is skipped.
pub async fn check<C: ConnectionTrait>(
    db: &C,
    config: &Config,
    env: Environment,
    skip: &[String],
) -> Result<Option<String>, MigrateError> {
    validate_skips(config, skip)?;
    if applicable(config, env).next().is_none() {
        return Ok(None);
    }
    let results = evaluate_skipping(db, config, env, skip).await;
    let failures: Vec<GateFailure> = results
        .iter()
        .filter(|r| r.status == GateStatus::Fail)
        .map(|r| GateFailure {
            gate: r.name.clone(),
            description: r.description.clone(),
            saw: r.saw.clone(),
        })
        .collect();
    if !failures.is_empty() {
        return Err(MigrateError::GateClosed { failures });
    }
    Ok(skip_note(&results))
}

/// Refuses a `skip` name that names no gate of `config` ([`MigrateError::UnknownGate`]).
pub fn validate_skips(config: &Config, skip: &[String]) -> Result<(), MigrateError> {
    match skip
        .iter()
        .find(|s| !config.gates.iter().any(|g| &g.name == *s))
    {
        None => Ok(()),
        Some(unknown) => Err(MigrateError::UnknownGate {
            given: unknown.clone(),
            known: if config.gates.is_empty() {
                "none configured".into()
            } else {
                config
                    .gates
                    .iter()
                    .map(|g| g.name.clone())
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        }),
    }
}

/// The history note for the skipped gates among `results` (`None`: none skipped).
pub fn skip_note(results: &[GateResult]) -> Option<String> {
    let skipped: Vec<String> = results
        .iter()
        .filter(|r| r.status == GateStatus::Skipped)
        .map(|r| {
            let verdict = if r.clear {
                "it would have passed"
            } else {
                "it would have failed"
            };
            format!("{} ({verdict}; saw {})", r.name, r.saw)
        })
        .collect();
    (!skipped.is_empty()).then(|| format!("safe-window gate(s) skipped: {}", skipped.join("; ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gates_apply_per_environment_and_skips_are_noted() {
        let config = Config::new("t")
            .with_precondition("a", "SELECT 1;", &[Environment::Production])
            .with_gate(Gate::new("b", "SELECT 2").described("always"));
        let names = |env| {
            applicable(&config, env)
                .map(|g| g.name.as_str())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(Environment::Production), ["a", "b"]);
        assert_eq!(names(Environment::Development), ["b"]);
        assert_eq!(config.gates[0].sql, "SELECT 1");
        let skipped = GateResult {
            name: "a".into(),
            description: String::new(),
            status: GateStatus::Skipped,
            clear: false,
            rows: Some(1),
            sample: Vec::new(),
            saw: "1 row(s): {\"x\":1}".into(),
        };
        let note = skip_note(&[skipped]).unwrap_or_default();
        assert!(note.contains("a (it would have failed"), "{note}");
        assert_eq!(skip_note(&[]), None);
    }
}
