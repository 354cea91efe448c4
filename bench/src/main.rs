//! `oht50-bench`: the benchmark suite, printed as Markdown tables.
//!
//! ```sh
//! bench/run                                  # everything, 5,000,000 telemetry rows
//! bench/run --suite fresh,noop,chain         # only some suites
//! bench/run --rows 500000 --backends pg      # smaller data, one backend
//! ```
//!
//! Suites (whole-process wall time, medians of `--runs` runs unless said otherwise):
//! * `fresh`: `migration up` on an empty database vs the same DDL as one SQL script
//!   (`migration sql up --backend X`) applied with psql / sqlite3 / mariadb;
//! * `noop`: no-op `up` on an up-to-date database vs stock sea-orm-migration `up`;
//! * `chain`: chains of 3 and 300 generated migrations (`chain` binary): fresh and no-op `up`,
//!   ours vs stock vs one SQL script;
//! * `backfill`: the telemetry backfill on `--rows` rows (10% with NULLs) vs one set-based
//!   UPDATE (rolled back, and committed) and vs the spec's row-by-row loop (capped at `--row-by-row-cap` rows, extrapolated);
//! * `availability`: max and p99 latency of a concurrent single-row INSERT loop while the
//!   `idx_telemetry_timestamp` migration builds the index on `--rows` rows, vs a plain
//!   `CREATE INDEX` (PostgreSQL and MariaDB; SQLite has a single writer).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use migration::sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, TransactionTrait};
use migration::{Migrator, MigratorTrait};

#[derive(Parser)]
struct Args {
    /// Runs per measurement (the median is reported)
    #[arg(long, default_value_t = 11)]
    runs: usize,
    /// Directory holding the release binaries `migration`, `stock-migration` and `chain`
    #[arg(long)]
    bin_dir: PathBuf,
    /// PostgreSQL server URL without a database name
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432")]
    postgres: String,
    /// MariaDB/MySQL server URL without a database name
    #[arg(long, default_value = "mysql://root@127.0.0.1:3306")]
    mysql: String,
    /// Suites to run, comma-separated: fresh,noop,chain,backfill,availability
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "fresh,noop,chain,backfill,availability"
    )]
    suite: Vec<String>,
    /// Backends, comma-separated: pg,sqlite,mariadb
    #[arg(long, value_delimiter = ',', default_value = "pg,sqlite,mariadb")]
    backends: Vec<String>,
    /// Telemetry rows for the backfill and availability suites
    #[arg(long, default_value_t = 5_000_000)]
    rows: u64,
    /// Fixed batch size of the backfill (default: adaptive batch sizes, see `--batch-target-ms`)
    #[arg(long)]
    batch_size: Option<u64>,
    /// Target duration of one backfill batch (the product's default when not given)
    #[arg(long)]
    batch_target_ms: Option<u64>,
    /// Rows the row-by-row reference processes before its time is extrapolated
    #[arg(long, default_value_t = 100_000)]
    row_by_row_cap: u64,
    /// Length of the long generated chain
    #[arg(long, default_value_t = 300)]
    chain: usize,
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn ratio(a: Duration, b: Duration) -> String {
    format!("{:.2}x", a.as_secs_f64() / b.as_secs_f64())
}

/// Runs `bin args` with `DATABASE_URL=url` and `envs`; panics on failure (a benchmark of a
/// failing command means nothing). Returns wall time and stderr.
fn run(bin: &Path, url: &str, args: &[&str], envs: &[(&str, String)]) -> (Duration, String) {
    let started = Instant::now();
    let mut cmd = Command::new(bin);
    cmd.args(args).env("DATABASE_URL", url).env(
        "OHT50_BACKUP_DIR",
        std::env::temp_dir().join("oht50-bench-backups"),
    );
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()));
    let took = started.elapsed();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "{} {args:?} failed: {err}",
        bin.display()
    );
    (took, err)
}

fn sh(cmd: &str) -> Duration {
    let started = Instant::now();
    let out = Command::new("sh").arg("-c").arg(cmd).output().expect("sh");
    assert!(
        out.status.success(),
        "failed: {cmd}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    started.elapsed()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Pg,
    Sqlite,
    Maria,
}

/// One backend: how to make an empty database, its URL, and how to apply a SQL script.
struct Backend {
    kind: Kind,
    label: &'static str,
    server: String,
    tmp: PathBuf,
}

impl Backend {
    fn flag(&self) -> &'static str {
        match self.kind {
            Kind::Pg => "postgres",
            Kind::Sqlite => "sqlite",
            Kind::Maria => "mysql",
        }
    }

    fn url(&self, db: &str) -> String {
        match self.kind {
            Kind::Pg => format!("{}/{db}?sslmode=disable", self.server),
            Kind::Sqlite => format!(
                "sqlite://{}?mode=rwc",
                self.tmp.join(format!("{db}.db")).display()
            ),
            Kind::Maria => format!("{}/{db}", self.server),
        }
    }

    fn create(&self, db: &str) {
        match self.kind {
            Kind::Pg => {
                sh(&format!(
                    "psql -qX '{}/postgres' -c 'DROP DATABASE IF EXISTS {db}' -c 'CREATE DATABASE {db}'",
                    self.server
                ));
            }
            Kind::Sqlite => {
                let _ = std::fs::remove_file(self.tmp.join(format!("{db}.db")));
            }
            Kind::Maria => {
                sh(&format!(
                    "mariadb -h127.0.0.1 -uroot -e 'DROP DATABASE IF EXISTS {db}; CREATE DATABASE {db}'"
                ));
            }
        }
    }

    fn drop(&self, db: &str) {
        match self.kind {
            Kind::Pg => {
                sh(&format!(
                    "psql -qX '{}/postgres' -c 'DROP DATABASE IF EXISTS {db} WITH (FORCE)'",
                    self.server
                ));
            }
            Kind::Sqlite => {
                let _ = std::fs::remove_file(self.tmp.join(format!("{db}.db")));
            }
            Kind::Maria => {
                sh(&format!(
                    "mariadb -h127.0.0.1 -uroot -e 'DROP DATABASE IF EXISTS {db}'"
                ));
            }
        }
    }

    /// Wall time of applying `script` to database `db` with the backend's own client.
    fn apply_script(&self, db: &str, script: &Path) -> Duration {
        match self.kind {
            Kind::Pg => sh(&format!(
                "psql -qX -v ON_ERROR_STOP=1 '{}/{db}?sslmode=disable' -f '{}' > /dev/null",
                self.server,
                script.display()
            )),
            Kind::Sqlite => sh(&format!(
                "sqlite3 -bail '{}' < '{}'",
                self.tmp.join(format!("{db}.db")).display(),
                script.display()
            )),
            Kind::Maria => sh(&format!(
                "mariadb -h127.0.0.1 -uroot {db} < '{}'",
                script.display()
            )),
        }
    }
}

/// Copies the contenders' binaries from `from` into `to` and returns `to`: every binary timed
/// starts from a freshly written file. How long ago a binary was written, and whether its pages
/// were since evicted and read back, changes its start-up (an older copy of the same binary
/// started 15% slower here), which would otherwise favour whichever was built last.
fn stage(from: &Path, to: &Path) -> PathBuf {
    std::fs::create_dir_all(to).expect("staging dir");
    for name in ["migration", "stock-migration", "chain"] {
        let src = from.join(name);
        if src.exists() {
            std::fs::copy(&src, to.join(name))
                .unwrap_or_else(|e| panic!("cannot copy {}: {e}", src.display()));
        }
    }
    to.to_path_buf()
}

fn main() {
    let mut args = Args::parse();
    let tmp = std::env::temp_dir().join(format!("oht50-bench-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).expect("temp dir");
    args.bin_dir = stage(&args.bin_dir, &tmp.join("bin"));
    let backends: Vec<Backend> = args
        .backends
        .iter()
        .filter_map(|b| match b.as_str() {
            "pg" | "postgres" => Some(Backend {
                kind: Kind::Pg,
                label: "PostgreSQL",
                server: args.postgres.clone(),
                tmp: tmp.clone(),
            }),
            "sqlite" => Some(Backend {
                kind: Kind::Sqlite,
                label: "SQLite",
                server: String::new(),
                tmp: tmp.clone(),
            }),
            "mariadb" | "mysql" => Some(Backend {
                kind: Kind::Maria,
                label: "MariaDB",
                server: args.mysql.clone(),
                tmp: tmp.clone(),
            }),
            other => {
                eprintln!("unknown backend {other}: use pg, sqlite or mariadb");
                None
            }
        })
        .collect();
    let want = |s: &str| args.suite.iter().any(|x| x == s);
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    let db = format!("oht50_bench_{}", std::process::id());
    if want("fresh") {
        fresh(&args, &backends, &db, &tmp);
    }
    if want("noop") {
        noop(&args, &backends, &db);
    }
    if want("chain") {
        chain(&args, &backends, &db, &tmp);
    }
    if want("backfill") {
        rt.block_on(backfill(&args, &backends, &db));
    }
    if want("availability") {
        rt.block_on(availability(&args, &backends, &db));
    }
    let _ = std::fs::remove_dir_all(&tmp);
}

fn fresh(args: &Args, backends: &[Backend], db: &str, tmp: &Path) {
    let ours = args.bin_dir.join("migration");
    println!(
        "\n### Fresh `up` of all migrations vs one SQL script (median of {} runs)\n",
        args.runs
    );
    println!("| backend | `migration up` | SQL script via client | ratio |");
    println!("|---|---:|---:|---:|");
    for b in backends {
        let script = tmp.join(format!("fresh-{}.sql", b.flag()));
        run(
            &ours,
            "sqlite::memory:",
            &[
                "sql",
                "up",
                "--backend",
                b.flag(),
                "-o",
                script.to_str().unwrap_or(""),
            ],
            &[],
        );
        let mut a = Vec::new();
        let mut s = Vec::new();
        for _ in 0..args.runs {
            b.create(db);
            a.push(run(&ours, &b.url(db), &["up", "--no-backup"], &[]).0);
            b.create(db);
            s.push(b.apply_script(db, &script));
        }
        b.drop(db);
        let (a, s) = (median(a), median(s));
        println!("| {} | {} | {} | {} |", b.label, ms(a), ms(s), ratio(a, s));
    }
}

fn noop(args: &Args, backends: &[Backend], db: &str) {
    let ours = args.bin_dir.join("migration");
    let stock = args.bin_dir.join("stock-migration");
    println!(
        "\n### No-op `up` on an up-to-date database vs stock sea-orm-migration (median of {} runs)\n",
        args.runs
    );
    println!("| backend | `migration up` | stock `up` | ratio |");
    println!("|---|---:|---:|---:|");
    for b in backends {
        b.create(db);
        let url = b.url(db);
        // PostgreSQL twice: with the default URL (the server negotiates TLS, ~90 ms of
        // handshake per connection here) and with `sslmode=disable`.
        let mut variants = vec![(b.label.to_string(), url.clone())];
        if b.kind == Kind::Pg {
            variants.insert(
                0,
                (
                    format!("{} (default URL: TLS)", b.label),
                    url.replace("?sslmode=disable", ""),
                ),
            );
            variants[1].0 = format!("{} (sslmode=disable)", b.label);
        }
        for (label, url) in variants {
            run(&ours, &url, &["up", "--no-backup"], &[]);
            run(&stock, &url, &["up"], &[]);
            // Alternating, so that a drift of the machine's speed hits both alike.
            // Which goes first alternates too: neither always runs right after the other.
            let (mut a, mut s) = (Vec::new(), Vec::new());
            for i in 0..args.runs {
                if i % 2 == 1 {
                    s.push(run(&stock, &url, &["up"], &[]).0);
                }
                a.push(run(&ours, &url, &["up", "--no-backup"], &[]).0);
                if i % 2 == 0 {
                    s.push(run(&stock, &url, &["up"], &[]).0);
                }
            }
            let (a, s) = (median(a), median(s));
            println!("| {label} | {} | {} | {} |", ms(a), ms(s), ratio(a, s));
        }
        b.drop(db);
    }
}

/// No-op runs per contender in each run of the chain suite.
const NOOPS_PER_RUN: usize = 6;

fn chain(args: &Args, backends: &[Backend], db: &str, tmp: &Path) {
    let bin = args.bin_dir.join("chain");
    let runs = args.runs.clamp(1, 5);
    println!(
        "\n### Chains of generated migrations (one small CREATE TABLE each; fresh: median of {runs} runs, no-op: of {} alternating runs)\n",
        runs * NOOPS_PER_RUN
    );
    println!(
        "| backend | chain | fresh: ours | fresh: stock | fresh: SQL script | ours / script | no-op: ours | no-op: stock | ours / stock |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    let stock_db = format!("{db}_stock");
    for b in backends {
        let mut noop3 = None;
        for len in [3, args.chain] {
            let env = vec![("CHAIN_LEN", len.to_string())];
            let stock_env = vec![
                ("CHAIN_LEN", len.to_string()),
                ("CHAIN_STOCK", "1".to_string()),
            ];
            let script = tmp.join(format!("chain-{len}-{}.sql", b.flag()));
            run(
                &bin,
                "sqlite::memory:",
                &[
                    "sql",
                    "up",
                    "--backend",
                    b.flag(),
                    "-o",
                    script.to_str().unwrap_or(""),
                ],
                &env,
            );
            let (mut fo, mut fs, mut fq, mut no, mut ns) = (vec![], vec![], vec![], vec![], vec![]);
            for _ in 0..runs {
                b.create(db);
                fo.push(run(&bin, &b.url(db), &["up", "--no-backup"], &env).0);
                b.create(&stock_db);
                fs.push(run(&bin, &b.url(&stock_db), &["up"], &stock_env).0);
                // The no-ops alternate, NOOPS_PER_RUN times each: a few milliseconds each,
                // they need more samples than the fresh runs and the same machine state.
                // Which goes first alternates too: neither always runs right after the other.
                for i in 0..NOOPS_PER_RUN {
                    if i % 2 == 1 {
                        ns.push(run(&bin, &b.url(&stock_db), &["up"], &stock_env).0);
                    }
                    no.push(run(&bin, &b.url(db), &["up", "--no-backup"], &env).0);
                    if i % 2 == 0 {
                        ns.push(run(&bin, &b.url(&stock_db), &["up"], &stock_env).0);
                    }
                }
                b.create(db);
                fq.push(b.apply_script(db, &script));
            }
            b.drop(db);
            b.drop(&stock_db);
            let (fo, fs, fq, no, ns) = (median(fo), median(fs), median(fq), median(no), median(ns));
            if len == 3 {
                noop3 = Some(no);
            }
            let vs3 = match noop3 {
                Some(n3) if len != 3 => format!(" ({} of the 3-chain)", ratio(no, n3)),
                _ => String::new(),
            };
            println!(
                "| {} | {len} | {} | {} | {} | {} | {}{vs3} | {} | {} |",
                b.label,
                ms(fo),
                ms(fs),
                ms(fq),
                ratio(fo, fq),
                ms(no),
                ms(ns),
                ratio(no, ns)
            );
        }
    }
}

async fn connect(url: &str) -> DatabaseConnection {
    let parsed = migration_engine::DatabaseUrl::parse(url).expect("url");
    migration_engine::connect(&parsed, &migration_engine::ConnectSettings::default())
        .await
        .expect("connect")
}

/// The OHT-50 migration whose name ends with `suffix` (its description), from
/// `Migrator::migrations()`.
fn migration_named(suffix: &str) -> String {
    let found: Vec<String> = Migrator::migrations()
        .iter()
        .map(|m| m.name().to_string())
        .filter(|n| n.ends_with(suffix))
        .collect();
    match found.as_slice() {
        [one] => one.clone(),
        _ => panic!("expected one migration named `*{suffix}`, found {found:?}"),
    }
}

/// Creates `db` migrated up to the safety system with `rows` telemetry rows, 10% with NULL
/// positions, generated in SQL.
async fn telemetry_db(args: &Args, b: &Backend, db: &str) -> DatabaseConnection {
    b.create(db);
    let url = b.url(db);
    run(
        &args.bin_dir.join("migration"),
        &url,
        &[
            "up",
            "--to",
            &migration_named("_safety_system"),
            "--no-backup",
        ],
        &[],
    );
    let conn = connect(&url).await;
    conn.execute_unprepared(
        "INSERT INTO robots (id, name, robot_type, status, mode, created_at, updated_at) \
         VALUES (1, 'r1', 'oht', 'idle', 'auto', '2025-01-01 00:00:00', '2025-01-01 00:00:00')",
    )
    .await
    .expect("robot");
    let n = args.rows;
    let pos = |c: &str| format!("CASE WHEN g % 10 = 0 THEN NULL ELSE {c} END");
    let cols =
        "robot_id, timestamp, speed, temperature, position_x, position_y, position_z, orientation";
    let vals = |ts: &str| {
        format!(
            "1, {ts}, 1.5, 40.0, {}, {}, {}, {}",
            pos("g * 0.001"),
            pos("2.0"),
            pos("0.0"),
            pos("90.0")
        )
    };
    let sql = match b.kind {
        Kind::Pg => format!(
            "INSERT INTO telemetry ({cols}) SELECT {} FROM generate_series(1, {n}) g",
            vals("timestamp '2025-01-01' + g * interval '1 second'")
        ),
        Kind::Sqlite => format!(
            "WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < {n}) \
             INSERT INTO telemetry ({cols}) SELECT {} FROM s",
            vals("datetime('2025-01-01', '+' || g || ' seconds')")
        ),
        Kind::Maria => format!(
            "INSERT INTO telemetry ({cols}) SELECT {} FROM (SELECT seq AS g FROM seq_1_to_{n}) s",
            vals("TIMESTAMP '2025-01-01 00:00:00' + INTERVAL g SECOND")
        ),
    };
    conn.execute_unprepared(&sql)
        .await
        .expect("generate telemetry");
    if b.kind == Kind::Pg {
        conn.execute_unprepared("VACUUM ANALYZE telemetry")
            .await
            .expect("vacuum");
    }
    conn
}

/// Puts back the NULLs [`telemetry_db`] generated (every tenth id: the ids are `g`).
const UNFILL: &str = "UPDATE telemetry SET position_x = NULL, position_y = NULL, position_z = NULL, orientation = NULL \
     WHERE id % 10 = 0";

const FILL: &str = "UPDATE telemetry SET position_x = COALESCE(position_x, 0.0), position_y = COALESCE(position_y, 0.0), \
     position_z = COALESCE(position_z, 0.0), orientation = COALESCE(orientation, 0.0) \
     WHERE position_x IS NULL OR position_y IS NULL OR position_z IS NULL OR orientation IS NULL";

/// Lets the writes of the previous step reach the disk before the next one is timed, so that
/// one contender does not pay for another's write-back: the server's dirty pages (PostgreSQL:
/// a checkpoint; MariaDB: until InnoDB has flushed its dirty pages, at most 60 s), then the OS
/// page cache (`sync`).
async fn quiesce(conn: &DatabaseConnection) {
    match conn.get_database_backend() {
        DbBackend::Postgres => {
            let _ = conn.execute_unprepared("CHECKPOINT").await;
        }
        DbBackend::MySql => {
            // Flush at full speed meanwhile (the setting is put back after).
            let old = conn
                .query_one_raw(migration::sea_orm::Statement::from_string(
                    DbBackend::MySql,
                    "SELECT CAST(@@GLOBAL.innodb_max_dirty_pages_pct AS CHAR)",
                ))
                .await
                .ok()
                .flatten()
                .and_then(|r| r.try_get_by_index::<String>(0).ok());
            let _ = conn
                .execute_unprepared("SET GLOBAL innodb_max_dirty_pages_pct = 0")
                .await;
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(60) {
                let dirty = conn
                    .query_one_raw(migration::sea_orm::Statement::from_string(
                        DbBackend::MySql,
                        "SELECT CAST(VARIABLE_VALUE AS SIGNED) FROM information_schema.GLOBAL_STATUS \
                         WHERE VARIABLE_NAME = 'INNODB_BUFFER_POOL_PAGES_DIRTY'",
                    ))
                    .await
                    .ok()
                    .flatten()
                    .and_then(|r| r.try_get_by_index::<i64>(0).ok())
                    .unwrap_or(0);
                if dirty < 100 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            if let Some(old) = old.filter(|v| v.parse::<f64>().is_ok()) {
                let _ = conn
                    .execute_unprepared(&format!("SET GLOBAL innodb_max_dirty_pages_pct = {old}"))
                    .await;
            }
        }
        _ => {}
    }
    let _ = Command::new("sync").status();
}

async fn backfill(args: &Args, backends: &[Backend], db: &str) {
    println!(
        "\n### Telemetry backfill on {} rows (10% with NULLs), one run each\n",
        args.rows
    );
    let sizing = match (args.batch_size, args.batch_target_ms) {
        (Some(n), None) => format!("fixed batches of {n} keys"),
        (Some(n), Some(t)) => format!("adaptive batches from {n} keys, target {t} ms"),
        (None, Some(t)) => format!("adaptive batches, target {t} ms"),
        (None, None) => "adaptive batches, default target".to_string(),
    };
    println!(
        "| backend | one UPDATE statement (rolled back) | one UPDATE + COMMIT | batched migration ({sizing}) | throughput vs one statement: rolled back / committed | longest batch | batch sizes (keys) | spec row-by-row (extrapolated) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for b in backends {
        let conn = telemetry_db(args, b, db).await;
        let backend = conn.get_database_backend();
        // 1. One set-based statement, rolled back.
        quiesce(&conn).await;
        let txn = conn.begin().await.expect("begin");
        let t = Instant::now();
        txn.execute_unprepared(FILL).await.expect("update");
        let single = t.elapsed();
        txn.rollback().await.expect("rollback");
        if b.kind == Kind::Pg {
            conn.execute_unprepared("VACUUM FULL ANALYZE telemetry")
                .await
                .expect("vacuum");
        }
        // 2. The spec's way: load rows, update those with NULLs one by one (capped), rolled back.
        let cap = args.row_by_row_cap.min(args.rows);
        let txn = conn.begin().await.expect("begin");
        let t = Instant::now();
        let rows = txn
            .query_all_raw(migration::sea_orm::Statement::from_string(
                backend,
                format!(
                    "SELECT id, position_x, position_y, position_z, orientation FROM telemetry ORDER BY id LIMIT {cap}"
                ),
            ))
            .await
            .expect("load");
        for r in &rows {
            let id: i32 = r.try_get_by_index(0).unwrap_or(0);
            let nulls = (1..5).any(|i| {
                r.try_get_by_index::<Option<f64>>(i)
                    .ok()
                    .flatten()
                    .is_none()
            });
            if nulls {
                let ph = if backend == DbBackend::Postgres {
                    "$1"
                } else {
                    "?"
                };
                txn.execute_raw(migration::sea_orm::Statement::from_sql_and_values(
                    backend,
                    format!(
                        "UPDATE telemetry SET position_x = COALESCE(position_x, 0.0), position_y = COALESCE(position_y, 0.0), \
                         position_z = COALESCE(position_z, 0.0), orientation = COALESCE(orientation, 0.0) WHERE id = {ph}"
                    ),
                    [id.into()],
                ))
                .await
                .expect("row update");
            }
        }
        let row_by_row = t.elapsed().mul_f64(args.rows as f64 / cap.max(1) as f64);
        txn.rollback().await.expect("rollback");
        // 1b. The one statement again, committed like the migration's batches are (the
        // rolled-back figure above leaves out writing the changes), then the NULLs put back.
        quiesce(&conn).await;
        let txn = conn.begin().await.expect("begin");
        let t = Instant::now();
        txn.execute_unprepared(FILL).await.expect("update");
        txn.commit().await.expect("commit");
        let single_committed = t.elapsed();
        conn.execute_unprepared(UNFILL)
            .await
            .expect("put the NULLs back");
        if b.kind == Kind::Pg {
            conn.execute_unprepared("VACUUM FULL ANALYZE telemetry")
                .await
                .expect("vacuum");
        }
        quiesce(&conn).await;
        let _ = conn.close().await;
        // 3. The batched migration.
        let to = migration_named("_telemetry_backfill");
        let mut up: Vec<String> = ["up", "--to", &to, "--no-backup", "--progress", "off"]
            .map(String::from)
            .to_vec();
        if let Some(n) = args.batch_size {
            up.extend(["--batch-size".into(), n.to_string()]);
        }
        if let Some(t) = args.batch_target_ms {
            up.extend(["--batch-target-ms".into(), t.to_string()]);
        }
        let up: Vec<&str> = up.iter().map(String::as_str).collect();
        let (took, err) = run(&args.bin_dir.join("migration"), &b.url(db), &up, &[]);
        let after = |marker: &str| {
            err.split(marker)
                .nth(1)
                .and_then(|s| s.split(' ').next())
                .unwrap_or("-")
                .to_string()
        };
        let longest = after("longest batch ");
        let sizes = after("batch sizes ");
        println!(
            "| {} | {} ({:.0} rows/s) | {} | {} ({:.0} rows/s) | {} / {} | {longest} ms | {sizes} | {:.1} s (from {cap} rows) |",
            b.label,
            ms(single),
            args.rows as f64 / single.as_secs_f64(),
            ms(single_committed),
            ms(took),
            args.rows as f64 / took.as_secs_f64(),
            ratio(single, took),
            ratio(single_committed, took),
            row_by_row.as_secs_f64()
        );
        b.drop(db);
    }
}

/// Inserts rows one by one until `stop`, returning each insert's latency.
async fn writer(url: String, stop: Arc<AtomicBool>) -> Vec<Duration> {
    let conn = connect(&url).await;
    let mut lat = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let t = Instant::now();
        conn.execute_unprepared(
            "INSERT INTO telemetry (robot_id, timestamp, speed) VALUES (1, '2026-01-01 00:00:00', 1.0)",
        )
        .await
        .expect("insert");
        lat.push(t.elapsed());
    }
    let _ = conn.close().await;
    lat
}

fn stats(mut lat: Vec<Duration>) -> (usize, Duration, Duration) {
    lat.sort();
    let n = lat.len();
    let p99 = lat
        .get((n * 99 / 100).min(n.saturating_sub(1)))
        .copied()
        .unwrap_or_default();
    (n, lat.last().copied().unwrap_or_default(), p99)
}

async fn availability(args: &Args, backends: &[Backend], db: &str) {
    println!(
        "\n### Write availability while the index is built on {} rows\n",
        args.rows
    );
    println!(
        "| backend | how | build time | inserts during build | max insert latency | p99 insert latency |"
    );
    println!("|---|---|---:|---:|---:|---:|");
    for b in backends.iter().filter(|b| b.kind != Kind::Sqlite) {
        let conn = telemetry_db(args, b, db).await;
        let url = b.url(db);
        run(
            &args.bin_dir.join("migration"),
            &url,
            &[
                "up",
                "--to",
                &migration_named("_telemetry_backfill"),
                "--no-backup",
                "--progress",
                "off",
            ],
            &[],
        );
        // The backfill above leaves ~10% dead rows: vacuum now, or autovacuum's I/O during the
        // measurement would be charged to the index build.
        let settle = match b.kind {
            Kind::Pg => "VACUUM ANALYZE telemetry",
            _ => "ANALYZE TABLE telemetry",
        };
        conn.execute_unprepared(settle)
            .await
            .expect("vacuum/analyze");
        for how in ["migration (online)", "plain CREATE INDEX"] {
            let stop = Arc::new(AtomicBool::new(false));
            let w = tokio::spawn(writer(url.clone(), stop.clone()));
            tokio::time::sleep(Duration::from_millis(500)).await;
            let t = Instant::now();
            if how.starts_with("migration") {
                let bin = args.bin_dir.join("migration");
                let url2 = url.clone();
                tokio::task::spawn_blocking(move || run(&bin, &url2, &["up", "--no-backup"], &[]))
                    .await
                    .expect("join");
            } else {
                conn.execute_unprepared("CREATE INDEX idx_bench_plain ON telemetry (timestamp)")
                    .await
                    .expect("plain index");
            }
            let took = t.elapsed();
            tokio::time::sleep(Duration::from_millis(200)).await;
            stop.store(true, Ordering::Relaxed);
            let (n, max, p99) = stats(w.await.unwrap_or_default());
            println!(
                "| {} | {how} | {} | {n} | {} | {} |",
                b.label,
                ms(took),
                ms(max),
                ms(p99)
            );
        }
        let _ = conn.close().await;
        b.drop(db);
    }
    println!(
        "\nSQLite: one writer at a time, so a concurrent writer waits for any index build; not measured."
    );
}
