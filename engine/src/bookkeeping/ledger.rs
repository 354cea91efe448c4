//! The record of what is applied: `seaql_migrations(version, applied_at)`, kept exactly as stock
//! sea-orm-migration keeps it so `sea-orm-cli migrate` and stock tools keep working.

use std::collections::BTreeSet;

use sea_orm::sea_query::{Alias, Expr, ExprTrait, Order, Query};
use sea_orm::{ConnectionTrait, DbErr, Schema};
use sea_orm_migration::seaql_migrations;

/// One applied migration as recorded.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AppliedMigration {
    /// The migration's name.
    pub version: String,
    /// Unix seconds.
    pub applied_at: i64,
}

/// Reads and writes the applied-migrations table.
#[derive(Debug, Clone)]
pub struct Ledger {
    table: String,
}

impl Default for Ledger {
    fn default() -> Self {
        Self::new("seaql_migrations")
    }
}

impl Ledger {
    /// A ledger kept in `table`.
    pub fn new(table: impl Into<String>) -> Self {
        Self {
            table: table.into(),
        }
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Creates the table when missing, with stock sea-orm-migration's definition.
    pub async fn ensure<C: ConnectionTrait>(&self, db: &C) -> Result<(), DbErr> {
        let mut stmt = Schema::new(db.get_database_backend())
            .create_table_from_entity(seaql_migrations::Entity);
        stmt.table(Alias::new(&self.table)).if_not_exists();
        db.execute(&stmt).await.map(|_| ())
    }

    /// Every recorded migration, ordered by version.
    pub async fn applied<C: ConnectionTrait>(
        &self,
        db: &C,
    ) -> Result<Vec<AppliedMigration>, DbErr> {
        let stmt = Query::select()
            .columns([Alias::new("version"), Alias::new("applied_at")])
            .from(Alias::new(&self.table))
            .order_by(Alias::new("version"), Order::Asc)
            .to_owned();
        db.query_all(&stmt)
            .await?
            .into_iter()
            .map(|row| {
                Ok(AppliedMigration {
                    version: row.try_get("", "version")?,
                    applied_at: row.try_get("", "applied_at")?,
                })
            })
            .collect()
    }

    /// The recorded versions as a set.
    pub async fn applied_versions<C: ConnectionTrait>(
        &self,
        db: &C,
    ) -> Result<BTreeSet<String>, DbErr> {
        Ok(self
            .applied(db)
            .await?
            .into_iter()
            .map(|m| m.version)
            .collect())
    }

    /// Records `version` as applied now.
    pub async fn insert<C: ConnectionTrait>(&self, db: &C, version: &str) -> Result<(), DbErr> {
        let applied_at = chrono::Utc::now().timestamp();
        let stmt = Query::insert()
            .into_table(Alias::new(&self.table))
            .columns([Alias::new("version"), Alias::new("applied_at")])
            .values([version.into(), applied_at.into()])
            .map_err(|e| DbErr::Custom(e.to_string()))?
            .to_owned();
        db.execute(&stmt).await.map(|_| ())
    }

    /// Forgets `version`.
    pub async fn delete<C: ConnectionTrait>(&self, db: &C, version: &str) -> Result<(), DbErr> {
        let stmt = Query::delete()
            .from_table(Alias::new(&self.table))
            .and_where(Expr::col(Alias::new("version")).eq(version))
            .to_owned();
        db.execute(&stmt).await.map(|_| ())
    }
}
