//! Development volumes: deterministic, referencing real robots and users, all or nothing.

// Shared with the workspace tests; not reformatted from here.
use crate::support::{count, migrated};
use seed::SeedError;
use seed::dev::{self, DevOptions};
use seed::fixtures::{self, DumpOptions, LoadOptions};
use serde_json::json;

fn small(seed: u64) -> DevOptions {
    DevOptions {
        robots: 2,
        days: 1,
        telemetry_per_robot_hour: 12,
        lidar_scans: 20,
        safety_events: 15,
        emergency_stops: 6,
        seed,
        ..DevOptions::default()
    }
}

/// Two users with fixed hashes and timestamps, so databases can be compared row for row.
fn users() -> serde_json::Value {
    let hash = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXoxMjM0NTY";
    json!({"users": [
        {"id": 1, "username": "admin", "email": "admin@oht50.com", "password_hash": hash, "role": "admin",
         "created_at": "2025-01-01T00:00:00", "updated_at": "2025-01-01T00:00:00"},
        {"id": 2, "username": "operator", "email": "operator@oht50.com", "password_hash": hash, "role": "operator",
         "created_at": "2025-01-01T00:00:00", "updated_at": "2025-01-01T00:00:00"}
    ]})
}

async fn generate_into(
    backend: test_support::Backend,
    opts: &DevOptions,
) -> Option<serde_json::Value> {
    let db = test_support::TestDb::create(backend, "dev").await?;
    let conn = migrated(&db).await;
    fixtures::load(
        &conn,
        &users(),
        &LoadOptions {
            dry_run: false,
            source_name: "users".into(),
        },
    )
    .await
    .unwrap();
    let mut calls = 0u64;
    let report = dev::generate(&conn, opts, &mut |_, _, _| calls += 1)
        .await
        .unwrap();
    assert!(calls > 0, "progress reported");
    assert_eq!(report.users_referenced, 2);
    let tel = report
        .tables
        .iter()
        .find(|t| t.table == "telemetry")
        .unwrap();
    assert_eq!(tel.created, opts.telemetry_rows());
    assert_eq!(
        count(&conn, "telemetry").await as u64,
        opts.telemetry_rows()
    );
    Some(
        fixtures::dump(
            &conn,
            DumpOptions {
                include_password_hashes: true,
            },
        )
        .await
        .unwrap(),
    )
}

#[tokio::test]
async fn same_seed_same_rows_other_seed_other_rows() {
    for backend in test_support::ALL {
        let Some(a) = generate_into(backend, &small(7)).await else {
            continue;
        };
        let b = generate_into(backend, &small(7)).await.unwrap();
        assert_eq!(a, b, "{backend:?}: same seed must give identical rows");
        let c = generate_into(backend, &small(8)).await.unwrap();
        assert_ne!(a["telemetry"], c["telemetry"], "{backend:?}");
        assert_ne!(a["robots"], c["robots"], "{backend:?}");

        // Rows reference real robots and users.
        let robot_ids: Vec<_> = a["robots"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].clone())
            .collect();
        for t in a["telemetry"].as_array().unwrap() {
            assert!(robot_ids.contains(&t["robot_id"]));
            let v = t["battery_voltage"].as_f64().unwrap();
            assert!((44.0..=55.0).contains(&v));
        }
        let events = a["safety_events"].as_array().unwrap();
        assert_eq!(events.len(), 15);
        assert!(
            events
                .iter()
                .any(|e| e["resolved_by"] == json!(1) || e["resolved_by"] == json!(2))
        );
        assert!(!a["lidar_obstacles"].as_array().unwrap().is_empty());
    }
}

#[tokio::test]
async fn refuses_to_add_the_same_seed_twice_and_writes_nothing_then() {
    each_backend!("dev_twice", |db| {
        let conn = migrated(&db).await;
        dev::generate(&conn, &small(3), &mut |_, _, _| {})
            .await
            .unwrap();
        let before = crate::support::counts(&conn).await;
        let err = dev::generate(&conn, &small(3), &mut |_, _, _| {})
            .await
            .unwrap_err();
        assert!(
            matches!(err, SeedError::DevDataPresent { seed: 3, .. }),
            "{err:?}"
        );
        assert_eq!(crate::support::counts(&conn).await, before);
        // Another seed adds to it, with ids after the existing ones.
        dev::generate(&conn, &small(4), &mut |_, _, _| {})
            .await
            .unwrap();
        assert_eq!(count(&conn, "robots").await, 4);

        let dry = dev::generate(
            &conn,
            &DevOptions {
                dry_run: true,
                ..small(5)
            },
            &mut |_, _, _| {},
        )
        .await
        .unwrap();
        assert!(dry.dry_run);
        assert_eq!(count(&conn, "robots").await, 4);
    });
}

#[tokio::test]
async fn refuses_unmigrated_databases_and_bad_arguments() {
    each_backend!("dev_refuse", |db| {
        let conn = crate::support::connect(&db).await;
        let err = dev::generate(&conn, &small(1), &mut |_, _, _| {})
            .await
            .unwrap_err();
        assert!(matches!(err, SeedError::NotMigrated { .. }), "{err:?}");
        let err = dev::generate(
            &conn,
            &DevOptions {
                robots: 0,
                ..small(1)
            },
            &mut |_, _, _| {},
        )
        .await
        .unwrap_err();
        assert!(err.to_string().contains("--robots"), "{err}");
    });
}
