//! DDL never waits forever: a long transaction holds a row lock on `robots`; a migration
//! altering `robots` gives up after the DDL lock timeout, so a concurrent writer is not held up
//! much longer than that timeout; the runner retries, then fails naming the table and the
//! blocking session; once the blocker commits, a rerun succeeds. SQLite: the wait for the
//! database is bounded and the error says who holds it.

use std::time::{Duration, Instant};

use migration::sea_orm::{ConnectionTrait, DbBackend};
use migration::{Migrator, MigratorTrait};
use migration_engine::author::tuning::Tuning;
use migration_engine::{MigrateError, RunOptions, Runner, Target};
use sea_orm_migration::async_trait::async_trait;
use sea_orm_migration::prelude::*;
use test_support::Backend;

/// `ALTER TABLE robots ADD COLUMN serial_no varchar(20) NULL`.
struct AddSerial;

impl MigrationName for AddSerial {
    fn name(&self) -> &str {
        "m20260201_000000_robots_serial_no"
    }
}

#[async_trait]
impl MigrationTrait for AddSerial {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Alias::new("robots"))
                .add_column(
                    ColumnDef::new(Alias::new("serial_no"))
                        .string_len(20)
                        .null(),
                )
                .to_owned(),
        )
        .await
    }
    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Alias::new("robots"))
                .drop_column(Alias::new("serial_no"))
                .to_owned(),
        )
        .await
    }
}

fn migrations() -> Vec<Box<dyn MigrationTrait>> {
    let mut m: Vec<Box<dyn MigrationTrait>> = Migrator::migrations().into_iter().take(1).collect();
    m.push(Box::new(AddSerial));
    m
}

const INSERT_ROBOT: &str = "INSERT INTO robots (name, robot_type, status, mode, created_at, updated_at) \
     VALUES ('oht-1', 'oht', 'idle', 'auto', '2025-01-01 00:00:00', '2025-01-01 00:00:00')";

#[tokio::test]
async fn ddl_behind_a_long_transaction_times_out_retries_and_names_the_blocker() {
    each_backend!("ddl_lock_wait", |db| {
        let b = db.backend;
        // MySQL/MariaDB count lock_wait_timeout in whole seconds.
        let lock_timeout = match b {
            Backend::MySql => Duration::from_secs(1),
            _ => Duration::from_millis(500),
        };
        let options = || RunOptions {
            lock_timeout: Duration::from_secs(1),
            tuning: Tuning {
                ddl_lock_timeout: lock_timeout,
                ddl_retries: 2,
                ..Tuning::default()
            },
            ..RunOptions::default()
        };
        let runner = Runner::with_config(db.connect().await, migrations(), migration::config())
            .with_options(options());
        runner.up(&Target::Steps(1)).await.expect("initial schema");
        runner
            .connection()
            .execute_unprepared(INSERT_ROBOT)
            .await
            .expect("a robot");

        // The blocker: a transaction holding a row lock on robots.
        let blocker = db.connect().await;
        let begin = if b == Backend::Sqlite {
            "BEGIN IMMEDIATE"
        } else {
            "BEGIN"
        };
        blocker.execute_unprepared(begin).await.expect("begin");
        blocker
            .execute_unprepared("UPDATE robots SET speed = 1 WHERE id = 1")
            .await
            .expect("row lock");
        let id_sql = match b.db_backend() {
            DbBackend::Postgres => Some("SELECT CAST(pg_backend_pid() AS BIGINT) AS id"),
            DbBackend::MySql => Some("SELECT CAST(CONNECTION_ID() AS SIGNED) AS id"),
            _ => None,
        };
        let mut blocker_id = None;
        if let Some(sql) = id_sql {
            let row = blocker
                .query_one_raw(migration::sea_orm::Statement::from_string(
                    b.db_backend(),
                    sql,
                ))
                .await
                .expect("id")
                .expect("row");
            blocker_id = Some(row.try_get::<i64>("", "id").expect("id"));
        }
        let started = Instant::now();
        let migrating = {
            let runner = Runner::with_config(db.connect().await, migrations(), migration::config())
                .with_options(options());
            tokio::spawn(async move { runner.up(&Target::All).await })
        };
        if b != Backend::Sqlite {
            // A writer arriving while the ALTER waits: held up at most about one lock timeout.
            tokio::time::sleep(Duration::from_millis(200)).await;
            let writer = db.connect().await;
            let t = Instant::now();
            writer
                .execute_unprepared(INSERT_ROBOT)
                .await
                .expect("writer");
            let waited = t.elapsed();
            eprintln!("{b:?}: the writer waited {waited:?}");
            assert!(
                waited < lock_timeout * 4,
                "{b:?}: the writer waited {waited:?} behind the migration (lock timeout {lock_timeout:?})"
            );
            let _ = writer.close().await;
        }
        let err = migrating
            .await
            .expect("join")
            .expect_err("the migration cannot get its lock");
        let elapsed = started.elapsed();
        let msg = err.to_string();
        eprintln!("{b:?}: the migration failed after {elapsed:?}: {msg}");
        match b {
            Backend::Sqlite => {
                assert!(matches!(err, MigrateError::LockTimeout { .. }), "{msg}");
                assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
            }
            _ => {
                assert!(
                    msg.contains("m20260201_000000_robots_serial_no")
                        && msg.contains("table robots is busy")
                        && msg.contains("3 attempt(s)"),
                    "{b:?}: {msg}"
                );
                let id = blocker_id.expect("blocker id");
                assert!(
                    msg.contains(&format!(" {id} ")),
                    "{b:?}: blocker {id} not named: {msg}"
                );
                // Three attempts of one lock timeout each, plus the pauses: bounded.
                assert!(
                    elapsed < lock_timeout * 3 + Duration::from_secs(5),
                    "{elapsed:?}"
                );
            }
        }
        // Once the blocker commits, the rerun applies it.
        blocker.execute_unprepared("COMMIT").await.expect("commit");
        let _ = blocker.close().await;
        let runner = Runner::with_config(db.connect().await, migrations(), migration::config())
            .with_options(options());
        let t = Instant::now();
        runner
            .up(&Target::All)
            .await
            .expect("rerun after the blocker committed");
        eprintln!("{b:?}: rerun took {:?}", t.elapsed());
        let schema = migration_engine::schema::inspect(runner.connection())
            .await
            .expect("inspect");
        assert!(
            schema.tables["robots"].column("serial_no").is_some(),
            "{b:?}"
        );
    });
}

/// Database errors shown to users are in the database's own words: no driver-internal
/// detail (PostgreSQL's "at line N" of its source), with the SQLSTATE / error number.
#[tokio::test]
async fn database_errors_lose_driver_internals_and_keep_their_code() {
    each_backend!("db_error_words", |db| {
        let b = db.backend;
        let conn = db.connect().await;
        let e = conn
            .execute_unprepared("ALTER TABLE no_such_table ADD COLUMN x integer")
            .await
            .expect_err("no such table");
        let words = migration_engine::error::user_message(&e).expect("a database error");
        assert!(!words.contains(" at line "), "{b:?}: {words}");
        assert!(
            !words.contains("error returned from database"),
            "{b:?}: {words}"
        );
        assert!(words.contains("no_such_table"), "{b:?}: {words}");
        let code = match b {
            Backend::Postgres => "[SQLSTATE 42P01]",
            Backend::MySql => "[MySQL/MariaDB error 1146]",
            Backend::Sqlite => "[SQLite code 1]",
        };
        assert!(words.ends_with(code), "{b:?}: {words}");
        if b == Backend::Postgres {
            assert!(e.to_string().contains(" at line "), "{e}");
        }
        let _ = conn.close().await;
    });
}
