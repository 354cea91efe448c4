//! `emergency_stops`: every e-stop, who triggered it and who resolved it.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::enums::TriggerType;

/// An emergency stop. Deleted with its robot (CASCADE); kept when a user is deleted (SET NULL).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "emergency_stops")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub robot_id: i32,
    pub triggered_by: Option<i32>,
    pub trigger_type: TriggerType,
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub trigger_data: Option<Json>,
    #[sea_orm(default_value = false)]
    pub resolved: bool,
    pub resolved_at: Option<DateTime>,
    pub resolved_by: Option<i32>,
    pub created_at: DateTime,
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
    #[sea_orm(
        belongs_to = "super::users::Entity",
        from = "Column::TriggeredBy",
        to = "super::users::Column::Id",
        on_delete = "SetNull"
    )]
    TriggeredBy,
    #[sea_orm(
        belongs_to = "super::users::Entity",
        from = "Column::ResolvedBy",
        to = "super::users::Column::Id",
        on_delete = "SetNull"
    )]
    ResolvedBy,
}

impl Related<super::robots::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Robot.def()
    }
}

crate::timestamps::timestamps_behavior!(created: [created_at], updated: []);
