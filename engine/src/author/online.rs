//! Online schema changes: DDL that keeps the table writable while it runs.
//!
//! * [`create_index`] / [`drop_index`]: PostgreSQL `CREATE/DROP INDEX CONCURRENTLY` (outside
//!   any transaction), MySQL/MariaDB `ALGORITHM=INPLACE, LOCK=NONE`, SQLite plain. An INVALID
//!   index left on PostgreSQL by a failed or killed concurrent build is dropped and rebuilt on
//!   the next attempt; a valid one is kept (the step is idempotent).
//! * [`execute`]: any DDL statement on a table, run with a short lock timeout
//!   ([`crate::author::tuning::Tuning::ddl_lock_timeout`]) and retried a bounded number of times, so a
//!   statement queued behind a long transaction never holds up the application's writes for
//!   longer than the timeout. After the last attempt the error names the busy table and who
//!   holds it.
//!
//! A migration using these must return `use_transaction() -> Some(false)`. It works under the
//! migration lock: the PostgreSQL advisory lock is a session lock that a concurrent build does
//! not wait for, and a second runner polls for it without holding a snapshot, so a concurrent
//! build never waits for the runner queued behind it. Such migrations declare themselves
//! resumable (see [`crate::author::batch::declare_resumable`]): a failed attempt does not block later
//! runs, which retry and clean up.

use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseExecutor, DbBackend, DbErr, Statement};
use sea_orm_migration::SchemaManager;

use crate::author::batch::{capturing, declare_resumable, placeholder, quote};
use crate::author::context;
use crate::error::MigrateError;

/// State of an index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexState {
    /// No index of that name.
    Missing,
    /// Exists and usable.
    Valid,
    /// PostgreSQL: left INVALID by a failed `CREATE INDEX CONCURRENTLY`.
    Invalid,
}

/// Whether index `name` (of the current schema/database) exists and is valid.
pub async fn index_state<C: ConnectionTrait>(conn: &C, name: &str) -> Result<IndexState, DbErr> {
    let b = conn.get_database_backend();
    let sql = match b {
        DbBackend::Postgres => format!(
            "SELECT CAST(CASE WHEN i.indisvalid THEN 1 ELSE 0 END AS BIGINT) AS valid FROM pg_catalog.pg_index i \
             JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relname = {} AND n.nspname = current_schema()",
            placeholder(b, 1)
        ),
        DbBackend::MySql => "SELECT 1 AS valid FROM information_schema.statistics \
             WHERE table_schema = DATABASE() AND index_name = ? LIMIT 1"
            .to_string(),
        _ => "SELECT 1 AS valid FROM sqlite_master WHERE type = 'index' AND name = ?".to_string(),
    };
    let row = conn
        .query_one_raw(Statement::from_sql_and_values(b, sql, [name.into()]))
        .await?;
    Ok(match row {
        None => IndexState::Missing,
        Some(r) => {
            let v: i64 = r.try_get("", "valid")?;
            if v == 1 {
                IndexState::Valid
            } else {
                IndexState::Invalid
            }
        }
    })
}

fn in_transaction(manager: &SchemaManager) -> bool {
    let conn = manager.get_connection();
    matches!(
        conn,
        DatabaseExecutor::Transaction(_) | DatabaseExecutor::OwnedTransaction(_)
    ) && !crate::plan::capture::is_stand_in(conn)
}

fn needs_no_transaction(migration: &str) -> DbErr {
    DbErr::Custom(format!(
        "{migration} builds an index CONCURRENTLY, which PostgreSQL cannot do inside a transaction: \
         its use_transaction() must return Some(false)"
    ))
}

/// Creates index `name` on `table (columns)` without blocking writes to the table.
pub async fn create_index(
    manager: &SchemaManager<'_>,
    migration: &str,
    name: &str,
    table: &str,
    columns: &[&str],
) -> Result<(), DbErr> {
    declare_resumable(manager).await?;
    let conn = manager.get_connection();
    let b = conn.get_database_backend();
    let cols: Vec<String> = columns.iter().map(|c| quote(b, c)).collect();
    let (idx, tbl, cols) = (quote(b, name), quote(b, table), cols.join(", "));
    match b {
        DbBackend::Postgres => {
            if in_transaction(manager) {
                return Err(needs_no_transaction(migration));
            }
            let create = format!("CREATE INDEX CONCURRENTLY {idx} ON {tbl} ({cols})");
            let drop = format!("DROP INDEX CONCURRENTLY IF EXISTS {idx}");
            with_retries(manager, table, || async {
                match index_state(conn, name).await? {
                    IndexState::Valid => return Ok(()),
                    IndexState::Invalid => {
                        if !capturing(manager) {
                            context::notice(&format!(
                                "{migration}: index {name} is INVALID (left by an interrupted concurrent build): \
                                 dropping it and building it again"
                            ));
                        }
                        conn.execute_unprepared(&drop).await?;
                    }
                    IndexState::Missing => {}
                }
                conn.execute_unprepared(&create).await.map(|_| ())
            })
            .await
        }
        DbBackend::MySql => {
            let create =
                format!("CREATE INDEX {idx} ON {tbl} ({cols}) ALGORITHM=INPLACE LOCK=NONE");
            with_retries(manager, table, || async {
                if index_state(conn, name).await? == IndexState::Valid {
                    return Ok(());
                }
                conn.execute_unprepared(&create).await.map(|_| ())
            })
            .await
        }
        _ => conn
            .execute_unprepared(&format!(
                "CREATE INDEX IF NOT EXISTS {idx} ON {tbl} ({cols})"
            ))
            .await
            .map(|_| ()),
    }
}

/// Drops index `name` of `table` without blocking writes to the table; missing is fine.
pub async fn drop_index(
    manager: &SchemaManager<'_>,
    migration: &str,
    name: &str,
    table: &str,
) -> Result<(), DbErr> {
    declare_resumable(manager).await?;
    let conn = manager.get_connection();
    let b = conn.get_database_backend();
    let (idx, tbl) = (quote(b, name), quote(b, table));
    match b {
        DbBackend::Postgres => {
            if in_transaction(manager) {
                return Err(needs_no_transaction(migration));
            }
            let sql = format!("DROP INDEX CONCURRENTLY IF EXISTS {idx}");
            with_retries(manager, table, || async {
                conn.execute_unprepared(&sql).await.map(|_| ())
            })
            .await
        }
        DbBackend::MySql => {
            let sql = format!("ALTER TABLE {tbl} DROP INDEX {idx}, ALGORITHM=INPLACE, LOCK=NONE");
            with_retries(manager, table, || async {
                if index_state(conn, name).await? == IndexState::Missing {
                    return Ok(());
                }
                conn.execute_unprepared(&sql).await.map(|_| ())
            })
            .await
        }
        _ => conn
            .execute_unprepared(&format!("DROP INDEX IF EXISTS {idx}"))
            .await
            .map(|_| ()),
    }
}

/// Runs DDL statement `sql` on `table` with the DDL lock timeout and bounded retries.
pub async fn execute(manager: &SchemaManager<'_>, table: &str, sql: &str) -> Result<(), DbErr> {
    let conn = manager.get_connection();
    with_retries(manager, table, || async {
        conn.execute_unprepared(sql).await.map(|_| ())
    })
    .await
}

/// Whether `e` is a lock timeout (PostgreSQL `lock_timeout`, MySQL `lock_wait_timeout`).
/// Classified by driver code: PostgreSQL 55P03, MySQL/MariaDB 1205.
pub fn is_lock_timeout(e: &DbErr) -> bool {
    crate::error::classify(e) == crate::error::DbErrorKind::LockTimeout
}

/// Runs `attempt` with the session's lock timeout set to the DDL lock timeout, retrying after
/// a lock timeout up to the configured number of times with a growing pause. Under capture it
/// runs `attempt` once and sets nothing (the SQL must not depend on settings).
async fn with_retries<F, Fut>(
    manager: &SchemaManager<'_>,
    table: &str,
    attempt: F,
) -> Result<(), DbErr>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<(), DbErr>>,
{
    if capturing(manager) || manager.get_database_backend() == DbBackend::Sqlite {
        return attempt().await;
    }
    let conn = manager.get_connection();
    let b = conn.get_database_backend();
    let t = context::current().tuning;
    let ms = t.ddl_lock_timeout.as_millis().max(1) as u64;
    // The session's value (e.g. the runner's bound, see crate::run::lock_wait) is saved and
    // put back after each attempt.
    let (save, set, reset) = match b {
        DbBackend::Postgres => (
            "SELECT set_config('migration_engine.saved_lock_timeout', current_setting('lock_timeout'), false)",
            format!("SET lock_timeout = '{ms}ms'"),
            "SELECT set_config('lock_timeout', current_setting('migration_engine.saved_lock_timeout'), false)"
                .to_string(),
        ),
        _ => (
            "SET @migration_engine_saved_lock_wait = @@SESSION.lock_wait_timeout",
            // MySQL counts whole seconds (at least 1) for metadata locks.
            format!(
                "SET SESSION lock_wait_timeout = {}",
                ms.div_ceil(1000).max(1)
            ),
            "SET SESSION lock_wait_timeout = @migration_engine_saved_lock_wait".to_string(),
        ),
    };
    conn.execute_unprepared(save).await?;
    let attempts = t.ddl_retries + 1;
    let mut n = 0;
    loop {
        n += 1;
        conn.execute_unprepared(&set).await?;
        let result = attempt().await;
        let reset_result = conn.execute_unprepared(&reset).await;
        match result {
            Ok(()) => return reset_result.map(|_| ()),
            Err(e) if is_lock_timeout(&e) && n < attempts => {
                let pause = Duration::from_millis(200 * u64::from(n).min(10));
                context::notice(&format!(
                    "table {table} is busy: DDL gave up after waiting {ms} ms for its lock \
                     (attempt {n} of {attempts}); retrying in {} ms",
                    pause.as_millis()
                ));
                tokio::time::sleep(pause).await;
            }
            Err(e) if is_lock_timeout(&e) => {
                let holders = lock_holders(conn, table).await.unwrap_or_default();
                return Err(DbErr::Custom(
                    MigrateError::TableBusy {
                        table: table.to_string(),
                        attempts,
                        lock_timeout_ms: ms,
                        holders: if holders.is_empty() {
                            "a long-running transaction (not identified)".into()
                        } else {
                            holders.join("; ")
                        },
                    }
                    .to_string(),
                ));
            }
            Err(e) => return Err(e),
        }
    }
}

/// Sessions holding locks on `table` (PostgreSQL) or open transactions (MySQL), described.
pub async fn lock_holders<C: ConnectionTrait>(conn: &C, table: &str) -> Result<Vec<String>, DbErr> {
    let b = conn.get_database_backend();
    let sql = match b {
        DbBackend::Postgres => format!(
            "SELECT DISTINCT CAST(a.pid AS TEXT) AS pid, COALESCE(a.application_name, '') AS app, \
                    COALESCE(a.state, '') AS state, \
                    CAST(COALESCE(EXTRACT(EPOCH FROM now() - a.xact_start), 0) AS BIGINT) AS secs \
             FROM pg_catalog.pg_locks l JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid \
             WHERE l.relation = to_regclass({}) AND l.granted AND a.pid <> pg_backend_pid()",
            placeholder(b, 1)
        ),
        DbBackend::MySql => "SELECT CAST(p.ID AS CHAR) AS pid, CAST(p.USER AS CHAR) AS app, \
                    CAST(COALESCE(p.STATE, '') AS CHAR) AS state, \
                    CAST(TIMESTAMPDIFF(SECOND, t.trx_started, NOW()) AS SIGNED) AS secs \
             FROM information_schema.innodb_trx t \
             JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id \
             WHERE p.ID <> CONNECTION_ID() AND ? <> ''"
            .to_string(),
        _ => return Ok(Vec::new()),
    };
    let rows = conn
        .query_all_raw(Statement::from_sql_and_values(b, sql, [table.into()]))
        .await?;
    rows.iter()
        .map(|r| {
            Ok(format!(
                "{} {} ({}), {} in its transaction for {} s",
                if b == DbBackend::Postgres {
                    "PostgreSQL pid"
                } else {
                    "MySQL connection"
                },
                r.try_get::<String>("", "pid")?,
                r.try_get::<String>("", "app")?,
                r.try_get::<String>("", "state")?,
                r.try_get::<i64>("", "secs")?
            ))
        })
        .collect()
}
