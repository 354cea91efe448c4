//! JSON fixtures: validation errors write nothing; load/dump round trip; upsert by key.

// Shared with the workspace tests; not reformatted from here.
use crate::support::{counts, migrated};
use seed::SeedError;
use seed::fixtures::{self, DumpOptions, LoadOptions};
use seed::passwords::{self, Secret};
use serde_json::json;

fn opts() -> LoadOptions {
    LoadOptions {
        dry_run: false,
        source_name: "test.json".into(),
    }
}

fn fixture(hash: &str) -> serde_json::Value {
    json!({
        "users": [
            {"id": 10, "username": "alice", "email": "alice@example.com", "password_hash": hash,
             "role": "operator", "is_active": true,
             "created_at": "2025-01-28T08:00:00", "updated_at": "2025-01-28T08:00:00"}
        ],
        "robots": [
            {"id": 5, "name": "OHT-50-005", "robot_type": "OHT-50", "status": "MOVING", "mode": "AUTO",
             "position_x": 1.5, "position_y": 2.25, "battery_level": 80, "temperature": 30.5,
             "created_at": "2025-01-28T08:00:00", "updated_at": "2025-01-28T09:30:00.250"}
        ],
        "telemetry": [
            {"robot_id": 5, "timestamp": "2025-01-28T09:00:00.123456", "speed": 1.2, "battery_voltage": 52.1},
            {"id": 3, "robot_id": 5, "timestamp": "2025-01-28T09:01:00", "speed": 0.0}
        ],
        "lidar_scans": [
            {"id": 7, "timestamp": "2025-01-28T09:00:00", "scan_data": {"ranges": [1.0, 2.5]}, "points_count": 2}
        ],
        "lidar_obstacles": [
            {"scan_id": 7, "obstacle_id": "o-1", "position_x": 1.0, "position_y": 2.0,
             "obstacle_type": "person", "confidence": 0.9, "detected_at": "2025-01-28T09:00:00"}
        ],
        "lidar_maps": [
            {"id": 1, "timestamp": "2025-01-28T09:00:00", "map_data": [0, 1, 255], "resolution": 0.05,
             "width": 3, "height": 1, "origin_x": 0.0, "origin_y": 0.0, "origin_z": 0.0}
        ],
        "lidar_paths": [
            {"start_x": 0.0, "start_y": 0.0, "goal_x": 10.0, "goal_y": 5.0, "algorithm": "a_star",
             "path_data": [[0, 0], [10, 5]], "created_at": "2025-01-28T09:00:00"}
        ],
        "safety_events": [
            {"event_type": "zone_violation", "severity": "warning", "robot_id": 5, "resolved": true,
             "resolved_by": 10, "resolved_at": "2025-01-28T09:10:00", "created_at": "2025-01-28T09:05:00",
             "event_data": {"zone": "A"}}
        ],
        "safety_zones": [
            {"zone_name": "Dock", "zone_type": "danger", "boundary_data": {"type": "circle", "center": [1, 1]},
             "radius": 2.0, "created_at": "2025-01-28T08:00:00", "updated_at": "2025-01-28T08:00:00"}
        ],
        "emergency_stops": [
            {"robot_id": 5, "triggered_by": 10, "trigger_type": "manual", "resolved": false,
             "created_at": "2025-01-28T09:06:00"}
        ]
    })
}

async fn expect_record_error(
    conn: &sea_orm::DatabaseConnection,
    doc: serde_json::Value,
    table: &str,
    index: usize,
    needle: &str,
) {
    let before = counts(conn).await;
    let err = fixtures::load(conn, &doc, &opts()).await.unwrap_err();
    match &err {
        SeedError::FixtureRecord {
            table: t, index: i, ..
        } => {
            assert_eq!((t.as_str(), *i), (table, index), "{err}");
        }
        other => panic!("expected a record error, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(msg.contains(needle), "{msg}");
    assert!(msg.contains("Nothing was written"), "{msg}");
    assert_eq!(counts(conn).await, before, "nothing written after: {msg}");
}

#[tokio::test]
async fn invalid_fixtures_name_table_and_record_and_write_nothing() {
    let hash = passwords::hash(&Secret::new("alice-password-1")).unwrap();
    each_backend!("fixtures_invalid", |db| {
        let conn = migrated(&db).await;

        // Unknown table.
        let err = fixtures::load(&conn, &json!({"robots": [], "robotz": []}), &opts())
            .await
            .unwrap_err();
        assert!(matches!(err, SeedError::FixtureDocument { .. }), "{err:?}");
        assert!(err.to_string().contains("unknown table `robotz`"), "{err}");

        // Unknown column.
        let mut doc = fixture(&hash);
        doc["robots"][0]["colour"] = json!("red");
        expect_record_error(&conn, doc, "robots", 0, "unknown column `colour`").await;

        // Wrong type, and a value outside an enum.
        let mut doc = fixture(&hash);
        doc["telemetry"][1]["speed"] = json!("fast");
        expect_record_error(&conn, doc, "telemetry", 1, "column `speed`").await;
        let mut doc = fixture(&hash);
        doc["users"][0]["role"] = json!("superuser");
        expect_record_error(&conn, doc, "users", 0, "column `role`").await;

        // A password instead of a hash.
        let mut doc = fixture(&hash);
        doc["users"][0]["password_hash"] = json!("hunter2hunter2");
        expect_record_error(&conn, doc, "users", 0, "Argon2id PHC").await;

        // Missing FK target: everything before it (users, robots...) is rolled back.
        let mut doc = fixture(&hash);
        doc["emergency_stops"][0]["robot_id"] = json!(99);
        expect_record_error(&conn, doc, "emergency_stops", 0, "robots.id 99").await;
        let mut doc = fixture(&hash);
        doc["lidar_obstacles"][0]["scan_id"] = json!(8);
        expect_record_error(&conn, doc, "lidar_obstacles", 0, "lidar_scans.id 8").await;

        // A new row without a required column.
        let mut doc = fixture(&hash);
        doc["robots"][0]
            .as_object_mut()
            .unwrap()
            .remove("robot_type");
        expect_record_error(&conn, doc, "robots", 0, "robot_type").await;
    });
}

#[tokio::test]
async fn load_dump_round_trip_and_upsert() {
    let hash = passwords::hash(&Secret::new("alice-password-1")).unwrap();
    each_backend!("fixtures_roundtrip", |db| {
        let conn = migrated(&db).await;
        let dry = fixtures::load(
            &conn,
            &fixture(&hash),
            &LoadOptions {
                dry_run: true,
                ..opts()
            },
        )
        .await
        .unwrap();
        assert!(dry.dry_run);
        assert!(
            counts(&conn).await.iter().all(|(_, n)| *n == 0),
            "dry run wrote rows"
        );

        let first = fixtures::load(&conn, &fixture(&hash), &opts())
            .await
            .unwrap();
        let created: u64 = first.tables.iter().map(|t| t.created).sum();
        assert_eq!(created, 11);

        // Loading again changes nothing: keyed rows match, keyless rows... are new rows, so
        // a fixture meant to be re-loaded gives ids; the dump does.
        let dump = fixtures::dump(
            &conn,
            DumpOptions {
                include_password_hashes: true,
            },
        )
        .await
        .unwrap();
        assert_eq!(dump["users"][0]["password_hash"], json!(hash));
        let no_hash = fixtures::dump(&conn, DumpOptions::default()).await.unwrap();
        assert!(no_hash["users"][0].get("password_hash").is_none());

        let again = fixtures::load(&conn, &dump, &opts()).await.unwrap();
        for t in &again.tables {
            assert_eq!((t.created, t.updated), (0, 0), "{:?}: {t}", db.backend);
        }

        // Into a fresh database: same dump back.
        let Some(other) = test_support::TestDb::create(db.backend, "fixtures_copy").await else {
            continue;
        };
        let conn2 = migrated(&other).await;
        fixtures::load(&conn2, &dump, &opts()).await.unwrap();
        let dump2 = fixtures::dump(
            &conn2,
            DumpOptions {
                include_password_hashes: true,
            },
        )
        .await
        .unwrap();
        assert_eq!(dump, dump2, "{:?}", db.backend);

        // Sequences moved past the explicit ids: a plain insert still works.
        fixtures::load(&conn2, &json!({"robots": [{"name": "new", "robot_type": "OHT-50", "status": "IDLE", "mode": "AUTO"}]}), &opts())
            .await
            .unwrap();

        // Upsert by natural key: one changed column.
        let report = fixtures::load(
            &conn2,
            &json!({"robots": [{"name": "OHT-50-005", "battery_level": 42}],
                    "safety_zones": [{"zone_name": "Dock", "radius": 2.0}]}),
            &opts(),
        )
        .await
        .unwrap();
        let robots = report.tables.iter().find(|t| t.table == "robots").unwrap();
        assert_eq!(
            (robots.created, robots.updated, robots.unchanged),
            (0, 1, 0)
        );
        let zones = report
            .tables
            .iter()
            .find(|t| t.table == "safety_zones")
            .unwrap();
        assert_eq!((zones.created, zones.updated, zones.unchanged), (0, 0, 1));
        let d = fixtures::dump(&conn2, DumpOptions::default())
            .await
            .unwrap();
        assert_eq!(d["robots"][0]["battery_level"], json!(42));
    });
}
