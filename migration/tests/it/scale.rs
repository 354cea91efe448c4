//! Data migrations at scale and online schema changes, on every backend: the batched telemetry
//! backfill (gaps in ids, NULLs in every pattern, kill half-way and rerun), its no-op down, and
//! the online index (INVALID index cleanup, lock timeout and retries, a second runner waiting
//! while the concurrent build holds the lock).

use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::{Watched, command, name_ending, names, ok, position, run_bin, stderr, stdout};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use test_support::{Backend, TestDb, exec, i64s, wait_for_async};

/// The last schema migration before the backfill.
fn spec3() -> String {
    name_ending("_safety_system")
}

/// The batched telemetry backfill.
fn backfill() -> String {
    name_ending("_telemetry_backfill")
}

/// The online index.
fn index() -> String {
    name_ending("_idx_telemetry_timestamp")
}

/// Telemetry ids: runs with gaps between them, and one far away.
fn ids(n: usize) -> Vec<i64> {
    let mut out = Vec::with_capacity(n);
    let mut id = 1;
    while out.len() + 1 < n {
        out.push(id);
        id += if out.len() % 37 == 0 {
            1_000
        } else {
            1 + (out.len() % 3) as i64
        };
    }
    out.push(id + 5_000_000);
    out
}

/// Inserts one robot and telemetry rows with `ids`; row `i` has the NULL pattern `i % 16` over
/// (position_x, position_y, position_z, orientation), other values distinctive.
async fn insert_telemetry(db: &DatabaseConnection, ids: &[i64]) {
    exec(
        db,
        "INSERT INTO robots (id, name, robot_type, status, mode, created_at, updated_at) \
         VALUES (1, 'r1', 'oht', 'idle', 'auto', '2025-01-01 00:00:00', '2025-01-01 00:00:00')",
    )
    .await;
    for chunk in ids.chunks(200) {
        let rows: Vec<String> = chunk
            .iter()
            .map(|&id| {
                let mask = id % 16;
                let v = |bit: i64, x: f64| {
                    if mask & bit != 0 {
                        "NULL".to_string()
                    } else {
                        format!("{x}")
                    }
                };
                format!(
                    "({id}, 1, '2025-01-01 00:00:00', {}, {}, {}, {})",
                    v(1, id as f64 + 0.5),
                    v(2, id as f64 + 0.25),
                    v(4, -(id as f64)),
                    v(8, 1.5)
                )
            })
            .collect();
        exec(
            db,
            &format!(
                "INSERT INTO telemetry (id, robot_id, timestamp, position_x, position_y, position_z, orientation) VALUES {}",
                rows.join(", ")
            ),
        )
        .await;
    }
}

/// The expected end state, computed in SQL before the backfill (values scaled to integers).
const EXPECTED: &str = "SELECT id, CAST(COALESCE(position_x, 0) * 4 AS SIGNED), CAST(COALESCE(position_y, 0) * 4 AS SIGNED), \
     CAST(COALESCE(position_z, 0) * 4 AS SIGNED), CAST(COALESCE(orientation, 0) * 4 AS SIGNED) FROM telemetry ORDER BY id";
const STATE: &str = "SELECT id, CAST(position_x * 4 AS SIGNED), CAST(position_y * 4 AS SIGNED), \
     CAST(position_z * 4 AS SIGNED), CAST(orientation * 4 AS SIGNED) FROM telemetry ORDER BY id";

fn sql_for(b: Backend, sql: &str) -> String {
    match b {
        Backend::MySql => sql.to_string(),
        _ => sql.replace("AS SIGNED", "AS BIGINT"),
    }
}

async fn null_rows(db: &DatabaseConnection) -> i64 {
    i64s(
        db,
        "SELECT COUNT(*) FROM telemetry WHERE position_x IS NULL OR position_y IS NULL \
         OR position_z IS NULL OR orientation IS NULL",
    )
    .await[0][0]
}

/// How many key-range batches of `size` keys cover `ids`.
fn expected_batches(ids: &[i64], size: i64) -> usize {
    let (mut n, mut after) = (0, ids[0] - 1);
    while let Some(&first) = ids.iter().find(|&&id| id > after) {
        n += 1;
        after = first + size - 1;
    }
    n
}

/// (batch, after_key, last_key, rows_changed) of the backfill, in batch order.
async fn batches(db: &DatabaseConnection) -> Vec<Vec<i64>> {
    i64s(
        db,
        &format!(
            "SELECT batch, after_key, last_key, rows_changed FROM oht50_migration_batches \
             WHERE migration = '{}' ORDER BY batch",
            backfill()
        ),
    )
    .await
}

/// Every batch once: numbered 1..n, key ranges adjacent and covering every id; each starts at
/// the next existing id and spans `size` keys; changed rows add up to `nulls`.
fn assert_each_batch_once(b: Backend, got: &[Vec<i64>], ids: &[i64], size: usize, nulls: i64) {
    // The batches the key-range walk must produce.
    let mut want = Vec::new();
    let mut after = ids[0] - 1;
    while let Some(&first) = ids.iter().find(|&&id| id > after) {
        let last = first + size as i64 - 1;
        want.push((after, last));
        after = last;
    }
    assert_eq!(got.len(), want.len(), "{b:?}: {got:?}");
    for (i, (row, (after, last))) in got.iter().zip(&want).enumerate() {
        assert_eq!(row[0], i as i64 + 1, "{b:?}: batch numbers");
        assert_eq!(
            (row[1], row[2]),
            (*after, *last),
            "{b:?}: key range of batch {}",
            i + 1
        );
        if i > 0 {
            assert_eq!(
                row[1],
                got[i - 1][2],
                "{b:?}: batch {} starts where the last ended",
                i + 1
            );
        }
    }
    assert!(
        ids.iter()
            .all(|id| got.iter().any(|r| r[1] < *id && *id <= r[2])),
        "{b:?}: every id is in exactly one batch's range"
    );
    assert_eq!(
        got.iter().map(|r| r[3]).sum::<i64>(),
        nulls,
        "{b:?}: rows changed"
    );
}

#[tokio::test]
async fn backfill_fills_every_null_pattern_in_batches_and_down_is_a_no_op() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (spec3, backfill) = (spec3(), backfill());
    // The backfill and every migration after it (the index), reverted by one `down -n`.
    let from_backfill = (names().len() - position(&backfill)).to_string();
    each_backend!("backfill", |db| {
        let b = db.backend;
        let url = db.url.as_str();
        ok(mig(d, url, &["up", "--to", &spec3]));
        let conn = db.connect().await;
        let ids = ids(1_000);
        insert_telemetry(&conn, &ids).await;
        let nulls = null_rows(&conn).await;
        assert!(nulls > 800, "{b:?}: 15 of 16 patterns have a NULL");
        let expected = i64s(&conn, &sql_for(b, EXPECTED)).await;
        let o = ok(mig(
            d,
            url,
            &["up", "--batch-size", "64", "--progress", "lines"],
        ));
        let err = stderr(&o);
        assert!(
            err.contains(&format!(
                "{backfill}: {} batch(es), {nulls} row(s) changed over",
                expected_batches(&ids, 64)
            )),
            "{b:?}: {err}"
        );
        assert_eq!(i64s(&conn, &sql_for(b, STATE)).await, expected, "{b:?}");
        assert_eq!(null_rows(&conn).await, 0);
        assert_each_batch_once(b, &batches(&conn).await, &ids, 64, nulls);
        // The history row of the backfill keeps what it did, longest batch included.
        let o = ok(mig(d, url, &["history", "--format", "json"]));
        let doc: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("history JSON");
        let row = doc["history"]
            .as_array()
            .and_then(|rows| rows.iter().find(|r| r["version"] == backfill.as_str()))
            .cloned()
            .unwrap_or_default();
        let notes = row["notes"].as_str().unwrap_or_default();
        assert!(
            notes.contains(&format!(
                "{backfill}: {} batch(es), {nulls} row(s) changed over",
                expected_batches(&ids, 64)
            )) && notes.contains("longest batch "),
            "{b:?}: {row}"
        );

        // down of the index and the backfill: data stays, recorded batches go.
        let o = ok(mig(d, url, &["down", "-n", &from_backfill]));
        assert!(
            stderr(&o).contains("down leaves the data as it is"),
            "{b:?}: {}",
            stderr(&o)
        );
        assert_eq!(i64s(&conn, &sql_for(b, STATE)).await, expected, "{b:?}");
        assert!(batches(&conn).await.is_empty(), "{b:?}");
        // up again: every batch runs again and changes nothing.
        ok(mig(d, url, &["up", "--batch-size", "500"]));
        let again = batches(&conn).await;
        assert_eq!(again.len(), expected_batches(&ids, 500), "{b:?}");
        assert_eq!(again.iter().map(|r| r[3]).sum::<i64>(), 0, "{b:?}");
        let _ = conn.close().await;
    });
}

#[tokio::test]
async fn backfill_killed_half_way_resumes_and_applies_each_batch_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (spec3, backfill) = (spec3(), backfill());
    each_backend!("backfill_kill", |db| {
        let b = db.backend;
        let url = db.url.as_str();
        ok(mig(d, url, &["up", "--to", &spec3]));
        let conn = db.connect().await;
        let ids = ids(3_000);
        insert_telemetry(&conn, &ids).await;
        let nulls = null_rows(&conn).await;
        let expected = i64s(&conn, &sql_for(b, EXPECTED)).await;
        // `--batch-pause-ms` throttles the backfill (the behaviour under test), so that it is
        // still running when it is killed.
        let mut child = Watched::spawn(command(
            Path::new(crate::support::BIN),
            d,
            Some(url),
            &[
                "up",
                "--batch-size",
                "50",
                "--batch-pause-ms",
                "100",
                "--no-backup",
            ],
            &[],
        ));
        let committed = if b == Backend::Sqlite {
            // The run is one transaction: its batches are invisible until it ends. The backfill
            // has started, and written, once its rollback journal has pages in it.
            let mut journal = db.sqlite_path().expect("sqlite path").into_os_string();
            journal.push("-journal");
            let child = &child;
            let (backfill, journal) = (&backfill, &journal);
            wait_for_async(
                &format!("{b:?}: the backfill to start writing"),
                Duration::from_secs(30),
                move || async move {
                    (child
                        .stderr_so_far()
                        .contains(&format!("Applying {backfill}"))
                        && std::fs::metadata(journal).is_ok_and(|m| m.len() > 0))
                    .then_some(0)
                },
            )
            .await
        } else {
            let conn = &conn;
            let sql =
                format!("SELECT batch FROM oht50_migration_batches WHERE migration = '{backfill}'");
            let sql = &sql;
            wait_for_async(
                &format!("{b:?}: five committed batches"),
                Duration::from_secs(30),
                move || async move {
                    let probe = conn
                        .query_all_raw(Statement::from_string(
                            conn.get_database_backend(),
                            sql.clone(),
                        ))
                        .await;
                    probe.map(|r| r.len()).ok().filter(|&n| n >= 5)
                },
            )
            .await
        };
        assert!(child.running(), "{b:?}: killed half-way, not after the end");
        child.kill();
        let _ = child.wait_with_output();
        let after_kill = if b == Backend::Sqlite {
            0
        } else {
            batches(&conn).await.len()
        };
        assert!(
            after_kill >= committed && after_kill < 60,
            "{b:?}: killed half-way ({after_kill})"
        );
        if b != Backend::Sqlite {
            assert!(
                null_rows(&conn).await < nulls,
                "{b:?}: the committed batches stay"
            );
        }
        // Rerun without repair: it resumes.
        let o = ok(mig(d, url, &["up", "--batch-size", "50"]));
        if after_kill > 0 {
            assert!(
                stderr(&o).contains(&format!("resuming after batch {after_kill}")),
                "{b:?}: {}",
                stderr(&o)
            );
        }
        assert_eq!(i64s(&conn, &sql_for(b, STATE)).await, expected, "{b:?}");
        assert_each_batch_once(b, &batches(&conn).await, &ids, 50, nulls);
        let applied = crate::support::applied(d, url);
        assert_eq!(applied, names(), "{b:?}");
        let _ = conn.close().await;
    });
}

/// PostgreSQL: a concurrent build that fails leaves an INVALID index; the migration drops it
/// and builds it again. A table lock held elsewhere makes it time out and retry, then fail
/// naming the table; the next run succeeds without `repair`.
#[tokio::test]
async fn online_index_cleans_up_invalid_index_and_retries_busy_table() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let Some(db) = TestDb::create(Backend::Postgres, "online_pg").await else {
        return;
    };
    let url = db.url.as_str();
    ok(mig(d, url, &["up", "--to", &backfill()]));
    let conn = db.connect().await;
    insert_telemetry(&conn, &ids(200)).await;
    // A unique concurrent build fails on the duplicate timestamps and leaves an INVALID index.
    let e = conn
        .execute_unprepared(
            "CREATE UNIQUE INDEX CONCURRENTLY idx_telemetry_timestamp ON telemetry (timestamp)",
        )
        .await;
    assert!(e.is_err());
    let invalid = "SELECT COUNT(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
                   WHERE c.relname = 'idx_telemetry_timestamp' AND NOT i.indisvalid";
    assert_eq!(i64s(&conn, invalid).await[0][0], 1);

    // Busy table: another session holds a lock that conflicts with the build.
    let holder = migration_engine::connect(
        &migration_engine::DatabaseUrl::parse(url).unwrap(),
        &migration_engine::ConnectSettings::default(),
    )
    .await
    .unwrap();
    exec(&holder, "BEGIN").await;
    exec(
        &holder,
        "LOCK TABLE telemetry IN SHARE UPDATE EXCLUSIVE MODE",
    )
    .await;
    let started = Instant::now();
    let o = mig(
        d,
        url,
        &["up", "--ddl-lock-timeout-ms", "200", "--ddl-retries", "2"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("table telemetry is busy")
            && err.contains("in 3 attempt(s)")
            && err.contains("--ddl-lock-timeout-ms")
            && err.contains("safe to run again"),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(20));
    exec(&holder, "COMMIT").await;
    let _ = holder.close().await;

    // The next run needs no repair: it drops the INVALID index and builds it.
    let o = ok(mig(d, url, &["up"]));
    assert!(stderr(&o).contains("INVALID"), "{}", stderr(&o));
    assert_eq!(i64s(&conn, invalid).await[0][0], 0);
    let valid = "SELECT COUNT(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
                 WHERE c.relname = 'idx_telemetry_timestamp' AND i.indisvalid";
    assert_eq!(i64s(&conn, valid).await[0][0], 1);
    // Down drops it concurrently (with the later migrations); up builds it again.
    ok(mig(d, url, &["down", "--to", &backfill()]));
    assert_eq!(i64s(&conn, valid).await[0][0], 0);
    ok(mig(d, url, &["up"]));
    assert_eq!(i64s(&conn, valid).await[0][0], 1);
    let _ = conn.close().await;
}

/// While the concurrent build waits for an open transaction, with the migration lock held, a
/// second runner waits for the lock; neither deadlocks, and the index ends up built once.
#[tokio::test]
async fn concurrent_build_under_the_lock_does_not_deadlock_a_waiting_runner() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let index = index();
    each_backend!("online_wait", |db| {
        let b = db.backend;
        let url = db.url.as_str();
        ok(mig(d, url, &["up", "--to", &backfill()]));
        let conn = db.connect().await;
        insert_telemetry(&conn, &ids(500)).await;
        // An open write transaction the build must wait for (PostgreSQL, MySQL).
        let writer = migration_engine::connect(
            &migration_engine::DatabaseUrl::parse(url).unwrap(),
            &migration_engine::ConnectSettings::default(),
        )
        .await
        .unwrap();
        if b != Backend::Sqlite {
            let begin = if b == Backend::MySql {
                "START TRANSACTION"
            } else {
                "BEGIN"
            };
            exec(&writer, begin).await;
            exec(&writer, "UPDATE telemetry SET speed = 1 WHERE id = 1").await;
        }
        let spawn = || {
            Watched::spawn(command(
                Path::new(crate::support::BIN),
                d,
                Some(url),
                &["up", "--ddl-lock-timeout-ms", "20000", "--no-backup"],
                &[],
            ))
        };
        let first = spawn();
        // The first runner takes the lock and builds the index, which waits for the open
        // transaction (SQLite has none: the build just runs).
        {
            let (first, index, conn) = (&first, &index, &conn);
            let pid = first.id();
            wait_for_async(
                &format!("{b:?}: the first runner's index build to wait for the transaction"),
                Duration::from_secs(30),
                move || async move {
                    if !first.stderr_so_far().contains(&format!("Applying {index}")) {
                        return None;
                    }
                    let waiting = match b {
                        Backend::Sqlite => return Some(()),
                        Backend::Postgres => format!(
                            "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() \
                             AND application_name LIKE 'migration-engine % pid {pid} %' \
                             AND query LIKE 'CREATE INDEX CONCURRENTLY%' AND wait_event_type = 'Lock'"
                        ),
                        Backend::MySql => "SELECT COUNT(*) FROM information_schema.PROCESSLIST \
                             WHERE DB = DATABASE() AND INFO LIKE 'CREATE INDEX%' \
                             AND STATE LIKE '%metadata lock%'"
                            .to_string(),
                    };
                    (i64s(conn, &waiting).await[0][0] == 1).then_some(())
                },
            )
            .await;
        }
        let second = spawn();
        if b != Backend::Sqlite {
            // The second runner waits for the migration lock the first one holds.
            let second = &second;
            wait_for_async(
                &format!("{b:?}: the second runner to wait for the migration lock"),
                Duration::from_secs(30),
                move || async move {
                    second
                        .stderr_so_far()
                        .contains("Waiting for the migration lock")
                        .then_some(())
                },
            )
            .await;
        }
        if b != Backend::Sqlite {
            if b == Backend::Postgres {
                // Writes keep going on the table while the concurrent build waits. (MySQL
                // queues them behind the build's pending metadata lock, for at most the DDL
                // lock timeout.)
                let t = Instant::now();
                exec(
                    &conn,
                    "INSERT INTO telemetry (id, robot_id, timestamp) VALUES (99999999, 1, '2025-02-01 00:00:00')",
                )
                .await;
                assert!(
                    t.elapsed() < Duration::from_secs(1),
                    "{b:?}: insert blocked"
                );
            }
            exec(&writer, "COMMIT").await;
        }
        let (a, bb) = (first.wait_with_output(), second.wait_with_output());
        let a = ok(a);
        let bb = ok(bb);
        let applied_by: usize = [&a, &bb]
            .iter()
            .filter(|o| stderr(o).contains(&format!("Applied {index}")))
            .count();
        assert_eq!(applied_by, 1, "{b:?}: {} / {}", stderr(&a), stderr(&bb));
        let has = migration_engine::author::online::index_state(&conn, "idx_telemetry_timestamp")
            .await
            .unwrap();
        assert_eq!(
            has,
            migration_engine::author::online::IndexState::Valid,
            "{b:?}"
        );
        let _ = writer.close().await;
        let _ = conn.close().await;
    });
}

/// `migration ARGS --no-backup` (backups are tested elsewhere and slow these tests down).
fn mig(dir: &Path, url: &str, args: &[&str]) -> std::process::Output {
    let mut all = args.to_vec();
    all.push("--no-backup");
    run_bin(Path::new(crate::support::BIN), dir, Some(url), &all, &[])
}
