//! The review commands of the `migration` binary end to end: `up/down --dry-run` change
//! nothing, `sql` needs no database, `lint`, `drift` and `check` print findings and exit
//! non-zero on errors (drift made by hand), on every backend.

use std::path::Path;
use std::process::{Command, Output};

use test_support::TestDb;

use crate::support::{count, name_ending, names};

const BIN: &str = env!("CARGO_BIN_EXE_migration");

fn run(dir: &Path, url: Option<&str>, args: &[&str]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir)
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("DATABASE_SCHEMA")
        .env_remove("OHT50_ENV");
    if let Some(url) = url {
        cmd.env("DATABASE_URL", url);
    }
    cmd.output().expect("run migration binary")
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn code(o: &Output) -> Option<i32> {
    o.status.code()
}

async fn snapshot(db: &TestDb) -> migration_engine::schema::Schema {
    let conn = db.connect().await;
    let s = migration_engine::schema::inspect(&conn)
        .await
        .expect("inspect");
    let _ = conn.close().await;
    s
}

async fn ledger_rows(db: &TestDb) -> Vec<(String, i64)> {
    let conn = db.connect().await;
    let rows = migration_engine::bookkeeping::ledger::Ledger::default()
        .applied(&conn)
        .await
        .map(|r| r.into_iter().map(|a| (a.version, a.applied_at)).collect())
        .unwrap_or_default();
    let _ = conn.close().await;
    rows
}

#[test]
fn sql_needs_no_database() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(dir.path(), None, &["sql", "up", "--backend", "postgres"]);
    assert_eq!(code(&o), Some(0), "{}", err(&o));
    let text = out(&o);
    assert!(
        text.starts_with("-- Migrations: `up` for PostgreSQL"),
        "{text}"
    );
    // One transaction per migration, except the backfill and the online indexes (they opt out).
    let opted_out = [
        name_ending("_telemetry_backfill"),
        name_ending("_idx_telemetry_timestamp"),
        name_ending("_index_foreign_keys"),
    ];
    assert_eq!(text.matches("BEGIN;").count(), count() - opted_out.len());
    assert!(!dir.path().join("oht50.db").exists(), "no database touched");
    assert!(!err(&o).contains("No DATABASE_URL"), "{}", err(&o));

    let file = dir.path().join("down.sql");
    let o = run(
        dir.path(),
        None,
        &[
            "sql",
            "down",
            "--backend",
            "mysql",
            "--to",
            "base",
            "-o",
            file.to_str().unwrap(),
        ],
    );
    assert_eq!(code(&o), Some(0), "{}", err(&o));
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.contains("DROP TABLE `emergency_stops`") && !text.contains("BEGIN;"),
        "{text}"
    );

    let o = run(dir.path(), None, &["sql", "up", "--backend", "oracle"]);
    assert_eq!(code(&o), Some(2), "{}", err(&o));
    let o = run(
        dir.path(),
        None,
        &["sql", "up", "--backend", "sqlite", "--to", "m2099"],
    );
    assert_eq!(code(&o), Some(2), "{}", err(&o));
    assert!(err(&o).contains("unknown migration `m2099`"), "{}", err(&o));
}

#[tokio::test]
async fn review_commands_on_every_backend() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let all = names();
    each_backend!("review_cli", |db| {
        let b = db.backend;
        let url = Some(db.url.as_str());

        // Dry runs change nothing, not even the ledger table.
        let before = snapshot(&db).await;
        let o = run(d, url, &["up", "--dry-run"]);
        assert_eq!(code(&o), Some(0), "{b:?}: {}", err(&o));
        assert!(
            out(&o).contains(&format!(
                "-- Migration {} (up",
                name_ending("_initial_schema")
            )),
            "{b:?}"
        );
        assert!(
            out(&o).contains(&format!("{} migration(s) would be applied", all.len())),
            "{b:?}: {}",
            out(&o)
        );
        assert_eq!(
            snapshot(&db).await,
            before,
            "{b:?}: up --dry-run changed the schema"
        );

        // Lint on a fresh database: clean (the spec's three FK columns without index are
        // indexed by the later `_index_foreign_keys` migration).
        let o = run(d, url, &["lint"]);
        assert_eq!(code(&o), Some(0), "{b:?}: {}{}", out(&o), err(&o));
        assert!(
            out(&o).contains("0 error(s), 0 warning(s)."),
            "{b:?}: {}",
            out(&o)
        );
        assert_eq!(
            out(&o).matches("warning[fk-without-index]").count(),
            0,
            "{b:?}"
        );

        let o = run(d, url, &["up", "-n", "2"]);
        assert_eq!(code(&o), Some(0), "{b:?}: {}", err(&o));
        let (schema, ledger) = (snapshot(&db).await, ledger_rows(&db).await);
        let o = run(d, url, &["down", "--dry-run", "--to", "base"]);
        assert_eq!(code(&o), Some(0), "{b:?}: {}", err(&o));
        assert!(
            out(&o).contains("2 migration(s) would be reverted"),
            "{b:?}: {}",
            out(&o)
        );
        let o = run(d, url, &["up", "--dry-run", "-n", "1"]);
        assert!(
            out(&o).contains(&all[2]),
            "{b:?}: the third migration is next"
        );
        assert_eq!(
            snapshot(&db).await,
            schema,
            "{b:?}: dry runs changed the schema"
        );
        assert_eq!(
            ledger_rows(&db).await,
            ledger,
            "{b:?}: dry runs changed the ledger"
        );

        let o = run(d, url, &["up"]);
        assert_eq!(code(&o), Some(0), "{b:?}: {}", err(&o));
        let o = run(d, url, &["drift"]);
        assert_eq!(code(&o), Some(0), "{b:?}: {}", out(&o));
        assert!(out(&o).contains("No drift"), "{b:?}");
        let o = run(d, url, &["check", "--format", "json"]);
        assert_eq!(code(&o), Some(0), "{b:?}: {}{}", out(&o), err(&o));
        let doc: serde_json::Value = serde_json::from_slice(&o.stdout).expect("check JSON");
        assert_eq!(doc["passed"], true, "{b:?}: {doc}");

        // Drift by hand: one index dropped.
        {
            let conn = db.connect().await;
            let sql = match b {
                test_support::Backend::MySql => "DROP INDEX idx_robots_status ON robots",
                _ => "DROP INDEX idx_robots_status",
            };
            sea_orm::ConnectionTrait::execute_unprepared(&conn, sql)
                .await
                .expect("drop index");
            let _ = conn.close().await;
        }
        let o = run(d, url, &["drift"]);
        assert_eq!(code(&o), Some(1), "{b:?}: {}", out(&o));
        assert!(
            out(&o).contains("missing-index        robots.idx_robots_status: expected (status)"),
            "{b:?}: {}",
            out(&o)
        );
        assert!(
            err(&o).contains("drift found 1 difference(s)"),
            "{b:?}: {}",
            err(&o)
        );
        let o = run(d, url, &["check", "--format", "json"]);
        assert_eq!(code(&o), Some(1), "{b:?}: {}", out(&o));
        let doc: serde_json::Value = serde_json::from_slice(&o.stdout).expect("check JSON");
        assert_eq!(doc["passed"], false);
        assert_eq!(doc["errors"], 1, "{b:?}: {doc}");
        assert_eq!(doc["findings"][0]["rule"], "drift");
        let o = run(d, url, &["check"]);
        assert!(
            out(&o).contains("FAILED: 1 error(s), 0 warning(s)."),
            "{b:?}: {}",
            out(&o)
        );
    });
}
