//! OHT-50 schema migrations and the engine that applies them.
//!
//! [`Migrator`] lists the migrations (it implements sea-orm-migration's `MigratorTrait`, so
//! stock tools still work); [`Runner`] applies them with one transaction per migration where
//! the backend allows it; [`cli`] is the `migration` command line.

pub use sea_orm_migration::prelude::*;

pub mod autogen;
pub mod backup;
pub mod batch;
pub mod capture;
pub mod check;
pub mod cli;
pub mod columns;
pub mod database;
pub mod doctor;
pub mod drift;
pub mod error;
pub mod generate;
pub mod history;
pub mod inspect;
pub mod ledger;
pub mod lint;
pub mod lock;
pub mod online;
pub mod plan;
pub mod progress;
pub mod review_cli;
pub mod runner;
pub mod script;
pub mod startup;
pub mod tuning;

mod m20250128_100000_initial_schema;
mod m20250128_110000_lidar_integration;
mod m20250128_120000_safety_system;
mod m20250128_130000_telemetry_backfill;
mod m20250128_140000_idx_telemetry_timestamp;

pub use database::{ConnectSettings, DatabaseUrl, connect};
pub use error::MigrateError;
pub use ledger::Ledger;
pub use plan::{Direction, Plan, Target};
pub use runner::{ChecksumState, MigrationState, Problem, RunOptions, Runner, State, Step};

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
        ]
    }
}
