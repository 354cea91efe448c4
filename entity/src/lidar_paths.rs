//! `lidar_paths`: planned paths.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::enums::PathAlgorithm;

/// A path from a start to a goal, as planned by `algorithm`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "lidar_paths")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub start_x: f64,
    pub start_y: f64,
    pub start_z: Option<f64>,
    pub goal_x: f64,
    pub goal_y: f64,
    pub goal_z: Option<f64>,
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub path_data: Option<Json>,
    pub distance: Option<f64>,
    pub estimated_time: Option<f64>,
    pub safety_score: Option<f64>,
    pub algorithm: Option<PathAlgorithm>,
    pub created_at: DateTime,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

crate::timestamps::timestamps_behavior!(created: [created_at], updated: []);
