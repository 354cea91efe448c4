//! The migrated schema, checked against an explicit description of spec section 4 on every
//! backend; every migration's down restoring the schema of before its up; and the entities
//! round-tripping every column and FK action through the real database.

use std::collections::{BTreeMap, BTreeSet};

use migration::{Migrator, MigratorTrait};
use migration_engine::schema::{Column, ForeignKey, Index, Schema, Table};
use migration_engine::{Runner, Target};
use test_support::{Backend, TestDb};

#[derive(Clone, Copy)]
enum Ty {
    Int,
    Str(u32),
    Float,
    Bool,
    Ts,
    Json,
    Bytes,
    Text,
}

fn native(b: Backend, t: Ty) -> String {
    use Backend::*;
    match (b, t) {
        (Postgres, Ty::Int) => "integer".into(),
        (MySql, Ty::Int) => "int(11)".into(),
        (Sqlite, Ty::Int) => "integer".into(),
        (Postgres, Ty::Str(n)) => format!("character varying({n})"),
        (_, Ty::Str(n)) => format!("varchar({n})"),
        (Postgres, Ty::Float) => "double precision".into(),
        (_, Ty::Float) => "double".into(),
        (MySql, Ty::Bool) => "tinyint(1)".into(),
        (_, Ty::Bool) => "boolean".into(),
        (Postgres, Ty::Ts) => "timestamp without time zone".into(),
        (MySql, Ty::Ts) => "datetime(6)".into(),
        (Sqlite, Ty::Ts) => "datetime_text".into(),
        (Postgres, Ty::Json) => "jsonb".into(),
        (MySql, Ty::Json) => "json".into(),
        (Sqlite, Ty::Json) => "json_text".into(),
        (Postgres, Ty::Bytes) => "bytea".into(),
        (MySql, Ty::Bytes) => "longblob".into(),
        (Sqlite, Ty::Bytes) => "blob".into(),
        (_, Ty::Text) => "text".into(),
    }
}

/// (name, type, nullable, server default)
type Col = (&'static str, Ty, bool, Option<&'static str>);

struct Spec {
    name: &'static str,
    columns: &'static [Col],
    uniques: &'static [&'static [&'static str]],
    /// (column, referenced table, ON DELETE)
    fks: &'static [(&'static str, &'static str, &'static str)],
    indexes: &'static [(&'static str, &'static [&'static str])],
}

const N: bool = true;
const NN: bool = false;

/// Spec REQ_BE_16 section 4, table by table.
const SPEC: &[Spec] = &[
    Spec {
        name: "users",
        columns: &[
            ("id", Ty::Int, NN, None),
            ("username", Ty::Str(50), NN, None),
            ("email", Ty::Str(120), NN, None),
            ("password_hash", Ty::Str(255), NN, None),
            ("role", Ty::Str(20), NN, None),
            ("is_active", Ty::Bool, NN, Some("true")),
            ("created_at", Ty::Ts, NN, None),
            ("updated_at", Ty::Ts, NN, None),
        ],
        uniques: &[&["username"], &["email"]],
        fks: &[],
        indexes: &[("idx_users_username", &["username"])],
    },
    Spec {
        name: "robots",
        columns: &[
            ("id", Ty::Int, NN, None),
            ("name", Ty::Str(100), NN, None),
            ("robot_type", Ty::Str(50), NN, None),
            ("status", Ty::Str(20), NN, None),
            ("mode", Ty::Str(20), NN, None),
            ("position_x", Ty::Float, N, None),
            ("position_y", Ty::Float, N, None),
            ("position_z", Ty::Float, N, None),
            ("orientation", Ty::Float, N, None),
            ("speed", Ty::Float, N, None),
            ("battery_level", Ty::Int, N, None),
            ("temperature", Ty::Float, N, None),
            ("created_at", Ty::Ts, NN, None),
            ("updated_at", Ty::Ts, NN, None),
        ],
        uniques: &[],
        fks: &[],
        indexes: &[("idx_robots_status", &["status"])],
    },
    Spec {
        name: "telemetry",
        columns: &[
            ("id", Ty::Int, NN, None),
            ("robot_id", Ty::Int, NN, None),
            ("timestamp", Ty::Ts, NN, None),
            ("speed", Ty::Float, N, None),
            ("temperature", Ty::Float, N, None),
            ("battery_voltage", Ty::Float, N, None),
            ("motor_current", Ty::Float, N, None),
            ("position_x", Ty::Float, N, None),
            ("position_y", Ty::Float, N, None),
            ("position_z", Ty::Float, N, None),
            ("orientation", Ty::Float, N, None),
        ],
        uniques: &[],
        fks: &[("robot_id", "robots", "CASCADE")],
        indexes: &[
            ("idx_telemetry_robot_timestamp", &["robot_id", "timestamp"]),
            // Not in the spec's 001: added by the `_idx_telemetry_timestamp` migration, for
            // retention by time.
            ("idx_telemetry_timestamp", &["timestamp"]),
        ],
    },
    Spec {
        name: "lidar_scans",
        columns: &[
            ("id", Ty::Int, NN, None),
            ("timestamp", Ty::Ts, NN, None),
            ("scan_data", Ty::Json, N, None),
            ("quality_score", Ty::Float, N, None),
            ("scan_duration", Ty::Float, N, None),
            ("points_count", Ty::Int, N, None),
        ],
        uniques: &[],
        fks: &[],
        indexes: &[("idx_lidar_scans_timestamp", &["timestamp"])],
    },
    Spec {
        name: "lidar_obstacles",
        columns: &[
            ("id", Ty::Int, NN, None),
            ("scan_id", Ty::Int, NN, None),
            ("obstacle_id", Ty::Str(50), NN, None),
            ("position_x", Ty::Float, NN, None),
            ("position_y", Ty::Float, NN, None),
            ("position_z", Ty::Float, N, None),
            ("size_width", Ty::Float, N, None),
            ("size_height", Ty::Float, N, None),
            ("obstacle_type", Ty::Str(20), N, None),
            ("confidence", Ty::Float, N, None),
            ("detected_at", Ty::Ts, NN, None),
        ],
        uniques: &[],
        fks: &[("scan_id", "lidar_scans", "CASCADE")],
        indexes: &[
            ("idx_lidar_obstacles_scan", &["scan_id"]),
            ("idx_lidar_obstacles_type", &["obstacle_type"]),
        ],
    },
    Spec {
        name: "lidar_maps",
        columns: &[
            ("id", Ty::Int, NN, None),
            ("timestamp", Ty::Ts, NN, None),
            ("map_data", Ty::Bytes, N, None),
            ("resolution", Ty::Float, NN, None),
            ("width", Ty::Int, NN, None),
            ("height", Ty::Int, NN, None),
            ("origin_x", Ty::Float, NN, None),
            ("origin_y", Ty::Float, NN, None),
            ("origin_z", Ty::Float, NN, None),
        ],
        uniques: &[],
        fks: &[],
        indexes: &[("idx_lidar_maps_timestamp", &["timestamp"])],
    },
    Spec {
        name: "lidar_paths",
        columns: &[
            ("id", Ty::Int, NN, None),
            ("start_x", Ty::Float, NN, None),
            ("start_y", Ty::Float, NN, None),
            ("start_z", Ty::Float, N, None),
            ("goal_x", Ty::Float, NN, None),
            ("goal_y", Ty::Float, NN, None),
            ("goal_z", Ty::Float, N, None),
            ("path_data", Ty::Json, N, None),
            ("distance", Ty::Float, N, None),
            ("estimated_time", Ty::Float, N, None),
            ("safety_score", Ty::Float, N, None),
            ("algorithm", Ty::Str(20), N, None),
            ("created_at", Ty::Ts, NN, None),
        ],
        uniques: &[],
        fks: &[],
        indexes: &[("idx_lidar_paths_created", &["created_at"])],
    },
    Spec {
        name: "safety_events",
        columns: &[
            ("id", Ty::Int, NN, None),
            ("event_type", Ty::Str(50), NN, None),
            ("severity", Ty::Str(20), NN, None),
            ("robot_id", Ty::Int, N, None),
            ("description", Ty::Text, N, None),
            ("event_data", Ty::Json, N, None),
            ("resolved", Ty::Bool, NN, Some("false")),
            ("resolved_at", Ty::Ts, N, None),
            ("resolved_by", Ty::Int, N, None),
            ("created_at", Ty::Ts, NN, None),
        ],
        uniques: &[],
        fks: &[
            ("robot_id", "robots", "SET NULL"),
            ("resolved_by", "users", "SET NULL"),
        ],
        indexes: &[
            ("idx_safety_events_type", &["event_type"]),
            ("idx_safety_events_severity", &["severity"]),
            ("idx_safety_events_robot", &["robot_id"]),
            ("idx_safety_events_created", &["created_at"]),
            // Not in the spec's 003: added by the `_index_foreign_keys` migration.
            ("idx_safety_events_resolved_by", &["resolved_by"]),
        ],
    },
    Spec {
        name: "safety_zones",
        columns: &[
            ("id", Ty::Int, NN, None),
            ("zone_name", Ty::Str(100), NN, None),
            ("zone_type", Ty::Str(20), NN, None),
            ("boundary_data", Ty::Json, NN, None),
            ("radius", Ty::Float, N, None),
            ("is_active", Ty::Bool, NN, Some("true")),
            ("created_at", Ty::Ts, NN, None),
            ("updated_at", Ty::Ts, NN, None),
        ],
        uniques: &[],
        fks: &[],
        indexes: &[
            ("idx_safety_zones_type", &["zone_type"]),
            ("idx_safety_zones_active", &["is_active"]),
        ],
    },
    Spec {
        name: "emergency_stops",
        columns: &[
            ("id", Ty::Int, NN, None),
            ("robot_id", Ty::Int, NN, None),
            ("triggered_by", Ty::Int, N, None),
            ("trigger_type", Ty::Str(20), NN, None),
            ("trigger_data", Ty::Json, N, None),
            ("resolved", Ty::Bool, NN, Some("false")),
            ("resolved_at", Ty::Ts, N, None),
            ("resolved_by", Ty::Int, N, None),
            ("created_at", Ty::Ts, NN, None),
        ],
        uniques: &[],
        fks: &[
            ("robot_id", "robots", "CASCADE"),
            ("triggered_by", "users", "SET NULL"),
            ("resolved_by", "users", "SET NULL"),
        ],
        indexes: &[
            ("idx_emergency_stops_robot", &["robot_id"]),
            ("idx_emergency_stops_resolved", &["resolved"]),
            // Not in the spec's 003: added by the `_index_foreign_keys` migration.
            ("idx_emergency_stops_triggered_by", &["triggered_by"]),
            ("idx_emergency_stops_resolved_by", &["resolved_by"]),
        ],
    },
];

/// The schema the spec describes, as `backend` reports it.
fn expected(backend: Backend) -> Schema {
    let on_update = match backend {
        Backend::MySql => "RESTRICT",
        _ => "NO ACTION",
    };
    let mut tables = BTreeMap::new();
    for spec in SPEC {
        let mut indexes: BTreeMap<String, Index> = spec
            .indexes
            .iter()
            .map(|(name, cols)| {
                (
                    name.to_string(),
                    Index {
                        columns: cols.iter().map(|c| c.to_string()).collect(),
                        unique: false,
                    },
                )
            })
            .collect();
        if backend == Backend::MySql {
            // InnoDB needs an index on every FK column and creates one, named after the
            // constraint, where no index starting with that column exists.
            for (col, _, _) in spec.fks {
                let covered = spec.indexes.iter().any(|(_, cols)| cols[0] == *col);
                if !covered {
                    indexes.insert(
                        format!("{}_{}_fkey", spec.name, col),
                        Index {
                            columns: vec![col.to_string()],
                            unique: false,
                        },
                    );
                }
            }
        }
        let table = Table {
            columns: spec
                .columns
                .iter()
                .map(|(name, ty, nullable, default)| Column {
                    name: name.to_string(),
                    data_type: native(backend, *ty),
                    nullable: *nullable,
                    default: default.map(str::to_string),
                    auto_increment: *name == "id",
                })
                .collect(),
            primary_key: vec!["id".into()],
            uniques: spec
                .uniques
                .iter()
                .map(|u| u.iter().map(|c| c.to_string()).collect())
                .collect::<BTreeSet<_>>(),
            foreign_keys: spec
                .fks
                .iter()
                .map(|(col, ref_table, on_delete)| ForeignKey {
                    columns: vec![col.to_string()],
                    ref_table: ref_table.to_string(),
                    ref_columns: vec!["id".into()],
                    on_delete: on_delete.to_string(),
                    on_update: on_update.to_string(),
                })
                .collect(),
            indexes,
        };
        tables.insert(spec.name.to_string(), table);
    }
    Schema { tables }
}

async fn migrated(db: &TestDb) -> Runner {
    let conn = db.connect().await;
    let runner = Runner::with_config(conn, Migrator::migrations(), migration::config());
    runner.up(&Target::All).await.expect("up");
    runner
}

async fn live_schema(runner: &Runner) -> Schema {
    migration_engine::schema::inspect(runner.connection())
        .await
        .expect("inspect")
        .without(&[
            "seaql_migrations",
            "oht50_migration_history",
            "oht50_migration_batches",
        ])
}

fn assert_schema_eq(backend: Backend, actual: &Schema, expected: &Schema) {
    assert_eq!(
        actual.table_names(),
        expected.table_names(),
        "{backend:?}: tables"
    );
    for (name, want) in &expected.tables {
        let got = &actual.tables[name];
        assert_eq!(got.columns, want.columns, "{backend:?}: columns of {name}");
        assert_eq!(
            got.primary_key, want.primary_key,
            "{backend:?}: primary key of {name}"
        );
        assert_eq!(
            got.uniques, want.uniques,
            "{backend:?}: unique constraints of {name}"
        );
        assert_eq!(
            got.foreign_keys, want.foreign_keys,
            "{backend:?}: foreign keys of {name}"
        );
        assert_eq!(got.indexes, want.indexes, "{backend:?}: indexes of {name}");
    }
    assert_eq!(actual, expected, "{backend:?}");
}

#[tokio::test]
async fn up_creates_exactly_the_spec_schema() {
    each_backend!("spec_schema", |db| {
        let runner = migrated(&db).await;
        assert_schema_eq(
            db.backend,
            &live_schema(&runner).await,
            &expected(db.backend),
        );
    });
}

#[tokio::test]
async fn every_down_restores_the_schema_before_its_up() {
    each_backend!("down_restores", |db| {
        let runner = Runner::with_config(
            db.connect().await,
            Migrator::migrations(),
            migration::config(),
        );
        let total = Migrator::migrations().len();
        for i in 0..total {
            let before = live_schema(&runner).await;
            let steps = runner.up(&Target::Steps(1)).await.expect("up 1");
            assert_eq!(steps.len(), 1);
            let after_up = live_schema(&runner).await;
            let name = Migrator::migrations()[i].name().to_string();
            if name.ends_with("_telemetry_backfill") {
                // A data migration: it changes rows, never the schema.
                assert_eq!(
                    before, after_up,
                    "{:?}: {name} changed the schema",
                    db.backend
                );
            } else {
                assert_ne!(before, after_up, "{:?}: {name} changed nothing", db.backend);
            }
            runner.down(&Target::Steps(1)).await.expect("down 1");
            assert_eq!(
                live_schema(&runner).await,
                before,
                "{:?}: down of migration {i}",
                db.backend
            );
            let applied = runner.status().await.expect("status");
            assert_eq!(
                applied
                    .iter()
                    .filter(|s| s.status == migration_engine::State::Applied)
                    .count(),
                i,
                "{:?}: ledger after down of migration {i}",
                db.backend
            );
            runner.up(&Target::Steps(1)).await.expect("up again");
            assert_eq!(
                live_schema(&runner).await,
                after_up,
                "{:?}: re-up of migration {i}",
                db.backend
            );
        }
        assert_schema_eq(
            db.backend,
            &live_schema(&runner).await,
            &expected(db.backend),
        );
    });
}
