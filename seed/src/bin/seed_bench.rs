//! `cargo run --release -p seed --bin seed-bench`: inserts the same N telemetry rows (default
//! 1,000,000) through seed's bulk path on PostgreSQL, SQLite and MariaDB/MySQL, then loads
//! them into PostgreSQL with `psql -c "\copy telemetry(...) FROM 'file.csv' CSV"`, and prints
//! rows/s per backend and the ratio of seed's PostgreSQL time to psql's.
//!
//! Each backend gets a fresh scratch database (`seed_bench_<pid>...`), migrated, then dropped.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Parser;
use migration::{Migrator, MigratorTrait};
use migration_engine::{ConnectSettings, DatabaseUrl, Runner, Target};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use seed::bulk::{BulkWriter, Val};
use seed::dev::{self, TELEMETRY, TelemetryGen};

#[derive(Debug, Parser)]
#[command(
    name = "seed-bench",
    about = "Bulk insert benchmark: seed vs psql \\copy"
)]
struct Args {
    /// Telemetry rows to insert per backend
    #[arg(long, default_value_t = 1_000_000)]
    rows: u64,
    /// Robots the rows are spread over
    #[arg(long, default_value_t = 10)]
    robots: u32,
    /// PostgreSQL server URL, without a database name ("" to skip)
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432")]
    postgres: String,
    /// MySQL/MariaDB server URL, without a database name ("" to skip)
    #[arg(long, default_value = "mysql://root@127.0.0.1:3306")]
    mysql: String,
    /// Skip SQLite
    #[arg(long)]
    no_sqlite: bool,
    /// The psql program
    #[arg(long, default_value = "psql")]
    psql: String,
    /// Random seed of the generated rows
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

struct Outcome {
    name: String,
    secs: f64,
    rows: u64,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let per_robot = args.rows / u64::from(args.robots.max(1));
    let rows = per_robot * u64::from(args.robots.max(1));
    println!(
        "seed-bench: {rows} telemetry rows ({} robots x {per_robot} samples), seed {}",
        args.robots, args.seed
    );
    let tag = format!("seed_bench_{}", std::process::id());
    let mut results = Vec::new();

    if !args.postgres.is_empty() {
        let url = create_db(&args.postgres, "postgres", &format!("{tag}_pg")).await?;
        let secs = bench_seed(&url, &args, per_robot).await;
        let psql_url = create_db(&args.postgres, "postgres", &format!("{tag}_psql")).await?;
        let psql_secs = match &secs {
            Ok(_) => bench_psql(&psql_url, &args, per_robot).await,
            Err(_) => Ok(0.0),
        };
        drop_db(&args.postgres, "postgres", &format!("{tag}_pg")).await;
        drop_db(&args.postgres, "postgres", &format!("{tag}_psql")).await;
        results.push(Outcome {
            name: "PostgreSQL (seed, COPY FROM STDIN)".into(),
            secs: secs?,
            rows,
        });
        results.push(Outcome {
            name: "PostgreSQL (psql \\copy CSV)".into(),
            secs: psql_secs?,
            rows,
        });
    }
    if !args.no_sqlite {
        let dir = tempfile_dir()?;
        let url = format!("sqlite://{}?mode=rwc", dir.join("bench.db").display());
        let secs = bench_seed(&url, &args, per_robot).await;
        let _ = std::fs::remove_dir_all(&dir);
        results.push(Outcome {
            name: "SQLite (seed, multi-row INSERT)".into(),
            secs: secs?,
            rows,
        });
    }
    if !args.mysql.is_empty() {
        let url = create_db(&args.mysql, "mysql", &format!("{tag}_my")).await?;
        let secs = bench_seed(&url, &args, per_robot).await;
        drop_db(&args.mysql, "mysql", &format!("{tag}_my")).await;
        results.push(Outcome {
            name: "MariaDB/MySQL (seed, multi-row INSERT)".into(),
            secs: secs?,
            rows,
        });
    }

    println!();
    println!("{:<42} {:>10} {:>14}", "backend", "seconds", "rows/s");
    for r in &results {
        println!(
            "{:<42} {:>10.2} {:>14.0}",
            r.name,
            r.secs,
            r.rows as f64 / r.secs.max(1e-9)
        );
    }
    if let (Some(ours), Some(psql)) = (
        results.iter().find(|r| r.name.contains("seed, COPY")),
        results.iter().find(|r| r.name.contains("psql")),
    ) {
        let ratio = ours.secs / psql.secs.max(1e-9);
        println!(
            "\nPostgreSQL: seed takes {ratio:.2}x the time of psql \\copy (target: <= 1.5x): {}",
            if ratio <= 1.5 {
                "OK"
            } else {
                "SLOWER THAN TARGET"
            }
        );
    }
    Ok(())
}

fn tempfile_dir() -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("seed_bench_{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

async fn create_db(server: &str, admin_db: &str, name: &str) -> Result<String> {
    let admin = Database::connect(format!("{server}/{admin_db}"))
        .await
        .with_context(|| format!("connecting to {server}"))?;
    let q = if server.starts_with("postgres") {
        format!("CREATE DATABASE \"{name}\"")
    } else {
        format!("CREATE DATABASE `{name}`")
    };
    admin.execute_unprepared(&q).await?;
    let _ = admin.close().await;
    Ok(format!("{server}/{name}"))
}

async fn drop_db(server: &str, admin_db: &str, name: &str) {
    if let Ok(admin) = Database::connect(format!("{server}/{admin_db}")).await {
        let q = if server.starts_with("postgres") {
            format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")
        } else {
            format!("DROP DATABASE IF EXISTS `{name}`")
        };
        let _ = admin.execute_unprepared(&q).await;
        let _ = admin.close().await;
    }
}

/// Migrates, creates the robots, returns the connection.
async fn prepare(url: &str, robots: u32) -> Result<DatabaseConnection> {
    let url = DatabaseUrl::parse(url)?;
    let db = migration_engine::connect(&url, &ConnectSettings::default()).await?;
    let runner = Runner::with_config(db.clone(), Migrator::migrations(), migration::config());
    runner.up(&Target::All).await?;
    let mut w = BulkWriter::begin(&db).await?;
    let now = dev::default_start();
    let rows: Vec<Vec<Val>> = (1..=i64::from(robots))
        .map(|id| {
            vec![
                Val::Int(id),
                Val::Text(format!("BENCH-{id:03}")),
                Val::Text("OHT-50".into()),
                Val::Text("IDLE".into()),
                Val::Text("AUTO".into()),
                Val::Float(0.0),
                Val::Float(0.0),
                Val::Float(0.0),
                Val::Float(0.0),
                Val::Float(0.0),
                Val::Int(100),
                Val::Float(25.0),
                Val::Ts(now),
                Val::Ts(now),
            ]
        })
        .collect();
    w.write(&dev::ROBOTS, rows, &mut |_| {}).await?;
    w.sync_id_sequence("robots").await?;
    w.commit().await?;
    Ok(db)
}

fn robot_ids(robots: u32) -> Vec<i64> {
    (1..=i64::from(robots)).collect()
}

async fn bench_seed(url: &str, args: &Args, per_robot: u64) -> Result<f64> {
    let db = prepare(url, args.robots).await?;
    let rows_iter = TelemetryGen::new(
        args.seed,
        &robot_ids(args.robots),
        dev::default_start(),
        per_robot,
        1.0,
    );
    let started = Instant::now();
    let mut w = BulkWriter::begin(&db).await?;
    let n = w.write(&TELEMETRY, rows_iter, &mut |_| {}).await?;
    w.commit().await?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "  {}: {n} rows in {secs:.2} s ({:.0} rows/s)",
        backend_label(url),
        n as f64 / secs
    );
    let _ = db.close().await;
    Ok(secs)
}

fn backend_label(url: &str) -> &'static str {
    if url.starts_with("postgres") {
        "PostgreSQL/seed"
    } else if url.starts_with("mysql") {
        "MySQL/seed"
    } else {
        "SQLite/seed"
    }
}

async fn bench_psql(url: &str, args: &Args, per_robot: u64) -> Result<f64> {
    let db = prepare(url, args.robots).await?;
    let _ = db.close().await;
    let dir = tempfile_dir()?;
    let csv = dir.join("telemetry.csv");
    {
        let file = std::fs::File::create(&csv)?;
        let mut out = std::io::BufWriter::new(file);
        let rows_iter = TelemetryGen::new(
            args.seed,
            &robot_ids(args.robots),
            dev::default_start(),
            per_robot,
            1.0,
        );
        let mut line = String::new();
        for row in rows_iter {
            line.clear();
            seed::bulk::encode_copy_row(&mut line, &row);
            // No value contains a tab, comma, quote or backslash: text format to CSV is a
            // separator swap; NULL (\N) becomes an empty field.
            let csv_line = line.replace("\\N", "").replace('\t', ",");
            out.write_all(csv_line.as_bytes())?;
        }
        out.flush()?;
    }
    let cols = TELEMETRY.columns.join(", ");
    let cmd = format!("\\copy telemetry({cols}) FROM '{}' CSV", csv.display());
    let started = Instant::now();
    let status = std::process::Command::new(&args.psql)
        .arg(url)
        .arg("-q")
        .arg("-v")
        .arg("ON_ERROR_STOP=1")
        .arg("-c")
        .arg(&cmd)
        .status()
        .with_context(|| format!("running {}", args.psql))?;
    let secs = started.elapsed().as_secs_f64();
    let _ = std::fs::remove_dir_all(&dir);
    if !status.success() {
        bail!("psql \\copy failed ({status})");
    }
    println!(
        "  PostgreSQL/psql \\copy: {} rows in {secs:.2} s ({:.0} rows/s)",
        per_robot * u64::from(args.robots),
        (per_robot * u64::from(args.robots)) as f64 / secs
    );
    Ok(secs)
}
