//! `oht50-bench`: whole-process wall time of `migration` runs against references, as medians
//! of repeated runs, printed as a table.
//!
//! ```sh
//! bench/run            # builds everything in release mode, then runs this
//! ```
//!
//! Measures, on PostgreSQL (default URL, i.e. TLS negotiated, and `sslmode=disable`), SQLite
//! and MariaDB: a no-op `up` on an up-to-date database with our `migration` binary vs stock
//! sea-orm-migration's `up` built from the same migrations.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use clap::Parser;

#[derive(Parser)]
struct Args {
    /// Runs per measurement (the median is reported)
    #[arg(long, default_value_t = 21)]
    runs: usize,
    /// Directory holding the release binaries `migration` and `stock-migration`
    #[arg(long)]
    bin_dir: PathBuf,
    /// PostgreSQL server URL without a database name
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432")]
    postgres: String,
    /// MariaDB/MySQL server URL without a database name
    #[arg(long, default_value = "mysql://root@127.0.0.1:3306")]
    mysql: String,
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Median wall time of `bin args` with `DATABASE_URL=url`; panics on a failed run (a
/// benchmark of a failing command means nothing).
fn time(bin: &Path, url: &str, args: &[&str], runs: usize) -> Duration {
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        let out = Command::new(bin)
            .args(args)
            .env("DATABASE_URL", url)
            .env("OHT50_BACKUP_DIR", std::env::temp_dir().join("oht50-bench-backups"))
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()));
        samples.push(started.elapsed());
        assert!(
            out.status.success(),
            "{} {args:?} failed: {}",
            bin.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    median(samples)
}

fn sh(cmd: &str) {
    let ok = Command::new("sh").arg("-c").arg(cmd).status().map(|s| s.success()).unwrap_or(false);
    assert!(ok, "failed: {cmd}");
}

struct Target {
    label: &'static str,
    url: String,
    setup: String,
    teardown: String,
}

fn main() {
    let args = Args::parse();
    let ours = args.bin_dir.join("migration");
    let stock = args.bin_dir.join("stock-migration");
    let tmp = std::env::temp_dir().join(format!("oht50-bench-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).expect("temp dir");
    let pg_db = format!("oht50_bench_{}", std::process::id());
    let targets = [
        Target {
            label: "PostgreSQL (default URL: TLS)",
            url: format!("{}/{pg_db}", args.postgres),
            setup: format!("psql -qX '{}/postgres' -c 'CREATE DATABASE {pg_db}'", args.postgres),
            teardown: String::new(),
        },
        Target {
            label: "PostgreSQL (sslmode=disable)",
            url: format!("{}/{pg_db}?sslmode=disable", args.postgres),
            setup: String::new(),
            teardown: format!("psql -qX '{}/postgres' -c 'DROP DATABASE {pg_db}'", args.postgres),
        },
        Target {
            label: "SQLite",
            url: format!("sqlite://{}?mode=rwc", tmp.join("bench.db").display()),
            setup: String::new(),
            teardown: String::new(),
        },
        Target {
            label: "MariaDB",
            url: format!("{}/{pg_db}", args.mysql),
            setup: format!("mariadb -h127.0.0.1 -uroot -e 'CREATE DATABASE {pg_db}'"),
            teardown: format!("mariadb -h127.0.0.1 -uroot -e 'DROP DATABASE {pg_db}'"),
        },
    ];
    println!("No-op `up` on an up-to-date database: whole-process wall time, median of {} runs", args.runs);
    println!("| backend | oht50 `migration up` | stock sea-orm-migration `up` | ratio |");
    println!("|---|---:|---:|---:|");
    for t in &targets {
        if !t.setup.is_empty() {
            sh(&t.setup);
        }
        // Both tools keep `seaql_migrations` the same way; ours adds its history table.
        time(&ours, &t.url, &["up"], 1);
        time(&stock, &t.url, &["up"], 1);
        let a = time(&ours, &t.url, &["up"], args.runs);
        let b = time(&stock, &t.url, &["up"], args.runs);
        println!(
            "| {} | {:.1} ms | {:.1} ms | {:.2}x |",
            t.label,
            a.as_secs_f64() * 1e3,
            b.as_secs_f64() * 1e3,
            a.as_secs_f64() / b.as_secs_f64()
        );
        if !t.teardown.is_empty() {
            sh(&t.teardown);
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);
}
