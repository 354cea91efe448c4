//! `lidar_maps`: occupancy maps built from scans.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// An occupancy grid; `map_data` is BYTEA on PostgreSQL, LONGBLOB on MySQL, BLOB on SQLite.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "lidar_maps")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub timestamp: DateTime,
    #[sea_orm(column_type = "Blob", nullable)]
    pub map_data: Option<Vec<u8>>,
    pub resolution: f64,
    pub width: i32,
    pub height: i32,
    pub origin_x: f64,
    pub origin_y: f64,
    pub origin_z: f64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
