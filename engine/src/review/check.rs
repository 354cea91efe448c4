//! `check`: one verdict for CI. Collects, as [`Finding`]s: applied migrations whose checksum
//! changed and unrepaired failed runs ([`Runner::verify`]), applied versions this build does
//! not know, lint of the pending migrations, and drift between the database and the entities
//! (once nothing is pending). It fails on errors only; warnings are listed but pass.

use sea_orm_migration::MigrationTrait;

use crate::db::DatabaseUrl;
use crate::error::MigrateError;
use crate::review::drift::Drift;
use crate::review::lint::{self, Finding, Severity};
use crate::run::runner::{Problem, Runner, State};

/// Rule names `check` adds to lint's.
pub mod rules {
    /// An applied version this build does not know.
    pub const UNKNOWN_VERSION: &str = "unknown-version";
    /// The database differs from the entity schema.
    pub const DRIFT: &str = "drift";
    /// Drift was not compared because migrations are pending.
    pub const DRIFT_SKIPPED: &str = "drift-skipped";
    /// An applied migration's code changed after it was applied.
    pub const CHECKSUM: &str = "checksum-changed";
    /// A failed run that could not be rolled back and was not repaired.
    pub const UNREPAIRED: &str = "unrepaired-run";
}

/// The ledger problems [`Runner::verify`] reports that `check` does not find itself (unknown
/// versions and out-of-order migrations are reported by `check` and `lint`).
pub fn integrity_findings(problems: &[Problem]) -> Vec<Finding> {
    problems
        .iter()
        .filter_map(|p| {
            let (rule, version, fix) = match p {
                Problem::ChecksumChanged { version, .. } => (
                    rules::CHECKSUM,
                    version,
                    "restore the migration's original code and put the change in a new migration, or run `migration repair` if the change is harmless",
                ),
                Problem::Unrepaired { version, .. } => (
                    rules::UNREPAIRED,
                    version,
                    "inspect the schema, finish or undo the migration by hand, then run `migration repair`",
                ),
                Problem::MissingFromLedger { version, .. } => (
                    "missing-from-ledger",
                    version,
                    "check that its changes are in the schema, then run `migration repair` to re-add its ledger row",
                ),
                Problem::UnknownApplied { .. } | Problem::OutOfOrder { .. } => return None,
            };
            Some(Finding {
                rule: rule.into(),
                severity: Severity::Error,
                migration: version.clone(),
                statement: None,
                message: p.describe(),
                fix: fix.into(),
            })
        })
        .collect()
}

/// How strict `check` is.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    /// Report destructive lint findings as warnings (the deploy uses `up --allow-destructive`).
    pub allow_destructive: bool,
    /// Lint every migration, not only the pending ones.
    pub all: bool,
}

/// The outcome of `check`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CheckReport {
    /// The database (password redacted).
    pub database: String,
    /// Pending migrations.
    pub pending: usize,
    /// Every finding, errors first.
    pub findings: Vec<Finding>,
    /// The drift, when it was compared.
    pub drift: Option<Drift>,
}

impl CheckReport {
    /// Number of error findings.
    pub fn errors(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .count()
    }

    /// Whether CI should pass.
    pub fn passed(&self) -> bool {
        self.errors() == 0
    }
}

/// Runs every check against the runner's database. Reads only.
pub async fn check(
    runner: &Runner,
    url: &DatabaseUrl,
    migrations: &[Box<dyn MigrationTrait>],
    options: &CheckOptions,
) -> Result<CheckReport, MigrateError> {
    let states = runner.status().await?;
    let mut findings = integrity_findings(&runner.verify().await?);
    for s in states.iter().filter(|s| s.status == State::Unknown) {
        findings.push(Finding {
            rule: rules::UNKNOWN_VERSION.into(),
            severity: Severity::Error,
            migration: s.version.clone(),
            statement: None,
            message: "applied to this database, but this build does not have it (a newer build migrated it)".into(),
            fix: "deploy the build that contains this migration, or restore the database it belongs to".into(),
        });
    }
    let pending = states.iter().filter(|s| s.status == State::Pending).count();
    let mut linted = lint::lint_database(runner, url, migrations, options.all).await?;
    if options.allow_destructive {
        for f in linted.iter_mut().filter(|f| f.is_destructive()) {
            f.severity = Severity::Warning;
        }
    }
    findings.extend(linted);
    let drift = if pending == 0 {
        let drift = crate::review::drift::drift_of(runner).await?;
        for d in &drift.differences {
            findings.push(Finding {
                rule: rules::DRIFT.into(),
                severity: Severity::Error,
                migration: String::new(),
                statement: None,
                message: format!("{}: {}", d.kind.as_str(), d.detail()),
                fix: "write a migration that makes the database match the entities (or fix the entity), or undo the manual change".into(),
            });
        }
        Some(drift)
    } else {
        findings.push(Finding {
            rule: rules::DRIFT_SKIPPED.into(),
            severity: Severity::Warning,
            migration: String::new(),
            statement: None,
            message: format!("{pending} migration(s) pending: the database is not expected to match the entities yet, drift not compared"),
            fix: "run `migration up`, then `migration check` again".into(),
        });
        None
    };
    findings.sort_by_key(|f| f.severity);
    Ok(CheckReport {
        database: url.redacted().to_string(),
        pending,
        findings,
        drift,
    })
}
