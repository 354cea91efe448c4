//! `safety_zones`: areas with safety rules.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::enums::ZoneType;

/// A zone; `boundary_data` is a GeoJSON-like polygon (JSONB on PostgreSQL).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "safety_zones")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    #[sea_orm(column_type = "String(StringLen::N(100))")]
    pub zone_name: String,
    pub zone_type: ZoneType,
    #[sea_orm(column_type = "JsonBinary")]
    pub boundary_data: Json,
    pub radius: Option<f64>,
    #[sea_orm(default_value = true)]
    pub is_active: bool,
    pub created_at: DateTime,
    pub updated_at: DateTime,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

crate::timestamps::timestamps_behavior!(created: [created_at], updated: [updated_at]);
