//! `doctor`: pre-flight checks before a deploy (spec 000 section 9): connectivity and server
//! version, pending migrations, failed runs, checksum problems, who holds the lock, and free
//! disk space (and the dump tool) for backups.

use sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::backup::{self, BackupConfig};
use crate::bookkeeping::lock;
use crate::db::DatabaseUrl;
use crate::db::backend_name;
use crate::error::Problems;
use crate::run::gates::{self, GateStatus};
use crate::run::runner::{Runner, State};

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Fine.
    Ok,
    /// Worth knowing; does not make the doctor fail.
    Warn,
    /// Must be fixed before a deploy.
    Fail,
}

impl Level {
    /// `ok`, `warn` or `FAIL`.
    pub fn label(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Warn => "warn",
            Level::Fail => "FAIL",
        }
    }
}

/// One check.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Check {
    /// What was checked.
    pub name: String,
    /// The outcome.
    pub level: Level,
    /// What was found (and what to do when it is not ok).
    pub detail: String,
}

/// All checks.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    /// In the order they ran.
    pub checks: Vec<Check>,
}

impl Report {
    /// No check failed.
    pub fn healthy(&self) -> bool {
        self.checks.iter().all(|c| c.level != Level::Fail)
    }

    /// The failed checks, one sentence each.
    pub fn failures(&self) -> Problems {
        Problems(
            self.checks
                .iter()
                .filter(|c| c.level == Level::Fail)
                .map(|c| format!("{}: {}", c.name, c.detail))
                .collect(),
        )
    }
}

fn check(name: &str, level: Level, detail: impl Into<String>) -> Check {
    Check {
        name: name.into(),
        level,
        detail: detail.into(),
    }
}

/// Runs every check; never fails itself (a check that cannot run is a failed check).
pub async fn run(runner: &Runner, url: &DatabaseUrl, backups: Option<&BackupConfig>) -> Report {
    let db = runner.connection();
    let backend = db.get_database_backend();
    let mut checks = Vec::new();

    let version_sql = match backend {
        DbBackend::Postgres => "SELECT version() AS v",
        DbBackend::MySql => "SELECT CAST(VERSION() AS CHAR) AS v",
        _ => "SELECT 'SQLite ' || sqlite_version() AS v",
    };
    match db
        .query_one_raw(Statement::from_string(backend, version_sql))
        .await
    {
        Ok(Some(row)) => {
            let v: String = row.try_get("", "v").unwrap_or_default();
            checks.push(check(
                "connection",
                Level::Ok,
                format!("{} — {}", url.redacted(), v),
            ));
        }
        Ok(None) | Err(_) => {
            checks.push(check(
                "connection",
                Level::Fail,
                format!("{} does not answer queries", url.redacted()),
            ));
            return Report { checks };
        }
    }

    match runner.status().await {
        Ok(states) => {
            let pending: Vec<&str> = states
                .iter()
                .filter(|s| s.status == State::Pending)
                .map(|s| s.version.as_str())
                .collect();
            checks.push(if pending.is_empty() {
                check(
                    "pending migrations",
                    Level::Ok,
                    "none: the schema is at the latest migration",
                )
            } else {
                check(
                    "pending migrations",
                    Level::Warn,
                    format!(
                        "{} pending ({}); `migration up` applies them",
                        pending.len(),
                        pending.join(", ")
                    ),
                )
            });
        }
        Err(e) => checks.push(check("pending migrations", Level::Fail, e.to_string())),
    }

    match crate::review::adopt::alembic_notice(runner).await {
        Ok(Some(notice)) => checks.push(check("alembic", Level::Fail, notice.describe())),
        Ok(None) => {}
        Err(e) => checks.push(check("alembic", Level::Warn, e.to_string())),
    }

    match runner.verify().await {
        Ok(problems) if problems.is_empty() => checks.push(check(
            "history and checksums",
            Level::Ok,
            "no failed runs, no changed checksums, no unknown or out-of-order versions",
        )),
        Ok(problems) => {
            for p in problems {
                checks.push(check("history and checksums", Level::Fail, p.describe()));
            }
        }
        Err(e) => checks.push(check("history and checksums", Level::Fail, e.to_string())),
    }

    match lock::holder(db, &lock::LockId::of(runner.config())).await {
        Ok(Some(holder)) => checks.push(check(
            "migration lock",
            Level::Warn,
            format!("held by {holder}: a migration is running now"),
        )),
        Ok(None) => checks.push(check("migration lock", Level::Ok, "free")),
        Err(e) => checks.push(check(
            "migration lock",
            Level::Warn,
            format!("cannot tell who holds it: {e}"),
        )),
    }

    checks.extend(gate_checks(runner).await);

    if let Some(config) = backups {
        match backup::check_tool(backend) {
            Ok(()) => checks.push(check(
                "backup tool",
                Level::Ok,
                format!("{} backups can be taken", backend_name(backend)),
            )),
            Err(e) => checks.push(check("backup tool", Level::Fail, e.to_string())),
        }
        let size = database_size(db).await;
        let dir = if config.dir.exists() {
            config.dir.clone()
        } else {
            std::path::PathBuf::from(".")
        };
        match fs4::available_space(&dir) {
            Ok(free) => {
                let needed = size.unwrap_or(0);
                let detail = format!(
                    "{} free in {} for backups; the database takes about {}",
                    human(free),
                    config.dir.display(),
                    size.map(human).unwrap_or_else(|| "an unknown size".into())
                );
                checks.push(if free > needed.saturating_mul(2) {
                    check("disk space", Level::Ok, detail)
                } else if free > needed {
                    check(
                        "disk space",
                        Level::Warn,
                        format!("{detail}: room for one backup only"),
                    )
                } else {
                    check(
                        "disk space",
                        Level::Fail,
                        format!(
                            "{detail}: not enough for a backup; free space or pass --backup-dir"
                        ),
                    )
                });
            }
            Err(e) => checks.push(check(
                "disk space",
                Level::Warn,
                format!("cannot measure free space in {}: {e}", dir.display()),
            )),
        }
    }
    Report { checks }
}

/// One check per safe-window gate of the runner's environment (see [`crate::run::gates`]).
async fn gate_checks(runner: &Runner) -> Vec<Check> {
    let env = runner.options().environment;
    let results = gates::evaluate(runner.connection(), runner.config(), env).await;
    if results.is_empty() {
        let detail = if runner.config().gates.is_empty() {
            "none configured".to_string()
        } else {
            format!("none apply in {} (--env)", env.as_str())
        };
        return vec![check("safe-window gates", Level::Ok, detail)];
    }
    results
        .iter()
        .map(|g| {
            let level = match g.status {
                GateStatus::Fail => Level::Fail,
                GateStatus::Pass | GateStatus::Skipped => Level::Ok,
            };
            let what = if g.description.is_empty() {
                g.saw.clone()
            } else {
                format!("{}: {}", g.description, g.saw)
            };
            let detail = match g.status {
                GateStatus::Fail => format!(
                    "{what}; `up` refuses until it passes (or --skip-gate {})",
                    g.name
                ),
                _ => what,
            };
            check(&format!("gate {}", g.name), level, detail)
        })
        .collect()
}

async fn database_size<C: ConnectionTrait>(db: &C) -> Option<u64> {
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => "SELECT pg_database_size(current_database())::bigint AS n",
        DbBackend::MySql => {
            "SELECT CAST(COALESCE(SUM(data_length + index_length), 0) AS SIGNED) AS n \
             FROM information_schema.tables WHERE table_schema = DATABASE()"
        }
        _ => "SELECT page_count * page_size AS n FROM pragma_page_count(), pragma_page_size()",
    };
    let row = db
        .query_one_raw(Statement::from_string(backend, sql))
        .await
        .ok()??;
    row.try_get::<i64>("", "n").ok().map(|n| n.max(0) as u64)
}

fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}
