//! Dry runs and offline scripts on real databases: the offline `up` script applied with the
//! backend's own client (psql, mysql, sqlite3) gives the same schema and ledger as `up`, its
//! `down` script takes it back to an empty ledger, and a dry run changes neither the schema
//! nor the ledger.

use std::path::Path;
use std::process::Command;

use migration::{Migrator, MigratorTrait};
use migration_engine::bookkeeping::ledger::Ledger;
use migration_engine::review::script::{self, offline_script};
use migration_engine::schema::Schema;
use migration_engine::{Direction, Runner, Target};
use test_support::{Backend, TestDb};

/// The names of the migrations, oldest first, from `Migrator::migrations()`.
fn names() -> Vec<String> {
    Migrator::migrations()
        .iter()
        .map(|m| m.name().to_string())
        .collect()
}

/// The schema without the bookkeeping tables, and the ledger's versions.
async fn snapshot(db: &TestDb) -> (Schema, Vec<String>) {
    let conn = db.connect().await;
    let schema = migration_engine::schema::inspect(&conn)
        .await
        .expect("inspect");
    let versions = if schema.tables.contains_key("seaql_migrations") {
        Ledger::default()
            .applied(&conn)
            .await
            .expect("ledger")
            .into_iter()
            .map(|a| a.version)
            .collect()
    } else {
        Vec::new()
    };
    let _ = conn.close().await;
    let tables: Vec<String> = schema.tables.keys().cloned().collect();
    let tooling: Vec<&str> = tables
        .iter()
        .map(String::as_str)
        .filter(|t| migration::config().is_tooling_table(t))
        .collect();
    (schema.clone().without(&tooling), versions)
}

/// Applies `file` to `db` with the backend's command-line client, stopping at the first error.
fn apply_with_client(db: &TestDb, file: &Path) {
    let out = match db.backend {
        Backend::Postgres => Command::new("psql")
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-f"])
            .arg(file)
            .arg(&db.url)
            .output(),
        Backend::MySql => {
            let url = url::Url::parse(&db.url).expect("mysql url");
            let mut cmd = Command::new("mysql");
            cmd.arg(format!("-h{}", url.host_str().unwrap_or("127.0.0.1")))
                .arg(format!("-P{}", url.port().unwrap_or(3306)))
                .arg(format!("-u{}", url.username()));
            if let Some(p) = url.password() {
                cmd.arg(format!("-p{p}"));
            }
            cmd.arg(db.name())
                .stdin(std::fs::File::open(file).expect("script"))
                .output()
        }
        Backend::Sqlite => Command::new("sqlite3")
            .arg("-bail")
            .arg(db.sqlite_path().expect("sqlite path"))
            .stdin(std::fs::File::open(file).expect("script"))
            .output(),
    }
    .expect("run the database client (psql / mysql / sqlite3 must be installed)");
    assert!(
        out.status.success(),
        "{:?}: client failed\nstdout: {}\nstderr: {}",
        db.backend,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn offline_script_applied_by_the_client_equals_up() {
    let all = names();
    let first = all[0].as_str();
    for backend in test_support::ALL {
        let Some(by_script) = TestDb::create(backend, "script_client").await else {
            continue;
        };
        let Some(by_up) = TestDb::create(backend, "script_up").await else {
            continue;
        };
        let dir = tempfile::tempdir().unwrap();
        let up_sql = dir.path().join("up.sql");
        let script = offline_script(
            &Migrator::migrations(),
            Direction::Up,
            &Target::All,
            backend.db_backend(),
            &migration::config(),
        )
        .await
        .expect("render up script");
        std::fs::write(&up_sql, script.to_text()).unwrap();
        apply_with_client(&by_script, &up_sql);

        let runner = Runner::with_config(
            by_up.connect().await,
            Migrator::migrations(),
            migration::config(),
        );
        runner.up(&Target::All).await.expect("up");
        let _ = runner.connection().clone().close().await;

        let (script_schema, script_ledger) = snapshot(&by_script).await;
        let (up_schema, up_ledger) = snapshot(&by_up).await;
        assert_eq!(script_schema.table_names().len(), 10, "{backend:?}");
        assert_eq!(
            script_schema, up_schema,
            "{backend:?}: script schema == up schema"
        );
        assert_eq!(script_ledger, all, "{backend:?}: ledger");
        assert_eq!(script_ledger, up_ledger, "{backend:?}");
        // The entity schema matches too: no drift after the script.
        let conn = by_script.connect().await;
        let drift = migration_engine::review::drift::drift(
            &conn,
            &migration::entities(),
            &migration::config(),
        )
        .await
        .expect("drift");
        assert!(drift.is_empty(), "{backend:?}: {:?}", drift.differences);
        let _ = conn.close().await;

        // `sql down --to FIRST` then reverts all but the first.
        let down_sql = dir.path().join("down.sql");
        let down = offline_script(
            &Migrator::migrations(),
            Direction::Down,
            &Target::Version(first.into()),
            backend.db_backend(),
            &migration::config(),
        )
        .await
        .expect("render down script");
        std::fs::write(&down_sql, down.to_text()).unwrap();
        apply_with_client(&by_script, &down_sql);
        let (schema, ledger) = snapshot(&by_script).await;
        assert_eq!(ledger, [first], "{backend:?}: ledger after down script");
        assert_eq!(
            schema.table_names(),
            ["robots", "telemetry", "users"],
            "{backend:?}: tables after down script"
        );
    }
}

#[tokio::test]
async fn dry_run_changes_neither_schema_nor_ledger() {
    let all = names();
    let (m1, m2, m3) = (all[0].as_str(), all[1].as_str(), all[2].as_str());
    each_backend!("dry_run", |db| {
        let b = db.backend;
        let runner = Runner::with_config(
            db.connect().await,
            Migrator::migrations(),
            migration::config(),
        );
        let migrations = Migrator::migrations();
        // On an empty database: not even the ledger table is created.
        let before = snapshot(&db).await;
        let dry = script::dry_run(&runner, &migrations, &db.url, Direction::Up, &Target::All)
            .await
            .expect("dry run");
        assert_eq!(
            dry.migrations
                .iter()
                .map(|m| m.version.as_str())
                .collect::<Vec<_>>(),
            all,
            "{b:?}"
        );
        assert_eq!(snapshot(&db).await, before, "{b:?}: dry run on empty db");
        assert!(before.0.tables.is_empty(), "{b:?}");

        runner.up(&Target::Steps(1)).await.expect("up 1");
        let before = snapshot(&db).await;
        let dry = script::dry_run(
            &runner,
            &migrations,
            &db.url,
            Direction::Up,
            &Target::Version(m3.into()),
        )
        .await
        .expect("dry run up --to");
        let text = dry.to_text();
        assert!(
            text.contains(&format!("-- Migration {m2} (up")),
            "{b:?}: {text}"
        );
        assert!(
            text.find(m2).is_some() && text.find(m2) < text.find(m3),
            "{b:?}: in order"
        );
        assert!(
            !text.contains(&format!("-- Migration {m1}")),
            "{b:?}: applied one skipped"
        );
        assert!(
            text.contains("CREATE TABLE") && text.contains("lidar_scans"),
            "{b:?}"
        );
        let down = script::dry_run(
            &runner,
            &migrations,
            &db.url,
            Direction::Down,
            &Target::Base,
        )
        .await
        .expect("dry run down");
        assert_eq!(down.migrations.len(), 1, "{b:?}");
        assert!(down.to_text().contains("DROP TABLE"), "{b:?}");
        assert_eq!(snapshot(&db).await, before, "{b:?}: nothing changed");
        let _ = runner.connection().clone().close().await;
    });
}
