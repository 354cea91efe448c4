//! Shared helpers of the seed tests (included with `#[path]`).
#![allow(dead_code)]

use migration::{Migrator, MigratorTrait};
use migration_engine::{ConnectSettings, DatabaseUrl, Runner, Target};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};

use test_support::TestDb;

/// Connects like the seed binary does (one connection).
pub async fn connect(db: &TestDb) -> DatabaseConnection {
    let url = DatabaseUrl::parse(&db.url).expect("test URL");
    migration_engine::connect(&url, &ConnectSettings::default())
        .await
        .expect("connect")
}

/// Connects and applies every migration.
pub async fn migrated(db: &TestDb) -> DatabaseConnection {
    let conn = connect(db).await;
    Runner::with_config(conn.clone(), Migrator::migrations(), migration::config())
        .up(&Target::All)
        .await
        .expect("migrate");
    conn
}

/// Rows in `table`.
pub async fn count(conn: &DatabaseConnection, table: &str) -> i64 {
    let backend = conn.get_database_backend();
    let sql = format!(
        "SELECT {} AS n FROM {}",
        seed::bulk::bigint(backend, "COUNT(*)"),
        seed::bulk::quote(backend, table)
    );
    conn.query_one_raw(Statement::from_string(backend, sql))
        .await
        .expect("count query")
        .expect("count row")
        .try_get_by_index::<i64>(0)
        .expect("count value")
}

/// Row counts of every table.
pub async fn counts(conn: &DatabaseConnection) -> Vec<(String, i64)> {
    let mut out = Vec::new();
    for t in entity::TABLES {
        out.push((t.to_string(), count(conn, t).await));
    }
    out
}
