//! `MigrationLock`: serialises runners through the database itself. PostgreSQL: a session
//! advisory lock; MySQL/MariaDB: `GET_LOCK`; SQLite: the database file's write lock, held by a
//! `BEGIN IMMEDIATE` transaction that the whole run happens in (each migration in a savepoint).
//! Every kind dies with the session, so a crashed runner never leaves a lock behind.

use std::time::{Duration, Instant};

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
};

use crate::error::MigrateError;

/// Which lock: the PostgreSQL advisory key and the MySQL lock-name prefix (see
/// [`crate::Config::lock_key`] and [`crate::Config::lock_name`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockId {
    /// PostgreSQL advisory lock key.
    pub key: i64,
    /// MySQL/MariaDB `GET_LOCK` name prefix (the database name is appended).
    pub name: String,
}

impl LockId {
    /// The lock `config` names.
    pub fn of(config: &crate::config::Config) -> Self {
        Self {
            key: config.lock_key,
            name: config.lock_name.clone(),
        }
    }

    /// SQL for the MySQL lock name: `'<name>:' || DATABASE()`.
    fn mysql_name_sql(&self) -> String {
        format!(
            "CONCAT('{}:', DATABASE())",
            self.name.replace('\\', "").replace('\'', "''")
        )
    }
}

/// A held lock. Release it with [`MigrationLock::release`]; dropping it without releasing
/// still frees it when the connection closes.
pub enum MigrationLock {
    /// Session advisory lock on this connection, with its key.
    Postgres(i64),
    /// Named lock on this connection.
    MySql(String),
    /// The write transaction everything runs in.
    Sqlite(DatabaseTransaction),
}

/// Who holds the lock, as far as the database can tell.
pub async fn holder(db: &DatabaseConnection, id: &LockId) -> Result<Option<String>, DbErr> {
    let backend = db.get_database_backend();
    match backend {
        DbBackend::Postgres => {
            let sql = format!(
                "SELECT a.pid::text AS pid, COALESCE(a.application_name, '') AS app, \
                        COALESCE(host(a.client_addr), 'local') AS addr, \
                        to_char(a.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') AS since \
                 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
                 WHERE l.locktype = 'advisory' AND l.granted AND l.database = \
                       (SELECT oid FROM pg_database WHERE datname = current_database()) \
                   AND l.classid = {} AND l.objid = {} AND l.objsubid = 1",
                (id.key >> 32) as u32,
                (id.key & 0xFFFF_FFFF) as u32
            );
            let row = db
                .query_one_raw(Statement::from_string(backend, sql))
                .await?;
            Ok(match row {
                Some(r) => Some(format!(
                    "PostgreSQL backend pid {} ({}) from {} since {} UTC",
                    r.try_get::<String>("", "pid")?,
                    non_empty(r.try_get::<String>("", "app")?),
                    r.try_get::<String>("", "addr")?,
                    r.try_get::<String>("", "since")?
                )),
                None => None,
            })
        }
        DbBackend::MySql => {
            let row = db
                .query_one_raw(Statement::from_string(
                    backend,
                    format!(
                        "SELECT CAST(p.ID AS CHAR) AS id, CAST(p.USER AS CHAR) AS user, CAST(p.HOST AS CHAR) AS host, \
                                CAST(p.TIME AS SIGNED) AS secs \
                         FROM information_schema.PROCESSLIST p \
                         WHERE p.ID = IS_USED_LOCK({})",
                        id.mysql_name_sql()
                    ),
                ))
                .await?;
            Ok(match row {
                Some(r) => Some(format!(
                    "MySQL connection {} ({}@{}), in its current state for {} s",
                    r.try_get::<String>("", "id")?,
                    r.try_get::<String>("", "user")?,
                    r.try_get::<String>("", "host")?,
                    r.try_get::<i64>("", "secs")?
                )),
                None => None,
            })
        }
        _ => Ok(None),
    }
}

/// Whether some session holds the migration lock now, without taking or waiting for it.
/// PostgreSQL: the advisory key in `pg_locks`; MySQL/MariaDB: `IS_USED_LOCK`; SQLite: whether
/// the database file's write lock can be had (a `BEGIN IMMEDIATE` tried without waiting and
/// rolled back at once; `db` must then be a one-connection pool, as [`crate::db::connect`]
/// opens, so that its busy timeout is set back on the same connection).
pub async fn is_held(db: &DatabaseConnection, id: &LockId) -> Result<bool, DbErr> {
    let backend = db.get_database_backend();
    match backend {
        DbBackend::Postgres => {
            let sql = format!(
                "SELECT EXISTS (SELECT 1 FROM pg_locks l \
                 WHERE l.locktype = 'advisory' AND l.granted AND l.database = \
                       (SELECT oid FROM pg_database WHERE datname = current_database()) \
                   AND l.classid = {} AND l.objid = {} AND l.objsubid = 1) AS held",
                (id.key >> 32) as u32,
                (id.key & 0xFFFF_FFFF) as u32
            );
            let row = db
                .query_one_raw(Statement::from_string(backend, sql))
                .await?;
            row.map_or(Ok(false), |r| r.try_get::<bool>("", "held"))
        }
        DbBackend::MySql => {
            let sql = format!(
                "SELECT CAST(IS_USED_LOCK({}) IS NOT NULL AS SIGNED) AS held",
                id.mysql_name_sql()
            );
            let row = db
                .query_one_raw(Statement::from_string(backend, sql))
                .await?;
            row.map_or(Ok(false), |r| r.try_get::<i64>("", "held").map(|h| h != 0))
        }
        _ => {
            let row = db
                .query_one_raw(Statement::from_string(backend, "PRAGMA busy_timeout"))
                .await?;
            let previous = match row {
                Some(r) => r.try_get_by_index::<i64>(0)?,
                None => 0,
            };
            db.execute_unprepared("PRAGMA busy_timeout = 0").await?;
            let options = TransactionOptions {
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                ..TransactionOptions::default()
            };
            let held = match db.begin_with_options(options).await {
                Ok(txn) => txn.rollback().await.map(|()| false),
                Err(e) if is_busy(&e) => Ok(true),
                Err(e) => Err(e),
            };
            db.execute_unprepared(&format!("PRAGMA busy_timeout = {previous}"))
                .await?;
            held
        }
    }
}

fn non_empty(s: String) -> String {
    if s.is_empty() {
        "no application name".into()
    } else {
        s
    }
}

/// Identifies this runner to other sessions: tool, host, OS user and process id.
pub fn runner_identity() -> String {
    format!(
        "migration-engine {} pid {} on {} as {}",
        env!("CARGO_PKG_VERSION"),
        std::process::id(),
        crate::bookkeeping::history::host_name(),
        crate::bookkeeping::history::os_user()
    )
}

impl MigrationLock {
    /// Waits for the lock up to `timeout`, calling `waiting` once with the holder's
    /// description when another runner has it. `db` must be a one-connection pool (as
    /// [`crate::db::connect`] opens): the lock belongs to the session that took it.
    pub async fn acquire(
        db: &DatabaseConnection,
        id: &LockId,
        timeout: Duration,
        waiting: &(dyn Fn(&str) + Send + Sync),
    ) -> Result<MigrationLock, MigrateError> {
        let started = Instant::now();
        let backend = db.get_database_backend();
        let mut announced = false;
        let err = MigrateError::database("taking the migration lock");
        if backend == DbBackend::Postgres {
            let name = runner_identity().replace('\'', "");
            db.execute_unprepared(&format!("SET application_name = '{}'", truncate(&name, 63)))
                .await
                .map_err(err)?;
        }
        loop {
            let attempt = match backend {
                DbBackend::Postgres => {
                    let row = db
                        .query_one_raw(Statement::from_string(
                            backend,
                            format!("SELECT pg_try_advisory_lock({}) AS ok", id.key),
                        ))
                        .await
                        .map_err(err)?;
                    match row {
                        Some(r) if r.try_get::<bool>("", "ok").map_err(err)? => {
                            Some(MigrationLock::Postgres(id.key))
                        }
                        _ => None,
                    }
                }
                DbBackend::MySql => {
                    let row = db
                        .query_one_raw(Statement::from_string(
                            backend,
                            format!(
                                "SELECT GET_LOCK({0}, 0) AS ok, CAST({0} AS CHAR) AS name",
                                id.mysql_name_sql()
                            ),
                        ))
                        .await
                        .map_err(err)?;
                    match row {
                        Some(r) if r.try_get::<Option<i64>>("", "ok").map_err(err)? == Some(1) => {
                            Some(MigrationLock::MySql(
                                r.try_get::<String>("", "name").map_err(err)?,
                            ))
                        }
                        _ => None,
                    }
                }
                _ => {
                    let options = TransactionOptions {
                        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                        ..TransactionOptions::default()
                    };
                    match db.begin_with_options(options).await {
                        Ok(txn) => Some(MigrationLock::Sqlite(txn)),
                        Err(e) if is_busy(&e) => None,
                        Err(e) => return Err(err(e)),
                    }
                }
            };
            if let Some(lock) = attempt {
                return Ok(lock);
            }
            if !announced {
                let who = holder(db, id).await.ok().flatten().unwrap_or_else(|| {
                    "another runner (it holds the database's write lock)".into()
                });
                waiting(&who);
                announced = true;
            }
            if started.elapsed() >= timeout {
                let who = holder(db, id).await.ok().flatten().unwrap_or_else(|| {
                    "another connection: a runner, or an application transaction holding \
                     the database's write lock"
                        .into()
                });
                return Err(MigrateError::LockTimeout {
                    seconds: timeout.as_secs(),
                    holder: who,
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Releases the lock (SQLite: commits the run's transaction).
    pub async fn release(self, db: &DatabaseConnection) -> Result<(), DbErr> {
        match self {
            MigrationLock::Postgres(key) => db
                .execute_unprepared(&format!("SELECT pg_advisory_unlock({key})"))
                .await
                .map(|_| ()),
            MigrationLock::MySql(name) => db
                .execute_raw(Statement::from_sql_and_values(
                    DbBackend::MySql,
                    "SELECT RELEASE_LOCK(?)",
                    [name.into()],
                ))
                .await
                .map(|_| ()),
            MigrationLock::Sqlite(txn) => txn.commit().await,
        }
    }
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Whether `e` is SQLite's "database is locked" (SQLITE_BUSY and its extended codes).
fn is_busy(e: &DbErr) -> bool {
    crate::error::classify(e) == crate::error::DbErrorKind::LockTimeout
}
