//! Spec 5.2 `transform_telemetry_data`: telemetry rows without a position or orientation get
//! 0.0. Set-based and batched by `id` range (see [`migration_engine::author::batch`]), resumable, throttlable.
//!
//! The spec also fills a missing `timestamp`; the column is NOT NULL since 001, so there is
//! nothing to fill. `down` is a no-op: a filled 0.0 cannot be told apart from a measured 0.0,
//! so the NULLs cannot be restored; it only forgets the recorded batches so a later `up` runs
//! again.

use sea_orm::DbBackend;
use sea_orm_migration::prelude::*;

use migration_engine::author::batch::{self, BatchJob};
use migration_engine::author::context;

/// The backfill job: one `UPDATE` per batch.
pub struct TelemetryBackfill;

impl BatchJob for TelemetryBackfill {
    fn name(&self) -> &str {
        "m20250128_130000_telemetry_backfill"
    }

    fn table(&self) -> &str {
        "telemetry"
    }

    fn key(&self) -> &str {
        "id"
    }

    fn statement(&self, backend: DbBackend, key_range: &str) -> String {
        let cols = ["position_x", "position_y", "position_z", "orientation"];
        let q = |c: &str| batch::quote(backend, c);
        let set: Vec<String> = cols
            .iter()
            .map(|c| format!("{0} = COALESCE({0}, 0.0)", q(c)))
            .collect();
        let null: Vec<String> = cols.iter().map(|c| format!("{} IS NULL", q(c))).collect();
        format!(
            "UPDATE {} SET {} WHERE {key_range} AND ({})",
            q("telemetry"),
            set.join(", "),
            null.join(" OR ")
        )
    }
}

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        batch::run(manager, &TelemetryBackfill).await.map(|_| ())
    }

    /// A no-op on the data (see the module documentation); forgets the recorded batches.
    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if !batch::capturing(manager) {
            context::notice(&format!(
                "{}: down leaves the data as it is: filled 0.0 values cannot be told apart from measured ones, \
                 so the NULLs are not restored",
                TelemetryBackfill.name()
            ));
        }
        batch::forget(manager, TelemetryBackfill.name()).await
    }

    /// Each batch commits on its own.
    fn use_transaction(&self) -> Option<bool> {
        Some(false)
    }
}
