//! `oht50-db retention` on every backend: dry run, production guard, batched deletes of old
//! telemetry, LiDAR scans with their obstacles and safety events, and a run killed half-way
//! that converges on rerun.

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use test_support::{TestDb, exec, wait_for_async};

const BIN: &str = env!("CARGO_BIN_EXE_oht50-db");
const OLD: &str = "2020-01-01 00:00:00";
const NEW: &str = "2099-01-01 00:00:00";

fn oht50(dir: &std::path::Path, url: &str, args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.current_dir(dir)
        .args(args)
        .env("DATABASE_URL", url)
        .env_remove("OHT50_ENV")
        .env("OHT50_BACKUP_DIR", dir.join("backups"));
    c
}

fn out(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn ok(o: Output) -> String {
    assert!(o.status.success(), "{}", out(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

async fn ids(db: &DatabaseConnection, sql: &str) -> Vec<i64> {
    db.query_all_raw(Statement::from_string(
        db.get_database_backend(),
        sql.to_string(),
    ))
    .await
    .unwrap_or_else(|e| panic!("{sql}: {e}"))
    .iter()
    .map(|r| {
        r.try_get_by_index::<i64>(0)
            .or_else(|_| r.try_get_by_index::<i32>(0).map(i64::from))
            .expect("id")
    })
    .collect()
}

async fn count(db: &DatabaseConnection, table: &str) -> i64 {
    let sql = format!("SELECT COUNT(*) FROM {table}");
    match db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
    {
        Ok(Some(r)) => r.try_get_by_index::<i64>(0).unwrap_or(-1),
        _ => -1,
    }
}

/// The migrated schema with old rows (2020) interleaved with recent ones (2099), gaps in ids.
async fn populate(dir: &std::path::Path, db: &TestDb, telemetry: i64) -> DatabaseConnection {
    ok(oht50(dir, &db.url, &["migrate", "up", "--no-backup"])
        .output()
        .unwrap());
    let conn = db.connect().await;
    exec(
        &conn,
        &format!(
            "INSERT INTO robots (id, name, robot_type, status, mode, created_at, updated_at) \
             VALUES (1, 'r1', 'oht', 'idle', 'auto', '{NEW}', '{NEW}')"
        ),
    )
    .await;
    let ts = |old: bool| if old { OLD } else { NEW };
    let rows: Vec<String> = (1..=telemetry)
        .map(|i| format!("({}, 1, '{}')", i * 3, ts(i % 3 != 0)))
        .collect();
    for chunk in rows.chunks(500) {
        exec(
            &conn,
            &format!(
                "INSERT INTO telemetry (id, robot_id, timestamp) VALUES {}",
                chunk.join(", ")
            ),
        )
        .await;
    }
    let scans: Vec<String> = (1..=120)
        .map(|i| format!("({i}, '{}')", ts(i % 2 == 0)))
        .collect();
    exec(
        &conn,
        &format!(
            "INSERT INTO lidar_scans (id, timestamp) VALUES {}",
            scans.join(", ")
        ),
    )
    .await;
    let obstacles: Vec<String> = (1..=120)
        .flat_map(|i| {
            [0, 1].map(move |k| format!("({}, {i}, 'o{k}', 1.0, 2.0, '{NEW}')", i * 2 + k))
        })
        .collect();
    exec(
        &conn,
        &format!(
            "INSERT INTO lidar_obstacles (id, scan_id, obstacle_id, position_x, position_y, detected_at) VALUES {}",
            obstacles.join(", ")
        ),
    )
    .await;
    let events: Vec<String> = (1..=80)
        .map(|i| format!("({i}, 'stop', 'high', '{}')", ts(i % 4 != 0)))
        .collect();
    exec(
        &conn,
        &format!(
            "INSERT INTO safety_events (id, event_type, severity, created_at) VALUES {}",
            events.join(", ")
        ),
    )
    .await;
    conn
}

#[tokio::test]
async fn retention_deletes_old_rows_in_batches_on_every_backend() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    each_backend!("retention", |db| {
        let b = db.backend;
        let conn = populate(d, &db, 900).await;
        let keep_t = ids(
            &conn,
            &format!("SELECT id FROM telemetry WHERE timestamp > '{OLD}' ORDER BY id"),
        )
        .await;
        let keep_s = ids(
            &conn,
            &format!("SELECT id FROM lidar_scans WHERE timestamp > '{OLD}' ORDER BY id"),
        )
        .await;
        let keep_o = ids(
            &conn,
            &format!(
                "SELECT o.id FROM lidar_obstacles o JOIN lidar_scans s ON s.id = o.scan_id \
                 WHERE s.timestamp > '{OLD}' ORDER BY o.id"
            ),
        )
        .await;
        let keep_e = ids(
            &conn,
            &format!("SELECT id FROM safety_events WHERE created_at > '{OLD}' ORDER BY id"),
        )
        .await;

        let text = ok(oht50(
            d,
            &db.url,
            &["retention", "--older-than", "30d", "--dry-run"],
        )
        .output()
        .unwrap());
        assert!(
            text.contains("telemetry: would delete 600 row(s)"),
            "{b:?}: {text}"
        );
        assert!(
            text.contains("lidar_scans: would delete 60 row(s) and 120 obstacle(s)"),
            "{b:?}: {text}"
        );
        assert!(
            text.contains("safety_events: would delete 60 row(s)"),
            "{b:?}: {text}"
        );
        assert_eq!(
            count(&conn, "telemetry").await,
            900,
            "{b:?}: dry run deletes nothing"
        );

        let o = oht50(
            d,
            &db.url,
            &["retention", "--older-than", "30d", "--env", "production"],
        )
        .output()
        .unwrap();
        assert_eq!(o.status.code(), Some(2), "{}", out(&o));
        assert!(out(&o).contains("--yes"), "{}", out(&o));
        assert_eq!(count(&conn, "telemetry").await, 900);
        let o = oht50(d, &db.url, &["retention", "--older-than", "soon"])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{}", out(&o));

        let text = ok(oht50(
            d,
            &db.url,
            &[
                "retention",
                "--older-than",
                "30d",
                "--batch-size",
                "128",
                "--env",
                "production",
                "--yes",
            ],
        )
        .output()
        .unwrap());
        assert!(
            text.contains("telemetry: deleted 600 row(s)") && text.contains("in 5 batch(es)"),
            "{b:?}: {text}"
        );
        assert!(
            text.contains("lidar_scans: deleted 60 row(s) and 120 obstacle(s)"),
            "{b:?}: {text}"
        );
        assert_eq!(
            ids(&conn, "SELECT id FROM telemetry ORDER BY id").await,
            keep_t,
            "{b:?}"
        );
        assert_eq!(
            ids(&conn, "SELECT id FROM lidar_scans ORDER BY id").await,
            keep_s,
            "{b:?}"
        );
        assert_eq!(
            ids(&conn, "SELECT id FROM lidar_obstacles ORDER BY id").await,
            keep_o,
            "{b:?}"
        );
        assert_eq!(
            ids(&conn, "SELECT id FROM safety_events ORDER BY id").await,
            keep_e,
            "{b:?}"
        );
        // Nothing left to do.
        let text = ok(oht50(
            d,
            &db.url,
            &["retention", "--older-than", "30d", "--table", "telemetry"],
        )
        .output()
        .unwrap());
        assert!(
            text.contains("telemetry: deleted 0 row(s)") && !text.contains("lidar"),
            "{b:?}: {text}"
        );
        let _ = conn.close().await;
    });
}

#[tokio::test]
async fn retention_killed_half_way_converges_on_rerun() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    each_backend!("retention_kill", |db| {
        let b = db.backend;
        let conn = populate(d, &db, 1_500).await;
        let keep = ids(
            &conn,
            &format!("SELECT id FROM telemetry WHERE timestamp > '{OLD}' ORDER BY id"),
        )
        .await;
        // `--batch-pause-ms` throttles the deletes (a behaviour of the tool), so that the run
        // is still going when it is killed; it is not synchronisation.
        let mut child = oht50(
            d,
            &db.url,
            &[
                "retention",
                "--older-than",
                "30d",
                "--table",
                "telemetry",
                "--batch-size",
                "20",
                "--batch-pause-ms",
                "100",
            ],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
        // Wait until at least five batches are deleted (and committed).
        let conn_ref = &conn;
        wait_for_async(
            &format!("{b:?}: five batches deleted"),
            Duration::from_secs(30),
            move || async move {
                let left = count(conn_ref, "telemetry").await;
                (0..=1_500 - 100).contains(&left).then_some(())
            },
        )
        .await;
        assert!(
            child.try_wait().expect("try_wait").is_none(),
            "{b:?}: killed half-way, not after the end"
        );
        child.kill().expect("SIGKILL");
        let _ = child.wait();
        let left = count(&conn, "telemetry").await;
        assert!(
            left > keep.len() as i64,
            "{b:?}: killed half-way ({left} left)"
        );
        assert_eq!(left % 20, 0, "{b:?}: whole batches only ({left} left)");
        let text = ok(oht50(
            d,
            &db.url,
            &["retention", "--older-than", "30d", "--table", "telemetry"],
        )
        .output()
        .unwrap());
        let rest = left - keep.len() as i64;
        assert!(
            text.contains(&format!("telemetry: deleted {rest} row(s)")),
            "{b:?}: {text}"
        );
        assert_eq!(
            ids(&conn, "SELECT id FROM telemetry ORDER BY id").await,
            keep,
            "{b:?}"
        );
        let _ = conn.close().await;
    });
}
