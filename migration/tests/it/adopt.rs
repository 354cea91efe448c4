//! Taking over databases this tool did not build, on every backend: `adopt alembic` on a
//! database built the way the spec's Alembic revisions 001–003 build it, and `baseline --to`
//! on a hand-built one; refusals that change nothing.
//!
//! The "Alembic" databases are written here in the SQL SQLAlchemy emits for the spec's
//! revisions: `SERIAL` primary keys on PostgreSQL, `AUTO_INCREMENT` on MySQL/MariaDB, a plain
//! `INTEGER` primary key (no `AUTOINCREMENT`) on SQLite; unnamed unique constraints and foreign
//! keys (so their names are the server's, not ours); the spec's index names; and no server
//! default where the spec has `default=` (SQLAlchemy applies it in Python). Column types are the
//! spec's SQLAlchemy types in the project's per-backend mapping (`author::columns`).

use std::path::Path;

use crate::support::{name_ending, names, ok, position, run, stderr, stdout, unique_prefix};
use migration_engine::schema::{Schema, inspect};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use test_support::{Backend, TestDb, exec};

/// Per-backend spellings of the spec's SQLAlchemy types.
struct Types {
    pk: &'static str,
    dt: &'static str,
    float: &'static str,
    json: &'static str,
    bytes: &'static str,
    boolean: &'static str,
}

fn types(backend: Backend) -> Types {
    match backend {
        Backend::Postgres => Types {
            pk: "SERIAL NOT NULL",
            dt: "TIMESTAMP WITHOUT TIME ZONE",
            float: "DOUBLE PRECISION",
            json: "JSONB",
            bytes: "BYTEA",
            boolean: "BOOLEAN",
        },
        Backend::MySql => Types {
            pk: "INTEGER NOT NULL AUTO_INCREMENT",
            dt: "DATETIME(6)",
            float: "DOUBLE",
            json: "JSON",
            bytes: "LONGBLOB",
            boolean: "BOOL",
        },
        Backend::Sqlite => Types {
            pk: "INTEGER NOT NULL",
            dt: "DATETIME_TEXT",
            float: "DOUBLE",
            json: "JSON_TEXT",
            bytes: "BLOB",
            boolean: "BOOLEAN",
        },
    }
}

/// How a hand-built database departs from the one Alembic builds.
#[derive(Clone, Copy, Default)]
struct Variant {
    /// Server defaults on the boolean columns, as ours have (a hand-built copy of our schema).
    server_defaults: bool,
    /// `idx_robots_status` left out.
    missing_index: bool,
    /// `robots.position_x` NOT NULL.
    extra_not_null: bool,
    /// `telemetry.robot_id` ON DELETE RESTRICT instead of CASCADE.
    other_fk_action: bool,
}

/// The DDL of Alembic revisions 001..=`upto` (1–3) for `backend`.
fn alembic_ddl(backend: Backend, upto: u8, v: Variant) -> Vec<String> {
    let t = types(backend);
    let (pk, dt, fl, json, bytes, b) = (t.pk, t.dt, t.float, t.json, t.bytes, t.boolean);
    let d = |value: &str| {
        if v.server_defaults {
            format!(" DEFAULT {value}")
        } else {
            String::new()
        }
    };
    let (dtrue, dfalse) = (d("TRUE"), d("FALSE"));
    let pos_x = if v.extra_not_null { "NOT NULL" } else { "NULL" };
    let telemetry_fk = if v.other_fk_action {
        "RESTRICT"
    } else {
        "CASCADE"
    };
    let mut out = vec![
        format!(
            "CREATE TABLE users (id {pk}, username VARCHAR(50) NOT NULL, email VARCHAR(120) NOT NULL, \
             password_hash VARCHAR(255) NOT NULL, role VARCHAR(20) NOT NULL, is_active {b} NOT NULL{dtrue}, \
             created_at {dt} NOT NULL, updated_at {dt} NOT NULL, PRIMARY KEY (id), UNIQUE (username), UNIQUE (email))"
        ),
        format!(
            "CREATE TABLE robots (id {pk}, name VARCHAR(100) NOT NULL, robot_type VARCHAR(50) NOT NULL, \
             status VARCHAR(20) NOT NULL, mode VARCHAR(20) NOT NULL, position_x {fl} {pos_x}, position_y {fl} NULL, \
             position_z {fl} NULL, orientation {fl} NULL, speed {fl} NULL, battery_level INTEGER NULL, \
             temperature {fl} NULL, created_at {dt} NOT NULL, updated_at {dt} NOT NULL, PRIMARY KEY (id))"
        ),
        format!(
            "CREATE TABLE telemetry (id {pk}, robot_id INTEGER NOT NULL, timestamp {dt} NOT NULL, speed {fl} NULL, \
             temperature {fl} NULL, battery_voltage {fl} NULL, motor_current {fl} NULL, position_x {fl} NULL, \
             position_y {fl} NULL, position_z {fl} NULL, orientation {fl} NULL, PRIMARY KEY (id), \
             FOREIGN KEY(robot_id) REFERENCES robots (id) ON DELETE {telemetry_fk})"
        ),
        "CREATE INDEX idx_telemetry_robot_timestamp ON telemetry (robot_id, timestamp)".into(),
        "CREATE INDEX idx_users_username ON users (username)".into(),
    ];
    if !v.missing_index {
        out.push("CREATE INDEX idx_robots_status ON robots (status)".into());
    }
    if upto >= 2 {
        out.extend([
            format!(
                "CREATE TABLE lidar_scans (id {pk}, timestamp {dt} NOT NULL, scan_data {json} NULL, \
                 quality_score {fl} NULL, scan_duration {fl} NULL, points_count INTEGER NULL, PRIMARY KEY (id))"
            ),
            format!(
                "CREATE TABLE lidar_obstacles (id {pk}, scan_id INTEGER NOT NULL, obstacle_id VARCHAR(50) NOT NULL, \
                 position_x {fl} NOT NULL, position_y {fl} NOT NULL, position_z {fl} NULL, size_width {fl} NULL, \
                 size_height {fl} NULL, obstacle_type VARCHAR(20) NULL, confidence {fl} NULL, detected_at {dt} NOT NULL, \
                 PRIMARY KEY (id), FOREIGN KEY(scan_id) REFERENCES lidar_scans (id) ON DELETE CASCADE)"
            ),
            format!(
                "CREATE TABLE lidar_maps (id {pk}, timestamp {dt} NOT NULL, map_data {bytes} NULL, \
                 resolution {fl} NOT NULL, width INTEGER NOT NULL, height INTEGER NOT NULL, origin_x {fl} NOT NULL, \
                 origin_y {fl} NOT NULL, origin_z {fl} NOT NULL, PRIMARY KEY (id))"
            ),
            format!(
                "CREATE TABLE lidar_paths (id {pk}, start_x {fl} NOT NULL, start_y {fl} NOT NULL, start_z {fl} NULL, \
                 goal_x {fl} NOT NULL, goal_y {fl} NOT NULL, goal_z {fl} NULL, path_data {json} NULL, distance {fl} NULL, \
                 estimated_time {fl} NULL, safety_score {fl} NULL, algorithm VARCHAR(20) NULL, created_at {dt} NOT NULL, \
                 PRIMARY KEY (id))"
            ),
            "CREATE INDEX idx_lidar_scans_timestamp ON lidar_scans (timestamp)".into(),
            "CREATE INDEX idx_lidar_obstacles_scan ON lidar_obstacles (scan_id)".into(),
            "CREATE INDEX idx_lidar_obstacles_type ON lidar_obstacles (obstacle_type)".into(),
            "CREATE INDEX idx_lidar_maps_timestamp ON lidar_maps (timestamp)".into(),
            "CREATE INDEX idx_lidar_paths_created ON lidar_paths (created_at)".into(),
        ]);
    }
    if upto >= 3 {
        out.extend([
            format!(
                "CREATE TABLE safety_events (id {pk}, event_type VARCHAR(50) NOT NULL, severity VARCHAR(20) NOT NULL, \
                 robot_id INTEGER NULL, description TEXT NULL, event_data {json} NULL, resolved {b} NOT NULL{dfalse}, \
                 resolved_at {dt} NULL, resolved_by INTEGER NULL, created_at {dt} NOT NULL, PRIMARY KEY (id), \
                 FOREIGN KEY(robot_id) REFERENCES robots (id) ON DELETE SET NULL, \
                 FOREIGN KEY(resolved_by) REFERENCES users (id) ON DELETE SET NULL)"
            ),
            format!(
                "CREATE TABLE safety_zones (id {pk}, zone_name VARCHAR(100) NOT NULL, zone_type VARCHAR(20) NOT NULL, \
                 boundary_data {json} NOT NULL, radius {fl} NULL, is_active {b} NOT NULL{dtrue}, created_at {dt} NOT NULL, \
                 updated_at {dt} NOT NULL, PRIMARY KEY (id))"
            ),
            format!(
                "CREATE TABLE emergency_stops (id {pk}, robot_id INTEGER NOT NULL, triggered_by INTEGER NULL, \
                 trigger_type VARCHAR(20) NOT NULL, trigger_data {json} NULL, resolved {b} NOT NULL{dfalse}, \
                 resolved_at {dt} NULL, resolved_by INTEGER NULL, created_at {dt} NOT NULL, PRIMARY KEY (id), \
                 FOREIGN KEY(robot_id) REFERENCES robots (id) ON DELETE CASCADE, \
                 FOREIGN KEY(triggered_by) REFERENCES users (id) ON DELETE SET NULL, \
                 FOREIGN KEY(resolved_by) REFERENCES users (id) ON DELETE SET NULL)"
            ),
            "CREATE INDEX idx_safety_events_type ON safety_events (event_type)".into(),
            "CREATE INDEX idx_safety_events_severity ON safety_events (severity)".into(),
            "CREATE INDEX idx_safety_events_robot ON safety_events (robot_id)".into(),
            "CREATE INDEX idx_safety_events_created ON safety_events (created_at)".into(),
            "CREATE INDEX idx_safety_zones_type ON safety_zones (zone_type)".into(),
            "CREATE INDEX idx_safety_zones_active ON safety_zones (is_active)".into(),
            "CREATE INDEX idx_emergency_stops_robot ON emergency_stops (robot_id)".into(),
            "CREATE INDEX idx_emergency_stops_resolved ON emergency_stops (resolved)".into(),
        ]);
    }
    out
}

/// Rows in every table of revisions 001..=`upto` (ids assigned by the database).
fn rows(backend: Backend, upto: u8) -> Vec<String> {
    let bytes = match backend {
        Backend::Postgres => "decode('00ff10', 'hex')",
        _ => "X'00FF10'",
    };
    let ts = "'2025-01-28 10:00:00.123456'";
    let mut out = vec![
        format!(
            "INSERT INTO users (username, email, password_hash, role, is_active, created_at, updated_at) VALUES \
             ('admin', 'admin@oht50.com', 'h1', 'admin', TRUE, {ts}, {ts}), \
             ('operator', 'operator@oht50.com', 'h2', 'operator', FALSE, {ts}, {ts})"
        ),
        format!(
            "INSERT INTO robots (name, robot_type, status, mode, position_x, position_y, position_z, orientation, \
             speed, battery_level, temperature, created_at, updated_at) VALUES \
             ('OHT-50-001', 'OHT-50', 'IDLE', 'MANUAL', 1.5, 2.25, 0.0, 90.0, 0.5, 100, 25.0, {ts}, {ts}), \
             ('OHT-50-002', 'OHT-50', 'MOVING', 'AUTO', 0.25, NULL, NULL, NULL, NULL, NULL, NULL, {ts}, {ts})"
        ),
        format!(
            "INSERT INTO telemetry (robot_id, timestamp, speed, temperature, battery_voltage, motor_current, \
             position_x, position_y, position_z, orientation) VALUES \
             (1, {ts}, 1.0, 30.5, 24.1, 2.5, 1.0, 2.0, 3.0, 45.0), \
             (2, '2025-01-28 10:00:01', 0.0, 29.0, 24.0, 0.0, 0.0, 0.5, 0.0, 180.0)"
        ),
    ];
    if upto >= 2 {
        out.extend([
            format!(
                "INSERT INTO lidar_scans (timestamp, scan_data, quality_score, scan_duration, points_count) VALUES \
                 ({ts}, '{{\"points\": [1, 2, 3]}}', 0.9, 0.1, 3)"
            ),
            format!(
                "INSERT INTO lidar_obstacles (scan_id, obstacle_id, position_x, position_y, position_z, size_width, \
                 size_height, obstacle_type, confidence, detected_at) VALUES \
                 (1, 'obs-1', 1.0, 2.0, NULL, 0.5, 0.5, 'static', 0.75, {ts})"
            ),
            format!(
                "INSERT INTO lidar_maps (timestamp, map_data, resolution, width, height, origin_x, origin_y, origin_z) \
                 VALUES ({ts}, {bytes}, 0.05, 10, 20, 0.0, 0.0, 0.0)"
            ),
            format!(
                "INSERT INTO lidar_paths (start_x, start_y, start_z, goal_x, goal_y, goal_z, path_data, distance, \
                 estimated_time, safety_score, algorithm, created_at) VALUES \
                 (0.0, 0.0, NULL, 5.0, 5.0, NULL, '[[0, 0], [5, 5]]', 7.07, 14.1, 0.8, 'astar', {ts})"
            ),
        ]);
    }
    if upto >= 3 {
        out.extend([
            format!(
                "INSERT INTO safety_events (event_type, severity, robot_id, description, event_data, resolved, \
                 resolved_at, resolved_by, created_at) VALUES \
                 ('collision', 'high', 1, 'bumped', '{{\"x\": 1}}', TRUE, {ts}, 1, {ts})"
            ),
            format!(
                "INSERT INTO safety_zones (zone_name, zone_type, boundary_data, radius, is_active, created_at, updated_at) \
                 VALUES ('Default Safety Zone', 'warning', '{{\"type\": \"polygon\"}}', 5.0, TRUE, {ts}, {ts})"
            ),
            format!(
                "INSERT INTO emergency_stops (robot_id, triggered_by, trigger_type, trigger_data, resolved, resolved_at, \
                 resolved_by, created_at) VALUES (2, 2, 'manual', NULL, FALSE, NULL, NULL, {ts})"
            ),
        ]);
    }
    out
}

/// Builds a database the way Alembic revisions 001..=`upto` do (with `variant`), with rows in
/// every table; `alembic_version` holds `revisions` when given.
async fn build(db: &TestDb, upto: u8, variant: Variant, revisions: Option<&[&str]>) {
    let conn = db.connect().await;
    for sql in alembic_ddl(db.backend, upto, variant) {
        exec(&conn, &sql).await;
    }
    for sql in rows(db.backend, upto) {
        exec(&conn, &sql).await;
    }
    if let Some(revisions) = revisions {
        exec(
            &conn,
            "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, \
             CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))",
        )
        .await;
        for r in revisions {
            exec(
                &conn,
                &format!("INSERT INTO alembic_version (version_num) VALUES ('{r}')"),
            )
            .await;
        }
    }
    let _ = conn.close().await;
}

/// Every row of every table (but `skip`), each value read as text, ordered by `id`.
async fn dump(db: &TestDb, skip: &[&str]) -> Vec<(String, Vec<Vec<Option<String>>>)> {
    let conn = db.connect().await;
    let schema = inspect(&conn).await.expect("inspect");
    let backend = conn.get_database_backend();
    let mut out = Vec::new();
    for (name, table) in &schema.tables {
        if skip.contains(&name.as_str()) || !table.columns.iter().any(|c| c.name == "id") {
            continue;
        }
        let q = |s: &str| match backend {
            DbBackend::MySql => format!("`{s}`"),
            _ => format!("\"{s}\""),
        };
        let cast = if backend == DbBackend::MySql {
            "CHAR"
        } else {
            "TEXT"
        };
        let cols: Vec<String> = table
            .columns
            .iter()
            .map(|c| {
                match (
                    backend,
                    c.data_type.contains("blob") || c.data_type == "bytea",
                ) {
                    (DbBackend::Postgres, true) => format!("encode({}, 'hex')", q(&c.name)),
                    (_, true) => format!("hex({})", q(&c.name)),
                    _ => format!("CAST({} AS {cast})", q(&c.name)),
                }
            })
            .collect();
        let sql = format!("SELECT {} FROM {} ORDER BY id", cols.join(", "), q(name));
        let rows = conn
            .query_all_raw(Statement::from_string(backend, sql))
            .await
            .expect("select rows");
        let values = rows
            .iter()
            .map(|r| {
                (0..table.columns.len())
                    .map(|i| r.try_get_by_index::<Option<String>>(i).expect("text value"))
                    .collect()
            })
            .collect();
        out.push((name.clone(), values));
    }
    let _ = conn.close().await;
    out
}

async fn schema_of(db: &TestDb) -> Schema {
    let conn = db.connect().await;
    let s = inspect(&conn).await.expect("inspect");
    let _ = conn.close().await;
    s
}

async fn alembic_rows(db: &TestDb) -> Vec<String> {
    let conn = db.connect().await;
    let rows = conn
        .query_all_raw(Statement::from_string(
            conn.get_database_backend(),
            "SELECT version_num FROM alembic_version ORDER BY version_num",
        ))
        .await
        .expect("alembic_version");
    let _ = conn.close().await;
    rows.iter()
        .map(|r| r.try_get::<String>("", "version_num").expect("version_num"))
        .collect()
}

fn history(dir: &Path, url: &str) -> Vec<serde_json::Value> {
    let o = ok(run(dir, Some(url), &["history", "--format", "json"]));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).expect("history JSON");
    doc["history"].as_array().cloned().unwrap_or_default()
}

fn status_json(dir: &Path, url: &str) -> serde_json::Value {
    let o = ok(run(dir, Some(url), &["status", "--format", "json"]));
    serde_json::from_slice(&o.stdout).expect("status JSON")
}

fn applied(dir: &Path, url: &str) -> Vec<String> {
    status_json(dir, url)["migrations"]
        .as_array()
        .expect("migrations")
        .iter()
        .filter(|m| m["status"] == "applied")
        .map(|m| m["version"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// The columns SQLAlchemy's client-side defaults leave without a server default, per revision.
fn missing_defaults(upto: u8) -> Vec<&'static str> {
    let mut out = vec!["users.is_active"];
    if upto >= 3 {
        out.extend([
            "safety_events.resolved",
            "safety_zones.is_active",
            "emergency_stops.resolved",
        ]);
    }
    out
}

#[tokio::test]
async fn alembic_databases_are_adopted_then_upgraded_without_losing_a_row() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let all = names();
    for (revision, upto, suffix) in [
        ("002", 2u8, "_lidar_integration"),
        ("003", 3u8, "_safety_system"),
    ] {
        let mapped = name_ending(suffix);
        let at = position(&mapped);
        each_backend!("adopt_alembic", |db| {
            let label = format!("{:?} at {revision}", db.backend);
            build(&db, upto, Variant::default(), Some(&[revision])).await;
            let before_rows = dump(&db, &["alembic_version"]).await;
            let before_schema = schema_of(&db).await;
            assert_eq!(before_rows.len(), if upto == 2 { 7 } else { 10 }, "{label}");

            // status, doctor and a refused `up` point to `adopt alembic`; nothing changes.
            let status = ok(run(d, Some(&db.url), &["status"]));
            assert!(
                stdout(&status).contains("adopt alembic"),
                "{label}: {}",
                stdout(&status)
            );
            let check = run(d, Some(&db.url), &["status", "--check", "--format", "json"]);
            assert_eq!(check.status.code(), Some(1), "{label}: {}", stderr(&check));
            serde_json::from_slice::<serde_json::Value>(&check.stdout).expect("one JSON document");
            assert!(stderr(&check).contains("adopt alembic"), "{label}");
            let up = run(d, Some(&db.url), &["up"]);
            assert_eq!(up.status.code(), Some(1), "{label}: {}", stderr(&up));
            assert!(
                stderr(&up).contains("managed by Alembic"),
                "{label}: {}",
                stderr(&up)
            );
            assert!(
                stderr(&up).contains("adopt alembic"),
                "{label}: {}",
                stderr(&up)
            );
            assert!(
                stderr(&up).contains("Nothing was changed"),
                "{label}: {}",
                stderr(&up)
            );
            if upto == 3 {
                let doctor = run(d, Some(&db.url), &["doctor", "--no-backup"]);
                assert_eq!(
                    doctor.status.code(),
                    Some(1),
                    "{label}: {}",
                    stdout(&doctor)
                );
                assert!(
                    stdout(&doctor).contains("[FAIL] alembic"),
                    "{label}: {}",
                    stdout(&doctor)
                );
                assert!(stdout(&doctor).contains("adopt alembic"), "{label}");
            }
            assert_eq!(
                schema_of(&db).await,
                before_schema,
                "{label}: refused up changed the schema"
            );

            // adopt
            let adopted = ok(run(d, Some(&db.url), &["adopt", "alembic"]));
            let text = stdout(&adopted);
            assert!(
                text.contains(&format!("Alembic revision {revision} maps to {mapped}")),
                "{label}: {text}"
            );
            assert!(
                text.contains("alembic_version was left in place, untouched"),
                "{label}: {text}"
            );
            assert!(
                text.contains("DROP TABLE alembic_version"),
                "{label}: {text}"
            );
            for column in missing_defaults(upto) {
                assert!(
                    text.contains(&format!("{column}: ")),
                    "{label}: {column} not listed: {text}"
                );
            }
            assert_eq!(
                alembic_rows(&db).await,
                [revision],
                "{label}: alembic_version touched"
            );
            assert_eq!(applied(d, &db.url), all[..=at], "{label}");
            let rows = history(d, &db.url);
            let baselined: Vec<&str> = rows
                .iter()
                .filter(|r| r["direction"] == "baseline")
                .map(|r| r["version"].as_str().unwrap_or_default())
                .collect();
            assert_eq!(baselined.len(), at + 1, "{label}: {rows:?}");
            assert!(
                rows.iter()
                    .filter(|r| r["direction"] == "baseline")
                    .all(|r| {
                        r["outcome"] == "succeeded"
                            && r["checksum"].is_string()
                            && r["tool_version"].is_string()
                            && r["os_user"].is_string()
                    }),
                "{label}: {rows:?}"
            );
            let fix = rows
                .iter()
                .find(|r| r["direction"] == "adopt")
                .expect("the schema-fix step");
            assert_eq!(fix["version"], mapped.as_str(), "{label}");
            let status = status_json(d, &db.url);
            assert!(
                status["migrations"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|m| m["status"] == "applied")
                    .all(|m| m["checksum"] == "ok"),
                "{label}: {status}"
            );

            // up applies the rest on the adopted data; drift is empty; rows are identical.
            ok(run(d, Some(&db.url), &["up", "--no-backup"]));
            assert_eq!(applied(d, &db.url), all, "{label}");
            let drift = run(d, Some(&db.url), &["drift"]);
            assert!(
                drift.status.success(),
                "{label}: {}{}",
                stdout(&drift),
                stderr(&drift)
            );
            let after_rows = dump(
                &db,
                &[
                    "alembic_version",
                    "seaql_migrations",
                    "oht50_migration_history",
                    "oht50_migration_batches",
                ],
            )
            .await;
            let after_rows: Vec<_> = after_rows
                .into_iter()
                .filter(|(t, _)| before_rows.iter().any(|(b, _)| b == t))
                .collect();
            assert_eq!(after_rows, before_rows, "{label}: rows changed");
            // The auto-increment keys keep counting after the adopted rows.
            let conn = db.connect().await;
            let text = if db.backend == Backend::MySql {
                "CHAR"
            } else {
                "TEXT"
            };
            exec(&conn, "INSERT INTO users (username, email, password_hash, role, created_at, updated_at) \
                         VALUES ('new', 'new@oht50.com', 'h', 'viewer', '2025-02-01 00:00:00', '2025-02-01 00:00:00')").await;
            let row = conn
                .query_one_raw(Statement::from_string(
                    conn.get_database_backend(),
                    format!(
                        "SELECT CAST(id AS {text}) AS id, CASE WHEN is_active THEN 'yes' ELSE 'no' END AS active \
                         FROM users WHERE username = 'new'"
                    ),
                ))
                .await
                .expect("select")
                .expect("row");
            assert_eq!(row.try_get::<String>("", "id").unwrap(), "3", "{label}");
            assert_eq!(
                row.try_get::<String>("", "active").unwrap(),
                "yes",
                "{label}: server default"
            );
            let _ = conn.close().await;

            // down of what `up` applied works.
            let later = (all.len() - at - 1).to_string();
            ok(run(
                d,
                Some(&db.url),
                &["down", "-n", &later, "--no-backup"],
            ));
            assert_eq!(applied(d, &db.url), all[..=at], "{label}");
        });
    }
}

#[tokio::test]
async fn baseline_records_a_matching_hand_built_database_and_refuses_a_different_one() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let all = names();
    let third = name_ending("_safety_system");
    let at = position(&third);
    let prefix = unique_prefix(&third);
    each_backend!("baseline_same", |db| {
        let label = format!("{:?}", db.backend);
        // Equal to our schema at migration 3, spelled the hand-built way.
        let same = Variant {
            server_defaults: true,
            ..Variant::default()
        };
        build(&db, 3, same, None).await;
        let before_rows = dump(&db, &[]).await;
        let out = ok(run(
            d,
            Some(&db.url),
            &["baseline", "--to", &prefix, "--format", "json"],
        ));
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("baseline JSON");
        assert_eq!(doc["version"], third.as_str(), "{label}: {doc}");
        assert_eq!(
            doc["recorded"].as_array().map(Vec::len),
            Some(at + 1),
            "{label}"
        );
        assert_eq!(
            doc["accepted_differences"],
            serde_json::json!([]),
            "{label}"
        );
        assert_eq!(doc["schema_fixes"], serde_json::json!([]), "{label}");
        assert_eq!(
            doc["pending"].as_array().map(Vec::len),
            Some(all.len() - at - 1)
        );
        assert_eq!(applied(d, &db.url), all[..=at], "{label}");
        let rows = history(d, &db.url);
        assert_eq!(
            rows.iter().filter(|r| r["direction"] == "baseline").count(),
            at + 1,
            "{label}"
        );
        assert!(
            rows.iter().all(|r| r["direction"] != "adopt"),
            "{label}: a plain baseline changes no schema"
        );
        ok(run(d, Some(&db.url), &["up", "--no-backup"]));
        assert_eq!(applied(d, &db.url), all, "{label}");
        ok(run(d, Some(&db.url), &["drift"]));
        let after: Vec<_> = dump(&db, &[])
            .await
            .into_iter()
            .filter(|(t, _)| before_rows.iter().any(|(b, _)| b == t))
            .collect();
        assert_eq!(after, before_rows, "{label}");
    });
    each_backend!("baseline_differs", |db| {
        let label = format!("{:?}", db.backend);
        let differs = Variant {
            server_defaults: true,
            missing_index: true,
            extra_not_null: true,
            other_fk_action: true,
        };
        build(&db, 3, differs, None).await;
        let before = schema_of(&db).await;
        let out = run(d, Some(&db.url), &["baseline", "--to", &third]);
        assert_eq!(out.status.code(), Some(1), "{label}: {}", stdout(&out));
        let err = stderr(&out);
        assert!(err.contains("3 difference(s)"), "{label}: {err}");
        assert!(
            err.contains("missing-index robots.idx_robots_status"),
            "{label}: {err}"
        );
        assert!(
            err.contains("nullability robots.position_x: expected NULL, found NOT NULL"),
            "{label}: {err}"
        );
        assert!(
            err.contains("foreign-key-action telemetry.robot_id"),
            "{label}: {err}"
        );
        assert!(err.contains("Nothing was changed"), "{label}: {err}");
        assert_eq!(
            schema_of(&db).await,
            before,
            "{label}: the refused baseline changed the database"
        );

        // --accept-differences records anyway (production needs --yes), differences in history.
        let out = run(
            d,
            Some(&db.url),
            &[
                "--env",
                "production",
                "baseline",
                "--to",
                &third,
                "--accept-differences",
            ],
        );
        assert_eq!(out.status.code(), Some(2), "{label}: {}", stderr(&out));
        assert_eq!(schema_of(&db).await, before, "{label}");
        ok(run(
            d,
            Some(&db.url),
            &[
                "--env",
                "production",
                "--yes",
                "baseline",
                "--to",
                &third,
                "--accept-differences",
            ],
        ));
        assert_eq!(applied(d, &db.url), all[..=at], "{label}");
        let rows = history(d, &db.url);
        let newest = rows
            .iter()
            .find(|r| r["version"] == third.as_str() && r["direction"] == "baseline")
            .expect("baseline row");
        let note = newest["error"].as_str().unwrap_or_default();
        assert!(
            note.contains("accepted differences") && note.contains("idx_robots_status"),
            "{label}: {note}"
        );
    });
}

#[tokio::test]
async fn bad_input_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let first = name_ending("_initial_schema");
    let third = name_ending("_safety_system");
    each_backend!("adopt_bad_input", |db| {
        let label = format!("{:?}", db.backend);
        // An empty database (on SQLite: an empty file): nothing to adopt.
        let _ = db.connect().await.close().await;
        let out = run(d, Some(&db.url), &["baseline", "--to", &third]);
        assert_eq!(out.status.code(), Some(1), "{label}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("nothing to adopt"),
            "{label}: {}",
            stderr(&out)
        );
        let out = run(d, Some(&db.url), &["adopt", "alembic"]);
        assert_eq!(out.status.code(), Some(1), "{label}");
        assert!(
            stderr(&out).contains("no alembic_version table"),
            "{label}: {}",
            stderr(&out)
        );
        assert!(
            schema_of(&db).await.tables.is_empty(),
            "{label}: created tables"
        );
        // A SQLite file that does not exist is not created just to be refused.
        let absent = d.join(format!("absent-{label}.db"));
        let absent_url = format!("sqlite://{}", absent.display());
        for args in [
            &["baseline", "--to", third.as_str()][..],
            &["adopt", "alembic"],
        ] {
            let out = run(d, Some(&absent_url), args);
            assert_eq!(out.status.code(), Some(1), "{label} {args:?}");
            assert!(stderr(&out).contains("does not exist"), "{}", stderr(&out));
            assert!(!absent.exists(), "{label} {args:?} created {absent:?}");
        }

        // An unknown version.
        build(&db, 3, Variant::default(), Some(&["abc123"])).await;
        let before = schema_of(&db).await;
        let out = run(d, Some(&db.url), &["baseline", "--to", "m2099"]);
        assert_eq!(out.status.code(), Some(2), "{label}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("unknown migration `m2099`"),
            "{label}: {}",
            stderr(&out)
        );

        // An Alembic revision the mapping does not know; then two rows.
        let out = run(d, Some(&db.url), &["adopt", "alembic"]);
        assert_eq!(out.status.code(), Some(1), "{label}");
        assert!(
            stderr(&out).contains("Alembic revision abc123"),
            "{label}: {}",
            stderr(&out)
        );
        assert!(
            stderr(&out).contains("known: 001, 002, 003"),
            "{label}: {}",
            stderr(&out)
        );
        let conn = db.connect().await;
        exec(
            &conn,
            "INSERT INTO alembic_version (version_num) VALUES ('003')",
        )
        .await;
        let _ = conn.close().await;
        let out = run(d, Some(&db.url), &["adopt", "alembic"]);
        assert_eq!(out.status.code(), Some(1), "{label}");
        assert!(
            stderr(&out).contains("alembic_version has 2 rows (003, abc123)"),
            "{label}: {}",
            stderr(&out)
        );
        assert_eq!(
            schema_of(&db).await,
            before,
            "{label}: a refusal changed the database"
        );
        assert_eq!(alembic_rows(&db).await, ["003", "abc123"], "{label}");
    });
    each_backend!("adopt_managed", |db| {
        let label = format!("{:?}", db.backend);
        // A database this tool already manages: the ledger has rows.
        ok(run(d, Some(&db.url), &["up", "--to", &first]));
        let before = crate::support::snapshot(&db).await;
        let out = run(d, Some(&db.url), &["baseline", "--to", &third]);
        assert_eq!(out.status.code(), Some(1), "{label}");
        let err = stderr(&out);
        assert!(
            err.contains("already records 1 applied migration(s)"),
            "{label}: {err}"
        );
        assert!(err.contains("migration status"), "{label}: {err}");
        assert_eq!(crate::support::snapshot(&db).await, before, "{label}");
    });
}
