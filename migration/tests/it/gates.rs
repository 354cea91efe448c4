//! Safe-window gates (pre-migration checks) and timeout protection on every backend: OHT-50's
//! production gates refuse a run while a robot moves or an emergency stop is unresolved,
//! changing nothing; `--skip-gate` lets it through and is recorded in the history; `doctor`
//! reports each gate; statement and migration time limits stop a slow migration, roll it back
//! where the backend can, release the lock, and record "timed out after N s".

use std::path::Path;
use std::time::Duration;

use crate::support::{chaos_bin, ok, run, run_bin, snapshot, stderr, stdout};
use migration::{Migrator, MigratorTrait};
use migration_engine::bookkeeping::lock::{LockId, MigrationLock};
use migration_engine::config::Environment;
use migration_engine::run::gates::{self, GateStatus};
use migration_engine::run::startup::{StartupMode, ensure_schema};
use migration_engine::{MigrateError, RunOptions, Runner, Target};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr};
use sea_orm_migration::prelude::async_trait;
use sea_orm_migration::{MigrationName, MigrationTrait, SchemaManager};
use test_support::{Backend, TestDb};

/// The chaos migration that sleeps in SQL for `CHAOS_SQL_SLEEP_S` seconds (defined by the example).
const SQL_SLEEP: &str = "m20990101_000003_sql_sleep";
/// The chaos migration that creates `chaos_slow`, then sleeps `CHAOS_SLOW_MS` in Rust.
const SLOW: &str = "m20990101_000000_slow";

async fn exec(db: &TestDb, sql: &str) {
    let conn = db.connect().await;
    conn.execute_unprepared(sql).await.expect(sql);
    let _ = conn.close().await;
}

fn history(dir: &Path, url: &str) -> Vec<serde_json::Value> {
    let o = ok(run(dir, Some(url), &["history", "--format", "json"]));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).expect("history JSON");
    doc["history"].as_array().cloned().unwrap_or_default()
}

fn insert_robot(status: &str) -> String {
    format!(
        "INSERT INTO robots (name, robot_type, status, mode, created_at, updated_at) \
         VALUES ('oht-7', 'OHT-50', '{status}', 'AUTO', '2025-01-28 10:00:00', '2025-01-28 10:00:00')"
    )
}

/// Brings `db` to all-but-the-last migration (so `up` has work to do) on the development
/// environment, where no gate applies.
fn one_pending(dir: &Path, url: &str) {
    ok(run(dir, Some(url), &["up"]));
    ok(run(dir, Some(url), &["down"]));
}

#[tokio::test]
async fn a_moving_robot_blocks_a_production_up_until_its_gate_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    each_backend!("gate_moving", |db| {
        let b = db.backend;
        let url = db.url.as_str();
        one_pending(d, url);
        exec(&db, &insert_robot("MOVING")).await;
        let before = snapshot(&db).await;
        let rows_before = history(d, url).len();

        let o = run(d, Some(url), &["--env", "production", "up"]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{b:?}: {err}");
        assert!(
            err.contains("safe-window gate `no-moving-robots` failed")
                && err.contains("\"status\":\"MOVING\"")
                && err.contains("1 row(s)")
                && err.contains("Nothing was changed")
                && err.contains("--skip-gate"),
            "{b:?}: the error names the gate and what it saw: {err}"
        );
        assert!(
            !err.contains("no-unresolved-emergency-stop"),
            "{b:?}: {err}"
        );
        assert_eq!(
            snapshot(&db).await,
            before,
            "{b:?}: schema and ledger unchanged"
        );
        assert_eq!(history(d, url).len(), rows_before, "{b:?}: no history row");
        assert!(
            !d.join("backups").exists()
                || std::fs::read_dir(d.join("backups"))
                    .unwrap()
                    .next()
                    .is_none(),
            "{b:?}: refused before the backup"
        );
        // Staging has no gate; a DOCKING robot blocks production as well.
        exec(&db, "UPDATE robots SET status = 'DOCKING'").await;
        let o = run(d, Some(url), &["--env", "production", "up", "--no-backup"]);
        assert!(
            o.status.code() == Some(1) && stderr(&o).contains("\"status\":\"DOCKING\""),
            "{b:?}: {}",
            stderr(&o)
        );
        // An unknown gate name is bad input.
        let o = run(
            d,
            Some(url),
            &["--env", "production", "up", "--skip-gate", "no-such-gate"],
        );
        assert_eq!(o.status.code(), Some(2), "{b:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("no-moving-robots"), "{b:?}");
        assert_eq!(snapshot(&db).await, before, "{b:?}");

        // Skipped explicitly: it runs, and every history row of the run says so.
        ok(run(
            d,
            Some(url),
            &[
                "--env",
                "production",
                "up",
                "--no-backup",
                "--skip-gate",
                "no-moving-robots",
            ],
        ));
        let h = history(d, url);
        assert_eq!(h.len(), rows_before + 1, "{b:?}");
        let notes = h[0]["notes"].as_str().unwrap_or_default();
        assert!(
            h[0]["outcome"] == "succeeded"
                && notes.contains("no-moving-robots (it would have failed")
                && notes.contains("DOCKING"),
            "{b:?}: {}",
            h[0]
        );
        assert!(h[1]["notes"].is_null(), "{b:?}: earlier runs have no note");
        let text = stdout(&ok(run(d, Some(url), &["history"])));
        assert!(
            text.contains("note: safe-window gate(s) skipped"),
            "{b:?}: {text}"
        );
    });
}

#[tokio::test]
async fn an_unresolved_emergency_stop_blocks_and_doctor_and_startup_report_the_gates() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    each_backend!("gate_estop", |db| {
        let b = db.backend;
        let url = db.url.as_str();
        one_pending(d, url);
        exec(&db, &insert_robot("IDLE")).await;
        exec(
            &db,
            "INSERT INTO emergency_stops (robot_id, trigger_type, resolved, created_at) \
             SELECT id, 'manual', FALSE, '2025-01-28 10:00:00' FROM robots",
        )
        .await;
        let before = snapshot(&db).await;

        let o = run(d, Some(url), &["--env", "production", "up", "--no-backup"]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{b:?}: {err}");
        assert!(
            err.contains("`no-unresolved-emergency-stop` failed") && err.contains("manual"),
            "{b:?}: {err}"
        );
        assert_eq!(snapshot(&db).await, before, "{b:?}");

        // doctor: one check per gate, with what it saw; a failed gate fails the doctor.
        let o = run(
            d,
            Some(url),
            &["--env", "production", "doctor", "--format", "json"],
        );
        assert_eq!(o.status.code(), Some(1), "{b:?}: {}", stderr(&o));
        let doc: serde_json::Value = serde_json::from_slice(&o.stdout).expect("doctor JSON");
        let check = |name: &str| {
            doc["checks"]
                .as_array()
                .and_then(|c| c.iter().find(|c| c["name"] == name).cloned())
                .unwrap_or_else(|| panic!("{b:?}: no check {name}: {doc}"))
        };
        assert_eq!(check("gate no-moving-robots")["level"], "ok", "{b:?}");
        let estop = check("gate no-unresolved-emergency-stop");
        assert_eq!(estop["level"], "fail", "{b:?}");
        assert!(
            estop["detail"].as_str().unwrap_or("").contains("1 row(s)"),
            "{b:?}: {estop}"
        );
        // In development no gate applies.
        let o = ok(run(d, Some(url), &["doctor"]));
        assert!(
            stdout(&o).contains("safe-window gates: none apply in development"),
            "{b:?}"
        );

        // The library: the start-up helper refuses too, and the API services use says why.
        let conn = db.connect().await;
        let options = RunOptions {
            environment: Environment::Production,
            ..RunOptions::default()
        };
        let refused = ensure_schema::<Migrator>(
            conn.clone(),
            &migration::config(),
            StartupMode::Apply,
            options.clone(),
        )
        .await;
        match refused {
            Err(MigrateError::GateClosed { failures }) => {
                assert_eq!(failures.len(), 1, "{b:?}: {failures:?}");
                assert_eq!(failures[0].gate, "no-unresolved-emergency-stop");
            }
            other => panic!("{b:?}: expected GateClosed, got {other:?}"),
        }
        let results = gates::evaluate(&conn, &migration::config(), Environment::Production).await;
        let statuses: Vec<_> = results
            .iter()
            .map(|r| (r.name.as_str(), r.status))
            .collect();
        assert_eq!(
            statuses,
            [
                ("no-moving-robots", GateStatus::Pass),
                ("no-unresolved-emergency-stop", GateStatus::Fail)
            ],
            "{b:?}"
        );
        assert_eq!(results[1].rows, Some(1));
        assert_eq!(results[1].sample[0]["trigger_type"], "manual", "{b:?}");
        assert!(
            gates::evaluate(&conn, &migration::config(), Environment::Development)
                .await
                .is_empty(),
            "{b:?}: no gate in development"
        );
        assert_eq!(snapshot(&db).await, before, "{b:?}");

        // Resolved: the gate opens.
        exec(&db, "UPDATE emergency_stops SET resolved = TRUE").await;
        let applied = ensure_schema::<Migrator>(
            conn.clone(),
            &migration::config(),
            StartupMode::Apply,
            options,
        )
        .await
        .expect("start-up once the e-stop is resolved");
        assert_eq!(applied.len(), 1, "{b:?}");
        let _ = conn.close().await;
    });
}

#[tokio::test]
async fn a_fresh_database_passes_the_gates_with_a_note() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    each_backend!("gate_fresh", |db| {
        let b = db.backend;
        let conn = db.connect().await;
        let results = gates::evaluate(&conn, &migration::config(), Environment::Production).await;
        assert_eq!(results.len(), 2, "{b:?}");
        for r in &results {
            assert_eq!(r.status, GateStatus::Pass, "{b:?}: {r:?}");
            assert!(r.saw.contains("does not exist yet"), "{b:?}: {}", r.saw);
        }
        let _ = conn.close().await;
        ok(run(d, Some(&db.url), &["--env", "production", "up"]));
        assert_eq!(
            crate::support::applied(d, &db.url).len(),
            Migrator::migrations().len(),
            "{b:?}"
        );
    });
}

fn chaos(dir: &Path, url: &str, args: &[&str], envs: &[(&str, &str)]) -> std::process::Output {
    run_bin(&chaos_bin(), dir, Some(url), args, envs)
}

#[tokio::test]
async fn a_statement_timeout_stops_a_slow_statement_and_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    each_backend!("statement_timeout", |db| {
        let b = db.backend;
        let url = db.url.as_str();
        ok(run(d, Some(url), &["up"]));
        let before = snapshot(&db).await;
        let started = std::time::Instant::now();
        let o = chaos(
            d,
            url,
            &["up", "--statement-timeout", "1s"],
            &[("CHAOS_SQL_SLEEP_S", "60")],
        );
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{b:?}: {err}");
        assert!(
            err.contains(&format!("migration {SQL_SLEEP} failed during up"))
                && err.contains("timed out after 1 s (the statement timeout"),
            "{b:?}: {err}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(50),
            "{b:?}: the statement was stopped, not waited for"
        );
        let h = history(d, url);
        assert_eq!(h[0]["version"], SQL_SLEEP, "{b:?}");
        assert_eq!(h[0]["outcome"], "failed", "{b:?}");
        assert!(
            h[0]["error"]
                .as_str()
                .unwrap_or_default()
                .starts_with("timed out after 1 s (the statement timeout"),
            "{b:?}: {}",
            h[0]
        );
        // The sleep comes before the migration's DDL: nothing changed on any backend.
        assert_eq!(snapshot(&db).await, before, "{b:?}");
        if b == Backend::MySql {
            // Not transactional there: the failed run blocks until reviewed and repaired.
            let o = chaos(d, url, &["up"], &[("CHAOS_SQL_SLEEP_S", "0")]);
            assert_eq!(o.status.code(), Some(1), "{b:?}: {}", stderr(&o));
            ok(chaos(d, url, &["repair"], &[("CHAOS_SQL_SLEEP_S", "0")]));
        }
        // Rolled back and the lock released: the next run applies it.
        ok(chaos(d, url, &["up"], &[("CHAOS_SQL_SLEEP_S", "0")]));
        assert!(
            snapshot(&db).await.0.tables.contains_key("chaos_sleep"),
            "{b:?}"
        );
    });
}

#[tokio::test]
async fn a_migration_time_limit_stops_a_migration_that_runs_too_long() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    each_backend!("migration_timeout", |db| {
        let b = db.backend;
        let url = db.url.as_str();
        ok(run(d, Some(url), &["up"]));
        // The migration's DDL runs, then it sleeps in Rust: only the outer deadline stops it.
        let o = chaos(
            d,
            url,
            &["up", "--migration-timeout", "1s"],
            &[("CHAOS_SLOW_MS", "60000")],
        );
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{b:?}: {err}");
        assert!(
            err.contains("timed out after 1 s (the migration time limit"),
            "{b:?}: {err}"
        );
        let h = history(d, url);
        assert_eq!(h[0]["version"], SLOW, "{b:?}");
        assert!(
            h[0]["outcome"] == "failed"
                && h[0]["error"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("timed out after 1 s"),
            "{b:?}: {}",
            h[0]
        );
        // PostgreSQL and SQLite roll its DDL back; MySQL/MariaDB commit DDL implicitly.
        let has_table = snapshot(&db).await.0.tables.contains_key("chaos_slow");
        assert_eq!(has_table, b == Backend::MySql, "{b:?}");
    });
}

/// A migration that runs one statement taking about `self.0` seconds on every backend.
struct SleepInSql(u64);

impl MigrationName for SleepInSql {
    fn name(&self) -> &str {
        "m20990101_000010_sleep_in_sql"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for SleepInSql {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let n = self.0;
        // An update first, so a rollback has something to undo.
        db.execute_unprepared("UPDATE robots SET status = 'MAINTENANCE'")
            .await?;
        let sql = match db.get_database_backend() {
            sea_orm::DbBackend::Postgres => format!("SELECT pg_sleep({n})"),
            sea_orm::DbBackend::MySql => format!("SELECT SLEEP({n})"),
            _ => format!(
                "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {}) \
                 SELECT count(*) FROM c",
                n * 3_000_000
            ),
        };
        db.execute_unprepared(&sql).await.map(|_| ())
    }
    async fn down(&self, _: &SchemaManager) -> Result<(), DbErr> {
        Ok(())
    }
}

async fn robot_status(conn: &DatabaseConnection) -> String {
    let row = conn
        .query_one_raw(sea_orm::Statement::from_string(
            conn.get_database_backend(),
            "SELECT status FROM robots",
        ))
        .await
        .expect("read robots")
        .expect("a robot");
    row.try_get_by_index::<String>(0).expect("status")
}

#[tokio::test]
async fn a_timed_out_migration_is_rolled_back_in_process_and_the_lock_is_free_again() {
    each_backend!("timeout_lock", |db| {
        let b = db.backend;
        let conn = migration_engine::connect(
            &migration_engine::DatabaseUrl::parse(&db.url).expect("url"),
            &migration_engine::ConnectSettings::default(),
        )
        .await
        .expect("connect");
        Runner::with_config(conn.clone(), Migrator::migrations(), migration::config())
            .up(&Target::All)
            .await
            .expect("up");
        exec(&db, &insert_robot("IDLE")).await;
        let mut migrations = Migrator::migrations();
        migrations.push(Box::new(SleepInSql(60)));
        let runner = Runner::with_config(conn.clone(), migrations, migration::config())
            .with_options(RunOptions {
                statement_timeout: Some(Duration::from_millis(1500)),
                ..RunOptions::default()
            });
        let err = runner.up(&Target::All).await.expect_err("timed out");
        let text = err.to_string();
        assert!(text.contains("timed out after 1.5 s"), "{b:?}: {text}");
        // Same connection, same process: the lock is free and the update is gone (MySQL runs
        // migrations outside a transaction, so there the update stays).
        let lock = MigrationLock::acquire(
            &conn,
            &LockId::of(&migration::config()),
            Duration::from_secs(2),
            &|_| {},
        )
        .await
        .expect("the lock is free after the timeout");
        lock.release(&conn).await.expect("release");
        let status = robot_status(&conn).await;
        let expected = if b == Backend::MySql {
            "MAINTENANCE"
        } else {
            "IDLE"
        };
        assert_eq!(status, expected, "{b:?}");
        let applied =
            Runner::with_config(conn.clone(), Migrator::migrations(), migration::config())
                .status()
                .await
                .expect("status");
        assert!(
            applied
                .iter()
                .all(|s| s.version != "m20990101_000010_sleep_in_sql"),
            "{b:?}"
        );
        let _ = conn.close().await;
    });
}

#[tokio::test]
async fn a_history_table_without_notes_is_read_and_then_upgraded_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    each_backend!("history_upgrade", |db| {
        let b = db.backend;
        let url = db.url.as_str();
        one_pending(d, url);
        // As an older version of the tool created it.
        exec(&db, "ALTER TABLE oht50_migration_history DROP COLUMN notes").await;
        let has_notes = |s: &migration_engine::schema::Schema| {
            s.tables["oht50_migration_history"]
                .column("notes")
                .is_some()
        };
        assert!(!has_notes(&snapshot(&db).await.0), "{b:?}");
        // Reading commands work on it and change nothing.
        let rows = history(d, url);
        assert!(!rows.is_empty() && rows[0]["notes"].is_null(), "{b:?}");
        ok(run(d, Some(url), &["status"]));
        assert!(
            !has_notes(&snapshot(&db).await.0),
            "{b:?}: reads do not upgrade"
        );
        // The next run adds the column under its lock and records into it.
        exec(&db, &insert_robot("MOVING")).await;
        ok(run(
            d,
            Some(url),
            &[
                "--env",
                "production",
                "up",
                "--no-backup",
                "--skip-gate",
                "no-moving-robots",
            ],
        ));
        assert!(has_notes(&snapshot(&db).await.0), "{b:?}: upgraded");
        let rows = history(d, url);
        assert!(
            rows[0]["notes"]
                .as_str()
                .unwrap_or_default()
                .contains("no-moving-robots"),
            "{b:?}: {}",
            rows[0]
        );
    });
}

/// A SQLite migration whose one slow statement is an UPDATE.
struct SlowUpdate;

impl MigrationName for SlowUpdate {
    fn name(&self) -> &str {
        "m20990101_000011_slow_update"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for SlowUpdate {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(
                "UPDATE robots SET battery_level = (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL \
                 SELECT x + 1 FROM c WHERE x < 300000000) SELECT count(*) FROM c)",
            )
            .await
            .map(|_| ())
    }
    async fn down(&self, _: &SchemaManager) -> Result<(), DbErr> {
        Ok(())
    }
}

/// SQLite rolls the whole transaction back when it interrupts an INSERT, UPDATE or DELETE: the
/// run's earlier migrations go with it, the ledger agrees, and the error says so.
#[tokio::test]
async fn on_sqlite_an_interrupted_update_undoes_the_whole_run_and_says_so() {
    let Some(db) = TestDb::create(Backend::Sqlite, "timeout_update").await else {
        return;
    };
    let conn = migration_engine::connect(
        &migration_engine::DatabaseUrl::parse(&db.url).expect("url"),
        &migration_engine::ConnectSettings::default(),
    )
    .await
    .expect("connect");
    let mut earlier = Migrator::migrations();
    let last = earlier.pop().expect("a migration").name().to_string();
    Runner::with_config(conn.clone(), earlier, migration::config())
        .up(&Target::All)
        .await
        .expect("up to the last one");
    exec(&db, &insert_robot("IDLE")).await;
    let before = snapshot(&db).await;
    let mut migrations = Migrator::migrations();
    migrations.push(Box::new(SlowUpdate));
    let runner = Runner::with_config(conn.clone(), migrations, migration::config()).with_options(
        RunOptions {
            statement_timeout: Some(Duration::from_secs(1)),
            ..RunOptions::default()
        },
    );
    let err = runner
        .up(&Target::All)
        .await
        .expect_err("timed out")
        .to_string();
    assert!(
        err.contains("timed out after 1 s")
            && err.contains("SQLite rolled back the run's whole transaction"),
        "{err}"
    );
    assert_eq!(snapshot(&db).await, before, "{last} was undone with it");
    let h = runner.history(Some(1)).await.expect("history");
    assert_eq!(h[0].version, "m20990101_000011_slow_update");
    assert!(
        h[0].error
            .as_deref()
            .unwrap_or("")
            .contains("timed out after 1 s"),
        "{:?}",
        h[0]
    );
    let lock = MigrationLock::acquire(
        &conn,
        &LockId::of(&migration::config()),
        Duration::from_secs(2),
        &|_| {},
    )
    .await
    .expect("the lock is free");
    lock.release(&conn).await.expect("release");
    let _ = conn.close().await;
}
