//! Timeout protection for migrations: a per-statement limit (`--statement-timeout`) enforced
//! by the server, and a per-migration limit (`--migration-timeout`) enforced by an outer
//! deadline.
//!
//! - PostgreSQL: `SET LOCAL statement_timeout` inside the migration's transaction (without a
//!   transaction: the session's value, put back afterwards). A cancelled statement fails with
//!   SQLSTATE 57014 and the transaction rolls back.
//! - MariaDB: `SET SESSION max_statement_time` (seconds, every statement), put back
//!   afterwards; error 1969. MySQL: `max_execution_time` (milliseconds, read-only `SELECT`s
//!   only); error 3024.
//! - SQLite: the driver's progress handler interrupts the running statement once the
//!   migration's deadline has passed (SQLITE_INTERRUPT, 9); SQLite has no per-statement limit,
//!   so `--statement-timeout` bounds the whole migration there.
//!
//! The per-migration limit also bounds every statement on the server (the smaller of the two
//! limits is set), so a migration dropped at its deadline does not leave a statement running.
//! Timeouts are recognised by the driver's error code, never by message text; the error that
//! reaches the history starts with "timed out after N s".

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement};

/// The time limits of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// Longest a single statement may run (server-side).
    pub statement: Option<Duration>,
    /// Longest a whole migration may run.
    pub migration: Option<Duration>,
}

/// Which limit a migration hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Which {
    Statement,
    Migration,
}

impl Limits {
    /// Whether any limit is set.
    pub fn is_set(&self) -> bool {
        self.statement.is_some() || self.migration.is_some()
    }

    /// The limit the server enforces per statement: the smaller of the two, and which it is.
    fn server(&self) -> Option<(Duration, Which)> {
        match (self.statement, self.migration) {
            (Some(s), Some(m)) if m < s => Some((m, Which::Migration)),
            (Some(s), _) => Some((s, Which::Statement)),
            (None, Some(m)) => Some((m, Which::Migration)),
            (None, None) => None,
        }
    }
}

/// "N s" for `d` (whole seconds without decimals).
pub fn seconds(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

fn message(limit: Duration, which: Which, cause: &str) -> String {
    let flag = match which {
        Which::Statement => "the statement timeout, --statement-timeout",
        Which::Migration => "the migration time limit, --migration-timeout",
    };
    format!(
        "timed out after {} ({flag}){}",
        seconds(limit),
        if cause.is_empty() {
            String::new()
        } else {
            format!(": {cause}")
        }
    )
}

/// The text to record for a failed migration's error `e`: its message, without sea-orm's
/// `Custom Error: ` prefix on the engine's own "timed out after N s" errors (see [`guard`]).
pub fn error_text(e: &DbErr) -> String {
    match e {
        DbErr::Custom(m) if m.starts_with("timed out after ") => m.clone(),
        other => other.to_string(),
    }
}

/// Whether `e` is a statement cancelled by a time limit, by driver code: PostgreSQL 57014
/// (query_canceled), MariaDB 1969 (ER_STATEMENT_TIMEOUT), MySQL 3024
/// (ER_QUERY_TIMEOUT), SQLite 9 (SQLITE_INTERRUPT).
pub fn is_timeout(e: &DbErr) -> bool {
    crate::error::classify(e) == crate::error::DbErrorKind::StatementTimeout
}

/// The deadline the SQLite progress handler checks, shared by a runner and its connection.
#[derive(Debug)]
pub struct Deadline {
    base: Instant,
    /// Milliseconds after `base` + 1; 0: no deadline.
    at: AtomicU64,
}

impl Default for Deadline {
    fn default() -> Self {
        Self {
            base: Instant::now(),
            at: AtomicU64::new(0),
        }
    }
}

impl Deadline {
    fn arm(&self, after: Duration) {
        let at = self.base.elapsed().saturating_add(after).as_millis() as u64;
        self.at.store(at.saturating_add(1), Ordering::SeqCst);
    }

    fn disarm(&self) {
        self.at.store(0, Ordering::SeqCst);
    }

    /// Whether a deadline is set and has passed.
    pub fn expired(&self) -> bool {
        match self.at.load(Ordering::Relaxed) {
            0 => false,
            at => self.base.elapsed().as_millis() as u64 + 1 >= at,
        }
    }
}

/// SQLite only: installs a progress handler that interrupts the running statement once
/// `deadline` has passed, on every idle connection of `db`'s pool (the tool's own connection
/// is a pool of one). Call before the migration lock is taken. Does nothing on other backends.
pub async fn install_sqlite_interrupt(db: &DatabaseConnection, deadline: &Arc<Deadline>) {
    if !matches!(
        db.inner,
        sea_orm::DatabaseConnectionType::SqlxSqlitePoolConnection(_)
    ) {
        return;
    }
    let pool = db.get_sqlite_connection_pool();
    let mut held = Vec::new();
    // A connection just used returns to the pool asynchronously: wait for one, then take
    // every other idle one.
    let first = tokio::time::timeout(Duration::from_secs(5), pool.acquire())
        .await
        .ok()
        .and_then(Result::ok);
    let mut next = first;
    while let Some(mut conn) = next.take().or_else(|| pool.try_acquire()) {
        if let Ok(mut handle) = conn.lock_handle().await {
            let deadline = deadline.clone();
            // Called every ~10k virtual-machine instructions; `false` interrupts.
            handle.set_progress_handler(10_000, move || !deadline.expired());
        }
        held.push(conn);
    }
}

/// Runs `migration` (on `conn`, in a transaction when `transactional`) under `limits`: sets
/// the server's statement limit before it and puts the session's back after it, arms the
/// SQLite deadline, and drops it at the migration deadline. A timeout comes back as
/// `DbErr::Custom("timed out after N s (...)")`; other errors unchanged.
pub async fn guard<C, F>(
    conn: &C,
    transactional: bool,
    limits: Limits,
    deadline: &Deadline,
    migration: F,
) -> Result<(), DbErr>
where
    C: ConnectionTrait,
    F: Future<Output = Result<(), DbErr>>,
{
    if !limits.is_set() {
        return migration.await;
    }
    let backend = conn.get_database_backend();
    let server = limits.server();
    let restore = match server {
        Some((limit, _)) => set_server_limit(conn, backend, transactional, limit).await?,
        None => None,
    };
    if backend == DbBackend::Sqlite
        && let Some((limit, _)) = server
    {
        deadline.arm(limit);
    }
    let outcome = match limits.migration {
        Some(limit) => match tokio::time::timeout(limit, migration).await {
            Ok(r) => r,
            Err(_) => Err(DbErr::Custom(message(limit, Which::Migration, ""))),
        },
        None => migration.await,
    };
    deadline.disarm();
    if let Some(sql) = restore {
        let put_back = conn
            .execute_raw(Statement::from_string(backend, sql))
            .await
            .map(|_| ());
        if outcome.is_ok() {
            put_back?;
        }
    }
    match outcome {
        Err(e) if is_timeout(&e) => {
            let (limit, which) = server.unwrap_or((Duration::ZERO, Which::Statement));
            Err(DbErr::Custom(message(limit, which, &e.to_string())))
        }
        other => other,
    }
}

/// Sets the server's per-statement limit; returns the statement that puts the session's
/// previous value back (`None`: nothing to put back, or the backend has no such limit).
async fn set_server_limit<C: ConnectionTrait>(
    conn: &C,
    backend: DbBackend,
    transactional: bool,
    limit: Duration,
) -> Result<Option<String>, DbErr> {
    let ms = limit.as_millis().max(1);
    let run = |sql: String| async move {
        conn.execute_raw(Statement::from_string(backend, sql))
            .await
            .map(|_| ())
    };
    match backend {
        DbBackend::Postgres if transactional => {
            run(format!("SET LOCAL statement_timeout = {ms}")).await?;
            Ok(None)
        }
        DbBackend::Postgres => {
            let row = conn
                .query_one_raw(Statement::from_string(
                    backend,
                    "SELECT current_setting('statement_timeout') AS v",
                ))
                .await?;
            let previous: String = match row {
                Some(r) => r.try_get("", "v")?,
                None => "0".into(),
            };
            run(format!("SET statement_timeout = {ms}")).await?;
            Ok(Some(format!(
                "SET statement_timeout = '{}'",
                previous.replace('\'', "''")
            )))
        }
        DbBackend::MySql => {
            let mariadb = conn
                .query_one_raw(Statement::from_string(
                    backend,
                    "SELECT CAST(VERSION() LIKE '%MariaDB%' AS SIGNED) AS m",
                ))
                .await?
                .and_then(|r| r.try_get::<i64>("", "m").ok())
                .unwrap_or(0)
                == 1;
            let (var, value) = if mariadb {
                ("max_statement_time", format!("{:.3}", ms as f64 / 1000.0))
            } else {
                ("max_execution_time", ms.to_string())
            };
            run(format!(
                "SET @migration_engine_previous_limit = @@SESSION.{var}, SESSION {var} = {value}"
            ))
            .await?;
            Ok(Some(format!(
                "SET SESSION {var} = @migration_engine_previous_limit"
            )))
        }
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_smaller_limit_is_the_servers_and_seconds_read_well() {
        let l = Limits {
            statement: Some(Duration::from_secs(5)),
            migration: Some(Duration::from_secs(2)),
        };
        assert_eq!(l.server(), Some((Duration::from_secs(2), Which::Migration)));
        let l = Limits {
            statement: Some(Duration::from_millis(1500)),
            migration: None,
        };
        assert_eq!(
            l.server(),
            Some((Duration::from_millis(1500), Which::Statement))
        );
        assert!(!Limits::default().is_set());
        assert_eq!(seconds(Duration::from_secs(3)), "3 s");
        assert_eq!(seconds(Duration::from_millis(1500)), "1.5 s");
        assert!(
            message(Duration::from_secs(2), Which::Statement, "x")
                .starts_with("timed out after 2 s")
        );
        let own = DbErr::Custom(message(Duration::from_secs(2), Which::Migration, ""));
        assert_eq!(
            error_text(&own),
            "timed out after 2 s (the migration time limit, --migration-timeout)"
        );
        assert!(error_text(&DbErr::Custom("other".into())).starts_with("Custom Error: "));
    }

    #[test]
    fn a_deadline_expires_only_when_armed() {
        let d = Deadline::default();
        assert!(!d.expired());
        d.arm(Duration::ZERO);
        assert!(d.expired());
        d.disarm();
        assert!(!d.expired());
        d.arm(Duration::from_secs(3600));
        assert!(!d.expired());
    }
}
