//! `users`: people who operate the system.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::enums::UserRole;

/// A user account. `password_hash` holds an Argon2id PHC string, never a password.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    #[sea_orm(column_type = "String(StringLen::N(50))", unique)]
    pub username: String,
    #[sea_orm(column_type = "String(StringLen::N(120))", unique)]
    pub email: String,
    #[sea_orm(column_type = "String(StringLen::N(255))")]
    #[serde(skip_serializing)]
    pub password_hash: String,
    pub role: UserRole,
    #[sea_orm(default_value = true)]
    pub is_active: bool,
    pub created_at: DateTime,
    pub updated_at: DateTime,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// Safety events this user resolved (`safety_events.resolved_by`).
    #[sea_orm(has_many = "super::safety_events::Entity")]
    ResolvedSafetyEvents,
}

impl Related<super::safety_events::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ResolvedSafetyEvents.def()
    }
}

crate::timestamps::timestamps_behavior!(created: [created_at], updated: [updated_at]);
