//! `telemetry`: the time series each robot reports.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One telemetry sample of one robot. Deleted with its robot (ON DELETE CASCADE).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "telemetry")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub robot_id: i32,
    pub timestamp: DateTime,
    pub speed: Option<f64>,
    pub temperature: Option<f64>,
    pub battery_voltage: Option<f64>,
    pub motor_current: Option<f64>,
    pub position_x: Option<f64>,
    pub position_y: Option<f64>,
    pub position_z: Option<f64>,
    pub orientation: Option<f64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::robots::Entity",
        from = "Column::RobotId",
        to = "super::robots::Column::Id",
        on_delete = "Cascade"
    )]
    Robot,
}

impl Related<super::robots::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Robot.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
