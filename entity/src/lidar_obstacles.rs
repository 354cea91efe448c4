//! `lidar_obstacles`: obstacles detected in a scan.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::enums::ObstacleType;

/// An obstacle found in a scan. Deleted with its scan (ON DELETE CASCADE).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "lidar_obstacles")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub scan_id: i32,
    #[sea_orm(column_type = "String(StringLen::N(50))")]
    pub obstacle_id: String,
    pub position_x: f64,
    pub position_y: f64,
    pub position_z: Option<f64>,
    pub size_width: Option<f64>,
    pub size_height: Option<f64>,
    pub obstacle_type: Option<ObstacleType>,
    pub confidence: Option<f64>,
    pub detected_at: DateTime,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::lidar_scans::Entity",
        from = "Column::ScanId",
        to = "super::lidar_scans::Column::Id",
        on_delete = "Cascade"
    )]
    Scan,
}

impl Related<super::lidar_scans::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Scan.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
