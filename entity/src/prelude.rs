//! Every entity of the schema under its table's name.

pub use crate::emergency_stops::Entity as EmergencyStops;
pub use crate::lidar_maps::Entity as LidarMaps;
pub use crate::lidar_obstacles::Entity as LidarObstacles;
pub use crate::lidar_paths::Entity as LidarPaths;
pub use crate::lidar_scans::Entity as LidarScans;
pub use crate::robots::Entity as Robots;
pub use crate::safety_events::Entity as SafetyEvents;
pub use crate::safety_zones::Entity as SafetyZones;
pub use crate::telemetry::Entity as Telemetry;
pub use crate::users::Entity as Users;
