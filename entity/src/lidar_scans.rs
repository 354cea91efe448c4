//! `lidar_scans`: raw LiDAR scans.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One LiDAR scan; `scan_data` is JSONB on PostgreSQL, JSON elsewhere.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "lidar_scans")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub timestamp: DateTime,
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub scan_data: Option<Json>,
    pub quality_score: Option<f64>,
    pub scan_duration: Option<f64>,
    pub points_count: Option<i32>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::lidar_obstacles::Entity")]
    Obstacles,
}

impl Related<super::lidar_obstacles::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Obstacles.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
