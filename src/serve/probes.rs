//! The Kubernetes probes: [`health`] (liveness: the process answers, and whether the database
//! does) and [`readiness`] (ready only when the schema is exactly this build's: nothing
//! pending, no failed run, no changed checksum, no unknown version; a failing precondition
//! counts while migrations are pending, see [`gates`]).

use migration_engine::run::gates::GateResult;
use migration_engine::{MigrateError, Problem, State};

use crate::serve::gates;
use crate::serve::state::{AppState, RunInfo};

/// `GET /health`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Health {
    /// Always `ok`: the process answers.
    pub status: &'static str,
    /// This build's version.
    pub version: &'static str,
    /// The database.
    pub database: DatabaseHealth,
    /// The migration run this server is doing, if any.
    pub running: Option<RunInfo>,
}

/// Whether the database answers.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DatabaseHealth {
    /// Its URL, password redacted.
    pub url: String,
    /// Whether it answered a ping.
    pub reachable: bool,
    /// Why not, when it did not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Checks liveness: never fails; the database's state is part of the answer.
pub async fn health(state: &AppState) -> Health {
    let url = &state.options().url;
    let error = match state.reader().await {
        Ok(db) => db
            .ping()
            .await
            .err()
            .map(|e| url.scrub(&format!("the database did not answer: {e}"))),
        Err(e) => Some(url.scrub(&e.to_string())),
    };
    Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
        database: DatabaseHealth {
            url: url.redacted().to_string(),
            reachable: error.is_none(),
            error,
        },
        running: state.running(),
    }
}

/// `GET /ready`: 200 with `ready: true`, or 503 with the reasons.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Readiness {
    /// Whether the schema is ready for the application.
    pub ready: bool,
    /// The database URL, password redacted.
    pub database: String,
    /// Why it is not ready (empty when it is).
    pub reasons: Vec<Reason>,
    /// Every safe-window gate that applies in this environment, as evaluated now (a failing
    /// one is also a reason while migrations are pending).
    pub preconditions: Vec<GateResult>,
}

/// One reason a database is not ready.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Reason {
    /// `database-unreachable`, `pending`, `checksum-changed`, `unknown-version`, `failed-run`,
    /// `out-of-order`, `missing-from-ledger`, `migration-running` or `precondition`.
    pub kind: &'static str,
    /// The migration (or precondition) concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// What is wrong and what to do.
    pub detail: String,
}

impl Reason {
    fn of_problem(p: &Problem) -> Self {
        let (kind, name) = match p {
            Problem::ChecksumChanged { version, .. } => ("checksum-changed", version),
            Problem::UnknownApplied { version } => ("unknown-version", version),
            Problem::OutOfOrder { version, .. } => ("out-of-order", version),
            Problem::Unrepaired { version, .. } => ("failed-run", version),
            Problem::MissingFromLedger { version, .. } => ("missing-from-ledger", version),
        };
        Self {
            kind,
            name: Some(name.clone()),
            detail: p.describe(),
        }
    }
}

/// Checks readiness; a database that cannot be read is not ready.
pub async fn readiness(state: &AppState) -> Readiness {
    let url = &state.options().url;
    let (reasons, preconditions) = match reasons(state).await {
        Ok(r) => r,
        Err(e) => (
            vec![Reason {
                kind: "database-unreachable",
                name: None,
                detail: url.scrub(&e.to_string()),
            }],
            Vec::new(),
        ),
    };
    Readiness {
        ready: reasons.is_empty(),
        database: url.redacted().to_string(),
        reasons,
        preconditions,
    }
}

async fn reasons(state: &AppState) -> Result<(Vec<Reason>, Vec<GateResult>), MigrateError> {
    let runner = state.read_runner().await?;
    let states = runner.status().await?;
    let mut reasons: Vec<Reason> = states
        .iter()
        .filter(|s| s.status == State::Pending)
        .map(|s| Reason {
            kind: "pending",
            name: Some(s.version.clone()),
            detail: format!(
                "{} is not applied yet: run `POST /api/v1/migrations/migrate` or `oht50-db migrate up`",
                s.version
            ),
        })
        .collect();
    let pending = !reasons.is_empty();
    let preconditions = gates::results(state, &runner).await;
    if pending {
        reasons.extend(
            gates::failing(state, &preconditions)
                .into_iter()
                .map(|(name, detail)| Reason {
                    kind: "precondition",
                    name: Some(name),
                    detail,
                }),
        );
    }
    reasons.extend(runner.verify().await?.iter().map(Reason::of_problem));
    if let Some(run) = state.running() {
        reasons.push(Reason {
            kind: "migration-running",
            name: None,
            detail: format!("{run} is in progress"),
        });
    }
    Ok((reasons, preconditions))
}
