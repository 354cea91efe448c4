//! The OHT-50 schema migrations. [`Migrator`] lists them (it implements sea-orm-migration's
//! `MigratorTrait`, so stock tools still work); [`config`] is the OHT-50 configuration of the
//! migration engine (`migration_engine`), which applies them.

pub use sea_orm_migration::prelude::*;

mod project;

mod m20250128_100000_initial_schema;
mod m20250128_110000_lidar_integration;
mod m20250128_120000_safety_system;
mod m20250128_130000_telemetry_backfill;
mod m20250128_140000_idx_telemetry_timestamp;
mod m20250128_150000_index_foreign_keys;

pub use project::{config, entities};

/// The OHT-50 migrations, oldest first.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20250128_100000_initial_schema::Migration),
            Box::new(m20250128_110000_lidar_integration::Migration),
            Box::new(m20250128_120000_safety_system::Migration),
            Box::new(m20250128_130000_telemetry_backfill::Migration),
            Box::new(m20250128_140000_idx_telemetry_timestamp::Migration),
            Box::new(m20250128_150000_index_foreign_keys::Migration),
        ]
    }
}
