//! The precondition of every command: the schema is exactly at this build's latest migration.

use migration::{Migrator, MigratorTrait};
use migration_engine::{Runner, State};
use sea_orm::DatabaseConnection;

use crate::SeedError;

/// Fails with [`SeedError::NotMigrated`] when a migration is pending and with
/// [`SeedError::UnknownMigrations`] when the database has migrations this build lacks.
/// Reads only.
pub async fn ensure_migrated(db: &DatabaseConnection) -> Result<(), SeedError> {
    let states = Runner::with_config(db.clone(), Migrator::migrations(), migration::config())
        .status()
        .await?;
    let names = |s: State| {
        states
            .iter()
            .filter(|m| m.status == s)
            .map(|m| m.version.as_str())
            .collect::<Vec<_>>()
    };
    let unknown = names(State::Unknown);
    if !unknown.is_empty() {
        return Err(SeedError::UnknownMigrations {
            versions: unknown.join(", "),
        });
    }
    let pending = names(State::Pending);
    if !pending.is_empty() {
        return Err(SeedError::NotMigrated {
            pending: pending.len(),
            versions: pending.join(", "),
        });
    }
    Ok(())
}
