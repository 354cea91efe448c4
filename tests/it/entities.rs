//! The entity crate agrees with the migrated schema: every column of every entity round-trips
//! (JSON, bytes, floats, timestamps, enums, server defaults) and FK actions behave as the spec
//! says, on every backend.

use chrono::NaiveDate;
use entity::enums::*;
use entity::prelude::*;
use entity::*;
use migration::{Migrator, MigratorTrait};
use migration_engine::{Runner, Target};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, DatabaseConnection, EntityTrait, ModelTrait};
use serde_json::json;

async fn migrated(db: &test_support::TestDb) -> DatabaseConnection {
    let runner = Runner::with_config(
        db.connect().await,
        Migrator::migrations(),
        migration::config(),
    );
    runner.up(&Target::All).await.expect("up");
    runner.connection().clone()
}

fn ts(h: u32, m: u32, s: u32, micros: u32) -> sea_orm::prelude::DateTime {
    NaiveDate::from_ymd_opt(2025, 1, 28)
        .and_then(|d| d.and_hms_micro_opt(h, m, s, micros))
        .expect("valid time")
}

async fn user(db: &DatabaseConnection, name: &str) -> users::Model {
    users::ActiveModel {
        username: Set(name.into()),
        email: Set(format!("{name}@oht50.test")),
        password_hash: Set("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA".into()),
        role: Set(UserRole::Operator),
        ..Default::default()
    }
    .insert(db)
    .await
    .expect("insert user")
}

async fn robot(db: &DatabaseConnection, name: &str) -> robots::Model {
    robots::ActiveModel {
        name: Set(name.into()),
        robot_type: Set("OHT-50".into()),
        status: Set(RobotStatus::EmergencyStop),
        mode: Set(RobotMode::SemiAuto),
        position_x: Set(Some(1.5)),
        position_y: Set(Some(-2.25)),
        position_z: Set(None),
        orientation: Set(Some(std::f64::consts::PI)),
        speed: Set(Some(0.1 + 0.2)),
        battery_level: Set(Some(87)),
        temperature: Set(Some(1e-7)),
        ..Default::default()
    }
    .insert(db)
    .await
    .expect("insert robot")
}

#[tokio::test]
async fn every_entity_round_trips_every_column() {
    each_backend!("round_trip", |tdb| {
        let db = migrated(&tdb).await;
        let b = tdb.backend;

        let u = user(&db, "alice").await;
        assert!(u.is_active, "{b:?}: server default is_active = true");
        assert_eq!(
            u.created_at, u.updated_at,
            "{b:?}: timestamps set on insert"
        );
        assert_eq!(
            Users::find_by_id(u.id).one(&db).await.unwrap(),
            Some(u.clone()),
            "{b:?}"
        );

        let r = robot(&db, "OHT-50-001").await;
        assert_eq!(
            Robots::find_by_id(r.id).one(&db).await.unwrap(),
            Some(r.clone()),
            "{b:?}"
        );

        let mut active: robots::ActiveModel = r.clone().into();
        active.status = Set(RobotStatus::Idle);
        // The models' clock has microseconds: wait until it has moved past the insert's time.
        let inserted = r.updated_at;
        test_support::wait_for(
            "the clock to pass the robot's updated_at",
            std::time::Duration::from_secs(5),
            || {
                (chrono::Utc::now().naive_utc() - inserted >= chrono::TimeDelta::microseconds(1))
                    .then_some(())
            },
        );
        let updated = active.update(&db).await.expect("update robot");
        assert!(
            updated.updated_at > r.updated_at,
            "{b:?}: updated_at advances on update"
        );
        assert_eq!(
            updated.created_at, r.created_at,
            "{b:?}: created_at kept on update"
        );

        let t = telemetry::ActiveModel {
            robot_id: Set(r.id),
            timestamp: Set(ts(10, 0, 0, 123_456)),
            speed: Set(Some(1.25)),
            temperature: Set(Some(36.6)),
            battery_voltage: Set(Some(24.0)),
            motor_current: Set(Some(3.3)),
            position_x: Set(None),
            position_y: Set(Some(f64::MAX)),
            position_z: Set(Some(f64::MIN_POSITIVE)),
            orientation: Set(Some(-0.0001)),
            ..Default::default()
        }
        .insert(&db)
        .await
        .expect("insert telemetry");
        assert_eq!(
            Telemetry::find_by_id(t.id).one(&db).await.unwrap(),
            Some(t),
            "{b:?}"
        );

        let scan = lidar_scans::ActiveModel {
            timestamp: Set(ts(10, 0, 1, 0)),
            scan_data: Set(Some(
                json!({"ranges": [1.0, 2.5, null], "unit": "m", "meta": {"rpm": 600}}),
            )),
            quality_score: Set(Some(0.97)),
            scan_duration: Set(Some(0.1)),
            points_count: Set(Some(720)),
            ..Default::default()
        }
        .insert(&db)
        .await
        .expect("insert scan");
        assert_eq!(
            LidarScans::find_by_id(scan.id).one(&db).await.unwrap(),
            Some(scan.clone()),
            "{b:?}"
        );

        let obstacle = lidar_obstacles::ActiveModel {
            scan_id: Set(scan.id),
            obstacle_id: Set("obs-1".into()),
            position_x: Set(3.0),
            position_y: Set(4.0),
            position_z: Set(None),
            size_width: Set(Some(0.5)),
            size_height: Set(Some(1.8)),
            obstacle_type: Set(Some(ObstacleType::Person)),
            confidence: Set(Some(0.88)),
            detected_at: Set(ts(10, 0, 1, 999_999)),
            ..Default::default()
        }
        .insert(&db)
        .await
        .expect("insert obstacle");
        assert_eq!(
            LidarObstacles::find_by_id(obstacle.id)
                .one(&db)
                .await
                .unwrap(),
            Some(obstacle),
            "{b:?}"
        );

        // 200 KB: more than a MySQL BLOB (64 KiB) holds.
        let map_bytes: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let map = lidar_maps::ActiveModel {
            timestamp: Set(ts(11, 0, 0, 0)),
            map_data: Set(Some(map_bytes)),
            resolution: Set(0.05),
            width: Set(400),
            height: Set(500),
            origin_x: Set(-10.0),
            origin_y: Set(-12.5),
            origin_z: Set(0.0),
            ..Default::default()
        }
        .insert(&db)
        .await
        .expect("insert map");
        assert_eq!(
            LidarMaps::find_by_id(map.id).one(&db).await.unwrap(),
            Some(map),
            "{b:?}"
        );

        let path = lidar_paths::ActiveModel {
            start_x: Set(0.0),
            start_y: Set(0.0),
            start_z: Set(None),
            goal_x: Set(10.0),
            goal_y: Set(5.0),
            goal_z: Set(Some(0.0)),
            path_data: Set(Some(json!([[0, 0], [5, 2.5], [10, 5]]))),
            distance: Set(Some(11.18)),
            estimated_time: Set(Some(22.4)),
            safety_score: Set(Some(0.9)),
            algorithm: Set(Some(PathAlgorithm::DStarLite)),
            ..Default::default()
        }
        .insert(&db)
        .await
        .expect("insert path");
        assert_eq!(
            LidarPaths::find_by_id(path.id).one(&db).await.unwrap(),
            Some(path),
            "{b:?}"
        );

        let event = safety_events::ActiveModel {
            event_type: Set("zone_breach".into()),
            severity: Set(Severity::Critical),
            robot_id: Set(Some(r.id)),
            description: Set(Some(
                "Robot entered a restricted zone — «ünïcode» text".into(),
            )),
            event_data: Set(Some(json!({"zone": "A1", "speed": 1.2}))),
            resolved_at: Set(Some(ts(12, 0, 0, 1))),
            resolved_by: Set(Some(u.id)),
            ..Default::default()
        }
        .insert(&db)
        .await
        .expect("insert event");
        assert!(!event.resolved, "{b:?}: server default resolved = false");
        assert_eq!(
            SafetyEvents::find_by_id(event.id).one(&db).await.unwrap(),
            Some(event),
            "{b:?}"
        );

        let zone = safety_zones::ActiveModel {
            zone_name: Set("Default Safety Zone".into()),
            zone_type: Set(ZoneType::Restricted),
            boundary_data: Set(json!({"type": "polygon", "coordinates": [[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]]})),
            radius: Set(Some(5.0)),
            is_active: Set(false),
            ..Default::default()
        }
        .insert(&db)
        .await
        .expect("insert zone");
        assert_eq!(
            SafetyZones::find_by_id(zone.id).one(&db).await.unwrap(),
            Some(zone),
            "{b:?}"
        );

        let stop = emergency_stops::ActiveModel {
            robot_id: Set(r.id),
            triggered_by: Set(Some(u.id)),
            trigger_type: Set(TriggerType::Sensor),
            trigger_data: Set(None),
            resolved: Set(true),
            resolved_at: Set(None),
            resolved_by: Set(None),
            ..Default::default()
        }
        .insert(&db)
        .await
        .expect("insert e-stop");
        assert_eq!(
            EmergencyStops::find_by_id(stop.id).one(&db).await.unwrap(),
            Some(stop),
            "{b:?}"
        );
    });
}

#[tokio::test]
async fn foreign_key_actions_follow_the_spec() {
    each_backend!("fk_actions", |tdb| {
        let db = migrated(&tdb).await;
        let b = tdb.backend;
        let u = user(&db, "bob").await;
        let r = robot(&db, "OHT-50-002").await;
        for i in 0..3 {
            telemetry::ActiveModel {
                robot_id: Set(r.id),
                timestamp: Set(ts(9, 0, i, 0)),
                ..Default::default()
            }
            .insert(&db)
            .await
            .expect("telemetry");
        }
        let event = safety_events::ActiveModel {
            event_type: Set("obstacle".into()),
            severity: Set(Severity::Warning),
            robot_id: Set(Some(r.id)),
            resolved_by: Set(Some(u.id)),
            ..Default::default()
        }
        .insert(&db)
        .await
        .expect("event");
        let stop = emergency_stops::ActiveModel {
            robot_id: Set(r.id),
            triggered_by: Set(Some(u.id)),
            trigger_type: Set(TriggerType::Manual),
            resolved_by: Set(Some(u.id)),
            ..Default::default()
        }
        .insert(&db)
        .await
        .expect("e-stop");
        let scan = lidar_scans::ActiveModel {
            timestamp: Set(ts(9, 0, 0, 0)),
            ..Default::default()
        }
        .insert(&db)
        .await
        .expect("scan");
        lidar_obstacles::ActiveModel {
            scan_id: Set(scan.id),
            obstacle_id: Set("o".into()),
            position_x: Set(0.0),
            position_y: Set(0.0),
            detected_at: Set(ts(9, 0, 0, 0)),
            ..Default::default()
        }
        .insert(&db)
        .await
        .expect("obstacle");

        // Relations are navigable from both sides.
        assert_eq!(
            r.find_related(Telemetry).all(&db).await.unwrap().len(),
            3,
            "{b:?}"
        );
        assert_eq!(
            event
                .find_related(Robots)
                .one(&db)
                .await
                .unwrap()
                .map(|x| x.id),
            Some(r.id),
            "{b:?}"
        );

        // Deleting a user keeps the events and stops, with the references set to NULL.
        u.clone().delete(&db).await.expect("delete user");
        let event_after = SafetyEvents::find_by_id(event.id)
            .one(&db)
            .await
            .unwrap()
            .expect("event kept");
        assert_eq!(
            event_after.resolved_by, None,
            "{b:?}: SET NULL on resolved_by"
        );
        let stop_after = EmergencyStops::find_by_id(stop.id)
            .one(&db)
            .await
            .unwrap()
            .expect("stop kept");
        assert_eq!(
            (stop_after.triggered_by, stop_after.resolved_by),
            (None, None),
            "{b:?}"
        );

        // Deleting the robot cascades to telemetry and e-stops, and keeps events (SET NULL).
        r.clone().delete(&db).await.expect("delete robot");
        assert!(
            Telemetry::find().all(&db).await.unwrap().is_empty(),
            "{b:?}: CASCADE telemetry"
        );
        assert!(
            EmergencyStops::find().all(&db).await.unwrap().is_empty(),
            "{b:?}: CASCADE e-stops"
        );
        let event_after = SafetyEvents::find_by_id(event.id)
            .one(&db)
            .await
            .unwrap()
            .expect("event kept");
        assert_eq!(event_after.robot_id, None, "{b:?}: SET NULL on robot_id");

        // Deleting a scan cascades to its obstacles.
        scan.delete(&db).await.expect("delete scan");
        assert!(
            LidarObstacles::find().all(&db).await.unwrap().is_empty(),
            "{b:?}: CASCADE obstacles"
        );
    });
}
