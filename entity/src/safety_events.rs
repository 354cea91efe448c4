//! `safety_events`: everything the safety system reports.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::enums::Severity;

/// A safety event. Survives the deletion of its robot or resolver (ON DELETE SET NULL).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "safety_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    #[sea_orm(column_type = "String(StringLen::N(50))")]
    pub event_type: String,
    pub severity: Severity,
    pub robot_id: Option<i32>,
    #[sea_orm(column_type = "Text", nullable)]
    pub description: Option<String>,
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub event_data: Option<Json>,
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
        on_delete = "SetNull"
    )]
    Robot,
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

impl Related<super::users::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ResolvedBy.def()
    }
}

crate::timestamps::timestamps_behavior!(created: [created_at], updated: []);
