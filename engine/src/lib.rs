//! A migration engine for any SeaORM 2 project: everything sea-orm-migration does, plus a
//! migration lock, a run history with checksums, dry runs and offline SQL, lint, drift,
//! backups, autogenerate and a command line. Project-specific names enter through one
//! [`Config`]; the migrations are the project's own `MigratorTrait` implementation.
//!
//! Layers, lowest first (each uses only those before it): [`config`] and [`error`]; [`db`]
//! (URLs, connecting, dialect); [`schema`] (live and entity schemas); [`plan`] (what a run
//! will do: capture, findings); [`bookkeeping`] (ledger, history, lock); [`author`] (helpers
//! migrations call); [`backup`]; [`run`] (the runner); [`review`] (lint, drift, scripts,
//! check, doctor); [`generate`]; [`fleet`] (one command on many databases); [`cli`].

pub mod author;
pub mod backup;
pub mod bookkeeping;
pub mod cli;
pub mod config;
pub mod db;
pub mod error;
pub mod fleet;
pub mod generate;
pub mod plan;
pub mod review;
pub mod run;
pub mod schema;

pub use config::Config;
pub use db::{ConnectSettings, DatabaseUrl, connect};
pub use error::MigrateError;
pub use plan::{Direction, Plan, Target};
pub use run::runner::{ChecksumState, MigrationState, Problem, RunOptions, Runner, State, Step};
pub use schema::entities::{Entities, Rename};
