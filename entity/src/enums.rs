//! Closed value sets of the schema, stored as strings that fit the spec's VARCHAR lengths.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// `users.role` (VARCHAR(20)).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(20))")]
#[serde(rename_all = "snake_case")]
pub enum UserRole {
    /// Full control, including user management.
    #[sea_orm(string_value = "admin")]
    Admin,
    /// Operates robots.
    #[sea_orm(string_value = "operator")]
    Operator,
    /// Read-only access.
    #[sea_orm(string_value = "viewer")]
    Viewer,
}

/// `robots.status` (VARCHAR(20)).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(20))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RobotStatus {
    #[sea_orm(string_value = "IDLE")]
    Idle,
    #[sea_orm(string_value = "MOVING")]
    Moving,
    #[sea_orm(string_value = "DOCKING")]
    Docking,
    #[sea_orm(string_value = "CHARGING")]
    Charging,
    #[sea_orm(string_value = "FAULT")]
    Fault,
    #[sea_orm(string_value = "EMERGENCY_STOP")]
    EmergencyStop,
    #[sea_orm(string_value = "MAINTENANCE")]
    Maintenance,
    #[sea_orm(string_value = "OFFLINE")]
    Offline,
}

/// `robots.mode` (VARCHAR(20)).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(20))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RobotMode {
    #[sea_orm(string_value = "MANUAL")]
    Manual,
    #[sea_orm(string_value = "SEMI_AUTO")]
    SemiAuto,
    #[sea_orm(string_value = "AUTO")]
    Auto,
    #[sea_orm(string_value = "MAINTENANCE")]
    Maintenance,
}

/// `safety_events.severity` (VARCHAR(20)).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(20))")]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    #[sea_orm(string_value = "info")]
    Info,
    #[sea_orm(string_value = "warning")]
    Warning,
    #[sea_orm(string_value = "error")]
    Error,
    #[sea_orm(string_value = "critical")]
    Critical,
}

/// `safety_zones.zone_type` (VARCHAR(20)).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(20))")]
#[serde(rename_all = "snake_case")]
pub enum ZoneType {
    #[sea_orm(string_value = "safe")]
    Safe,
    #[sea_orm(string_value = "warning")]
    Warning,
    #[sea_orm(string_value = "danger")]
    Danger,
    #[sea_orm(string_value = "restricted")]
    Restricted,
    #[sea_orm(string_value = "emergency")]
    Emergency,
}

/// `emergency_stops.trigger_type` (VARCHAR(20)).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(20))")]
#[serde(rename_all = "snake_case")]
pub enum TriggerType {
    /// Pressed by an operator (button or UI).
    #[sea_orm(string_value = "manual")]
    Manual,
    /// Raised by the safety system (zone breach, obstacle).
    #[sea_orm(string_value = "automatic")]
    Automatic,
    /// A hardware safety sensor.
    #[sea_orm(string_value = "sensor")]
    Sensor,
    /// A remote command from another system.
    #[sea_orm(string_value = "remote")]
    Remote,
    /// A software watchdog or fault handler.
    #[sea_orm(string_value = "software")]
    Software,
}

/// `lidar_obstacles.obstacle_type` (VARCHAR(20)).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(20))")]
#[serde(rename_all = "snake_case")]
pub enum ObstacleType {
    #[sea_orm(string_value = "static")]
    Static,
    #[sea_orm(string_value = "dynamic")]
    Dynamic,
    #[sea_orm(string_value = "person")]
    Person,
    #[sea_orm(string_value = "vehicle")]
    Vehicle,
    #[sea_orm(string_value = "unknown")]
    Unknown,
}

/// `lidar_paths.algorithm` (VARCHAR(20)).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(20))")]
#[serde(rename_all = "snake_case")]
pub enum PathAlgorithm {
    #[sea_orm(string_value = "a_star")]
    AStar,
    #[sea_orm(string_value = "dijkstra")]
    Dijkstra,
    #[sea_orm(string_value = "rrt")]
    Rrt,
    #[sea_orm(string_value = "rrt_star")]
    RrtStar,
    #[sea_orm(string_value = "d_star_lite")]
    DStarLite,
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::{ActiveEnum, Iterable};

    fn max_len<E: ActiveEnum<Value = String> + Iterable>() -> usize {
        E::iter().map(|v| v.to_value().len()).max().unwrap_or(0)
    }

    #[test]
    fn stored_strings_fit_the_spec_varchar_lengths() {
        assert!(max_len::<UserRole>() <= 20);
        assert!(max_len::<RobotStatus>() <= 20);
        assert!(max_len::<RobotMode>() <= 20);
        assert!(max_len::<Severity>() <= 20);
        assert!(max_len::<ZoneType>() <= 20);
        assert!(max_len::<TriggerType>() <= 20);
        assert!(max_len::<ObstacleType>() <= 20);
        assert!(max_len::<PathAlgorithm>() <= 20);
    }
}
