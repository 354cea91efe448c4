//! Running the `migration` binary (and the `chaos` test migrator) from tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use test_support::TestDb;

pub const BIN: &str = env!("CARGO_BIN_EXE_migration");

/// The `chaos` example migrator (built by `cargo test`, or `cargo build -p migration --example chaos`).
pub fn chaos_bin() -> PathBuf {
    let mut dir = std::env::current_exe().expect("test exe path");
    dir.pop();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let bin = dir.join("examples").join("chaos");
    assert!(
        bin.is_file(),
        "{} is missing: run `cargo build -p migration --example chaos`",
        bin.display()
    );
    bin
}

/// Runs `bin` in `dir` against `url` with extra environment `envs`.
pub fn run_bin(
    bin: &Path,
    dir: &Path,
    url: Option<&str>,
    args: &[&str],
    envs: &[(&str, &str)],
) -> Output {
    command(bin, dir, url, args, envs)
        .output()
        .expect("run binary")
}

/// The command `run_bin` would run, for spawning.
pub fn command(
    bin: &Path,
    dir: &Path,
    url: Option<&str>,
    args: &[&str],
    envs: &[(&str, &str)],
) -> Command {
    let mut cmd = Command::new(bin);
    cmd.current_dir(dir)
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("DATABASE_SCHEMA")
        .env_remove("OHT50_ENV")
        .env_remove("OHT50_BACKUP_DIR")
        .env("OHT50_BACKUP_DIR", dir.join("backups"));
    if let Some(url) = url {
        cmd.env("DATABASE_URL", url);
    }
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd
}

pub fn run(dir: &Path, url: Option<&str>, args: &[&str]) -> Output {
    run_bin(Path::new(BIN), dir, url, args, &[])
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn ok(o: Output) -> Output {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        stdout(&o),
        stderr(&o)
    );
    o
}

/// Applied versions, from `status --format json`.
pub fn applied(dir: &Path, url: &str) -> Vec<String> {
    let o = ok(run(dir, Some(url), &["status", "--format", "json"]));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).expect("status JSON");
    doc["migrations"]
        .as_array()
        .expect("migrations array")
        .iter()
        .filter(|m| m["status"] == "applied")
        .map(|m| m["version"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// The schema and the ledger rows of `db`.
pub async fn snapshot(db: &TestDb) -> (migration_engine::schema::Schema, Vec<(String, i64)>) {
    let conn = db.connect().await;
    let schema = migration_engine::schema::inspect(&conn).await.expect("inspect");
    let ledger = if schema.tables.contains_key("seaql_migrations") {
        migration_engine::bookkeeping::ledger::Ledger::default()
            .applied(&conn)
            .await
            .expect("ledger")
            .into_iter()
            .map(|m| (m.version, m.applied_at))
            .collect()
    } else {
        Vec::new()
    };
    let _ = conn.close().await;
    (schema, ledger)
}
