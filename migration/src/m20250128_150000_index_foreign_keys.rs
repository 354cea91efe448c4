//! Indexes the three foreign keys the safety migration left unindexed
//! (`emergency_stops.triggered_by`, `emergency_stops.resolved_by`, `safety_events.resolved_by`):
//! without them, deleting a user scans both tables to apply `ON DELETE SET NULL`, and lookups
//! of "what did this operator trigger or resolve" scan too. Built online: PostgreSQL
//! `CREATE INDEX CONCURRENTLY`, MySQL/MariaDB `ALGORITHM=INPLACE, LOCK=NONE`, SQLite plain (see
//! [`migration_engine::author::online`]).
//!
//! MySQL/MariaDB already have an index behind each key, created implicitly with the key and
//! named after it: `up` renames it (instant) instead of building a second one, and `down`, which
//! cannot drop an index a foreign key needs there, renames it back: the state before `up`.

use sea_orm_migration::prelude::*;

use migration_engine::author::online::{self, IndexState};

const NAME: &str = "m20250128_150000_index_foreign_keys";

/// `(index, table, column)`; each column's foreign key is named `<table>_<column>_fkey`.
const INDEXES: &[(&str, &str, &str)] = &[
    (
        "idx_emergency_stops_triggered_by",
        "emergency_stops",
        "triggered_by",
    ),
    (
        "idx_emergency_stops_resolved_by",
        "emergency_stops",
        "resolved_by",
    ),
    (
        "idx_safety_events_resolved_by",
        "safety_events",
        "resolved_by",
    ),
];

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mysql = manager.get_database_backend() == sea_orm_migration::sea_orm::DbBackend::MySql;
        let conn = manager.get_connection();
        for (index, table, column) in INDEXES {
            let fkey = format!("{table}_{column}_fkey");
            if mysql
                && online::index_state(conn, index).await? == IndexState::Missing
                && online::index_state(conn, &fkey).await? == IndexState::Valid
            {
                // The key's own index (InnoDB's, or the one `down` handed back): rename it
                // rather than build a second index on the same column.
                online::execute(
                    manager,
                    table,
                    &format!(
                        "ALTER TABLE `{table}` RENAME INDEX `{fkey}` TO `{index}`, \
                         ALGORITHM=INPLACE, LOCK=NONE"
                    ),
                )
                .await?;
                continue;
            }
            online::create_index(manager, NAME, index, table, &[column]).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mysql = manager.get_database_backend() == sea_orm_migration::sea_orm::DbBackend::MySql;
        for (index, table, column) in INDEXES.iter().rev() {
            if mysql {
                // The foreign key needs an index: hand it back under the key's own name.
                online::execute(
                    manager,
                    table,
                    &format!(
                        "ALTER TABLE `{table}` RENAME INDEX `{index}` TO `{table}_{column}_fkey`, \
                         ALGORITHM=INPLACE, LOCK=NONE"
                    ),
                )
                .await?;
            } else {
                online::drop_index(manager, NAME, index, table).await?;
            }
        }
        Ok(())
    }

    /// `CREATE INDEX CONCURRENTLY` cannot run in a transaction.
    fn use_transaction(&self) -> Option<bool> {
        Some(false)
    }
}
