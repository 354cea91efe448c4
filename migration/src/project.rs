//! OHT-50's configuration of the migration engine: the bookkeeping table names, lock and
//! environment-variable prefix OHT-50 databases have always used, and the entity schema of the
//! `entity` crate (models, named indexes, declared renames) for `drift` and autogenerate.

use entity::enums::{
    ObstacleType, PathAlgorithm, RobotMode, RobotStatus, Severity, TriggerType, UserRole, ZoneType,
};
use migration_engine::config::{Environment, Gate};
use migration_engine::{Config, Entities, Rename};

/// PostgreSQL advisory lock key of OHT-50 runners ("OHT50MIG" in ASCII), unchanged so that old
/// and new runners exclude each other.
const LOCK_KEY: i64 = 0x4F48_5435_304D_4947;

/// The OHT-50 configuration.
pub fn config() -> Config {
    Config::new("oht50")
        .with_display_name("OHT-50")
        .with_history_table("oht50_migration_history")
        .with_batch_table("oht50_migration_batches")
        .with_lock("oht50_migrations", LOCK_KEY)
        .with_env_prefix("OHT50")
        .with_default_sqlite_file("oht50.db")
        .with_migration_dir("migration")
        .with_entities_from(entities)
        .with_alembic_revisions(ALEMBIC_REVISIONS)
        .with_gate(no_moving_robots())
        .with_gate(no_unresolved_emergency_stop())
        .with_lint_rule_off(
            "integer-primary-key",
            "spec 001-003 define integer keys (SQLAlchemy Integer); kept for compatibility",
            Some(SPEC_SCHEMA_THROUGH),
        )
        .with_lint_rule_off(
            "timestamp-without-time-zone",
            "spec 001-003 store naive UTC timestamps (SQLAlchemy DateTime); kept for compatibility",
            Some(SPEC_SCHEMA_THROUGH),
        )
}

/// The spec's Alembic revisions (spec sections 3–4) and the migrations that create the same
/// schema, for `migration adopt alembic`.
pub const ALEMBIC_REVISIONS: &[(&str, &str)] = &[
    ("001", "m20250128_100000_initial_schema"),
    ("002", "m20250128_110000_lidar_integration"),
    ("003", "m20250128_120000_safety_system"),
];

/// The last migration of the spec's own schema (spec 001-003): lint's advice on key and
/// timestamp types is off up to here, where those types are the spec's deliberate choice, and
/// on for tables added after it.
pub const SPEC_SCHEMA_THROUGH: &str = "m20250128_120000_safety_system";

/// Production safe-window gate: no robot may be `MOVING` or `DOCKING` while its database is
/// migrated (spec 000 section 9, pre-migration checks).
pub fn no_moving_robots() -> Gate {
    use sea_orm::ActiveEnum;
    let states = [RobotStatus::Moving, RobotStatus::Docking]
        .map(|s| format!("'{}'", s.to_value()))
        .join(", ");
    Gate::new(
        "no-moving-robots",
        &format!("SELECT id, name, status FROM robots WHERE status IN ({states})"),
    )
    .described("no robot may be MOVING or DOCKING")
    .in_environments(&[Environment::Production])
}

/// Production safe-window gate: no emergency stop may be unresolved.
pub fn no_unresolved_emergency_stop() -> Gate {
    Gate::new(
        "no-unresolved-emergency-stop",
        "SELECT id, robot_id, trigger_type, created_at FROM emergency_stops \
         WHERE resolved = FALSE OR resolved IS NULL",
    )
    .described("no emergency stop may be unresolved")
    .in_environments(&[Environment::Production])
}

/// The schema the `entity` crate declares.
pub fn entities() -> Entities {
    struct Collect(Entities);
    impl entity::registry::EntityVisitor for Collect {
        fn visit<E: sea_orm::EntityTrait + Default>(&mut self) {
            self.0.add_entity::<E>();
        }
    }
    let mut collect = Collect(Entities::new());
    entity::registry::visit_entities(&mut collect);
    let mut entities = collect.0;
    for ix in entity::indexes::INDEXES {
        entities = entities.index(ix.table, ix.name, ix.columns, ix.unique);
    }
    entities = entities
        .enum_column::<UserRole>("users", "role")
        .enum_column::<RobotStatus>("robots", "status")
        .enum_column::<RobotMode>("robots", "mode")
        .enum_column::<ObstacleType>("lidar_obstacles", "obstacle_type")
        .enum_column::<PathAlgorithm>("lidar_paths", "algorithm")
        .enum_column::<Severity>("safety_events", "severity")
        .enum_column::<ZoneType>("safety_zones", "zone_type")
        .enum_column::<TriggerType>("emergency_stops", "trigger_type");
    for rename in entity::renames::RENAMES {
        entities = entities.rename(match *rename {
            entity::renames::Rename::Table { from, to } => Rename::Table {
                from: from.into(),
                to: to.into(),
            },
            entity::renames::Rename::Column { table, from, to } => Rename::Column {
                table: table.into(),
                from: from.into(),
                to: to.into(),
            },
        });
    }
    entities
}
