//! `robots`: the fleet of OHT-50 units.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::enums::{RobotMode, RobotStatus};

/// A robot and its last known state.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "robots")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    #[sea_orm(column_type = "String(StringLen::N(100))")]
    pub name: String,
    #[sea_orm(column_type = "String(StringLen::N(50))")]
    pub robot_type: String,
    pub status: RobotStatus,
    pub mode: RobotMode,
    pub position_x: Option<f64>,
    pub position_y: Option<f64>,
    pub position_z: Option<f64>,
    pub orientation: Option<f64>,
    pub speed: Option<f64>,
    pub battery_level: Option<i32>,
    pub temperature: Option<f64>,
    pub created_at: DateTime,
    pub updated_at: DateTime,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::telemetry::Entity")]
    Telemetry,
    #[sea_orm(has_many = "super::safety_events::Entity")]
    SafetyEvents,
    #[sea_orm(has_many = "super::emergency_stops::Entity")]
    EmergencyStops,
}

impl Related<super::telemetry::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Telemetry.def()
    }
}

impl Related<super::safety_events::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::SafetyEvents.def()
    }
}

impl Related<super::emergency_stops::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::EmergencyStops.def()
    }
}

crate::timestamps::timestamps_behavior!(created: [created_at], updated: [updated_at]);
