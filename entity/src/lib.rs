//! SeaORM models of the OHT-50 schema (spec REQ_BE_16 section 4).
//!
//! One module per table, the closed value sets as string-backed [`sea_orm::ActiveEnum`]s in
//! [`enums`], and a [`prelude`] that re-exports every entity. `created_at`/`updated_at` are
//! filled by each model's `ActiveModelBehavior` on insert and update.

pub mod emergency_stops;
pub mod enums;
pub mod indexes;
pub mod lidar_maps;
pub mod lidar_obstacles;
pub mod lidar_paths;
pub mod lidar_scans;
pub mod prelude;
pub mod registry;
pub mod renames;
pub mod robots;
pub mod safety_events;
pub mod safety_zones;
pub mod telemetry;
mod timestamps;
pub mod users;

/// Names of every table of the schema, in dependency order (referenced tables first).
pub const TABLES: [&str; 10] = [
    "users",
    "robots",
    "telemetry",
    "lidar_scans",
    "lidar_obstacles",
    "lidar_maps",
    "lidar_paths",
    "safety_events",
    "safety_zones",
    "emergency_stops",
];
