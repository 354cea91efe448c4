//! `oht50-db`: the operator-facing library that ties the entity, migration and seed crates together.

pub use entity;
pub use migration;
pub use migration_engine;
pub use seed;

pub mod retention;
pub mod serve;
