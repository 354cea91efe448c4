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

/// PostgreSQL advisory lock key ("OHT50MIG" in ASCII).
pub const ADVISORY_KEY: i64 = 0x4F48_5435_304D_4947;

/// A held lock. Release it with [`MigrationLock::release`]; dropping it without releasing
/// still frees it when the connection closes.
pub enum MigrationLock {
    /// Session advisory lock on this connection.
    Postgres,
    /// Named lock on this connection.
    MySql(String),
    /// The write transaction everything runs in.
    Sqlite(DatabaseTransaction),
}

/// Who holds the lock, as far as the database can tell.
pub async fn holder(db: &DatabaseConnection) -> Result<Option<String>, DbErr> {
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
                (ADVISORY_KEY >> 32) as u32,
                (ADVISORY_KEY & 0xFFFF_FFFF) as u32
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
                    "SELECT CAST(p.ID AS CHAR) AS id, CAST(p.USER AS CHAR) AS user, CAST(p.HOST AS CHAR) AS host, \
                            CAST(p.TIME AS SIGNED) AS secs \
                     FROM information_schema.PROCESSLIST p \
                     WHERE p.ID = IS_USED_LOCK(CONCAT('oht50_migrations:', DATABASE()))",
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
        "oht50-migration {} pid {} on {} as {}",
        env!("CARGO_PKG_VERSION"),
        std::process::id(),
        crate::history::host_name(),
        crate::history::os_user()
    )
}

impl MigrationLock {
    /// Waits for the lock up to `timeout`, calling `waiting` once with the holder's
    /// description when another runner has it. `db` must be a one-connection pool (as
    /// [`crate::connect`] opens): the lock belongs to the session that took it.
    pub async fn acquire(
        db: &DatabaseConnection,
        timeout: Duration,
        waiting: &(dyn Fn(&str) + Send + Sync),
    ) -> Result<MigrationLock, MigrateError> {
        let started = Instant::now();
        let backend = db.get_database_backend();
        let mut announced = false;
        let err = |e: DbErr| MigrateError::Database {
            action: "taking the migration lock".into(),
            cause: e.to_string(),
        };
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
                            format!("SELECT pg_try_advisory_lock({ADVISORY_KEY}) AS ok"),
                        ))
                        .await
                        .map_err(err)?;
                    match row {
                        Some(r) if r.try_get::<bool>("", "ok").map_err(err)? => {
                            Some(MigrationLock::Postgres)
                        }
                        _ => None,
                    }
                }
                DbBackend::MySql => {
                    let row = db
                        .query_one_raw(Statement::from_string(
                            backend,
                            "SELECT GET_LOCK(CONCAT('oht50_migrations:', DATABASE()), 0) AS ok, \
                                    CAST(CONCAT('oht50_migrations:', DATABASE()) AS CHAR) AS name",
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
                let who = holder(db).await.ok().flatten().unwrap_or_else(|| {
                    "another runner (it holds the database's write lock)".into()
                });
                waiting(&who);
                announced = true;
            }
            if started.elapsed() >= timeout {
                let who = holder(db)
                    .await
                    .ok()
                    .flatten()
                    .unwrap_or_else(|| "another runner".into());
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
            MigrationLock::Postgres => db
                .execute_unprepared(&format!("SELECT pg_advisory_unlock({ADVISORY_KEY})"))
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

fn is_busy(e: &DbErr) -> bool {
    let text = e.to_string().to_ascii_lowercase();
    text.contains("database is locked") || text.contains("busy")
}
