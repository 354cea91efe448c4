//! Dialect helpers shared by every layer: backend names, table lists, dropping tables,
//! identifier quoting, and recognising a missing table.

use chrono::NaiveDateTime;
use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};

pub use crate::db::url::quote_ident;

/// Human name of a backend.
pub fn backend_name(backend: DbBackend) -> &'static str {
    match backend {
        DbBackend::Postgres => "PostgreSQL",
        DbBackend::MySql => "MySQL/MariaDB",
        DbBackend::Sqlite => "SQLite",
        _ => "this database",
    }
}

/// Every base table of the current database (PostgreSQL: current schema), sorted.
pub async fn list_tables<C: ConnectionTrait>(db: &C) -> Result<Vec<String>, DbErr> {
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            "SELECT tablename::text AS name FROM pg_catalog.pg_tables WHERE schemaname = current_schema() ORDER BY 1"
        }
        DbBackend::MySql => {
            "SELECT CAST(table_name AS CHAR) AS name FROM information_schema.tables \
             WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE' ORDER BY 1"
        }
        _ => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY 1"
        }
    };
    db.query_all_raw(Statement::from_string(backend, sql))
        .await?
        .into_iter()
        .map(|row| row.try_get::<String>("", "name"))
        .collect()
}

/// Drops every table of the current database (PostgreSQL: current schema).
pub async fn drop_all_tables<C: ConnectionTrait>(db: &C) -> Result<Vec<String>, DbErr> {
    drop_all_tables_except(db, &[]).await
}

/// Drops every table but `keep`; works inside a transaction on SQLite.
pub async fn drop_all_tables_except<C: ConnectionTrait>(
    db: &C,
    keep: &[&str],
) -> Result<Vec<String>, DbErr> {
    let backend = db.get_database_backend();
    let tables: Vec<String> = list_tables(db)
        .await?
        .into_iter()
        .filter(|t| !keep.contains(&t.as_str()))
        .collect();
    if tables.is_empty() {
        return Ok(tables);
    }
    let list: Vec<String> = tables
        .iter()
        .map(|t| crate::db::quote_ident(backend, t))
        .collect();
    match backend {
        DbBackend::Postgres => {
            db.execute_unprepared(&format!("DROP TABLE IF EXISTS {} CASCADE", list.join(", ")))
                .await?;
        }
        DbBackend::MySql => {
            db.execute_unprepared("SET FOREIGN_KEY_CHECKS = 0").await?;
            let result = db
                .execute_unprepared(&format!("DROP TABLE IF EXISTS {}", list.join(", ")))
                .await;
            db.execute_unprepared("SET FOREIGN_KEY_CHECKS = 1").await?;
            result?;
        }
        _ => {
            // `PRAGMA foreign_keys` cannot change inside a transaction; deferring the checks
            // to commit time works in and out of one.
            db.execute_unprepared("PRAGMA defer_foreign_keys = ON")
                .await?;
            for t in &list {
                db.execute_unprepared(&format!("DROP TABLE IF EXISTS {t}"))
                    .await?;
            }
        }
    }
    Ok(tables)
}

/// Whether `e` says a table does not exist (by driver code: PostgreSQL 42P01, MySQL 1146;
/// SQLite reports a missing table as a generic error, SQLITE_ERROR (1), so its message is the
/// only sign and is checked for that code alone).
pub fn is_missing_table(e: &DbErr) -> bool {
    match crate::error::classify(e) {
        crate::error::DbErrorKind::MissingTable => true,
        _ => {
            // SQLite has no distinct code for a missing table: SQLITE_ERROR plus its text.
            crate::error::db_code(e).as_deref() == Some("1")
                && e.to_string().contains("no such table")
        }
    }
}

/// Current UTC time with microsecond precision.
pub fn now() -> NaiveDateTime {
    let now = chrono::Utc::now().naive_utc();
    chrono::Timelike::with_nanosecond(&now, now.and_utc().timestamp_subsec_micros() * 1000)
        .unwrap_or(now)
}
