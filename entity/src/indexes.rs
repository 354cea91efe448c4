//! The named indexes of the schema (spec REQ_BE_16 section 4), declared next to the models so
//! tools that compare a database with the entities (drift, autogenerate) know them: SeaORM
//! models carry columns, keys and relations, but no named secondary indexes.

/// One secondary index (primary keys and `unique` columns are declared on the models).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexDef {
    /// Table the index belongs to.
    pub table: &'static str,
    /// Index name, identical on every backend.
    pub name: &'static str,
    /// Indexed columns in order.
    pub columns: &'static [&'static str],
    /// Whether it is a unique index.
    pub unique: bool,
}

const fn ix(table: &'static str, name: &'static str, columns: &'static [&'static str]) -> IndexDef {
    IndexDef {
        table,
        name,
        columns,
        unique: false,
    }
}

/// Every secondary index of the schema, in the spec's order.
pub const INDEXES: &[IndexDef] = &[
    ix(
        "telemetry",
        "idx_telemetry_robot_timestamp",
        &["robot_id", "timestamp"],
    ),
    // Migration m20250128_140000 (retention by time), built online.
    ix("telemetry", "idx_telemetry_timestamp", &["timestamp"]),
    ix("robots", "idx_robots_status", &["status"]),
    ix("users", "idx_users_username", &["username"]),
    ix("lidar_scans", "idx_lidar_scans_timestamp", &["timestamp"]),
    ix("lidar_obstacles", "idx_lidar_obstacles_scan", &["scan_id"]),
    ix(
        "lidar_obstacles",
        "idx_lidar_obstacles_type",
        &["obstacle_type"],
    ),
    ix("lidar_maps", "idx_lidar_maps_timestamp", &["timestamp"]),
    ix("lidar_paths", "idx_lidar_paths_created", &["created_at"]),
    ix("safety_events", "idx_safety_events_type", &["event_type"]),
    ix("safety_events", "idx_safety_events_severity", &["severity"]),
    ix("safety_events", "idx_safety_events_robot", &["robot_id"]),
    ix(
        "safety_events",
        "idx_safety_events_created",
        &["created_at"],
    ),
    ix("safety_zones", "idx_safety_zones_type", &["zone_type"]),
    ix("safety_zones", "idx_safety_zones_active", &["is_active"]),
    ix(
        "emergency_stops",
        "idx_emergency_stops_robot",
        &["robot_id"],
    ),
    ix(
        "emergency_stops",
        "idx_emergency_stops_resolved",
        &["resolved"],
    ),
    // Migration m20250128_150000: the foreign keys to users, built online.
    ix(
        "emergency_stops",
        "idx_emergency_stops_triggered_by",
        &["triggered_by"],
    ),
    ix(
        "emergency_stops",
        "idx_emergency_stops_resolved_by",
        &["resolved_by"],
    ),
    ix(
        "safety_events",
        "idx_safety_events_resolved_by",
        &["resolved_by"],
    ),
];

/// The indexes of `table`.
pub fn of_table(table: &str) -> impl Iterator<Item = &'static IndexDef> + '_ {
    INDEXES.iter().filter(move |i| i.table == table)
}
