//! The shop example (`engine/examples/shop`): a sea-orm-migration 2.x project with no OHT-50
//! in it, driven through its binary on every backend, and through the library API.
//!
//! Migration names always come from `Migrator::migrations()`, never from literals.

#[path = "../../examples/shop/migrator/mod.rs"]
#[allow(dead_code)]
mod shop;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use migration_engine::db::{list_tables, quote_ident};
use migration_engine::review::drift::drift;
use migration_engine::{ChecksumState, Runner, State, Target};
use sea_orm::{ConnectionTrait, DatabaseConnection, EntityTrait, QueryOrder, Statement};
use sea_orm_migration::MigratorTrait;
use serde_json::Value;
use test_support::{TestDb, ok, stderr, stdout};

use shop::entity::customer;
use shop::{CUSTOMERS, Migrator, config};

/// The migrations' names, oldest first.
fn names() -> Vec<String> {
    Migrator::migrations()
        .iter()
        .map(|m| m.name().to_string())
        .collect()
}

/// The example binary, built once per test run. `cargo test --test it` builds the library and
/// this test but not the examples (only a plain `cargo test` does), so without this a filtered
/// run would use a stale binary or none. A no-op build takes well under a second.
fn example_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let bin = test_support::bin("examples/shop");
        // <target>/<profile>/examples/shop
        let profile_dir = bin
            .parent()
            .and_then(Path::parent)
            .expect("profile directory");
        let target_dir = profile_dir.parent().expect("target directory");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut build = Command::new(cargo);
        build
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args([
                "build",
                "--quiet",
                "-p",
                "migration-engine",
                "--example",
                "shop",
            ])
            .arg("--target-dir")
            .arg(target_dir);
        if profile_dir.ends_with("release") {
            build.arg("--release");
        }
        match build.output() {
            Ok(out) => assert!(
                out.status.success(),
                "building the shop example failed:\n{}",
                stderr(&out)
            ),
            // Run without cargo (the test binary started by hand): use what was built.
            Err(e) if bin.is_file() => {
                eprintln!("cannot run cargo ({e}): using {}", bin.display())
            }
            Err(e) => panic!("cannot run cargo to build the shop example: {e}"),
        }
        bin
    })
}

/// Runs the example binary in `cwd` with `args` (and `-u <url> --no-backup` when `db` is
/// given), with no `DATABASE_URL`, `DATABASE_SCHEMA` or `SHOP_*` variable inherited.
fn shop(db: Option<&TestDb>, cwd: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(example_bin());
    cmd.current_dir(cwd)
        .env_remove("DATABASE_URL")
        .env_remove("DATABASE_SCHEMA");
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("SHOP_") {
            cmd.env_remove(key);
        }
    }
    if let Some(db) = db {
        cmd.args(["-u", db.url.as_str(), "--no-backup"]);
    }
    cmd.args(args).output().expect("run the shop example")
}

/// The versions in the ledger (`seaql_migrations`), sorted; empty when it does not exist.
async fn ledger(conn: &DatabaseConnection) -> Vec<String> {
    let ledger = config().ledger_table;
    if !list_tables(conn).await.unwrap().contains(&ledger) {
        return Vec::new();
    }
    let backend = conn.get_database_backend();
    let sql = format!(
        "SELECT version FROM {} ORDER BY version",
        quote_ident(backend, &ledger)
    );
    conn.query_all_raw(Statement::from_string(backend, sql))
        .await
        .unwrap()
        .iter()
        .map(|row| row.try_get::<String>("", "version").unwrap())
        .collect()
}

/// The customers' emails, by id.
async fn customer_emails(conn: &DatabaseConnection) -> Vec<String> {
    customer::Entity::find()
        .order_by_asc(customer::Column::Id)
        .all(conn)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.email)
        .collect()
}

fn seed_emails() -> Vec<String> {
    CUSTOMERS
        .iter()
        .map(|(_, email)| email.to_string())
        .collect()
}

/// `status --format json`, parsed.
fn status_json(db: &TestDb, cwd: &Path) -> Value {
    let out = ok(shop(Some(db), cwd, &["status", "--format", "json"]));
    serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| panic!("{e}: {}", stdout(&out)))
}

/// `(version, status, checksum)` of every migration in a `status --format json` document.
fn states(doc: &Value) -> Vec<(String, String, String)> {
    doc["migrations"]
        .as_array()
        .expect("migrations array")
        .iter()
        .map(|m| {
            (
                m["version"].as_str().unwrap().to_string(),
                m["status"].as_str().unwrap().to_string(),
                m["checksum"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn example_up_status_down_on_every_backend() {
    let names = names();
    let last = names.last().unwrap().clone();
    each_backend!("shop_up_down", |db| {
        let cwd = tempfile::tempdir().unwrap();
        let out = ok(shop(Some(&db), cwd.path(), &["up"]));
        assert!(
            stdout(&out).contains(&format!("applied {}", names.len())),
            "{}",
            stdout(&out)
        );
        for name in &names {
            assert!(stderr(&out).contains(name.as_str()), "{}", stderr(&out));
        }

        let conn = db.connect().await;
        let tables = list_tables(&conn).await.unwrap();
        for table in [
            "customer",
            "order",
            "seaql_migrations",
            "shop_migration_history",
        ] {
            assert!(
                tables.iter().any(|t| t == table),
                "{:?}: {table} missing from {tables:?}",
                db.backend
            );
        }
        assert_eq!(
            customer_emails(&conn).await,
            seed_emails(),
            "{:?}",
            db.backend
        );
        assert_eq!(ledger(&conn).await, names);

        // status: text, JSON, and --check passes when nothing is pending.
        let text = stdout(&ok(shop(Some(&db), cwd.path(), &["status"])));
        for name in &names {
            let line = text
                .lines()
                .find(|l| l.starts_with(name.as_str()))
                .unwrap_or_else(|| panic!("{text}"));
            assert!(
                line.contains("applied") && line.trim_end().ends_with("ok"),
                "{line}"
            );
        }
        assert!(
            text.contains(&format!("{} migration(s), 0 pending.", names.len())),
            "{text}"
        );
        let doc = status_json(&db, cwd.path());
        assert_eq!(doc["pending"], 0);
        assert_eq!(
            states(&doc),
            names
                .iter()
                .map(|n| (n.clone(), "applied".into(), "ok".into()))
                .collect::<Vec<_>>()
        );
        ok(shop(Some(&db), cwd.path(), &["status", "--check"]));

        // down reverts the last migration only: the seed rows go, the tables stay.
        let out = ok(shop(Some(&db), cwd.path(), &["down"]));
        assert!(stdout(&out).contains("reverted 1"), "{}", stdout(&out));
        assert!(stderr(&out).contains(last.as_str()), "{}", stderr(&out));
        assert_eq!(ledger(&conn).await, names[..names.len() - 1].to_vec());
        assert!(customer_emails(&conn).await.is_empty());
        let doc = status_json(&db, cwd.path());
        assert_eq!(doc["pending"], 1);
        let after = states(&doc);
        assert_eq!(
            after.last().unwrap(),
            &(last.clone(), "pending".into(), "none".into())
        );
        assert!(
            after[..after.len() - 1]
                .iter()
                .all(|(_, s, _)| s == "applied")
        );

        // status --check: exit code 3 while a migration is pending, naming it.
        let out = shop(Some(&db), cwd.path(), &["status", "--check"]);
        assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
        assert!(stderr(&out).contains(last.as_str()), "{}", stderr(&out));
        conn.close().await.unwrap();
    });
}

#[tokio::test]
async fn example_dry_run_changes_nothing() {
    let names = names();
    each_backend!("shop_dry_run", |db| {
        let cwd = tempfile::tempdir().unwrap();
        // Connecting creates the (empty) SQLite file; dry runs only read.
        let conn = db.connect().await;

        let out = ok(shop(Some(&db), cwd.path(), &["up", "--dry-run"]));
        let sql = stdout(&out);
        assert!(sql.contains("nothing was executed"), "{sql}");
        for name in &names {
            assert!(sql.contains(&format!("-- Migration {name} (up")), "{sql}");
        }
        assert!(
            sql.contains("CREATE TABLE") && sql.contains("CREATE INDEX"),
            "{sql}"
        );
        assert!(
            sql.contains("INSERT INTO") && sql.contains(CUSTOMERS[0].1),
            "{sql}"
        );
        assert!(
            list_tables(&conn).await.unwrap().is_empty(),
            "{:?}: a dry run created tables",
            db.backend
        );

        ok(shop(Some(&db), cwd.path(), &["up", "-n", "1"]));
        let out = ok(shop(Some(&db), cwd.path(), &["up", "--dry-run"]));
        let sql = stdout(&out);
        assert!(
            !sql.contains(&format!("-- Migration {} ", names[0])),
            "{sql}"
        );
        for name in &names[1..] {
            assert!(sql.contains(&format!("-- Migration {name} (up")), "{sql}");
        }
        assert_eq!(ledger(&conn).await, names[..1].to_vec());
        assert!(
            !list_tables(&conn)
                .await
                .unwrap()
                .iter()
                .any(|t| t == "order")
        );
        assert!(customer_emails(&conn).await.is_empty());
        conn.close().await.unwrap();
    });
}

#[tokio::test]
async fn example_sql_scripts_need_no_database() {
    let names = names();
    for (backend, quoted) in [
        ("postgres", "\"customer\""),
        ("mysql", "`customer`"),
        ("sqlite", "\"customer\""),
    ] {
        let cwd = tempfile::tempdir().unwrap();
        let out = ok(shop(None, cwd.path(), &["sql", "up", "--backend", backend]));
        let sql = stdout(&out);
        assert!(
            sql.contains(&format!("CREATE TABLE IF NOT EXISTS {quoted}")),
            "{backend}: {sql}"
        );
        assert!(sql.contains("CREATE INDEX"), "{backend}: {sql}");
        assert!(
            sql.contains(&format!("INSERT INTO {quoted}")),
            "{backend}: {sql}"
        );
        for name in &names {
            assert!(
                sql.contains(&format!("-- Migration {name} (up")),
                "{backend}: {sql}"
            );
            assert!(
                sql.contains(&format!("'{name}'")),
                "{backend}: ledger insert of {name}: {sql}"
            );
        }
        let out = ok(shop(
            None,
            cwd.path(),
            &["sql", "down", "--backend", backend],
        ));
        let sql = stdout(&out);
        assert!(
            sql.contains("DROP TABLE") && sql.contains("DELETE FROM"),
            "{backend}: {sql}"
        );
        // No database was opened, not even the default SQLite file.
        assert_eq!(
            std::fs::read_dir(cwd.path()).unwrap().count(),
            0,
            "{backend}: sql wrote into the working directory"
        );
    }
}

#[tokio::test]
async fn example_refuses_a_tampered_migration_until_repaired() {
    let names = names();
    let (first, last) = (names[0].clone(), names.last().unwrap().clone());
    let history = config().history_table;
    each_backend!("shop_tamper", |db| {
        let cwd = tempfile::tempdir().unwrap();
        let applied = (names.len() - 1).to_string();
        ok(shop(Some(&db), cwd.path(), &["up", "-n", applied.as_str()]));
        let conn = db.connect().await;
        let backend = conn.get_database_backend();
        let tamper = format!(
            "UPDATE {} SET checksum = 'x' WHERE version = '{first}'",
            quote_ident(backend, &history)
        );
        let changed = conn.execute_unprepared(&tamper).await.unwrap();
        assert!(changed.rows_affected() >= 1);

        let doc = status_json(&db, cwd.path());
        assert_eq!(
            states(&doc)[0],
            (first.clone(), "applied".into(), "changed".into())
        );

        let out = shop(Some(&db), cwd.path(), &["up"]);
        assert!(
            !out.status.success(),
            "{:?}: up ran over a tampered migration",
            db.backend
        );
        let err = stderr(&out);
        assert!(
            err.contains(first.as_str()) && err.contains("checksum"),
            "{err}"
        );
        assert!(err.contains("Nothing was changed"), "{err}");
        assert_eq!(ledger(&conn).await, names[..names.len() - 1].to_vec());
        assert!(customer_emails(&conn).await.is_empty());

        let out = ok(shop(Some(&db), cwd.path(), &["repair"]));
        assert!(
            stdout(&out).contains("recorded 1 checksum(s)"),
            "{}",
            stdout(&out)
        );
        let out = ok(shop(Some(&db), cwd.path(), &["up"]));
        assert!(stderr(&out).contains(last.as_str()), "{}", stderr(&out));
        assert_eq!(ledger(&conn).await, names);
        assert_eq!(customer_emails(&conn).await, seed_emails());
        let doc = status_json(&db, cwd.path());
        assert!(
            states(&doc)
                .iter()
                .all(|(_, s, c)| s == "applied" && c == "ok"),
            "{doc}"
        );
        conn.close().await.unwrap();
    });
}

#[tokio::test]
async fn example_as_a_library_up_status_and_no_drift() {
    let names = names();
    each_backend!("shop_library", |db| {
        let config = config();
        let entities = config
            .entities()
            .cloned()
            .expect("the shop config has entities");
        let runner =
            Runner::with_config(db.connect().await, Migrator::migrations(), config.clone());

        let before = runner.status().await.unwrap();
        assert_eq!(
            before.iter().map(|s| s.version.clone()).collect::<Vec<_>>(),
            names
        );
        assert!(before.iter().all(|s| s.status == State::Pending));

        let steps = runner.up(&Target::All).await.unwrap();
        assert_eq!(
            steps.iter().map(|s| s.version.clone()).collect::<Vec<_>>(),
            names
        );

        let after = runner.status().await.unwrap();
        assert!(
            after
                .iter()
                .all(|s| s.status == State::Applied && s.checksum == ChecksumState::Ok),
            "{:?}: {after:?}",
            db.backend
        );
        assert!(runner.verify().await.unwrap().is_empty());
        assert_eq!(runner.history(None).await.unwrap().len(), names.len());
        let tables = list_tables(runner.connection()).await.unwrap();
        assert!(tables.contains(&config.history_table), "{tables:?}");
        assert_eq!(customer_emails(runner.connection()).await, seed_emails());

        let found = drift(runner.connection(), &entities, &config)
            .await
            .unwrap();
        assert!(
            found.is_empty(),
            "{:?}: drift after up: {:#?}",
            db.backend,
            found.differences
        );
        // The same through the runner's configuration.
        assert!(
            migration_engine::review::drift::drift_of(&runner)
                .await
                .unwrap()
                .is_empty()
        );

        // A second up has nothing to do.
        assert!(runner.up(&Target::All).await.unwrap().is_empty());
        runner.connection().clone().close().await.unwrap();
    });
}
