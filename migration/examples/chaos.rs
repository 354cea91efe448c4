//! A test migrator: the real migrations plus test-only ones switched on by environment
//! variables, run through the real CLI. Used by `tests/deploy.rs` to inject slow, failing and
//! edited migrations. Not part of the product.
//!
//! - `CHAOS_SLOW_MS=N`: `m20990101_000000_slow` creates `chaos_slow` (if missing) and sleeps N ms.
//! - `CHAOS_FAIL=1`: `m20990101_000001_fail_halfway` creates `chaos_half`, then fails.
//! - `CHAOS_EDIT=NAME`: `m20990101_000002_editable` creates `chaos_editable(NAME)`; changing
//!   NAME changes the migration's checksum.
//! - `CHAOS_EARLY=1`: adds `m20250101_000000_early`, ordered before the real migrations.
//! - `CHAOS_SQL_SLEEP_S=N`: `m20990101_000003_sql_sleep` first runs a statement that takes about
//!   N s in the database (PostgreSQL `pg_sleep`, MySQL `SLEEP`, SQLite a recursive CTE), then
//!   creates `chaos_sleep`: for statement and migration timeouts.

use migration::sea_orm::DbErr;
use migration::{MigrationName, MigrationTrait, MigratorTrait, SchemaManager};
use sea_orm_migration::prelude::*;

struct Slow(u64);
struct FailHalfway;
struct Editable(String);
struct Early;
struct SqlSleep(u64);

impl MigrationName for Slow {
    fn name(&self) -> &str {
        "m20990101_000000_slow"
    }
}
impl MigrationName for FailHalfway {
    fn name(&self) -> &str {
        "m20990101_000001_fail_halfway"
    }
}
impl MigrationName for Editable {
    fn name(&self) -> &str {
        "m20990101_000002_editable"
    }
}
impl MigrationName for SqlSleep {
    fn name(&self) -> &str {
        "m20990101_000003_sql_sleep"
    }
}
impl MigrationName for Early {
    fn name(&self) -> &str {
        "m20250101_000000_early"
    }
}

fn table(name: &str, column: &str) -> TableCreateStatement {
    Table::create()
        .table(Alias::new(name))
        .if_not_exists()
        .col(
            ColumnDef::new(Alias::new("id"))
                .integer()
                .not_null()
                .primary_key(),
        )
        .col(ColumnDef::new(Alias::new(column)).integer().null())
        .take()
}

fn drop(name: &str) -> TableDropStatement {
    Table::drop().table(Alias::new(name)).if_exists().take()
}

#[async_trait::async_trait]
impl MigrationTrait for Slow {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.create_table(table("chaos_slow", "v")).await?;
        // Sleep only against a real database: when the SQL is merely captured (checksums,
        // dry runs) the query gets no row.
        let db = manager.get_connection();
        let probe = sea_orm::Statement::from_string(db.get_database_backend(), "SELECT 1 AS one");
        if sea_orm::ConnectionTrait::query_one_raw(db, probe)
            .await?
            .is_some()
        {
            tokio::time::sleep(std::time::Duration::from_millis(self.0)).await;
        }
        Ok(())
    }
    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(drop("chaos_slow")).await
    }
}

#[async_trait::async_trait]
impl MigrationTrait for FailHalfway {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.create_table(table("chaos_half", "v")).await?;
        Err(DbErr::Migration("injected failure half-way through".into()))
    }
    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(drop("chaos_half")).await
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Editable {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.create_table(table("chaos_editable", &self.0)).await
    }
    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(drop("chaos_editable")).await
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Early {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.create_table(table("chaos_early", "v")).await
    }
    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(drop("chaos_early")).await
    }
}

#[async_trait::async_trait]
impl MigrationTrait for SqlSleep {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let n = self.0;
        let sql = match db.get_database_backend() {
            sea_orm::DbBackend::Postgres => format!("SELECT pg_sleep({n})"),
            sea_orm::DbBackend::MySql => format!("SELECT SLEEP({n})"),
            // About 3 million rows a second; the timeout under test interrupts it.
            _ => format!(
                "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {}) \
                 SELECT count(*) FROM c",
                n.saturating_mul(3_000_000)
            ),
        };
        sea_orm::ConnectionTrait::execute_unprepared(db, &sql).await?;
        manager.create_table(table("chaos_sleep", "v")).await
    }
    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(drop("chaos_sleep")).await
    }
}

struct Chaos;

impl MigratorTrait for Chaos {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let mut list: Vec<Box<dyn MigrationTrait>> = Vec::new();
        if var("CHAOS_EARLY").is_some() {
            list.push(Box::new(Early));
        }
        list.extend(migration::Migrator::migrations());
        if let Some(ms) = var("CHAOS_SLOW_MS") {
            list.push(Box::new(Slow(ms.parse().unwrap_or(0))));
        }
        if var("CHAOS_FAIL").is_some() {
            list.push(Box::new(FailHalfway));
        }
        if let Some(col) = var("CHAOS_EDIT") {
            list.push(Box::new(Editable(col)));
        }
        if let Some(s) = var("CHAOS_SQL_SLEEP_S") {
            list.push(Box::new(SqlSleep(s.parse().unwrap_or(0))));
        }
        list
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    migration_engine::cli::main::<Chaos>(migration::config()).await
}
