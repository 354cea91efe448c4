//! DDL never waits forever for a table lock. A schema change queued behind a long
//! transaction blocks every read and write queued after it for as long as it waits; bounded,
//! it gives up after the DDL lock timeout (`--ddl-lock-timeout-ms`, default 2 s, the knob of
//! [`crate::author::online`]), the application's queries go through, and the runner tries again
//! later.
//!
//! * [`bound`]: every migration the runner runs has its lock waits bounded: PostgreSQL
//!   `SET lock_timeout`, MySQL/MariaDB `SET SESSION lock_wait_timeout` (whole seconds, at least
//!   1), the session's previous value put back afterwards. SQLite bounds waits with the
//!   connection's busy timeout and the migration lock's `--lock-timeout`.
//! * [`retrying`]: a migration that failed on a lock timeout (PostgreSQL 55P03, MySQL/MariaDB
//!   1205; see [`crate::error::classify`]) is run again after a growing pause, up to
//!   `--ddl-retries` times, when that is safe: it ran in a transaction (rolled back), declared
//!   itself resumable, or is one statement (which applied nothing). After the last attempt
//!   the error names the busy table and the sessions holding it (`pg_locks` +
//!   `pg_stat_activity`; `information_schema.innodb_trx` + `PROCESSLIST`).
//!
//! Under capture nothing is set, so dry runs, scripts and checksums do not change.

use std::future::Future;
use std::time::Duration;

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};
use sea_orm_migration::MigrationTrait;

use crate::author::context;
use crate::error::{DbErrorKind, MigrateError, classify};
use crate::plan::Direction;
use crate::plan::capture::capture;
use crate::plan::finding::{StatementKind, classify as classify_sql};

/// The statement that bounds lock waits on `backend` to `timeout` (none on SQLite).
pub fn bound_statement(backend: DbBackend, timeout: Duration) -> Option<String> {
    let ms = timeout.as_millis().max(1);
    match backend {
        DbBackend::Postgres => Some(format!("SET lock_timeout = '{ms}ms'")),
        DbBackend::MySql => Some(format!(
            "SET SESSION lock_wait_timeout = {}",
            ms.div_ceil(1000).max(1)
        )),
        _ => None,
    }
}

/// PostgreSQL, inside a transaction: `SET LOCAL lock_timeout = '<ms>ms';\n` with the DDL lock
/// timeout of the current run, to put in front of a batch of statements sent at once (the
/// value ends with the transaction).
pub fn transaction_bound_statement() -> String {
    let ms = context::current()
        .tuning
        .ddl_lock_timeout
        .as_millis()
        .max(1);
    format!("SET LOCAL lock_timeout = '{ms}ms';\n")
}

/// Bounds the lock waits of what runs next on `conn` to the DDL lock timeout of the current
/// run ([`crate::author::tuning::Tuning::ddl_lock_timeout`]). Returns the statement that puts
/// the session's previous value back ([`restore`]).
pub async fn bound<C: ConnectionTrait>(conn: &C) -> Result<Option<String>, DbErr> {
    let backend = conn.get_database_backend();
    if conn.is_mock_connection() {
        return Ok(None);
    }
    let timeout = context::current().tuning.ddl_lock_timeout;
    let Some(set) = bound_statement(backend, timeout) else {
        return Ok(None);
    };
    let (read, var) = match backend {
        DbBackend::Postgres => (
            "SELECT current_setting('lock_timeout') AS v",
            "lock_timeout",
        ),
        _ => (
            "SELECT CAST(@@SESSION.lock_wait_timeout AS CHAR) AS v",
            "lock_wait_timeout",
        ),
    };
    let previous: Option<String> = conn
        .query_one_raw(Statement::from_string(backend, read))
        .await?
        .and_then(|r| r.try_get("", "v").ok());
    conn.execute_unprepared(&set).await?;
    Ok(previous.map(|p| match backend {
        DbBackend::Postgres => format!("SET {var} = '{}'", p.replace('\'', "''")),
        _ => format!(
            "SET SESSION {var} = {}",
            p.parse::<u64>().unwrap_or(31_536_000)
        ),
    }))
}

/// Puts back what [`bound`] changed. A failure is ignored: in an aborted transaction the
/// rollback puts it back.
pub async fn restore<C: ConnectionTrait>(conn: &C, previous: Option<String>) {
    if let Some(sql) = previous {
        let _ = conn.execute_unprepared(&sql).await;
    }
}

/// Whether `err` is a migration that failed on a lock timeout.
pub fn is_lock_timeout(err: &MigrateError) -> bool {
    match err {
        MigrateError::MigrationFailed {
            source: Some(e), ..
        } => classify(e) == DbErrorKind::LockTimeout,
        _ => false,
    }
}

/// The tables `migration` changes in `direction` on `backend`, from its captured SQL.
pub async fn tables_of(
    migration: &dyn MigrationTrait,
    direction: Direction,
    backend: DbBackend,
) -> Vec<String> {
    let Ok(c) = capture(migration, direction, backend).await else {
        return Vec::new();
    };
    let mut tables = Vec::new();
    for kind in c.statements.iter().flat_map(|s| classify_sql(s, backend)) {
        let t = match kind {
            StatementKind::AlterTable(a) => a.table,
            StatementKind::CreateIndex { table, .. } => table,
            StatementKind::Dml { table, .. } => table,
            StatementKind::DropTable(t) | StatementKind::Truncate(t) => {
                t.into_iter().next().unwrap_or_default()
            }
            StatementKind::RenameTable { from, .. } => from,
            _ => continue,
        };
        if !t.is_empty() && !tables.contains(&t) {
            tables.push(t);
        }
    }
    tables
}

/// Whether running `migration` again after it failed on a lock timeout is safe: it ran in a
/// transaction, declared itself resumable, or is a single statement (which, failing, applied
/// nothing).
pub async fn retry_is_safe(
    migration: &dyn MigrationTrait,
    direction: Direction,
    backend: DbBackend,
    transactional: bool,
) -> bool {
    if transactional {
        return true;
    }
    match capture(migration, direction, backend).await {
        Ok(c) => c.resumable || c.statements.len() <= 1,
        Err(_) => false,
    }
}

/// What [`retrying`] needs to know about a migration once it met a lock timeout.
#[derive(Debug, Clone, Default)]
pub struct Busy {
    /// Whether running it again is safe ([`retry_is_safe`]).
    pub safe: bool,
    /// The tables it changes ([`tables_of`]).
    pub tables: Vec<String>,
}

/// [`Busy`] for `migration`.
pub async fn busy(
    migration: &dyn MigrationTrait,
    direction: Direction,
    backend: DbBackend,
    transactional: bool,
) -> Busy {
    Busy {
        safe: retry_is_safe(migration, direction, backend, transactional).await,
        tables: tables_of(migration, direction, backend).await,
    }
}

/// Runs `attempt` (one run of one migration) and, while it fails on a lock timeout and is
/// safe to retry (`busy`, learnt at the first lock timeout), runs it again after 200 ms,
/// 400 ms, ... (at most 2 s), up to the run's `ddl_retries` times. After the last attempt the
/// error's cause names the busy tables and the sessions holding them (queried on `conn`).
/// Returns the outcome and, when a lock timeout happened, what was learnt.
pub async fn retrying<C, T, F, Fut, B, BFut>(
    conn: &C,
    version: &str,
    busy: B,
    mut attempt: F,
) -> (Result<T, MigrateError>, Option<Busy>)
where
    C: ConnectionTrait,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, MigrateError>>,
    B: FnOnce() -> BFut,
    BFut: Future<Output = Busy>,
{
    let tuning = context::current().tuning;
    let mut n = 0;
    let mut learnt: Option<Busy> = None;
    let mut busy = Some(busy);
    loop {
        n += 1;
        let err = match attempt().await {
            Ok(v) => return (Ok(v), learnt),
            Err(e) if is_lock_timeout(&e) => e,
            Err(e) => return (Err(e), learnt),
        };
        if let Some(b) = busy.take() {
            learnt = Some(b().await);
        }
        let Busy { safe, tables } = learnt.clone().unwrap_or_default();
        let attempts = if safe { tuning.ddl_retries + 1 } else { 1 };
        let table = if tables.is_empty() {
            "its table".to_string()
        } else {
            tables.join(", ")
        };
        let ms = tuning.ddl_lock_timeout.as_millis();
        if n < attempts {
            let pause = Duration::from_millis(200 * u64::from(n).min(10));
            context::notice(&format!(
                "{version}: {table} is busy: the migration gave up after waiting {ms} ms for its lock \
                 (attempt {n} of {attempts}); nothing was applied; retrying in {} ms",
                pause.as_millis()
            ));
            tokio::time::sleep(pause).await;
            continue;
        }
        let mut holders = Vec::new();
        for t in tables {
            let short = t.rsplit('.').next().unwrap_or(t.as_str());
            for h in crate::author::online::lock_holders(conn, short)
                .await
                .unwrap_or_default()
            {
                if !holders.contains(&h) {
                    holders.push(h);
                }
            }
        }
        let busy = MigrateError::TableBusy {
            table,
            attempts,
            lock_timeout_ms: ms as u64,
            holders: if holders.is_empty() {
                "a long-running transaction (not identified)".into()
            } else {
                holders.join("; ")
            },
        };
        let busy_text = busy.to_string();
        let result = Err(match err {
            MigrateError::MigrationFailed {
                version,
                direction,
                source,
                ..
            } => MigrateError::MigrationFailed {
                version,
                direction,
                cause: busy_text.trim_end_matches('.').to_string(),
                consequence: if safe {
                    "Nothing of it was applied (its only statement, or its transaction, gave up waiting), so it \
                     is safe to run the command again."
                        .into()
                } else {
                    "Earlier statements of it may be applied (it runs without a transaction): compare the \
                     schema with the migration, then run `migration repair`."
                        .into()
                },
                source,
            },
            other => other,
        });
        return (result, learnt);
    }
}

/// After the last attempt of a non-transactional migration that applied nothing (see
/// [`retry_is_safe`]) failed on a lock timeout: marks its failed history rows repaired, so the
/// next run does not refuse it as half-applied.
pub async fn release_failed<C: ConnectionTrait>(
    conn: &C,
    history_table: &str,
    version: &str,
) -> Result<(), DbErr> {
    use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
    let stmt = Query::update()
        .table(Alias::new(history_table))
        .value(
            Alias::new("repaired_at"),
            sea_orm::Value::from(crate::bookkeeping::history::now()),
        )
        .and_where(Expr::col(Alias::new("version")).eq(version))
        .and_where(Expr::col(Alias::new("outcome")).eq("failed"))
        .and_where(Expr::col(Alias::new("transactional")).eq(false))
        .and_where(Expr::col(Alias::new("repaired_at")).is_null())
        .to_owned();
    conn.execute(&stmt).await.map(|_| ())
}
