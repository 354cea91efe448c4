//! For application start-up (spec 003 "run on startup"): bring the schema to the latest
//! migration under the same lock and checks as `migration up`, or, read-only, refuse to start
//! when it is not there.

use sea_orm::DatabaseConnection;
use sea_orm_migration::MigratorTrait;

use crate::config::Config;
use crate::error::{MigrateError, Versions};
use crate::run::runner::{RunOptions, Runner, State, Step};

/// What start-up may do to the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartupMode {
    /// Apply pending migrations (locked, checked, recorded in the history).
    Apply,
    /// Change nothing; fail unless the schema is exactly at the latest migration.
    ReadOnly,
}

/// Makes sure the schema of `db` is at `M`'s latest migration. Returns the migrations applied
/// (always empty in [`StartupMode::ReadOnly`]). Applying evaluates the safe-window gates of
/// `options.environment` first and refuses, changing nothing, when one fails
/// ([`MigrateError::GateClosed`]); `options.statement_timeout`/`migration_timeout` bound it.
pub async fn ensure_schema<M: MigratorTrait>(
    db: DatabaseConnection,
    config: &Config,
    mode: StartupMode,
    options: RunOptions,
) -> Result<Vec<Step>, MigrateError> {
    let runner = Runner::with_config(db, M::migrations(), config.clone()).with_options(options);
    match mode {
        StartupMode::Apply => runner.up(&crate::plan::Target::All).await,
        StartupMode::ReadOnly => {
            let states = runner.status().await?;
            let problems = runner.verify().await?;
            if !problems.is_empty() {
                return Err(MigrateError::Refused { problems });
            }
            let pending: Vec<String> = states
                .iter()
                .filter(|s| s.status == State::Pending)
                .map(|s| s.version.clone())
                .collect();
            if pending.is_empty() {
                Ok(Vec::new())
            } else {
                Err(MigrateError::Pending {
                    count: pending.len(),
                    versions: Versions(pending),
                })
            }
        }
    }
}
