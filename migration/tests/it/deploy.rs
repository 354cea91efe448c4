//! Safe deploys on every backend: history and checksums, concurrent runners, failures and
//! SIGKILL half-way, backups and restore, doctor, readiness checks, production guards, the
//! JSON event log and the start-up helper.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::{
    Watched, applied, chaos_bin, command, count as migrations, name_ending, names, ok, run,
    run_bin, snapshot, stderr, stdout,
};
use migration::Migrator;
use migration_engine::run::startup::{StartupMode, ensure_schema};
use migration_engine::{MigrateError, RunOptions};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use test_support::{Backend, TestDb, wait_for_async};

/// The chaos migration that sleeps `CHAOS_SLOW_MS` after its DDL (defined by the example).
const SLOW: &str = "m20990101_000000_slow";

fn chaos(dir: &Path, url: &str, args: &[&str], envs: &[(&str, &str)]) -> std::process::Output {
    run_bin(&chaos_bin(), dir, Some(url), args, envs)
}

async fn count(db: &DatabaseConnection, sql: &str) -> i64 {
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            sql.to_string(),
        ))
        .await
        .expect("count query")
        .expect("a row");
    row.try_get_by_index::<i64>(0).expect("count")
}

/// A one-connection handle, as the lock needs (the tool's own `connect`).
async fn single(db: &TestDb) -> DatabaseConnection {
    let url = migration_engine::DatabaseUrl::parse(&db.url).expect("url");
    migration_engine::connect(&url, &migration_engine::ConnectSettings::default())
        .await
        .expect("connect")
}

async fn has_table(db: &TestDb, table: &str) -> bool {
    snapshot(db).await.0.tables.contains_key(table)
}

fn history(dir: &Path, url: &str) -> Vec<serde_json::Value> {
    let o = ok(run(dir, Some(url), &["history", "--format", "json"]));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).expect("history JSON");
    doc["history"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn history_and_status_record_every_run() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let all = names();
    let n = all.len();
    let no_transaction = [
        name_ending("_telemetry_backfill"),
        name_ending("_idx_telemetry_timestamp"),
        name_ending("_index_foreign_keys"),
    ];
    each_backend!("history", |db| {
        let b = db.backend;
        let url = db.url.as_str();
        ok(run(d, Some(url), &["up"]));
        ok(run(d, Some(url), &["down"]));
        let h = history(d, url);
        assert_eq!(h.len(), n + 1, "{b:?}: {n} ups and 1 down: {h:?}");
        assert_eq!(h[0]["direction"], "down", "{b:?}: newest first");
        assert_eq!(h[0]["version"], all[n - 1]);
        for e in &h {
            assert_eq!(e["outcome"], "succeeded", "{b:?}");
            assert_eq!(
                e["checksum"].as_str().map(str::len),
                Some(64),
                "{b:?}: sha-256 hex"
            );
            assert!(
                e["duration_ms"].as_i64().is_some() && e["finished_at"].is_string(),
                "{b:?}"
            );
            assert_eq!(e["tool_version"], env!("CARGO_PKG_VERSION"));
            assert!(
                !e["host"].as_str().unwrap_or("").is_empty()
                    && !e["os_user"].as_str().unwrap_or("").is_empty()
            );
            // The backfill and the online index opt out of a per-migration transaction.
            let opted_out = no_transaction.iter().any(|v| e["version"] == *v);
            assert_eq!(
                e["transactional"],
                b != Backend::MySql && !opted_out,
                "{b:?}"
            );
        }
        ok(run(d, Some(url), &["up"]));
        let o = ok(run(d, Some(url), &["status", "--format", "json"]));
        let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        for m in doc["migrations"].as_array().unwrap() {
            assert_eq!(m["checksum"], "ok", "{b:?}: {m}");
            assert!(m["duration_ms"].is_i64(), "{b:?}: {m}");
        }
        let text = stdout(&ok(run(d, Some(url), &["history"])));
        assert!(
            text.contains("succeeded") && text.contains(&all[0]),
            "{b:?}: {text}"
        );
    });
}

#[tokio::test]
async fn checksum_changes_unknown_versions_and_order_are_refused_until_repaired() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    each_backend!("checksums", |db| {
        let b = db.backend;
        let url = db.url.as_str();
        ok(chaos(d, url, &["up"], &[("CHAOS_EDIT", "first")]));
        // The migration was edited after it was applied.
        let o = chaos(d, url, &["up"], &[("CHAOS_EDIT", "second")]);
        assert_eq!(o.status.code(), Some(1), "{b:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("m20990101_000002_editable was changed after it was applied"),
            "{b:?}: {}",
            stderr(&o)
        );
        assert!(stderr(&o).contains("migration repair"), "{b:?}");
        let o = ok(chaos(d, url, &["status"], &[("CHAOS_EDIT", "second")]));
        assert!(stdout(&o).contains("CHANGED"), "{b:?}: {}", stdout(&o));
        // After review, repair records the new checksum and up goes through.
        let o = ok(chaos(d, url, &["repair"], &[("CHAOS_EDIT", "second")]));
        assert!(
            stdout(&o).contains("recorded 1 checksum"),
            "{b:?}: {}",
            stdout(&o)
        );
        ok(chaos(d, url, &["up"], &[("CHAOS_EDIT", "second")]));

        // A pending migration ordered before applied ones.
        let o = chaos(
            d,
            url,
            &["up"],
            &[("CHAOS_EDIT", "second"), ("CHAOS_EARLY", "1")],
        );
        assert_eq!(o.status.code(), Some(1), "{b:?}");
        assert!(
            stderr(&o).contains("m20250101_000000_early is pending but the later"),
            "{b:?}: {}",
            stderr(&o)
        );
        assert!(
            !has_table(&db, "chaos_early").await,
            "{b:?}: nothing changed"
        );
        ok(chaos(
            d,
            url,
            &["up", "--allow-out-of-order"],
            &[("CHAOS_EDIT", "second"), ("CHAOS_EARLY", "1")],
        ));
        assert!(has_table(&db, "chaos_early").await, "{b:?}");

        // The plain build does not know the chaos migrations: unknown versions.
        let o = run(d, Some(url), &["up"]);
        assert_eq!(o.status.code(), Some(1));
        assert!(
            stderr(&o).contains("this build does not know"),
            "{b:?}: {}",
            stderr(&o)
        );
    });
}

#[tokio::test]
async fn five_runners_at_once_apply_each_migration_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    each_backend!("concurrent", |db| {
        let b = db.backend;
        let url = db.url.clone();
        let children: Vec<_> = (0..5)
            .map(|_| {
                command(
                    &chaos_bin(),
                    d,
                    Some(&url),
                    &["up"],
                    &[("CHAOS_SLOW_MS", "700")],
                )
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn runner")
            })
            .collect();
        let outputs: Vec<_> = children
            .into_iter()
            .map(|c| c.wait_with_output().expect("wait"))
            .collect();
        let mut waited = 0;
        for o in &outputs {
            assert!(o.status.success(), "{b:?}: {}", stderr(o));
            if stderr(o).contains("Waiting for the migration lock") {
                waited += 1;
            }
        }
        assert!(
            waited >= 1,
            "{b:?}: runners overlapped and waited for the lock"
        );
        let conn = db.connect().await;
        // The real migrations and the slow one.
        let want = migrations() as i64 + 1;
        assert_eq!(
            count(&conn, "SELECT COUNT(*) FROM seaql_migrations").await,
            want,
            "{b:?}"
        );
        assert_eq!(
            count(
                &conn,
                "SELECT COUNT(*) FROM oht50_migration_history WHERE direction = 'up'"
            )
            .await,
            want,
            "{b:?}: each migration ran exactly once"
        );
        // No lock left behind: another runner takes it at once.
        let started = Instant::now();
        let own = single(&db).await;
        migration_engine::bookkeeping::lock::MigrationLock::acquire(
            &own,
            &lock_id(),
            Duration::from_secs(1),
            &|_| {},
        )
        .await
        .expect("lock is free")
        .release(&own)
        .await
        .expect("release");
        assert!(started.elapsed() < Duration::from_secs(1), "{b:?}");
        assert_eq!(
            migration_engine::bookkeeping::lock::holder(&conn, &lock_id())
                .await
                .expect("holder"),
            None,
            "{b:?}"
        );
    });
}

#[tokio::test]
async fn a_waiting_runner_times_out_naming_the_holder() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    each_backend!("lock_timeout", |db| {
        let b = db.backend;
        ok(run(d, Some(&db.url), &["up"]));
        let conn = single(&db).await;
        let lock = migration_engine::bookkeeping::lock::MigrationLock::acquire(
            &conn,
            &lock_id(),
            Duration::from_secs(1),
            &|_| {},
        )
        .await
        .expect("lock");
        let before = snapshot(&db).await;
        let o = chaos(
            d,
            &db.url,
            &["up", "--lock-timeout", "1"],
            &[("CHAOS_EDIT", "x")],
        );
        assert_eq!(o.status.code(), Some(1), "{b:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("timed out after 1 s waiting for the migration lock"),
            "{b:?}: {}",
            stderr(&o)
        );
        if b != Backend::Sqlite {
            assert!(stderr(&o).contains("held by"), "{b:?}");
        }
        lock.release(&conn).await.expect("release");
        assert!(before == snapshot(&db).await, "{b:?}: nothing changed");
    });
}

#[tokio::test]
async fn a_migration_failing_half_way_leaves_nothing_or_a_failed_mark() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    each_backend!("fail_halfway", |db| {
        let b = db.backend;
        let url = db.url.as_str();
        let o = chaos(d, url, &["up"], &[("CHAOS_FAIL", "1")]);
        assert_eq!(o.status.code(), Some(1), "{b:?}");
        assert!(
            stderr(&o).contains("m20990101_000001_fail_halfway failed during up: "),
            "{b:?}: {}",
            stderr(&o)
        );
        assert_eq!(
            applied(d, url),
            names(),
            "{b:?}: the migrations before it stay applied"
        );
        let h = history(d, url);
        assert_eq!(h[0]["outcome"], "failed", "{b:?}");
        assert!(
            h[0]["error"]
                .as_str()
                .unwrap_or("")
                .contains("injected failure"),
            "{b:?}"
        );
        if b == Backend::MySql {
            // DDL committed implicitly: the half is there, and the failure blocks every run.
            assert!(has_table(&db, "chaos_half").await);
            let o = chaos(d, url, &["up"], &[("CHAOS_FAIL", "1")]);
            assert_eq!(o.status.code(), Some(1));
            assert!(
                stderr(&o).contains("m20990101_000001_fail_halfway is failed"),
                "{}",
                stderr(&o)
            );
            assert!(stderr(&o).contains("half-changed"), "{}", stderr(&o));
            let o = run(d, Some(url), &["doctor"]);
            assert_ne!(o.status.code(), Some(0), "doctor fails on a failed mark");
            ok(chaos(d, url, &["repair"], &[("CHAOS_FAIL", "1")]));
            let o = chaos(d, url, &["up"], &[("CHAOS_FAIL", "1")]);
            assert!(
                stderr(&o).contains("injected failure"),
                "after repair it runs (and fails) again"
            );
        } else {
            assert!(!has_table(&db, "chaos_half").await, "{b:?}: rolled back");
            assert_eq!(h[0]["transactional"], true);
            // Nothing to repair: it simply runs again.
            let o = chaos(d, url, &["up"], &[("CHAOS_FAIL", "1")]);
            assert!(
                stderr(&o).contains("injected failure"),
                "{b:?}: {}",
                stderr(&o)
            );
            ok(run(d, Some(url), &["doctor"]));
        }
    });
}

#[tokio::test]
async fn a_runner_killed_mid_migration_converges_on_rerun() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    each_backend!("sigkill", |db| {
        let b = db.backend;
        let url = db.url.as_str();
        ok(run(d, Some(url), &["up"]));
        let mut child = Watched::spawn(command(
            &chaos_bin(),
            d,
            Some(url),
            &["up"],
            &[("CHAOS_SLOW_MS", "30000")],
        ));
        // Wait until the slow migration has done its DDL and sleeps, as the database shows it.
        let pid = child.id();
        wait_for_async(
            &format!("{b:?}: the slow migration to do its DDL and sleep"),
            Duration::from_secs(30),
            || slow_migration_sleeping(&db, &child, pid),
        )
        .await;
        assert!(child.running(), "{b:?}: killed mid-migration, not after it");
        child.kill();
        let _ = child.wait_with_output();
        let fast = [("CHAOS_SLOW_MS", "0")];
        if b == Backend::MySql {
            let o = chaos(d, url, &["up"], &fast);
            assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
            assert!(
                stderr(&o).contains(&format!("{SLOW} is failed")),
                "{}",
                stderr(&o)
            );
            assert!(
                history(d, url)[0]["error"]
                    .as_str()
                    .unwrap_or("")
                    .contains("runner stopped")
            );
            ok(chaos(d, url, &["repair"], &fast));
        }
        ok(chaos(d, url, &["up"], &fast));
        let mut want = names();
        want.push(SLOW.into());
        let o = ok(chaos(d, url, &["status", "--format", "json"], &fast));
        let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let got: Vec<String> = doc["migrations"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["status"] == "applied")
            .map(|m| m["version"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(got, want, "{b:?}");
        assert!(has_table(&db, "chaos_slow").await, "{b:?}");
        ok(chaos(d, url, &["up"], &fast));
    });
}

async fn insert_fleet(conn: &DatabaseConnection) {
    let b = conn.get_database_backend();
    let now = "2025-01-28 10:00:00";
    for sql in [
        format!(
            "INSERT INTO robots (name, robot_type, status, mode, created_at, updated_at) VALUES ('r1', 'OHT-50', 'IDLE', 'MANUAL', '{now}', '{now}')"
        ),
        format!(
            "INSERT INTO robots (name, robot_type, status, mode, created_at, updated_at) VALUES ('r2', 'OHT-50', 'IDLE', 'AUTO', '{now}', '{now}')"
        ),
        format!("INSERT INTO telemetry (robot_id, timestamp, speed) VALUES (1, '{now}', 1.5)"),
    ] {
        conn.execute_raw(Statement::from_string(b, sql))
            .await
            .expect("insert");
    }
}

async fn fleet(conn: &DatabaseConnection) -> Vec<(i64, String, String)> {
    let b = conn.get_database_backend();
    conn.query_all_raw(Statement::from_string(
        b,
        "SELECT id, name, mode FROM robots ORDER BY id",
    ))
    .await
    .expect("select")
    .iter()
    .map(|r| {
        let id = r
            .try_get_by_index::<i64>(0)
            .or_else(|_| r.try_get_by_index::<i32>(0).map(i64::from));
        (
            id.expect("id"),
            r.try_get_by_index(1).expect("name"),
            r.try_get_by_index(2).expect("mode"),
        )
    })
    .collect()
}

/// The backup files in `dir/backups` (not their `.json` manifests), each checked to have its
/// manifest and no `.partial` left behind.
fn backups(dir: &Path) -> Vec<std::path::PathBuf> {
    let all: Vec<std::path::PathBuf> = std::fs::read_dir(dir.join("backups"))
        .map(|e| e.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    assert!(
        all.iter()
            .all(|p| !p.to_string_lossy().contains(".partial")),
        "no partial backup left: {all:?}"
    );
    let mut files: Vec<_> = all
        .iter()
        .filter(|p| p.extension().is_none_or(|e| e != "json"))
        .cloned()
        .collect();
    files.sort();
    for f in &files {
        let manifest = std::path::PathBuf::from(format!("{}.json", f.display()));
        assert!(all.contains(&manifest), "{} has its manifest", f.display());
    }
    files
}

#[tokio::test]
async fn backups_before_changes_and_restore_round_trip() {
    each_backend!("backups", |db| {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let b = db.backend;
        let url = db.url.as_str();
        ok(run(d, Some(url), &["up"]));
        assert!(
            backups(d).is_empty(),
            "{b:?}: an empty database needs no backup"
        );
        let conn = db.connect().await;
        insert_fleet(&conn).await;
        let rows = fleet(&conn).await;
        assert_eq!(rows.len(), 2);

        // A run that changes a database holding data backs it up first.
        let o = ok(chaos(d, url, &["up"], &[("CHAOS_EDIT", "x")]));
        assert!(
            stderr(&o).contains("Backup written"),
            "{b:?}: {}",
            stderr(&o)
        );
        assert_eq!(backups(d).len(), 1, "{b:?}");
        let o = ok(chaos(d, url, &["up"], &[("CHAOS_EDIT", "x")]));
        assert!(
            !stderr(&o).contains("Backup written"),
            "{b:?}: nothing to do, no backup"
        );

        // Explicit backups, pruned to the newest N.
        for _ in 0..3 {
            ok(chaos(
                d,
                url,
                &["backup", "--keep-backups", "2"],
                &[("CHAOS_EDIT", "x")],
            ));
        }
        let files = backups(d);
        assert_eq!(files.len(), 2, "{b:?}: {files:?}");
        let latest = files.last().unwrap().clone();
        let name = latest.file_name().unwrap().to_string_lossy().to_string();
        assert!(
            name.contains("m20990101_000002_editable"),
            "{b:?}: named with the version: {name}"
        );

        // Break the data, then restore.
        conn.execute_unprepared("DELETE FROM telemetry")
            .await
            .unwrap();
        conn.execute_unprepared("DELETE FROM robots").await.unwrap();
        conn.execute_unprepared("CREATE TABLE junk (id INTEGER PRIMARY KEY)")
            .await
            .unwrap();
        let _ = conn.close().await;
        let file = latest.to_string_lossy().to_string();
        let o = chaos(d, url, &["restore", &file], &[("CHAOS_EDIT", "x")]);
        assert_eq!(o.status.code(), Some(1), "{b:?}");
        assert!(stderr(&o).contains("--overwrite"), "{b:?}: {}", stderr(&o));
        let o = chaos(
            d,
            url,
            &["--env", "production", "restore", &file, "--overwrite"],
            &[("CHAOS_EDIT", "x")],
        );
        assert_eq!(o.status.code(), Some(2), "{b:?}: production wants --yes");
        let before_restore = backups(d).len();
        ok(chaos(
            d,
            url,
            &["restore", &file, "--overwrite"],
            &[("CHAOS_EDIT", "x")],
        ));
        assert_eq!(
            backups(d).len(),
            before_restore + 1,
            "{b:?}: a safety backup of the target is taken before restoring over it"
        );
        let conn = db.connect().await;
        assert_eq!(
            fleet(&conn).await,
            rows,
            "{b:?}: rows identical after restore"
        );
        assert_eq!(count(&conn, "SELECT COUNT(*) FROM telemetry").await, 1);
        assert!(
            !has_table(&db, "junk").await,
            "{b:?}: restore replaced everything"
        );
        ok(chaos(d, url, &["up"], &[("CHAOS_EDIT", "x")]));

        // A backup of another backend is refused.
        let foreign = d.join("foreign.bin");
        std::fs::write(
            &foreign,
            if b == Backend::Sqlite {
                &b"PGDMP-not-sqlite"[..]
            } else {
                &b"SQLite format 3\0xxxxxxxxxxxxxxxxxxx"[..]
            },
        )
        .unwrap();
        let o = run(
            d,
            Some(url),
            &["restore", &foreign.to_string_lossy(), "--overwrite"],
        );
        assert_eq!(o.status.code(), Some(1));
        assert!(
            stderr(&o).contains("can only be restored into the same kind of database"),
            "{b:?}: {}",
            stderr(&o)
        );
        assert_eq!(fleet(&conn).await, rows, "{b:?}: unchanged");

        // A missing dump tool stops the run before anything changes, and says what to do.
        if b != Backend::Sqlite {
            let before = snapshot(&db).await;
            let o = run_bin(
                &chaos_bin(),
                d,
                Some(url),
                &["up", "--allow-out-of-order"],
                &[
                    ("CHAOS_EDIT", "x"),
                    ("CHAOS_SLOW_MS", "1"),
                    ("PATH", "/nonexistent"),
                ],
            );
            assert_eq!(o.status.code(), Some(1), "{b:?}");
            assert!(
                stderr(&o).contains("apt-get install") && stderr(&o).contains("--no-backup"),
                "{b:?}: {}",
                stderr(&o)
            );
            assert!(before == snapshot(&db).await, "{b:?}: nothing changed");
            ok(run_bin(
                &chaos_bin(),
                d,
                Some(url),
                &["up", "--no-backup", "--allow-out-of-order"],
                &[
                    ("CHAOS_EDIT", "x"),
                    ("CHAOS_SLOW_MS", "1"),
                    ("PATH", "/nonexistent"),
                ],
            ));
        }
    });
}

#[tokio::test]
async fn doctor_readiness_production_guard_and_json_log() {
    each_backend!("operations", |db| {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let b = db.backend;
        let url = db.url.as_str();
        if let Some(path) = db.sqlite_path() {
            // Read-only commands never create a missing SQLite file: they say so and fail.
            let o = run(d, Some(url), &["status", "--check"]);
            assert_eq!(o.status.code(), Some(1), "{b:?}: {}", stderr(&o));
            assert!(stderr(&o).contains("does not exist"), "{}", stderr(&o));
            assert!(!path.exists(), "status created {}", path.display());
            std::fs::File::create(&path).unwrap();
        }
        let o = run(d, Some(url), &["status", "--check"]);
        assert_eq!(o.status.code(), Some(3), "{b:?}: pending migrations");
        let all = migrations();
        assert!(
            stderr(&o).contains(&format!("{all} migration(s) pending")),
            "{b:?}: {}",
            stderr(&o)
        );

        let log_file = d.join("migration.log");
        let log = log_file.to_string_lossy().to_string();
        let o = ok(run(
            d,
            Some(url),
            &["--log-file", &log, "up", "--format", "json"],
        ));
        let events: Vec<serde_json::Value> = stderr(&o)
            .lines()
            .map(|l| {
                serde_json::from_str(l).unwrap_or_else(|e| panic!("{b:?}: not JSON: {l}: {e}"))
            })
            .collect();
        assert_eq!(
            events.iter().filter(|e| e["event"] == "started").count(),
            all,
            "{b:?}"
        );
        let finished: Vec<_> = events.iter().filter(|e| e["event"] == "finished").collect();
        assert_eq!(finished.len(), all);
        assert!(
            finished
                .iter()
                .all(|e| e["duration_ms"].is_u64() && e["ts"].is_string())
        );
        let logged = std::fs::read_to_string(&log_file).unwrap();
        assert_eq!(logged.lines().count(), 2 * all, "{b:?}: {logged}");
        ok(run(d, Some(url), &["status", "--check"]));

        let o = ok(run(d, Some(url), &["doctor", "--format", "json"]));
        let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let checks = report["checks"].as_array().unwrap();
        let names: Vec<&str> = checks.iter().map(|c| c["name"].as_str().unwrap()).collect();
        for want in [
            "connection",
            "pending migrations",
            "history and checksums",
            "migration lock",
            "backup tool",
            "disk space",
        ] {
            assert!(names.contains(&want), "{b:?}: {names:?}");
        }
        assert!(
            checks.iter().all(|c| c["level"] != "fail"),
            "{b:?}: {checks:?}"
        );

        for cmd in [&["reset"][..], &["down"], &["fresh"], &["refresh"]] {
            let mut args = vec!["--env", "production"];
            args.extend_from_slice(cmd);
            let o = run(d, Some(url), &args);
            assert_eq!(o.status.code(), Some(2), "{b:?} {cmd:?}");
            assert!(stderr(&o).contains("add --yes"), "{b:?}: {}", stderr(&o));
        }
        assert_eq!(
            applied(d, url).len(),
            all,
            "{b:?}: production guard changed nothing"
        );
        ok(run(d, Some(url), &["--env", "production", "--yes", "down"]));
        assert_eq!(applied(d, url).len(), all - 1);
    });
}

#[tokio::test]
async fn startup_helper_applies_or_refuses() {
    let all = migrations();
    each_backend!("startup", |db| {
        let b = db.backend;
        let err = ensure_schema::<Migrator>(
            db.connect().await,
            &migration::config(),
            StartupMode::ReadOnly,
            RunOptions::default(),
        )
        .await
        .expect_err("pending");
        assert!(
            matches!(err, MigrateError::Pending { count, .. } if count == all),
            "{b:?}: {err}"
        );
        assert!(
            snapshot(&db).await.0.tables.is_empty(),
            "{b:?}: read-only changed nothing"
        );
        let steps = ensure_schema::<Migrator>(
            db.connect().await,
            &migration::config(),
            StartupMode::Apply,
            RunOptions::default(),
        )
        .await
        .expect("apply");
        assert_eq!(steps.len(), all);
        let steps = ensure_schema::<Migrator>(
            db.connect().await,
            &migration::config(),
            StartupMode::ReadOnly,
            RunOptions::default(),
        )
        .await
        .expect("at head");
        assert!(steps.is_empty());
        let tables = snapshot(&db).await.0.tables;
        assert!(
            tables.contains_key(&migration::config().history_table),
            "{b:?}: the start-up helper records in the project's history table"
        );
    });
}

#[tokio::test]
async fn a_database_migrated_by_stock_tools_keeps_working() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    each_backend!("stock_ledger", |db| {
        let b = db.backend;
        let url = db.url.as_str();
        ok(run(d, Some(url), &["up"]));
        // What stock sea-orm-migration leaves: the ledger alone, no history.
        let conn = db.connect().await;
        conn.execute_unprepared("DROP TABLE oht50_migration_history")
            .await
            .unwrap();
        let _ = conn.close().await;
        let o = ok(run(d, Some(url), &["status", "--format", "json"]));
        let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let migrations = doc["migrations"].as_array().unwrap();
        assert_eq!(doc["pending"], 0, "{b:?}: {doc}");
        assert!(
            migrations
                .iter()
                .all(|m| m["status"] == "applied" && m["checksum"] == "unrecorded"),
            "{b:?}: {doc}"
        );
        let o = ok(run(d, Some(url), &["up"]));
        assert!(
            stderr(&o).contains("Nothing to apply"),
            "{b:?}: {}",
            stderr(&o)
        );
        let o = ok(run(d, Some(url), &["repair"]));
        assert!(
            stdout(&o).contains(&format!("recorded {} checksum", migrations.len())),
            "{b:?}: {}",
            stdout(&o)
        );
        let o = ok(run(d, Some(url), &["status", "--format", "json"]));
        let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert!(
            doc["migrations"]
                .as_array()
                .unwrap()
                .iter()
                .all(|m| m["checksum"] == "ok"),
            "{b:?}: {doc}"
        );
    });
}

/// The OHT-50 migration lock.
fn lock_id() -> migration_engine::bookkeeping::lock::LockId {
    migration_engine::bookkeeping::lock::LockId::of(&migration::config())
}

/// `Some` once the chaos runner `child` (process `pid`) has done the slow migration's DDL and
/// sleeps inside it, as the database shows it.
async fn slow_migration_sleeping(db: &TestDb, child: &Watched, pid: u32) -> Option<()> {
    if !child.stderr_so_far().contains(&format!("Applying {SLOW}")) {
        return None;
    }
    let done = match db.backend {
        // The run's write transaction hides the table: its rollback journal shows that the
        // migration (the only writer in this run) has changed pages.
        Backend::Sqlite => {
            let mut journal = db.sqlite_path().expect("sqlite path").into_os_string();
            journal.push("-journal");
            std::fs::metadata(&journal).is_ok_and(|m| m.len() > 0)
        }
        // Its transaction hides the table too: its session (named after the runner's pid) is
        // idle in that transaction after the probe the migration runs right before it sleeps.
        Backend::Postgres => {
            let conn = db.connect().await;
            let n = count(
                &conn,
                &format!(
                    "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() \
                     AND application_name LIKE 'migration-engine % pid {pid} %' \
                     AND state = 'idle in transaction' AND query = 'SELECT 1 AS one'"
                ),
            )
            .await;
            let _ = conn.close().await;
            n == 1
        }
        // No transaction: the `in-progress` history row and the table itself are visible.
        Backend::MySql => {
            let conn = db.connect().await;
            let n = count(
                &conn,
                &format!(
                    "SELECT COUNT(*) FROM oht50_migration_history h \
                     JOIN information_schema.TABLES t \
                       ON t.TABLE_SCHEMA = DATABASE() AND t.TABLE_NAME = 'chaos_slow' \
                     WHERE h.version = '{SLOW}' AND h.outcome = 'in-progress'"
                ),
            )
            .await;
            let _ = conn.close().await;
            n == 1
        }
    };
    done.then_some(())
}
