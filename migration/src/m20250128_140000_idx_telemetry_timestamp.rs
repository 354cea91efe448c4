//! `idx_telemetry_timestamp`: telemetry by time, for the retention job (spec 5.2
//! `cleanup_old_data`). Built online: PostgreSQL `CREATE INDEX CONCURRENTLY`, MySQL/MariaDB
//! `ALGORITHM=INPLACE, LOCK=NONE`, SQLite plain (see [`migration_engine::author::online`]).

use sea_orm_migration::prelude::*;

use migration_engine::author::online;

const NAME: &str = "m20250128_140000_idx_telemetry_timestamp";

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        online::create_index(
            manager,
            NAME,
            "idx_telemetry_timestamp",
            "telemetry",
            &["timestamp"],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        online::drop_index(manager, NAME, "idx_telemetry_timestamp", "telemetry").await
    }

    /// `CREATE INDEX CONCURRENTLY` cannot run in a transaction.
    fn use_transaction(&self) -> Option<bool> {
        Some(false)
    }
}
