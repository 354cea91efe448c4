//! Running the `migration` binary (and the `chaos` test migrator) from tests.
#![allow(dead_code)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use migration::MigratorTrait;
use test_support::TestDb;

pub const BIN: &str = env!("CARGO_BIN_EXE_migration");

/// The names of the OHT-50 migrations, oldest first, from `Migrator::migrations()` (tests never
/// spell them out).
pub fn names() -> Vec<String> {
    migration::Migrator::migrations()
        .iter()
        .map(|m| m.name().to_string())
        .collect()
}

/// How many OHT-50 migrations there are.
pub fn count() -> usize {
    migration::Migrator::migrations().len()
}

/// The one migration whose name ends with `suffix` (its description, e.g. `"_initial_schema"`).
pub fn name_ending(suffix: &str) -> String {
    let mut found: Vec<String> = names()
        .into_iter()
        .filter(|n| n.ends_with(suffix))
        .collect();
    assert_eq!(found.len(), 1, "migrations named `*{suffix}`: {found:?}");
    found.remove(0)
}

/// Where `name` is in `Migrator::migrations()`.
pub fn position(name: &str) -> usize {
    names()
        .iter()
        .position(|n| n == name)
        .unwrap_or_else(|| panic!("{name} is not a migration"))
}

/// The shortest prefix of `name` that names no other migration (for `--to PREFIX`).
pub fn unique_prefix(name: &str) -> String {
    let all = names();
    (1..name.len())
        .map(|len| &name[..len])
        .find(|p| all.iter().filter(|n| n.starts_with(p)).count() == 1)
        .unwrap_or_else(|| panic!("no proper prefix of {name} is unique"))
        .to_string()
}

/// The longest prefix every migration name shares (ambiguous for `--to`).
pub fn common_prefix() -> String {
    let all = names();
    let first = all.first().expect("at least one migration");
    let len = (0..=first.len())
        .rev()
        .find(|&len| all.iter().all(|n| n.starts_with(&first[..len])))
        .unwrap_or(0);
    first[..len].to_string()
}

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
    let schema = migration_engine::schema::inspect(&conn)
        .await
        .expect("inspect");
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

/// A spawned process whose output is collected while it runs, so a test can wait for what it
/// has said (`wait_for` over [`Watched::stderr_so_far`]) and still get all of it at the end.
pub struct Watched {
    child: Child,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    readers: Vec<JoinHandle<()>>,
}

fn drain(from: impl Read + Send + 'static, into: Arc<Mutex<Vec<u8>>>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut from = from;
        let mut buf = [0u8; 4096];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 {
                break;
            }
            into.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    })
}

impl Watched {
    /// Spawns `cmd` with its stdout and stderr piped and collected.
    pub fn spawn(mut cmd: Command) -> Watched {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let readers = vec![
            drain(child.stdout.take().expect("stdout"), stdout.clone()),
            drain(child.stderr.take().expect("stderr"), stderr.clone()),
        ];
        Watched {
            child,
            stdout,
            stderr,
            readers,
        }
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// What it has written to stderr so far.
    pub fn stderr_so_far(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    /// Whether it is still running.
    pub fn running(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }

    /// SIGKILL.
    pub fn kill(&mut self) {
        self.child.kill().expect("SIGKILL");
    }

    /// Waits for it to exit; everything it wrote.
    pub fn wait_with_output(mut self) -> Output {
        let status = self.child.wait().expect("wait");
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
        Output {
            status,
            stdout: std::mem::take(&mut *self.stdout.lock().unwrap()),
            stderr: std::mem::take(&mut *self.stderr.lock().unwrap()),
        }
    }
}
