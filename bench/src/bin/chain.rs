//! A chain of `CHAIN_LEN` (default 300) generated migrations, each creating one small table,
//! run through our CLI (`migration_engine::cli` with the OHT-50 configuration, as the
//! `migration` binary runs it), or stock sea-orm-migration's with `CHAIN_STOCK=1`: how
//! per-migration overhead grows with the length of the chain.

use migration::sea_orm::DbErr;
use migration::{MigrationName, MigrationTrait, MigratorTrait, SchemaManager};
use sea_orm_migration::prelude::*;

struct Link(usize, String);

impl MigrationName for Link {
    fn name(&self) -> &str {
        &self.1
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Link {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Alias::new(format!("chain_{}", self.0)))
                    .col(
                        ColumnDef::new(Alias::new("id"))
                            .integer()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Alias::new("note")).string_len(50).null())
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(Alias::new(format!("chain_{}", self.0)))
                    .take(),
            )
            .await
    }
}

struct Chain;

#[async_trait::async_trait]
impl MigratorTrait for Chain {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        let n = std::env::var("CHAIN_LEN")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(300);
        (0..n)
            .map(|i| {
                Box::new(Link(i, format!("m20300101_{i:06}_chain"))) as Box<dyn MigrationTrait>
            })
            .collect()
    }
}

#[tokio::main]
async fn main() {
    if std::env::var("CHAIN_STOCK").is_ok_and(|v| v == "1") {
        sea_orm_migration::cli::run_cli(Chain).await;
    } else {
        let config = migration::config();
        let cli = migration_engine::cli::parse(&config);
        std::process::exit(migration_engine::cli::run::<Chain>(cli, &config).await);
    }
}
